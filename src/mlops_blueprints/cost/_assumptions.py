"""What the estimate assumes where a render cannot say: usage, volumes and node counts."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from ._prices import CostEstimateError

__all__ = [
    "ASSUMPTION_MEANINGS",
    "DEFAULT_POOLS",
    "Assumptions",
    "PoolAssumption",
    "PoolOverride",
    "parse_assumptions",
]


@dataclass(frozen=True)
class PoolAssumption:
    """How a Karpenter NodePool is assumed to run on average over the month."""

    instance_type: str
    nodes: Decimal


@dataclass(frozen=True)
class PoolOverride:
    """A user's ``--assume pool.<name>....`` values; unset parts keep the default."""

    instance_type: str | None = None
    nodes: Decimal | None = None


# Average nodes per Karpenter NodePool, by the hardware class the pool is labelled with.
# Karpenter sizes pools from pending pods, so the render cannot know; consolidation removes
# idle nodes, so an unused accelerator pool costs nothing.
DEFAULT_POOLS: Mapping[str, PoolAssumption] = {
    "cpu": PoolAssumption("m7i.xlarge", Decimal(2)),
    "nvidia-gpu": PoolAssumption("g6.xlarge", Decimal(1)),
    "neuron": PoolAssumption("inf2.xlarge", Decimal(1)),
}

ASSUMPTION_MEANINGS: Mapping[str, str] = {
    "hours_per_month": "hours every always-on resource runs in a month (365 x 24 / 12)",
    "nat_gb_per_gateway": "GB processed by each NAT gateway a month",
    "interface_endpoint_gb": "GB processed by each interface VPC endpoint a month",
    "s3_gb_per_bucket": "GB stored in each S3 bucket, all priced as S3 Standard",
    "s3_put_thousands_per_bucket": "thousands of PUT/LIST requests to each bucket a month",
    "s3_get_thousands_per_bucket": "thousands of GET requests to each bucket a month",
    "dynamodb_write_millions_per_table": "million write request units per on-demand table",
    "dynamodb_read_millions_per_table": "million read request units per on-demand table",
    "dynamodb_storage_gb_per_table": "GB stored in each DynamoDB table",
    "ecr_gb_per_repository": "GB of images stored in each ECR repository",
    "kms_requests_ten_thousands_per_key": "ten-thousands of API requests to each KMS key a month",
    "logs_ingest_gb_per_group": "GB ingested into each CloudWatch log group a month",
    "logs_compression_ratio": "stored size of CloudWatch logs relative to ingested size",
    "logs_retention_days_when_unset": "days of logs kept by a log group without retention",
    "rds_log_export_gb_per_instance": "GB of database logs each RDS instance exports a month",
    "sqs_requests_millions_per_queue": "million requests to each SQS queue a month",
    "nlb_lcus_per_balancer": "load balancer capacity units each NLB uses on average",
    "node_disk_gb_when_unset": "GB root volume of a node when the render sets none",
}


