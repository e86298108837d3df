"""The aws network: subnet planning, validation, the rendered VPC, and flow logs on moto."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st
from mlops_blueprints.components.network import (
    REGION_AVAILABILITY_ZONES,
    SubnetPlan,
    Vpc,
    VpcArgs,
    flow_logs_role_policy,
    flow_logs_trust_policy,
    plan_subnets,
)

from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.render import RenderCapture
from tests.moto._harness import REGION, assumed_role, aws_account, is_denied

ACCOUNT = "123456789012"
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")

# --- helpers ------------------------------------------------------------------------------


def _by_name(capture: RenderCapture) -> dict[str, Any]:
    names = [r.name for r in capture.registrations]
    assert len(names) == len(set(names)), "resource names must be unique"
    return {r.name: r for r in capture.registrations}


def _children(capture: RenderCapture, parent: str) -> dict[str, str]:
    resources = _by_name(capture)
    urn = resources[parent].urn
    return {r.name: r.type for r in capture.registrations if r.parent == urn}


def _vpc(**kwargs: Any) -> Callable[[], object]:
    args = {"cluster_name": "mlops-dev", "region": "us-east-1", **kwargs}
    return lambda: Vpc("network", VpcArgs(**args))


def _denied(call: Callable[..., Any], **kwargs: Any) -> bool:
    try:
        call(**kwargs)
    except ClientError as error:
        return is_denied(error)
    return False


# --- plan_subnets -------------------------------------------------------------------------

private_blocks = st.one_of(
    st.tuples(st.just("10.0.0.0"), st.integers(8, 24)),
    st.tuples(st.just("172.16.0.0"), st.integers(12, 24)),
    st.tuples(st.just("192.168.0.0"), st.integers(16, 24)),
)


@st.composite
def layouts(draw: st.DrawFn) -> tuple[str, int]:
    """Any /16 to /24 network inside an RFC 1918 range, with a zone count it can hold: six
    zones down to a /22, four in a /23, three in a /24 (public subnets stay /28 or larger)."""
    base, parent_prefix = draw(private_blocks)
    prefix = draw(st.integers(max(16, parent_prefix), 24))
    index = draw(st.integers(0, 2 ** (prefix - parent_prefix) - 1))
    az_count = draw(st.integers(1, {23: 4, 24: 3}.get(prefix, 6)))
    return f"{ipaddress.ip_address(base) + index * 2 ** (32 - prefix)}/{prefix}", az_count


@pytest.mark.unit
@given(layout=layouts())
def test_planned_subnets_are_contained_disjoint_and_sized(layout: tuple[str, int]) -> None:
    cidr, az_count = layout
    plans = plan_subnets(cidr, az_count, region="us-east-1")
    vpc = ipaddress.ip_network(cidr)
    assert [p.availability_zone for p in plans] == list(
        REGION_AVAILABILITY_ZONES["us-east-1"][:az_count]
    )
    subnets = [ipaddress.ip_network(c) for p in plans for c in (p.private_cidr, p.public_cidr)]
    assert all(s.subnet_of(vpc) for s in subnets)  # type: ignore[arg-type]
    for i, a in enumerate(subnets):
        for b in subnets[i + 1 :]:
            assert not a.overlaps(b), (a, b)
    for plan in plans:
        private = ipaddress.ip_network(plan.private_cidr)
        public = ipaddress.ip_network(plan.public_cidr)
        assert private.num_addresses > public.num_addresses
        assert public.prefixlen <= 28


@pytest.mark.unit
@pytest.mark.parametrize(
    ("cidr", "az_count"), [("10.0.0.0/23", 5), ("10.0.2.0/23", 6), ("192.168.7.0/24", 4)]
)
def test_a_block_too_small_for_the_zones_is_refused(cidr: str, az_count: int) -> None:
    with pytest.raises(BlueprintConfigError) as error:
        plan_subnets(cidr, az_count, region="us-east-1")
    assert error.value.field == "cidr_block"
    assert error.value.value == cidr
    assert "too small" in error.value.fix


@pytest.mark.unit
def test_default_plan_for_a_slash_16() -> None:
    assert plan_subnets("10.0.0.0/16", 3, region="us-east-1") == [
        SubnetPlan("us-east-1a", "10.0.0.0/18", "10.0.192.0/20"),
        SubnetPlan("us-east-1b", "10.0.64.0/18", "10.0.208.0/20"),
        SubnetPlan("us-east-1c", "10.0.128.0/18", "10.0.224.0/20"),
    ]


@pytest.mark.unit
def test_explicit_zones_are_used_in_order() -> None:
    plans = plan_subnets(
        "10.1.0.0/16", 2, region="eu-south-1", availability_zones=("eu-south-1c", "eu-south-1a")
    )
    assert [p.availability_zone for p in plans] == ["eu-south-1c", "eu-south-1a"]


# --- validation ---------------------------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize(
    ("kwargs", "field", "value", "fix"),
    [
        (
            {"region": "eu-west-1", "az_count": 4},
            "az_count",
            4,
            "eu-west-1a, eu-west-1b, eu-west-1c",
        ),
        ({"az_count": 1}, "az_count", 1, "at least two zones"),
        ({"region": "eu-south-1"}, "region", "eu-south-1", "pass availability_zones"),
        (
            {"region": "us-east-1", "availability_zones": ("eu-west-1a", "eu-west-1b")},
            "availability_zones",
            ["eu-west-1a", "eu-west-1b"],
            "zone names of us-east-1",
        ),
        ({"region": "Virginia"}, "region", "Virginia", "region code"),
        ({"cidr_block": "8.8.0.0/16"}, "cidr_block", "8.8.0.0/16", "RFC 1918"),
        ({"cidr_block": "10.0.0.0/8"}, "cidr_block", "10.0.0.0/8", "/16"),
        ({"cidr_block": "10.0.0.0/25"}, "cidr_block", "10.0.0.0/25", "/24"),
        ({"cidr_block": "10.0.0.1/16"}, "cidr_block", "10.0.0.1/16", "network address"),
        ({"cidr_block": "10.0.0.0/24", "az_count": 6}, "cidr_block", "10.0.0.0/24", "too small"),
        ({"nat_strategy": "per-az"}, "nat_strategy", "per-az", "'one-per-az'"),
        ({"enable_public_subnets": False}, "enable_public_subnets", False, "nat_strategy='none'"),
        (
            {"interface_endpoints": ("ecr.api", "s3")},
            "interface_endpoints",
            ["ecr.api", "s3"],
            "ecr.dkr",
        ),
        (
            {"interface_endpoints": ("sts", "sts")},
            "interface_endpoints",
            ["sts", "sts"],
            "each service once",
        ),
        ({"flow_logs_retention_days": 45}, "flow_logs_retention_days", 45, "60, 90"),
        ({"cluster_name": "-bad"}, "cluster_name", "-bad", "1-100 letters"),
    ],
)
def test_bad_network_args_fail_with_field_value_and_fix(
    kwargs: dict[str, Any], field: str, value: object, fix: str
) -> None:
    with pytest.raises(BlueprintConfigError) as error:
        VpcArgs(**{"cluster_name": "mlops-dev", "region": "us-east-1", **kwargs})
    assert error.value.field == field
    assert error.value.value == value
    assert fix in error.value.fix


# --- the rendered component ---------------------------------------------------------------


@pytest.mark.unit
def test_default_network_children(render: Callable[..., RenderCapture]) -> None:
    capture = render(_vpc())
    expected = {
        "network-vpc": "aws:ec2/vpc:Vpc",
        "network-default-sg": "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
        "network-igw": "aws:ec2/internetGateway:InternetGateway",
        "network-public-rt": "aws:ec2/routeTable:RouteTable",
        "network-public-igw-route": "aws:ec2/route:Route",
        "network-s3": "aws:ec2/vpcEndpoint:VpcEndpoint",
        "network-endpoints-sg": "aws:ec2/securityGroup:SecurityGroup",
        "network-endpoints-https": "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "network-endpoint-ecr-api": "aws:ec2/vpcEndpoint:VpcEndpoint",
        "network-endpoint-ecr-dkr": "aws:ec2/vpcEndpoint:VpcEndpoint",
        "network-endpoint-sts": "aws:ec2/vpcEndpoint:VpcEndpoint",
        "network-endpoint-logs": "aws:ec2/vpcEndpoint:VpcEndpoint",
        "network-flow-logs-group": "aws:cloudwatch/logGroup:LogGroup",
        "network-flow-logs-role": "aws:iam/role:Role",
        "network-flow-logs-policy": "aws:iam/rolePolicy:RolePolicy",
        "network-flow-logs": "aws:ec2/flowLog:FlowLog",
    }
    for az in ZONES:
        expected |= {
            f"network-public-{az}": "aws:ec2/subnet:Subnet",
            f"network-public-rta-{az}": "aws:ec2/routeTableAssociation:RouteTableAssociation",
            f"network-private-{az}": "aws:ec2/subnet:Subnet",
            f"network-private-rt-{az}": "aws:ec2/routeTable:RouteTable",
            f"network-private-rta-{az}": "aws:ec2/routeTableAssociation:RouteTableAssociation",
            f"network-nat-eip-{az}": "aws:ec2/eip:Eip",
            f"network-nat-{az}": "aws:ec2/natGateway:NatGateway",
            f"network-private-nat-route-{az}": "aws:ec2/route:Route",
        }
    assert _children(capture, "network") == expected
    resources = _by_name(capture)
    outputs = capture.outputs[resources["network"].urn]
    assert outputs["availability_zones"] == list(ZONES)
    assert outputs["private_subnet_ids"] == [f"network-private-{az}-id" for az in ZONES]


@pytest.mark.unit
def test_subnets_are_tagged_for_load_balancers_and_karpenter_and_never_public(
    render: Callable[..., RenderCapture],
) -> None:
    resources = _by_name(render(_vpc()))
    vpc = resources["network-vpc"].inputs
    assert vpc["cidrBlock"] == "10.0.0.0/16"
    assert vpc["enableDnsSupport"] is True
    assert vpc["enableDnsHostnames"] is True
    for az, private_cidr, public_cidr in plan_subnets("10.0.0.0/16", 3, region="us-east-1"):
        private = resources[f"network-private-{az}"].inputs
        assert private["cidrBlock"] == private_cidr
        assert private["availabilityZone"] == az
        assert private["mapPublicIpOnLaunch"] is False
        assert private["tags"]["kubernetes.io/role/internal-elb"] == "1"
        assert private["tags"]["karpenter.sh/discovery"] == "mlops-dev"
        public = resources[f"network-public-{az}"].inputs
        assert public["cidrBlock"] == public_cidr
        assert public["mapPublicIpOnLaunch"] is False
        assert public["tags"]["kubernetes.io/role/elb"] == "1"
        assert "karpenter.sh/discovery" not in public["tags"]
        # Each zone's private subnets leave through that zone's NAT gateway.
        route = resources[f"network-private-nat-route-{az}"].inputs
        assert route == {
            "routeTableId": f"network-private-rt-{az}-id",
            "destinationCidrBlock": "0.0.0.0/0",
            "natGatewayId": f"network-nat-{az}-id",
        }
        assert resources[f"network-nat-{az}"].inputs["subnetId"] == f"network-public-{az}-id"
        assert resources["network-igw"].urn in resources[f"network-nat-{az}"].dependencies
    # The default security group is emptied: no ingress, no egress.
    default_sg = resources["network-default-sg"].inputs
    assert "ingress" not in default_sg
    assert "egress" not in default_sg


@pytest.mark.unit
def test_endpoints_are_private_and_reachable_on_443_from_the_vpc_only(
    render: Callable[..., RenderCapture],
) -> None:
    resources = _by_name(render(_vpc()))
    s3 = resources["network-s3"].inputs
    assert s3["vpcEndpointType"] == "Gateway"
    assert s3["serviceName"] == "com.amazonaws.us-east-1.s3"
    assert s3["routeTableIds"] == [f"network-private-rt-{az}-id" for az in ZONES]
    for service in ("ecr.api", "ecr.dkr", "sts", "logs"):
        endpoint = resources[f"network-endpoint-{service.replace('.', '-')}"].inputs
        assert endpoint["serviceName"] == f"com.amazonaws.us-east-1.{service}"
        assert endpoint["vpcEndpointType"] == "Interface"
        assert endpoint["privateDnsEnabled"] is True
        assert endpoint["subnetIds"] == [f"network-private-{az}-id" for az in ZONES]
        assert endpoint["securityGroupIds"] == ["network-endpoints-sg-id"]
    rule = resources["network-endpoints-https"].inputs
    assert rule == {
        "securityGroupId": "network-endpoints-sg-id",
        "description": "HTTPS from the VPC",
        "ipProtocol": "tcp",
        "fromPort": 443,
        "toPort": 443,
        "cidrIpv4": "10.0.0.0/16",
    }
    assert "egress" not in resources["network-endpoints-sg"].inputs


@pytest.mark.unit
def test_flow_logs_go_to_an_encrypted_retained_log_group(
    render: Callable[..., RenderCapture],
) -> None:
    key = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/platform"
    resources = _by_name(render(_vpc(flow_logs_kms_key_arn=key, flow_logs_retention_days=365)))
    group = resources["network-flow-logs-group"]
    assert group.retain_on_delete is True
    assert group.inputs["name"] == "/aws/vpc/mlops-dev/flow-logs"
    assert group.inputs["retentionInDays"] == 365
    assert group.inputs["kmsKeyId"] == key
    flow_log = resources["network-flow-logs"]
    assert flow_log.inputs["trafficType"] == "ALL"
    assert flow_log.inputs["logDestinationType"] == "cloud-watch-logs"
    assert flow_log.inputs["vpcId"] == "network-vpc-id"
    assert resources["network-flow-logs-policy"].urn in flow_log.dependencies
    trust = json.loads(resources["network-flow-logs-role"].inputs["assumeRolePolicy"])
    assert trust == flow_logs_trust_policy(account_id=ACCOUNT, region="us-east-1")
    policy = json.loads(resources["network-flow-logs-policy"].inputs["policy"])
    group_arn = flow_log.inputs["logDestination"]
    assert policy["Statement"][0]["Resource"] == [group_arn, f"{group_arn}:*"]
    assert policy["Statement"][0]["Action"] == [
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "logs:DescribeLogStreams",
    ]


@pytest.mark.unit
def test_single_nat_gateway_serves_every_zone(render: Callable[..., RenderCapture]) -> None:
    capture = render(_vpc(nat_strategy="single"))
    resources = _by_name(capture)
    nats = [r.name for r in capture.registrations if r.type == "aws:ec2/natGateway:NatGateway"]
    assert nats == ["network-nat-us-east-1a"]
    for az in ZONES:
        route = resources[f"network-private-nat-route-{az}"].inputs
        assert route["natGatewayId"] == "network-nat-us-east-1a-id"


@pytest.mark.unit
def test_private_only_network_has_no_internet_path(render: Callable[..., RenderCapture]) -> None:
    capture = render(
        _vpc(
            nat_strategy="none",
            enable_public_subnets=False,
            enable_flow_logs=False,
            az_count=2,
            interface_endpoints=("ecr.api", "ecr.dkr", "sts", "logs", "ec2", "eks-auth"),
        )
    )
    children = _children(capture, "network")
    forbidden = (
        "aws:ec2/internetGateway:InternetGateway",
        "aws:ec2/natGateway:NatGateway",
        "aws:ec2/eip:Eip",
        "aws:ec2/route:Route",
        "aws:ec2/flowLog:FlowLog",
    )
    assert not [n for n, t in children.items() if t in forbidden]
    assert not [n for n in children if n.startswith("network-public")]
    assert {n for n in children if n.startswith("network-endpoint-")} == {
        "network-endpoint-ecr-api",
        "network-endpoint-ecr-dkr",
        "network-endpoint-sts",
        "network-endpoint-logs",
        "network-endpoint-ec2",
        "network-endpoint-eks-auth",
    }


@pytest.mark.unit
def test_flow_log_trust_is_scoped_to_the_account() -> None:
    statement = flow_logs_trust_policy(account_id=ACCOUNT, region="eu-west-1")["Statement"][0]
    assert statement["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:ec2:eu-west-1:{ACCOUNT}:vpc-flow-log/*"},
    }


@pytest.mark.unit
def test_flow_log_policy_names_one_group() -> None:
    arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/vpc/x/flow-logs"
    for given_arn in (arn, f"{arn}:*"):
        policy = flow_logs_role_policy(given_arn)
        assert policy["Statement"][0]["Resource"] == [arn, f"{arn}:*"]
        assert policy["Statement"][1] == {
            "Sid": "FindTheLogGroup",
            "Effect": "Allow",
            "Action": ["logs:DescribeLogGroups"],
            "Resource": [f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:*"],
        }
    with pytest.raises(BlueprintConfigError) as error:
        flow_logs_role_policy("not-an-arn")
    assert (error.value.field, error.value.value) == ("log_group_arn", "not-an-arn")


# --- moto ---------------------------------------------------------------------------------


@pytest.mark.moto
def test_flow_log_role_can_write_records_and_nothing_else_on_moto() -> None:
    """Action-level proof: moto authorises CloudWatch Logs (a JSON-protocol service) against
    the resource ``*`` only, so the policy's resources are widened to ``*`` here; that it names
    exactly one log group is asserted in test_flow_log_policy_names_one_group."""
    with aws_account():
        logs = boto3.client("logs", region_name=REGION)
        logs.create_log_group(logGroupName="/aws/vpc/mlops-dev/flow-logs")
        arn = logs.describe_log_groups(logGroupNamePrefix="/aws/vpc/")["logGroups"][0]["arn"]
        policy = flow_logs_role_policy(arn)
        widened = {**policy, "Statement": [{**s, "Resource": "*"} for s in policy["Statement"]]}
        with assumed_role("flow-logs", [widened]) as session:
            client = session.client("logs")
            group = "/aws/vpc/mlops-dev/flow-logs"
            client.create_log_stream(logGroupName=group, logStreamName="eni-0abc-all")
            client.put_log_events(
                logGroupName=group,
                logStreamName="eni-0abc-all",
                logEvents=[{"timestamp": 1_700_000_000_000, "message": "2 123 eni-0abc ACCEPT"}],
            )
            streams = client.describe_log_streams(logGroupName=group)["logStreams"]
            assert [s["logStreamName"] for s in streams] == ["eni-0abc-all"]
            # Neighbours: deleting or re-creating groups, changing retention, reading records.
            assert _denied(client.delete_log_group, logGroupName=group)
            assert _denied(client.create_log_group, logGroupName="/aws/vpc/other")
            assert _denied(client.put_retention_policy, logGroupName=group, retentionInDays=1)
            assert _denied(client.get_log_events, logGroupName=group, logStreamName="eni-0abc-all")
