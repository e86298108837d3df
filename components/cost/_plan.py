"""Pure planning for cost allocation: workload labels, OpenCost chart values, budget alerts.

Nothing here registers a resource; every function is tested directly.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal
from urllib.parse import urlsplit

from mlops_blueprints.errors import BlueprintConfigError

from ..kubernetes import RESTRICTED_CONTAINER_SECURITY_CONTEXT, RESTRICTED_POD_SECURITY_CONTEXT

__all__ = [
    "BUDGET_NOTIFICATION_LIMIT",
    "BUDGET_TAG_KEY",
    "LEVEL_LABEL",
    "MODEL_LABEL",
    "OPENCOST_PORT",
    "PRICING_SOURCES",
    "PRIVATE_CIDRS",
    "TEAM_LABEL",
    "CustomPrices",
    "PricingSource",
    "PrometheusEndpoint",
    "budget_cost_filter",
    "budget_notifications",
    "cost_allocation_labels",
    "opencost_egress",
    "opencost_values",
    "parse_prometheus_url",
    "validate_budget_name",
    "validate_email",
    "validate_label_value",
    "validate_sns_topic_arn",
    "validate_tag",
    "validate_thresholds",
]

TEAM_LABEL = "mlops-blueprints.io/team"
LEVEL_LABEL = "mlops-blueprints.io/level"
MODEL_LABEL = "mlops-blueprints.io/model"
# The platform tags its AWS resources with the same keys it puts on Kubernetes objects.
BUDGET_TAG_KEY = "mlops-blueprints.io/environment"

OPENCOST_PORT = 9003
# The OpenCost image runs as this unprivileged user.
OPENCOST_UID = 1001
# RFC 1918 ranges: where a cluster's API server endpoints live (EKS ENIs, kind's node network).
PRIVATE_CIDRS: tuple[str, ...] = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
_NON_PUBLIC_CIDRS: tuple[str, ...] = (*PRIVATE_CIDRS, "169.254.0.0/16", "100.64.0.0/10")

PricingSource = Literal["custom", "aws-list-prices"]
PRICING_SOURCES: tuple[str, ...] = ("custom", "aws-list-prices")

# AWS Budgets: at most ten notifications per budget, ten e-mail subscribers and one SNS topic
# per notification (AWS Budgets API reference, NotificationWithSubscribers).
BUDGET_NOTIFICATION_LIMIT = 10
BUDGET_EMAIL_LIMIT = 10
MAX_THRESHOLD_PERCENT = 1000.0

_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_SNS_ARN = re.compile(r"^arn:aws(-[a-z]+)*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")
# AWS tag keys and values: letters, digits, spaces and _ . : / = + - @ (no '$', which the
# budget filter uses as its separator).
_TAG_TEXT = re.compile(r"^[\w .:/=+\-@]*$")
_SERVICE_HOST = re.compile(
    r"^(?P<service>[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)\."
    r"(?P<namespace>[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)\.svc(\.cluster\.local)?$"
)


# --- workload labels ----------------------------------------------------------------------


def validate_label_value(value: str, *, field: str) -> str:
    """A non-empty Kubernetes label value (63 characters, alphanumeric at both ends)."""
    if not isinstance(value, str) or not _LABEL_VALUE.match(value):
        raise BlueprintConfigError(
            field,
            value,
            "Use 1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or "
            "digit (a Kubernetes label value, e.g. 'fraud-detection').",
        )
    return value


def cost_allocation_labels(team: str, level: int, model: str | None = None) -> dict[str, str]:
    """Labels that let OpenCost (and ``kubectl``) group spend by team, level and model.

    ``team`` owns the workload, ``level`` is the platform's maturity level (1-4) and ``model``
    the registered model a serving workload runs, when it runs one.
    """
    validate_label_value(team, field="team")
    if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 4:
        raise BlueprintConfigError(
            "level", level, "Use the platform's maturity level: 1, 2, 3 or 4."
        )
    labels = {TEAM_LABEL: team, LEVEL_LABEL: str(level)}
    if model is not None:
        labels[MODEL_LABEL] = validate_label_value(model, field="model")
    return labels


# --- OpenCost ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PrometheusEndpoint:
    """The in-cluster Prometheus Service OpenCost queries."""

    url: str
    service: str
    namespace: str
    port: int


def parse_prometheus_url(url: str) -> PrometheusEndpoint:
    """Split ``http(s)://<service>.<namespace>.svc[.cluster.local][:port][/path]``."""
    fix = (
        "Use the in-cluster Prometheus Service URL, http://<service>.<namespace>.svc:<port> "
        "(e.g. http://kube-prometheus-stack-prometheus.monitoring.svc:9090)."
    )
    try:
        parts = urlsplit(url)
        port = parts.port
    except (ValueError, TypeError, AttributeError):
        raise BlueprintConfigError("prometheus_url", url, fix) from None
    match = _SERVICE_HOST.match(parts.hostname or "")
    if parts.scheme not in ("http", "https") or match is None or parts.query or parts.fragment:
        raise BlueprintConfigError("prometheus_url", url, fix)
    if parts.username or parts.password:
        raise BlueprintConfigError("prometheus_url", url, "Keep credentials out of the URL; " + fix)
    return PrometheusEndpoint(
        url=url,
        service=match["service"],
        namespace=match["namespace"],
        port=port if port is not None else (443 if parts.scheme == "https" else 80),
    )


