"""The aws network: a multi-zone VPC with private node subnets, endpoints and flow logs."""

from ._plan import (
    CLOUDWATCH_RETENTION_DAYS,
    REGION_AVAILABILITY_ZONES,
    SubnetPlan,
    flow_logs_role_policy,
    flow_logs_trust_policy,
    plan_subnets,
    validate_vpc_cidr,
)
from ._vpc import DEFAULT_INTERFACE_ENDPOINTS, NatStrategy, Vpc, VpcArgs

__all__ = [
    "CLOUDWATCH_RETENTION_DAYS",
    "DEFAULT_INTERFACE_ENDPOINTS",
    "REGION_AVAILABILITY_ZONES",
    "NatStrategy",
    "SubnetPlan",
    "Vpc",
    "VpcArgs",
    "flow_logs_role_policy",
    "flow_logs_trust_policy",
    "plan_subnets",
    "validate_vpc_cidr",
]
