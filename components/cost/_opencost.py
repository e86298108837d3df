"""OpenCost: in-cluster cost allocation from Prometheus metrics."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from mlops_blueprints import versions
from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.targets._seam import validate_dns_label

from .._labels import standard_labels
from .._opts import child_opts
from ..database._common import validate_resources
from ..kubernetes import namespace_pod_peer
from ._plan import (
    OPENCOST_PORT,
    PRICING_SOURCES,
    PRIVATE_CIDRS,
    CustomPrices,
    PricingSource,
    opencost_egress,
    opencost_values,
    parse_prometheus_url,
    validate_label_value,
)

__all__ = ["CostAllocation", "CostAllocationArgs"]

DEFAULT_PROMETHEUS_URL = "http://kube-prometheus-stack-prometheus.monitoring.svc:9090"
# The chart's selector labels are on the pod template already; repeating them in podLabels
# would write the same key twice.
_CHART_SELECTOR_KEYS = frozenset({"app.kubernetes.io/name", "app.kubernetes.io/instance"})
_LABEL_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)


def _validate_labels(labels: dict[str, str], *, field: str) -> None:
    if not labels:
        raise BlueprintConfigError(
            field,
            labels,
            "Name at least one label (e.g. {'release': 'kube-prometheus-stack'}); an empty "
            "selector would match nothing you meant.",
        )
    for key, value in labels.items():
        if not isinstance(key, str) or len(key) > 316 or not _LABEL_KEY.match(key):
            raise BlueprintConfigError(
                field, key, "Use a Kubernetes label key such as 'release' or 'example.com/team'."
            )
        validate_label_value(value, field=field)


@dataclass(frozen=True)
class CostAllocationArgs:
    """Arguments for :class:`CostAllocation`.

    - ``namespace`` (monitoring): the namespace OpenCost runs in, normally the monitoring
      stack's; it must exist.
    - ``prometheus_url`` (http://kube-prometheus-stack-prometheus.monitoring.svc:9090): the
      in-cluster Prometheus Service OpenCost queries,
      ``http(s)://<service>.<namespace>.svc[.cluster.local]:<port>``.
    - ``prometheus_pod_labels`` ({app.kubernetes.io/name: prometheus}): labels of the Prometheus
      pods; they are admitted to scrape OpenCost, and OpenCost may reach them on the URL's port.
    - ``monitor_labels`` ({release: kube-prometheus-stack}): labels on the ServiceMonitor, the
      ones Prometheus selects ServiceMonitors by.
    - ``depends_on_prometheus`` (none): the resource that installs Prometheus and the
      ServiceMonitor CRD (the kube-prometheus-stack release); the OpenCost release waits for it.
    - ``pricing`` (custom): ``custom`` prices nodes from ``custom_prices`` (kind, on-premises);
      ``aws-list-prices`` lets OpenCost download AWS public on-demand list prices, which opens
      HTTPS egress to public addresses.
    - ``custom_prices`` (OpenCost's defaults): the hourly prices ``pricing="custom"`` applies.
    - ``cluster_id`` (mlops-platform): the cluster name OpenCost reports costs under.
    - ``api_server_cidrs`` (the RFC 1918 ranges): networks where the Kubernetes API server is
      reached (ports 443 and 6443); never ``0.0.0.0/0``.
    - ``release_name`` (opencost): name of the Helm release, Deployment and Service.
    - ``cpu_request`` (50m): CPU request of the OpenCost container.
    - ``memory_request_mib`` (256): memory request.
    - ``memory_limit_mib`` (1024): memory limit; must be at least the request.
    - ``labels``: extra labels on the OpenCost pod and the NetworkPolicy (for example
      ``cost_allocation_labels(...)``).
    """

    namespace: pulumi.Input[str] = "monitoring"
    prometheus_url: str = DEFAULT_PROMETHEUS_URL
    prometheus_pod_labels: dict[str, str] = field(
        default_factory=lambda: {"app.kubernetes.io/name": "prometheus"}
    )
    monitor_labels: dict[str, str] = field(
        default_factory=lambda: {"release": "kube-prometheus-stack"}
    )
    depends_on_prometheus: pulumi.Resource | None = None
    pricing: PricingSource = "custom"
    custom_prices: CustomPrices = field(default_factory=CustomPrices)
    cluster_id: str = "mlops-platform"
    api_server_cidrs: Sequence[str] = PRIVATE_CIDRS
    release_name: str = "opencost"
    cpu_request: str = "50m"
    memory_request_mib: int = 256
    memory_limit_mib: int = 1024
    labels: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.namespace, str):
            validate_dns_label(self.namespace, field="namespace")
        parse_prometheus_url(self.prometheus_url)
        _validate_labels(self.prometheus_pod_labels, field="prometheus_pod_labels")
        _validate_labels(self.monitor_labels, field="monitor_labels")
        if self.depends_on_prometheus is not None and not isinstance(
            self.depends_on_prometheus, pulumi.Resource
        ):
            raise BlueprintConfigError(
                "depends_on_prometheus",
                type(self.depends_on_prometheus).__name__,
                "Pass the resource that installs Prometheus (e.g. the kube-prometheus-stack "
                "Helm release), or None.",
            )
        if self.pricing not in PRICING_SOURCES:
            raise BlueprintConfigError(
                "pricing", self.pricing, f"Use one of: {', '.join(PRICING_SOURCES)}."
            )
        if not isinstance(self.custom_prices, CustomPrices):
            raise BlueprintConfigError(
                "custom_prices",
                type(self.custom_prices).__name__,
                "Pass a CustomPrices(...) with hourly prices.",
            )
        validate_label_value(self.cluster_id, field="cluster_id")
        self._validate_api_server_cidrs()
        validate_dns_label(self.release_name, field="release_name")
        validate_resources(
            cpu_request=self.cpu_request,
            memory_request_mib=self.memory_request_mib,
            memory_limit_mib=self.memory_limit_mib,
        )
        if self.labels:
            _validate_labels(self.labels, field="labels")

    def _validate_api_server_cidrs(self) -> None:
        if isinstance(self.api_server_cidrs, str) or not self.api_server_cidrs:
            raise BlueprintConfigError(
                "api_server_cidrs",
                self.api_server_cidrs,
                "Name the networks the API server is reached on (e.g. ['10.0.0.0/16']).",
            )
        for cidr in self.api_server_cidrs:
            try:
                network = ipaddress.ip_network(cidr, strict=True)
            except (ValueError, TypeError):
                raise BlueprintConfigError(
                    "api_server_cidrs", cidr, "Use a network in CIDR form such as '10.0.0.0/16'."
                ) from None
            if network.prefixlen == 0:
                raise BlueprintConfigError(
                    "api_server_cidrs",
                    cidr,
                    "Name the API server's own networks; a /0 would open HTTPS to the internet.",
                )


class CostAllocation(pulumi.ComponentResource):
    """OpenCost (pinned ``opencost`` chart) allocating cluster spend from Prometheus metrics.

    OpenCost reads usage from the in-cluster Prometheus and prices it either from
    ``custom_prices`` or from AWS's public on-demand list prices; its own metrics are scraped
    through a ServiceMonitor. Only the exporter runs (no UI), behind a ClusterIP Service.
    Children: ``{name}-release`` (Helm release) and ``{name}-network-policy``.
    """

    api_url: pulumi.Output[str]
    service_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: CostAllocationArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:cost:CostAllocation", name, None, opts)
        namespace = pulumi.Output.from_input(args.namespace)
        prometheus = parse_prometheus_url(args.prometheus_url)
        labels = standard_labels("opencost", instance=args.release_name, extra=args.labels)
        #: Labels of the OpenCost pods (the chart's selector), for policies admitting them.
        self.pod_selector = {
            "app.kubernetes.io/name": "opencost",
            "app.kubernetes.io/instance": args.release_name,
        }
        chart = versions.CHARTS["opencost"]
        depends_on = [args.depends_on_prometheus] if args.depends_on_prometheus else []
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name=args.release_name,
            namespace=namespace,
            chart=chart.chart,
            version=chart.version,
            repository_opts={"repo": chart.repository},
            values=opencost_values(
                release_name=args.release_name,
                prometheus_url=args.prometheus_url,
                cluster_id=args.cluster_id,
                monitor_labels=args.monitor_labels,
                pricing=args.pricing,
                custom_prices=args.custom_prices,
                resources={
                    "requests": {
                        "cpu": args.cpu_request,
                        "memory": f"{args.memory_request_mib}Mi",
                    },
                    "limits": {"memory": f"{args.memory_limit_mib}Mi"},
                },
                pod_labels={k: v for k, v in labels.items() if k not in _CHART_SELECTOR_KEYS},
            ),
            opts=child_opts(self, depends_on=depends_on),
        )
        prometheus_peer = namespace_pod_peer(prometheus.namespace, args.prometheus_pod_labels)
        k8s.networking.v1.NetworkPolicy(
            f"{name}-network-policy",
            metadata={"name": args.release_name, "namespace": namespace, "labels": labels},
            spec={
                "podSelector": {"matchLabels": self.pod_selector},
                "policyTypes": ["Ingress", "Egress"],
                # Prometheus scrapes /metrics on the API port; nothing else calls in.
                "ingress": [
                    {
                        "from": [prometheus_peer],
                        "ports": [{"protocol": "TCP", "port": OPENCOST_PORT}],
                    }
                ],
                "egress": opencost_egress(
                    prometheus_peer=prometheus_peer,
                    prometheus_port=prometheus.port,
                    api_server_cidrs=args.api_server_cidrs,
                    pricing=args.pricing,
                ),
            },
            opts=child_opts(self),
        )
        self.service_name = self.release.status.apply(lambda _: args.release_name)
        self.api_url = pulumi.Output.concat(
            "http://", self.service_name, ".", namespace, f".svc.cluster.local:{OPENCOST_PORT}"
        )
        self.register_outputs({"api_url": self.api_url, "service_name": self.service_name})