@dataclass(frozen=True)
class CustomPrices:
    """Hourly list prices OpenCost applies to every node when ``pricing="custom"``.

    - ``cpu_per_core_hour`` (0.031611): one vCPU for one hour.
    - ``ram_per_gib_hour`` (0.004237): one GiB of memory for one hour.
    - ``gpu_per_hour`` (0.95): one GPU for one hour.
    - ``storage_per_gib_hour`` (0.00005479452): one GiB of persistent volume for one hour
      (0.04 a GiB-month).

    The defaults are OpenCost's own fallback prices (its ``default.json``).
    """

    cpu_per_core_hour: float = 0.031611
    ram_per_gib_hour: float = 0.004237
    gpu_per_hour: float = 0.95
    storage_per_gib_hour: float = 0.00005479452

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value < 0
            ):
                raise BlueprintConfigError(
                    f"custom_prices.{item.name}",
                    value,
                    "Use a price of zero or more, in the currency of your bill, per hour.",
                )


def opencost_values(
    *,
    release_name: str,
    prometheus_url: str,
    cluster_id: str,
    monitor_labels: Mapping[str, str],
    pricing: PricingSource,
    custom_prices: CustomPrices,
    resources: Mapping[str, Any],
    pod_labels: Mapping[str, str],
) -> dict[str, Any]:
    """Values for the pinned ``opencost`` chart.

    OpenCost's exporter only: the UI, the MCP server, plugins, cloud-cost ingestion (which
    needs billing-export credentials) and carbon costs are off. The API and metrics stay on a
    ClusterIP Service; a ServiceMonitor carries ``monitor_labels`` so Prometheus scrapes it.
    The chart's own NetworkPolicies are off: the component writes its own.
    """
    custom = pricing == "custom"
    return {
        "fullnameOverride": release_name,
        "serviceAccount": {"create": True, "automountServiceAccountToken": True},
        # OpenCost watches nodes, pods and volumes through the Kubernetes API.
        "podAutomountServiceAccountToken": True,
        "podLabels": dict(pod_labels),
        "podSecurityContext": {
            **RESTRICTED_POD_SECURITY_CONTEXT,
            "runAsUser": OPENCOST_UID,
            "runAsGroup": OPENCOST_UID,
            "fsGroup": OPENCOST_UID,
        },
        "service": {"enabled": True, "type": "ClusterIP"},
        "networkPolicies": {"enabled": False},
        "plugins": {"enabled": False},
        # Writable scratch space under a read-only root filesystem.
        "extraVolumes": [
            {"name": "tmp", "emptyDir": {}},
            {"name": "configs", "emptyDir": {}},
        ],
        "opencost": {
            "exporter": {
                "defaultClusterId": cluster_id,
                "replicas": 1,
                "resources": dict(resources),
                "securityContext": dict(RESTRICTED_CONTAINER_SECURITY_CONTEXT),
                "extraVolumeMounts": [
                    {"name": "tmp", "mountPath": "/tmp"},
                    {"name": "configs", "mountPath": "/var/configs"},
                ],
            },
            "ui": {"enabled": False},
            "mcp": {"enabled": False},
            "cloudCost": {"enabled": False},
            "carbonCost": {"enabled": False},
            "customPricing": {
                "enabled": custom,
                "configmapName": f"{release_name}-custom-pricing",
                "createConfigmap": custom,
                "provider": "custom",
                "costModel": {
                    "description": "MLOps platform list prices",
                    "CPU": custom_prices.cpu_per_core_hour,
                    "RAM": custom_prices.ram_per_gib_hour,
                    "GPU": custom_prices.gpu_per_hour,
                    "storage": custom_prices.storage_per_gib_hour,
                },
            },
            "metrics": {
                "serviceMonitor": {"enabled": True, "additionalLabels": dict(monitor_labels)}
            },
            # The chart's "external" setting passes the URL through verbatim; "internal"
            # would rebuild it from parts and always use plain http.
            "prometheus": {
                "internal": {"enabled": False},
                "external": {"enabled": True, "url": prometheus_url},
            },
        },
    }


