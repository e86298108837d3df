"""Network planning as pure functions: regions and zones, CIDR checks, subnet layout, policies."""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Sequence
from typing import Any, NamedTuple

from mlops_blueprints.errors import BlueprintConfigError

__all__ = [
    "CLOUDWATCH_RETENTION_DAYS",
    "INTERFACE_ENDPOINT_SERVICES",
    "MIN_SUBNET_PREFIX",
    "REGION_AVAILABILITY_ZONES",
    "SubnetPlan",
    "flow_logs_role_policy",
    "flow_logs_trust_policy",
    "plan_subnets",
    "region_zones",
    "validate_region",
    "validate_retention_days",
    "validate_vpc_cidr",
]

# Zone names per region, for validation and defaults. Zone names map to different physical
# zones per account; pass ``availability_zones`` to pick specific ones, or for a region that
# is not listed here.
REGION_AVAILABILITY_ZONES: dict[str, tuple[str, ...]] = {
    "us-east-1": tuple(f"us-east-1{z}" for z in "abcdef"),
    "us-east-2": ("us-east-2a", "us-east-2b", "us-east-2c"),
    "us-west-2": ("us-west-2a", "us-west-2b", "us-west-2c", "us-west-2d"),
    "eu-west-1": ("eu-west-1a", "eu-west-1b", "eu-west-1c"),
    "eu-central-1": ("eu-central-1a", "eu-central-1b", "eu-central-1c"),
    "ap-southeast-1": ("ap-southeast-1a", "ap-southeast-1b", "ap-southeast-1c"),
    "ap-northeast-1": ("ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"),
}

# Interface endpoints the network can create, by service suffix.
INTERFACE_ENDPOINT_SERVICES: frozenset[str] = frozenset(
    {
        "autoscaling",
        "ec2",
        "ecr.api",
        "ecr.dkr",
        "eks",
        "eks-auth",
        "elasticloadbalancing",
        "kms",
        "logs",
        "ssm",
        "sts",
    }
)

# The smallest subnet AWS allows is a /28.
MIN_SUBNET_PREFIX = 28

# Retention values CloudWatch Logs accepts.
CLOUDWATCH_RETENTION_DAYS: tuple[int, ...] = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip

_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_PRIVATE_RANGES = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)


class SubnetPlan(NamedTuple):
    """One zone's subnets: nodes in ``private_cidr``, load balancers in ``public_cidr``."""

    availability_zone: str
    private_cidr: str
    public_cidr: str


def validate_region(value: str, *, field: str = "region") -> str:
    if not _REGION.match(value):
        raise BlueprintConfigError(
            field, value, "Use an AWS region code such as 'us-east-1' or 'eu-west-1'."
        )
    return value


def validate_retention_days(value: int, *, field: str) -> int:
    if value not in CLOUDWATCH_RETENTION_DAYS:
        raise BlueprintConfigError(
            field,
            value,
            "CloudWatch Logs accepts only these retention periods (days): "
            + ", ".join(str(d) for d in CLOUDWATCH_RETENTION_DAYS)
            + ".",
        )
    return value


def validate_vpc_cidr(value: str, *, field: str = "cidr_block") -> ipaddress.IPv4Network:
    """A private (RFC 1918) IPv4 block from /16 to /24, written as its network address."""
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise BlueprintConfigError(
            field,
            value,
            "Use an IPv4 network in CIDR notation, written at its network address "
            "(e.g. '10.0.0.0/16').",
        ) from None
    if not isinstance(network, ipaddress.IPv4Network) or not any(
        network.subnet_of(r) for r in _PRIVATE_RANGES
    ):
        raise BlueprintConfigError(
            field,
            value,
            "Use a private RFC 1918 range: inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16.",
        )
    if not 16 <= network.prefixlen <= 24:
        raise BlueprintConfigError(
            field,
            value,
            "AWS VPCs are /16 to /28 and an EKS network needs room for pods: use a prefix "
            "from /16 (65,536 addresses, recommended) to /24.",
        )
    return network