@dataclass(frozen=True)
class Assumptions:
    """Every figure the estimate takes on trust; each can be overridden with ``--assume``."""

    hours_per_month: Decimal = Decimal(730)
    nat_gb_per_gateway: Decimal = Decimal(100)
    interface_endpoint_gb: Decimal = Decimal(20)
    s3_gb_per_bucket: Decimal = Decimal(100)
    s3_put_thousands_per_bucket: Decimal = Decimal(100)
    s3_get_thousands_per_bucket: Decimal = Decimal(1000)
    dynamodb_write_millions_per_table: Decimal = Decimal(10)
    dynamodb_read_millions_per_table: Decimal = Decimal(50)
    dynamodb_storage_gb_per_table: Decimal = Decimal(5)
    ecr_gb_per_repository: Decimal = Decimal(20)
    kms_requests_ten_thousands_per_key: Decimal = Decimal(50)
    logs_ingest_gb_per_group: Decimal = Decimal(5)
    logs_compression_ratio: Decimal = Decimal("0.15")
    logs_retention_days_when_unset: Decimal = Decimal(365)
    rds_log_export_gb_per_instance: Decimal = Decimal(1)
    sqs_requests_millions_per_queue: Decimal = Decimal("0.2")
    nlb_lcus_per_balancer: Decimal = Decimal(1)
    node_disk_gb_when_unset: Decimal = Decimal(20)
    # Per NodePool name (overrides), else by the pool's hardware class.
    pools: Mapping[str, PoolOverride] = field(default_factory=dict)
    pool_defaults: Mapping[str, PoolAssumption] = field(default_factory=lambda: DEFAULT_POOLS)

    def pool(self, name: str, hardware_class: str) -> PoolAssumption | None:
        """The assumption for NodePool ``name``: its override over its hardware class's default.

        None when neither says which instance type the pool runs.
        """
        default = self.pool_defaults.get(hardware_class)
        override = self.pools.get(name, PoolOverride())
        instance_type = override.instance_type or (default.instance_type if default else None)
        if instance_type is None:
            return None
        nodes = override.nodes if override.nodes is not None else None
        if nodes is None:
            nodes = default.nodes if default else Decimal(1)
        return PoolAssumption(instance_type, nodes)

    def rows(self) -> list[tuple[str, str, str]]:
        """``(key, value, meaning)`` for every scalar assumption, for printing."""
        return [
            (item.name, _text(getattr(self, item.name)), ASSUMPTION_MEANINGS[item.name])
            for item in fields(self)
            if item.name in ASSUMPTION_MEANINGS
        ]


def _text(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral() else str(value)


_POOL_KEY = re.compile(
    r"^pool\.(?P<name>[a-z0-9]([-a-z0-9]*[a-z0-9])?)\.(?P<attr>nodes|instance_type)$"
)
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")


def parse_assumptions(items: Sequence[str], base: Assumptions | None = None) -> Assumptions:
    """``Assumptions`` with ``key=value`` overrides applied (``pool.<name>.nodes=0`` too)."""
    assumptions = base or Assumptions()
    scalars: dict[str, Decimal] = {}
    pools: dict[str, PoolOverride] = dict(assumptions.pools)
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        raw = raw.strip()
        if not sep or not key or not raw:
            raise CostEstimateError(
                f"--assume {item!r}: use key=value (e.g. nat_gb_per_gateway=500)"
            )
        pool_match = _POOL_KEY.match(key)
        if pool_match:
            name = pool_match["name"]
            current = pools.get(name, PoolOverride())
            if pool_match["attr"] == "instance_type":
                if not _INSTANCE_TYPE.match(raw):
                    raise CostEstimateError(
                        f"--assume {item!r}: use an EC2 instance type such as m7i.xlarge"
                    )
                pools[name] = replace(current, instance_type=raw)
            else:
                pools[name] = replace(current, nodes=_number(item, raw))
            continue
        if key not in ASSUMPTION_MEANINGS:
            known = ", ".join(
                [*ASSUMPTION_MEANINGS, "pool.<name>.nodes", "pool.<name>.instance_type"]
            )
            raise CostEstimateError(
                f"--assume {item!r}: unknown assumption {key!r}; use one of {known}"
            )
        value = _number(item, raw)
        if key == "hours_per_month" and not 0 < value <= 744:
            raise CostEstimateError(
                f"--assume {item!r}: a month has at most 744 hours; use a value above 0"
            )
        if key == "logs_compression_ratio" and value > 1:
            raise CostEstimateError(f"--assume {item!r}: use a ratio between 0 and 1")
        scalars[key] = value
    values: dict[str, Any] = {
        spec.name: getattr(assumptions, spec.name) for spec in fields(assumptions)
    }
    values.update(scalars, pools=pools)
    return Assumptions(**values)


def _number(item: str, raw: str) -> Decimal:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise CostEstimateError(f"--assume {item!r}: {raw!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise CostEstimateError(f"--assume {item!r}: use a number of zero or more")
    return value
