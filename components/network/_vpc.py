"""The aws network: a multi-zone VPC for an EKS cluster, private by default."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Literal, get_args

import pulumi
import pulumi_aws as aws

from mlops_blueprints.errors import BlueprintConfigError

from .._opts import child_opts
from ._plan import (
    INTERFACE_ENDPOINT_SERVICES,
    SubnetPlan,
    flow_logs_role_policy,
    flow_logs_trust_policy,
    plan_subnets,
    validate_retention_days,
)

__all__ = [
    "DEFAULT_INTERFACE_ENDPOINTS",
    "NatStrategy",
    "Vpc",
    "VpcArgs",
    "validate_cluster_name",
]

NatStrategy = Literal["single", "one-per-az", "none"]
DEFAULT_INTERFACE_ENDPOINTS: tuple[str, ...] = ("ecr.api", "ecr.dkr", "sts", "logs")
_CLUSTER_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$")


def validate_cluster_name(value: str, *, field: str = "cluster_name") -> str:
    """EKS cluster names: 1-100 letters, digits, '-' and '_', starting alphanumeric."""
    if not _CLUSTER_NAME.match(value):
        raise BlueprintConfigError(
            field,
            value,
            "Use 1-100 letters, digits, '-' or '_', starting with a letter or digit "
            "(e.g. 'mlops-prod').",
        )
    return value


@dataclass(frozen=True)
class VpcArgs:
    """Arguments for :class:`Vpc`.

    - ``cluster_name``: the EKS cluster the network serves; private subnets carry
      ``karpenter.sh/discovery=<cluster_name>`` so Karpenter finds them.
    - ``region``: the region the provider deploys to (used for zone names and endpoint
      service names).
    - ``cidr_block`` ("10.0.0.0/16"): a private RFC 1918 block, /16 to /24.
    - ``az_count`` (3): zones to spread over, at least 2 (EKS needs two); checked against the
      region's zones.
    - ``availability_zones`` (the region's known zones): explicit zone names, in order of use.
    - ``nat_strategy`` ("one-per-az"): outbound internet for private subnets. ``one-per-az``
      survives a zone outage but costs one NAT gateway per zone (about 32 USD a month each
      plus data processing); ``single`` is one shared gateway (cheaper, one zone's outage cuts
      egress everywhere); ``none`` leaves private subnets with the VPC endpoints only.
    - ``enable_public_subnets`` (on): public subnets for internet-facing load balancers and
      the NAT gateways; instances there never get public IPs. Required unless
      ``nat_strategy`` is ``none``.
    - ``interface_endpoints`` (ecr.api, ecr.dkr, sts, logs): interface endpoints with private
      DNS, reachable on 443 from the VPC only (about 7 USD a month per endpoint and zone). The
      S3 gateway endpoint is always created (free).
    - ``enable_flow_logs`` (on): VPC flow logs (all traffic) to a CloudWatch log group.
    - ``flow_logs_retention_days`` (90): a retention CloudWatch Logs accepts.
    - ``flow_logs_kms_key_arn`` (none): encrypt the flow-log group with this key; its policy
      must allow ``logs.<region>.amazonaws.com``.
    - ``tags``: added to every resource.
    """

    cluster_name: str
    region: str
    cidr_block: str = "10.0.0.0/16"
    az_count: int = 3
    availability_zones: tuple[str, ...] | None = None
    nat_strategy: NatStrategy = "one-per-az"
    enable_public_subnets: bool = True
    interface_endpoints: tuple[str, ...] = DEFAULT_INTERFACE_ENDPOINTS
    enable_flow_logs: bool = True
    flow_logs_retention_days: int = 90
    flow_logs_kms_key_arn: pulumi.Input[str] | None = None
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_cluster_name(self.cluster_name)
        if self.nat_strategy not in get_args(NatStrategy):
            raise BlueprintConfigError(
                "nat_strategy",
                self.nat_strategy,
                "Use 'one-per-az' (resilient), 'single' (cheaper) or 'none' (endpoints only).",
            )
        if self.az_count < 2:
            raise BlueprintConfigError(
                "az_count",
                self.az_count,
                "EKS needs subnets in at least two zones: use 2 or more (3 is recommended).",
            )
        # Validates the region, the zones, az_count and the CIDR block.
        self.subnet_plan()
        if self.nat_strategy != "none" and not self.enable_public_subnets:
            raise BlueprintConfigError(
                "enable_public_subnets",
                self.enable_public_subnets,
                f"NAT gateways live in public subnets: keep public subnets with nat_strategy="
                f"'{self.nat_strategy}', or use nat_strategy='none' for a network without "
                "internet egress.",
            )
        unknown = sorted(set(self.interface_endpoints) - INTERFACE_ENDPOINT_SERVICES)
        if unknown or len(set(self.interface_endpoints)) != len(self.interface_endpoints):
            raise BlueprintConfigError(
                "interface_endpoints",
                list(self.interface_endpoints),
                "List each service once, from: "
                + ", ".join(sorted(INTERFACE_ENDPOINT_SERVICES))
                + ".",
            )
        validate_retention_days(self.flow_logs_retention_days, field="flow_logs_retention_days")

    def subnet_plan(self) -> list[SubnetPlan]:
        return plan_subnets(
            self.cidr_block,
            self.az_count,
            region=self.region,
            availability_zones=self.availability_zones,
        )


class Vpc(pulumi.ComponentResource):
    """VPC across zones: private node subnets, load-balancer-only public subnets, endpoints.

    The default security group is emptied, instances never get public IPs, and interface
    endpoints accept 443 from the VPC only. Children (``{name}-<suffix>``): ``vpc``,
    ``default-sg``; per zone ``private-<az>``, ``private-rt-<az>``, ``private-rta-<az>``
    and, with public subnets, ``public-<az>``, ``public-rta-<az>``; with public subnets
    ``igw``, ``public-rt``, ``public-igw-route``; per NAT gateway ``nat-eip-<az>``,
    ``nat-<az>`` and per zone ``private-nat-route-<az>``; ``s3`` (gateway endpoint),
    ``endpoints-sg``, ``endpoints-https``, ``endpoint-<service>``; with flow logs
    ``flow-logs-group``, ``flow-logs-role``, ``flow-logs-policy``, ``flow-logs``.
    """

    vpc_id: pulumi.Output[str]
    cidr_block: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[list[str]]
    public_subnet_ids: pulumi.Output[list[str]]
    private_route_table_ids: pulumi.Output[list[str]]
    endpoint_security_group_id: pulumi.Output[str]
    availability_zones: tuple[str, ...]

    def __init__(
        self, name: str, args: VpcArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:network:Vpc", name, None, opts)
        plans = args.subnet_plan()
        self.availability_zones = tuple(p.availability_zone for p in plans)
        prefix = args.cluster_name

        def tags(label: str, extra: dict[str, str] | None = None) -> dict[str, str]:
            return {**args.tags, "Name": f"{prefix}-{label}", **(extra or {})}

        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr_block,
            # Private DNS of interface endpoints needs both.
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags=tags("vpc"),
            opts=child_opts(self),
        )
        # The default security group allows all traffic between its members: empty it, so
        # nothing relies on it by accident.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=self.vpc.id,
            tags=tags("default-deny-all"),
            opts=child_opts(self),
        )

        public_subnets: dict[str, aws.ec2.Subnet] = {}
        igw: aws.ec2.InternetGateway | None = None
        if args.enable_public_subnets:
            igw = aws.ec2.InternetGateway(
                f"{name}-igw", vpc_id=self.vpc.id, tags=tags("igw"), opts=child_opts(self)
            )
            public_rt = aws.ec2.RouteTable(
                f"{name}-public-rt", vpc_id=self.vpc.id, tags=tags("public"), opts=child_opts(self)
            )
            aws.ec2.Route(
                f"{name}-public-igw-route",
                route_table_id=public_rt.id,
                destination_cidr_block="0.0.0.0/0",
                gateway_id=igw.id,
                opts=child_opts(self),
            )
            for plan in plans:
                az = plan.availability_zone
                subnet = aws.ec2.Subnet(
                    f"{name}-public-{az}",
                    vpc_id=self.vpc.id,
                    cidr_block=plan.public_cidr,
                    availability_zone=az,
                    # Only load balancers and NAT gateways live here; nothing gets a public IP.
                    map_public_ip_on_launch=False,
                    tags=tags(
                        f"public-{az}",
                        {"kubernetes.io/role/elb": "1", "mlops-blueprints.io/tier": "public"},
                    ),
                    opts=child_opts(self),
                )
                aws.ec2.RouteTableAssociation(
                    f"{name}-public-rta-{az}",
                    subnet_id=subnet.id,
                    route_table_id=public_rt.id,
                    opts=child_opts(self),
                )
                public_subnets[az] = subnet

        private_subnets: dict[str, aws.ec2.Subnet] = {}
        private_tables: dict[str, aws.ec2.RouteTable] = {}
        for plan in plans:
            az = plan.availability_zone
            subnet = aws.ec2.Subnet(
                f"{name}-private-{az}",
                vpc_id=self.vpc.id,
                cidr_block=plan.private_cidr,
                availability_zone=az,
                map_public_ip_on_launch=False,
                tags=tags(
                    f"private-{az}",
                    {
                        "kubernetes.io/role/internal-elb": "1",
                        "karpenter.sh/discovery": args.cluster_name,
                        "mlops-blueprints.io/tier": "private",
                    },
                ),
                opts=child_opts(self),
            )
            # One table per zone whatever the NAT strategy, so changing it is an update.
            table = aws.ec2.RouteTable(
                f"{name}-private-rt-{az}",
                vpc_id=self.vpc.id,
                tags=tags(f"private-{az}"),
                opts=child_opts(self),
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-rta-{az}",
                subnet_id=subnet.id,
                route_table_id=table.id,
                opts=child_opts(self),
            )
            private_subnets[az] = subnet
            private_tables[az] = table

        nat_zones = {
            "none": [],
            "single": [plans[0].availability_zone],
            "one-per-az": [p.availability_zone for p in plans],
        }[args.nat_strategy]
        nat_gateways: dict[str, aws.ec2.NatGateway] = {}
        for az in nat_zones:
            eip = aws.ec2.Eip(
                f"{name}-nat-eip-{az}", domain="vpc", tags=tags(f"nat-{az}"), opts=child_opts(self)
            )
            nat_gateways[az] = aws.ec2.NatGateway(
                f"{name}-nat-{az}",
                allocation_id=eip.id,
                subnet_id=public_subnets[az].id,
                tags=tags(f"nat-{az}"),
                # A NAT gateway without the internet gateway attached cannot route.
                opts=child_opts(self, depends_on=[igw] if igw else []),
            )
        for plan in plans:
            az = plan.availability_zone
            gateway = nat_gateways.get(az) or (nat_gateways[nat_zones[0]] if nat_zones else None)
            if gateway is None:
                continue
            aws.ec2.Route(
                f"{name}-private-nat-route-{az}",
                route_table_id=private_tables[az].id,
                destination_cidr_block="0.0.0.0/0",
                nat_gateway_id=gateway.id,
                opts=child_opts(self),
            )

        # S3 through the gateway endpoint: free, and image layers from ECR come from S3.
        aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=self.vpc.id,
            service_name=f"com.amazonaws.{args.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[t.id for t in private_tables.values()],
            tags=tags("s3"),
            opts=child_opts(self),
        )
        endpoint_sg = aws.ec2.SecurityGroup(
            f"{name}-endpoints-sg",
            vpc_id=self.vpc.id,
            description="Interface endpoints: HTTPS from inside the VPC only",
            tags=tags("endpoints"),
            opts=child_opts(self),
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-endpoints-https",
            security_group_id=endpoint_sg.id,
            description="HTTPS from the VPC",
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            cidr_ipv4=self.vpc.cidr_block,
            opts=child_opts(self),
        )
        private_ids = [s.id for s in private_subnets.values()]
        for service in args.interface_endpoints:
            aws.ec2.VpcEndpoint(
                f"{name}-endpoint-{service.replace('.', '-')}",
                vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{args.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=private_ids,
                security_group_ids=[endpoint_sg.id],
                tags=tags(f"endpoint-{service}"),
                opts=child_opts(self),
            )

        if args.enable_flow_logs:
            self._flow_logs(name, args, tags("flow-logs"))

        self.vpc_id = self.vpc.id
        self.cidr_block = self.vpc.cidr_block
        self.private_subnet_ids = pulumi.Output.all(*private_ids)
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in public_subnets.values()])
        self.private_route_table_ids = pulumi.Output.all(*[t.id for t in private_tables.values()])
        self.endpoint_security_group_id = endpoint_sg.id
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "private_subnet_ids": self.private_subnet_ids,
                "public_subnet_ids": self.public_subnet_ids,
                "availability_zones": list(self.availability_zones),
            }
        )

    def _flow_logs(self, name: str, args: VpcArgs, tags: dict[str, str]) -> None:
        invoke_opts = pulumi.InvokeOutputOptions(parent=self)
        identity = aws.get_caller_identity_output(opts=invoke_opts)
        partition = aws.get_partition_output(opts=invoke_opts).partition
        group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs-group",
            name=f"/aws/vpc/{args.cluster_name}/flow-logs",
            retention_in_days=args.flow_logs_retention_days,
            kms_key_id=args.flow_logs_kms_key_arn,
            tags=tags,
            # Network audit records outlive the stack.
            opts=child_opts(self, retain_on_delete=True),
        )
        role = aws.iam.Role(
            f"{name}-flow-logs-role",
            assume_role_policy=pulumi.Output.all(identity.account_id, partition).apply(
                lambda v: json.dumps(
                    flow_logs_trust_policy(account_id=v[0], region=args.region, partition=v[1])
                )
            ),
            tags=tags,
            opts=child_opts(self),
        )
        policy = aws.iam.RolePolicy(
            f"{name}-flow-logs-policy",
            role=role.id,
            policy=group.arn.apply(lambda arn: json.dumps(flow_logs_role_policy(arn))),
            opts=child_opts(self),
        )
        aws.ec2.FlowLog(
            f"{name}-flow-logs",
            vpc_id=self.vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags=tags,
            opts=child_opts(self, depends_on=[policy]),
        )