def opencost_egress(
    *,
    prometheus_peer: Mapping[str, Any],
    prometheus_port: int,
    api_server_cidrs: Sequence[str],
    pricing: PricingSource,
) -> list[dict[str, Any]]:
    """Egress rules of the OpenCost pods: DNS, Prometheus, the API server, price lists."""
    rules: list[dict[str, Any]] = [
        {
            "to": [
                {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                    },
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                }
            ],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
        },
        {"to": [dict(prometheus_peer)], "ports": [{"protocol": "TCP", "port": prometheus_port}]},
        {
            "to": [{"ipBlock": {"cidr": cidr}} for cidr in api_server_cidrs],
            "ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}],
        },
    ]
    if pricing == "aws-list-prices":
        # The AWS price list is served from public HTTPS endpoints.
        rules.append(
            {
                "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(_NON_PUBLIC_CIDRS)}}],
                "ports": [{"protocol": "TCP", "port": 443}],
            }
        )
    return rules


# --- budgets -------------------------------------------------------------------------------


def validate_budget_name(name: str) -> str:
    """AWS budget names: 1-100 characters, no ':' or '\\', never containing '/action/'."""
    if (
        not isinstance(name, str)
        or not 1 <= len(name) <= 100
        or ":" in name
        or "\\" in name
        or "/action/" in name
        or name.strip() != name
    ):
        raise BlueprintConfigError(
            "budget_name",
            name,
            "Use 1-100 characters without ':' or '\\' and no surrounding spaces "
            "(e.g. 'acme-mlops-prod-monthly').",
        )
    return name


def validate_thresholds(values: Sequence[float], *, field: str) -> tuple[float, ...]:
    """Percentages of the budget in (0, 1000], each at most once."""
    seen: set[float] = set()
    for value in values:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or not 0 < value <= MAX_THRESHOLD_PERCENT
        ):
            raise BlueprintConfigError(
                field,
                value,
                "Use a percentage of the budget above 0 and at most 1000 (e.g. 80 or 100).",
            )
        if float(value) in seen:
            raise BlueprintConfigError(
                field, value, "List each threshold once; a duplicate would alert twice."
            )
        seen.add(float(value))
    return tuple(float(v) for v in values)


def validate_email(address: str, *, field: str = "email_addresses") -> str:
    if not isinstance(address, str) or len(address) > 254 or not _EMAIL.match(address):
        raise BlueprintConfigError(
            field, address, "Use a plain e-mail address such as 'finops@example.com'."
        )
    return address


def validate_sns_topic_arn(arn: str, *, field: str = "sns_topic_arn") -> str:
    if not _SNS_ARN.match(arn):
        raise BlueprintConfigError(
            field,
            arn,
            "Use an SNS topic ARN such as 'arn:aws:sns:us-east-1:123456789012:budget-alerts'.",
        )
    return arn


def validate_tag(key: str, values: Sequence[str]) -> None:
    """An AWS cost-allocation tag key and the values a budget filters on."""
    if (
        not isinstance(key, str)
        or not 1 <= len(key) <= 128
        or key.startswith("aws:")
        or not _TAG_TEXT.match(key)
    ):
        raise BlueprintConfigError(
            "tag_key",
            key,
            "Use a user-defined AWS tag key of 1-128 letters, digits, spaces or _ . : / = + - @ "
            "(not starting with 'aws:'), e.g. 'mlops-blueprints.io/environment'.",
        )
    if isinstance(values, str) or not values:
        raise BlueprintConfigError(
            "tag_values",
            values,
            "Name at least one tag value to budget for (e.g. ['prod']); untagged spend is "
            "not the platform's.",
        )
    seen: set[str] = set()
    for value in values:
        if (
            not isinstance(value, str)
            or not 1 <= len(value) <= 256
            or not _TAG_TEXT.match(value)
            or value in seen
        ):
            raise BlueprintConfigError(
                "tag_values",
                value,
                "Use distinct, non-empty AWS tag values of letters, digits, spaces or "
                "_ . : / = + - @ (at most 256 characters).",
            )
        seen.add(value)


def budget_cost_filter(key: str, values: Sequence[str]) -> dict[str, Any]:
    """The ``TagKeyValue`` cost filter: ``user:<key>$<value>`` for each value (any matches)."""
    return {"name": "TagKeyValue", "values": [f"user:{key}${value}" for value in values]}


def budget_notifications(
    *,
    actual_percent: Sequence[float],
    forecasted_percent: Sequence[float],
    email_addresses: Sequence[str],
    sns_topic_arn: Any,
) -> list[dict[str, Any]]:
    """One notification per threshold, each sent to every subscriber."""
    subscribers: dict[str, Any] = {}
    if email_addresses:
        subscribers["subscriber_email_addresses"] = list(email_addresses)
    if sns_topic_arn is not None:
        subscribers["subscriber_sns_topic_arns"] = [sns_topic_arn]
    notifications: list[dict[str, Any]] = []
    for kind, thresholds in (("ACTUAL", actual_percent), ("FORECASTED", forecasted_percent)):
        notifications.extend(
            {
                "comparison_operator": "GREATER_THAN",
                "notification_type": kind,
                "threshold": float(threshold),
                "threshold_type": "PERCENTAGE",
                **subscribers,
            }
            for threshold in sorted(thresholds)
        )
    return notifications