def region_zones(region: str, availability_zones: Sequence[str] | None = None) -> tuple[str, ...]:
    """The zones to place subnets in: the explicit list, else the region's known zones."""
    validate_region(region)
    if availability_zones is not None:
        zones = tuple(availability_zones)
        bad = [z for z in zones if not re.fullmatch(rf"{re.escape(region)}[a-z]", z)]
        if bad or len(set(zones)) != len(zones) or not zones:
            raise BlueprintConfigError(
                "availability_zones",
                list(zones),
                f"List distinct zone names of {region}, such as '{region}a', '{region}b'.",
            )
        return zones
    if region not in REGION_AVAILABILITY_ZONES:
        raise BlueprintConfigError(
            "region",
            region,
            "This region's zones are not built in (known: "
            + ", ".join(sorted(REGION_AVAILABILITY_ZONES))
            + "); pass availability_zones explicitly, e.g. "
            f"('{region}a', '{region}b', '{region}c').",
        )
    return REGION_AVAILABILITY_ZONES[region]


def plan_subnets(
    cidr: str,
    az_count: int,
    *,
    region: str,
    availability_zones: Sequence[str] | None = None,
) -> list[SubnetPlan]:
    """Lay out one private and one public subnet per zone inside ``cidr``.

    The block is split into the smallest power of two of equal blocks that holds one block per
    zone plus one: zone ``i`` gets block ``i`` as its private (node and pod) subnet, and the
    last block is split again into the public (load balancer) subnets, so private subnets are
    always the larger. Blocks in between stay free for later use. For a /16 and 3 zones:
    three /18 private subnets and three /20 public ones.
    """
    zones = region_zones(region, availability_zones)
    if not 1 <= az_count <= len(zones):
        raise BlueprintConfigError(
            "az_count",
            az_count,
            f"{region} offers {len(zones)} zones here ({', '.join(zones)}): use 1 to "
            f"{len(zones)}, or pass availability_zones to list others.",
        )
    network = validate_vpc_cidr(cidr)
    private_bits = math.ceil(math.log2(az_count + 1))
    public_bits = max(2, math.ceil(math.log2(az_count)))
    private_prefix = network.prefixlen + private_bits
    public_prefix = private_prefix + public_bits
    if public_prefix > MIN_SUBNET_PREFIX:
        raise BlueprintConfigError(
            "cidr_block",
            cidr,
            f"{cidr} is too small for {az_count} zones (public subnets would be "
            f"/{public_prefix}, below the /28 AWS minimum): use a larger block such as a /16, "
            "or fewer zones.",
        )
    blocks = list(network.subnets(new_prefix=private_prefix))
    public_blocks = list(blocks[-1].subnets(new_prefix=public_prefix))
    return [
        SubnetPlan(zone, str(blocks[i]), str(public_blocks[i]))
        for i, zone in enumerate(zones[:az_count])
    ]


def flow_logs_trust_policy(
    *, account_id: str, region: str, partition: str = "aws"
) -> dict[str, Any]:
    """Only the VPC Flow Logs service, acting for this account's flow logs, may assume."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "VpcFlowLogsDelivery",
                "Effect": "Allow",
                "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnLike": {
                        "aws:SourceArn": (
                            f"arn:{partition}:ec2:{region}:{account_id}:vpc-flow-log/*"
                        )
                    },
                },
            }
        ],
    }


def _account_log_groups(log_group_arn: str) -> str:
    """``arn:<partition>:logs:<region>:<account>:log-group:*`` for the group's account."""
    parts = log_group_arn.split(":")
    if len(parts) < 6 or parts[0] != "arn":
        raise BlueprintConfigError(
            "log_group_arn", log_group_arn, "Pass a CloudWatch Logs log group ARN."
        )
    return f"arn:{parts[1]}:logs:{parts[3]}:{parts[4]}:log-group:*"


def flow_logs_role_policy(log_group_arn: str) -> dict[str, Any]:
    """Write flow-log records into one existing log group, and nothing else."""
    group = log_group_arn.removesuffix(":*")
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "WriteFlowLogRecords",
                "Effect": "Allow",
                "Action": [
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:DescribeLogStreams",
                ],
                "Resource": [group, f"{group}:*"],
            },
            {
                # A list call: it names no single group, only the account and region's groups.
                "Sid": "FindTheLogGroup",
                "Effect": "Allow",
                "Action": ["logs:DescribeLogGroups"],
                "Resource": [_account_log_groups(group)],
            },
        ],
    }
