"""The platform's monitoring stack: kube-prometheus-stack, the platform's rules and dashboards,
and accelerator exporters on the pools that have accelerators."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from mlops_blueprints import versions
from mlops_blueprints.errors import BlueprintConfigError

from .._labels import standard_labels
from .._opts import child_opts
from ..database._common import text, validate_cidr_blocks
from ..kubernetes import WorkloadNamespace, WorkloadNamespaceArgs, object_name
from ..node_pools import NodePoolSpec
from ..node_pools._charts import chart_args
from ._alerting import AlertReceiver, receiver_egress_ports, validate_receiver
from ._dashboards import dashboards
from ._monitors import pod_monitor
from ._plan import (
    DASHBOARD_LABEL,
    DASHBOARD_LABEL_VALUE,
    DEFAULT_CLUSTER_NETWORK_CIDRS,
    GRAFANA_ADMIN_PASSWORD_KEY,
    GRAFANA_ADMIN_USER_KEY,
    MONITOR_LABELS,
    MONITORING_AGENTS_NAMESPACE,
    MONITORING_NAMESPACE,
    RELEASE_NAME,
    accelerator_pools,
    agents_network_policy_spec,
    alertmanager_url,
    dashboard_config_map_data,
    dashboard_names,
    dcgm_exporter_values,
    grafana_url,
    kube_prometheus_stack_values,
    monitoring_network_policy_specs,
    neuron_monitor_pod_spec,
    prometheus_url,
    retention_size_gib,
    rule_file_names,
    validate_cpu_quantity,
)
from ._rules import rule_groups
from ._thresholds import AlertThresholds

__all__ = ["MonitoringStack", "MonitoringStackArgs"]

_ADMIN_USER = re.compile(r"^[A-Za-z0-9][-_.A-Za-z0-9]{0,63}$")


def _whole(value: object, *, field: str, minimum: int, maximum: int, fix: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise BlueprintConfigError(field, value, fix)


@dataclass(frozen=True)
class MonitoringStackArgs:
    """Arguments for :class:`MonitoringStack`.

    - ``thresholds`` (defaults): the numbers the platform's alerts are built from.
    - ``enable_accelerator_monitoring`` (False): add the GPU, Neuron and drift rules and
      dashboards, and run the DCGM exporter on the nvidia-gpu pools and neuron-monitor on the
      neuron pools of ``node_pools`` (no exporter where there is no such pool).
    - ``enable_feature_store_monitoring`` (False): add the feature server's rules (its alert
      fires when the server is down or absent, so turn it on with the feature store only).
    - ``enable_cost_dashboard`` (False): add the cost dashboard; it reads OpenCost's metrics,
      so turn it on where ``components/cost``'s ``CostAllocation`` runs.
    - ``node_pools`` (none): the cluster's node pools; accelerator exporters are placed on them.
    - ``stack_pool_name`` (None): a cpu pool of ``node_pools`` to run Prometheus,
      Alertmanager, Grafana and the operator on; unset leaves placement to the scheduler
      (accelerator nodes are tainted, so the stack never lands there).
    - ``retention_days`` (15): days of metrics Prometheus keeps (at least 1).
    - ``retention_size_gib`` (None): cap on stored metrics, below ``storage_size_gib``; unset
      is 80 % of the volume, leaving the rest for the write-ahead log and compaction.
    - ``storage_size_gib`` (50): size of Prometheus' volume (at least 2).
    - ``storage_class_name`` (None): storage class of the Prometheus and Alertmanager volumes;
      the cluster default when unset.
    - ``scrape_interval_seconds`` (30): scrape and rule evaluation interval (5 to 300).
    - ``prometheus_cpu_request`` (500m): CPU request of each Prometheus replica.
    - ``prometheus_memory_request_mib`` (2048): memory request of each Prometheus replica.
    - ``prometheus_memory_limit_mib`` (4096): memory limit; at least the request.
    - ``enable_high_availability`` (False): two replicas of Prometheus and of Alertmanager,
      each with a disruption budget.
    - ``critical_receiver`` (None): where ``severity=critical`` alerts go (a SlackReceiver,
      WebhookReceiver or EmailReceiver); unset drops them (the ``null`` receiver, with a
      warning at deploy time).
    - ``warning_receiver`` (None): where ``severity=warning`` alerts go; unset drops them.
    - ``grafana_admin_user`` (admin): Grafana's admin login; its password is generated and
      kept in a Secret, never in the values.
    - ``cluster_network_cidrs`` (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16): private networks
      of the nodes and the API endpoint (the VPC CIDR on aws), reachable by Prometheus and the
      operator; narrow them to your VPC.
    - ``labels`` ({}): extra labels on the objects created here.
    """

    thresholds: AlertThresholds = field(default_factory=AlertThresholds)
    enable_accelerator_monitoring: bool = False
    enable_feature_store_monitoring: bool = False
    enable_cost_dashboard: bool = False
    node_pools: Sequence[NodePoolSpec] = ()
    stack_pool_name: str | None = None
    retention_days: int = 15
    retention_size_gib: int | None = None
    storage_size_gib: int = 50
    storage_class_name: str | None = None
    scrape_interval_seconds: int = 30
    prometheus_cpu_request: str = "500m"
    prometheus_memory_request_mib: int = 2048
    prometheus_memory_limit_mib: int = 4096
    enable_high_availability: bool = False
    critical_receiver: AlertReceiver | None = None
    warning_receiver: AlertReceiver | None = None
    grafana_admin_user: str = "admin"
    cluster_network_cidrs: Sequence[str] = DEFAULT_CLUSTER_NETWORK_CIDRS
    labels: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.thresholds, AlertThresholds):
            raise BlueprintConfigError(
                "thresholds",
                self.thresholds,
                "Pass an AlertThresholds (AlertThresholds() for the defaults).",
            )
        self._validate_pools()
        _whole(
            self.retention_days,
            field="retention_days",
            minimum=1,
            maximum=3650,
            fix="Keep metrics for 1 to 3650 days (e.g. 15).",
        )
        _whole(
            self.storage_size_gib,
            field="storage_size_gib",
            minimum=2,
            maximum=65536,
            fix="Give Prometheus a volume of at least 2 GiB (e.g. 50).",
        )
        if self.retention_size_gib is not None:
            _whole(
                self.retention_size_gib,
                field="retention_size_gib",
                minimum=1,
                maximum=self.storage_size_gib - 1,
                fix=(
                    f"Cap stored metrics at 1 to {self.storage_size_gib - 1} GiB, below the "
                    f"{self.storage_size_gib} GiB volume (the write-ahead log and compaction "
                    "need the rest), or leave it unset for 80 % of the volume."
                ),
            )
        _whole(
            self.scrape_interval_seconds,
            field="scrape_interval_seconds",
            minimum=5,
            maximum=300,
            fix="Scrape every 5 to 300 seconds (e.g. 30).",
        )
        validate_cpu_quantity(self.prometheus_cpu_request, field="prometheus_cpu_request")
        _whole(
            self.prometheus_memory_request_mib,
            field="prometheus_memory_request_mib",
            minimum=256,
            maximum=1048576,
            fix="Request at least 256 MiB for Prometheus (e.g. 2048).",
        )
        _whole(
            self.prometheus_memory_limit_mib,
            field="prometheus_memory_limit_mib",
            minimum=self.prometheus_memory_request_mib,
            maximum=1048576,
            fix=(
                f"Set the limit at or above the request ({self.prometheus_memory_request_mib} MiB)."
            ),
        )
        validate_receiver(self.critical_receiver, field="critical_receiver")
        validate_receiver(self.warning_receiver, field="warning_receiver")
        # Two different receivers under one name fail here, not at deploy time.
        receiver_egress_ports([self.critical_receiver, self.warning_receiver])
        if not isinstance(self.grafana_admin_user, str) or not _ADMIN_USER.match(
            self.grafana_admin_user
        ):
            raise BlueprintConfigError(
                "grafana_admin_user",
                self.grafana_admin_user,
                "Use 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit.",
            )
        if isinstance(self.cluster_network_cidrs, str) or not self.cluster_network_cidrs:
            raise BlueprintConfigError(
                "cluster_network_cidrs",
                self.cluster_network_cidrs,
                "List the private networks of the nodes and the API endpoint (e.g. the VPC "
                "CIDR ('10.0.0.0/16',)).",
            )
        validate_cidr_blocks(self.cluster_network_cidrs, field="cluster_network_cidrs")
        for key, value in self.labels.items():
            if not key or not isinstance(value, str):
                raise BlueprintConfigError(
                    "labels", self.labels, "Use non-empty string keys and string values."
                )

    def _validate_pools(self) -> None:
        if isinstance(self.node_pools, NodePoolSpec):
            raise BlueprintConfigError(
                "node_pools", self.node_pools, "Pass a sequence of pools, e.g. (pool,)."
            )
        seen: set[str] = set()
        for index, pool in enumerate(self.node_pools):
            if not isinstance(pool, NodePoolSpec):
                raise BlueprintConfigError(
                    f"node_pools[{index}]",
                    pool,
                    "Pass NodePoolSpec objects (components.node_pools).",
                )
            if pool.name in seen:
                raise BlueprintConfigError(
                    f"node_pools[{index}].name", pool.name, "Pool names must be unique."
                )
            seen.add(pool.name)
        if self.stack_pool_name is not None:
            stack_pool = self.stack_pool
            if stack_pool is None:
                raise BlueprintConfigError(
                    "stack_pool_name",
                    self.stack_pool_name,
                    f"Name one of node_pools ({', '.join(sorted(seen)) or 'none given'}), or "
                    "leave it unset.",
                )
            if stack_pool.hardware_class != "cpu":
                raise BlueprintConfigError(
                    "stack_pool_name",
                    self.stack_pool_name,
                    f"Pool {stack_pool.name!r} is {stack_pool.hardware_class}; run the stack "
                    "on a cpu pool.",
                )

    @property
    def stack_pool(self) -> NodePoolSpec | None:
        """The pool named by ``stack_pool_name``, if any."""
        for pool in self.node_pools:
            if pool.name == self.stack_pool_name:
                return pool
        return None


class MonitoringStack(pulumi.ComponentResource):
    """kube-prometheus-stack in a restricted ``monitoring`` namespace, node agents in a
    privileged ``monitoring-agents`` namespace, and the platform's rules and dashboards.

    Children: ``{name}-namespace`` and ``{name}-agents-namespace`` (WorkloadNamespace),
    ``{name}-grafana-admin-password`` (random) and ``{name}-grafana-admin`` (Secret),
    ``{name}-release`` (the kube-prometheus-stack release, also ``prometheus_operator``), the
    NetworkPolicies ``{name}-allow-same-namespace``, ``{name}-allow-kube-api``,
    ``{name}-prometheus-scrape``, ``{name}-operator-webhook``, ``{name}-agents-allow-prometheus``
    and, with a receiver, ``{name}-alertmanager-receivers``; ``{name}-rules-<file>``
    (PrometheusRule) per rule file and ``{name}-dashboard-<dashboard>`` (ConfigMap) per
    dashboard. With accelerator monitoring: ``{name}-dcgm-exporter`` (release) when a
    nvidia-gpu pool exists, ``{name}-neuron-monitor`` (DaemonSet) and
    ``{name}-neuron-monitor-pod-monitor`` (PodMonitor) when a neuron pool exists.
    """

    namespace_name: pulumi.Output[str]
    agents_namespace_name: pulumi.Output[str]
    prometheus_url: pulumi.Output[str]
    alertmanager_url: pulumi.Output[str]
    grafana_url: pulumi.Output[str]
    grafana_admin_secret_name: pulumi.Output[str]
    rule_names: pulumi.Output[list[str]]
    dashboard_config_map_names: pulumi.Output[list[str]]
    # What installs the monitoring.coreos.com CRDs: monitors and rules depend on it.
    prometheus_operator: k8s.helm.v3.Release

    def __init__(
        self, name: str, args: MonitoringStackArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        # Everything that can fail is computed before the first registration.
        accelerators = args.enable_accelerator_monitoring
        rule_files = rule_groups(
            args.thresholds,
            include=rule_file_names(
                enable_accelerator_monitoring=accelerators,
                enable_feature_store_monitoring=args.enable_feature_store_monitoring,
            ),
        )
        dashboard_data = {
            dashboard: dashboard_config_map_data(dashboard, content)
            for dashboard, content in dashboards(
                dashboard_names(
                    enable_accelerator_monitoring=accelerators,
                    enable_cost_dashboard=args.enable_cost_dashboard,
                )
            ).items()
        }
        gpu_pools = accelerator_pools(args.node_pools, "nvidia-gpu") if accelerators else []
        neuron_pools = accelerator_pools(args.node_pools, "neuron") if accelerators else []
        receivers = [args.critical_receiver, args.warning_receiver]

        super().__init__("mlops:monitoring:MonitoringStack", name, None, opts)
        labels = standard_labels("monitoring", instance=name, extra=args.labels)

        self.namespace = WorkloadNamespace(
            f"{name}-namespace",
            WorkloadNamespaceArgs(namespace=MONITORING_NAMESPACE, labels=args.labels),
            opts=child_opts(self),
        )
        # node-exporter (host network, host PID, host paths), the DCGM exporter (SYS_ADMIN,
        # kubelet socket) and neuron-monitor (privileged) are outside 'baseline'.
        self.agents_namespace = WorkloadNamespace(
            f"{name}-agents-namespace",
            WorkloadNamespaceArgs(
                namespace=MONITORING_AGENTS_NAMESPACE, pod_security="privileged", labels=args.labels
            ),
            opts=child_opts(self),
        )
        namespace = self.namespace.namespace_name
        agents_namespace = self.agents_namespace.namespace_name

        admin_password = random.RandomPassword(
            f"{name}-grafana-admin-password", length=32, special=False, opts=child_opts(self)
        )
        admin_secret = k8s.core.v1.Secret(
            f"{name}-grafana-admin",
            metadata={"name": "grafana-admin", "namespace": namespace, "labels": labels},
            type="Opaque",
            string_data={
                GRAFANA_ADMIN_USER_KEY: args.grafana_admin_user,
                GRAFANA_ADMIN_PASSWORD_KEY: pulumi.Output.secret(admin_password.result.apply(text)),
            },
            opts=child_opts(self),
        )
        self.grafana_admin_secret_name = object_name(admin_secret)

        replicas = 2 if args.enable_high_availability else 1
        values = kube_prometheus_stack_values(
            agents_namespace=agents_namespace,
            retention_days=args.retention_days,
            retention_size_gib=retention_size_gib(args.storage_size_gib, args.retention_size_gib),
            storage_size_gib=args.storage_size_gib,
            storage_class_name=args.storage_class_name,
            scrape_interval_seconds=args.scrape_interval_seconds,
            prometheus_resources={
                "requests": {
                    "cpu": args.prometheus_cpu_request,
                    "memory": f"{args.prometheus_memory_request_mib}Mi",
                },
                "limits": {"memory": f"{args.prometheus_memory_limit_mib}Mi"},
            },
            replicas=replicas,
            critical_receiver=args.critical_receiver,
            warning_receiver=args.warning_receiver,
            grafana_admin_secret=self.grafana_admin_secret_name,
            grafana_namespace=namespace,
            stack_pool=args.stack_pool,
        )
        self.prometheus_operator = k8s.helm.v3.Release(
            f"{name}-release",
            name=RELEASE_NAME,
            namespace=namespace,
            values=values,
            # node-exporter is installed into the agents namespace.
            opts=child_opts(self, depends_on=[self.agents_namespace]),
            **chart_args(versions.CHARTS["kube-prometheus-stack"]),
        )
        for severity, receiver in (
            ("critical", args.critical_receiver),
            ("warning", args.warning_receiver),
        ):
            if receiver is None:
                pulumi.log.warn(
                    f"{name}: no {severity}_receiver is set, so severity={severity} alerts are "
                    "routed to the 'null' receiver and nobody is notified. Pass a "
                    "SlackReceiver, WebhookReceiver or EmailReceiver.",
                    resource=self,
                )

        policies = monitoring_network_policy_specs(
            cluster_network_cidrs=args.cluster_network_cidrs,
            receiver_egress_ports=receiver_egress_ports(receivers),
        )
        for suffix, spec in policies.items():
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{suffix}",
                metadata={"name": f"monitoring-{suffix}", "namespace": namespace, "labels": labels},
                spec=spec,
                opts=child_opts(self),
            )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-agents-allow-prometheus",
            metadata={
                "name": "allow-prometheus",
                "namespace": agents_namespace,
                "labels": labels,
            },
            spec=agents_network_policy_spec(namespace),
            opts=child_opts(self),
        )

        self.prometheus_rules: dict[str, k8s.apiextensions.CustomResource] = {}
        for file, groups in rule_files.items():
            rule_name = f"mlops-{file}"
            self.prometheus_rules[file] = k8s.apiextensions.CustomResource(
                f"{name}-rules-{file}",
                api_version="monitoring.coreos.com/v1",
                kind="PrometheusRule",
                metadata={
                    "name": rule_name,
                    "namespace": namespace,
                    "labels": {
                        **standard_labels(
                            "prometheus-rules", instance=rule_name, extra=args.labels
                        ),
                        **MONITOR_LABELS,
                    },
                },
                spec={"groups": groups},
                opts=child_opts(self, depends_on=[self.prometheus_operator]),
            )

        self.dashboards: dict[str, k8s.core.v1.ConfigMap] = {}
        for dashboard, data in dashboard_data.items():
            config_name = f"mlops-dashboard-{dashboard}"
            self.dashboards[dashboard] = k8s.core.v1.ConfigMap(
                f"{name}-dashboard-{dashboard}",
                metadata={
                    "name": config_name,
                    "namespace": namespace,
                    "labels": {
                        **standard_labels(
                            "grafana-dashboard", instance=config_name, extra=args.labels
                        ),
                        DASHBOARD_LABEL: DASHBOARD_LABEL_VALUE,
                    },
                },
                data=data,
                opts=child_opts(self),
            )

        self.dcgm_exporter: k8s.helm.v3.Release | None = None
        if gpu_pools:
            self.dcgm_exporter = k8s.helm.v3.Release(
                f"{name}-dcgm-exporter",
                name="dcgm-exporter",
                namespace=agents_namespace,
                values=dcgm_exporter_values(gpu_pools),
                # Its ServiceMonitor needs the operator's CRDs.
                opts=child_opts(self, depends_on=[self.prometheus_operator]),
                **chart_args(versions.CHARTS["dcgm-exporter"]),
            )

        self.neuron_monitor: k8s.apps.v1.DaemonSet | None = None
        if neuron_pools:
            selector = {
                "app.kubernetes.io/name": "neuron-monitor",
                "app.kubernetes.io/instance": f"{name}-neuron-monitor",
            }
            monitor_labels = standard_labels(
                "neuron-monitor", instance=f"{name}-neuron-monitor", extra=args.labels
            )
            self.neuron_monitor = k8s.apps.v1.DaemonSet(
                f"{name}-neuron-monitor",
                metadata={
                    "name": "neuron-monitor",
                    "namespace": agents_namespace,
                    "labels": monitor_labels,
                },
                spec={
                    "selector": {"matchLabels": selector},
                    "updateStrategy": {"type": "RollingUpdate"},
                    "template": {
                        "metadata": {"labels": {**monitor_labels, **selector}},
                        "spec": neuron_monitor_pod_spec(neuron_pools),
                    },
                },
                opts=child_opts(self),
            )
            pod_monitor(
                f"{name}-neuron-monitor-pod-monitor",
                name="neuron-monitor",
                namespace=agents_namespace,
                selector=selector,
                port="metrics",
                operator=self.prometheus_operator,
                labels=args.labels,
                parent=self,
            )

        self.namespace_name = namespace
        self.agents_namespace_name = agents_namespace
        self.prometheus_url = namespace.apply(prometheus_url)
        self.alertmanager_url = namespace.apply(alertmanager_url)
        self.grafana_url = namespace.apply(grafana_url)
        self.rule_names = pulumi.Output.from_input(sorted(f"mlops-{f}" for f in rule_files))
        self.dashboard_config_map_names = pulumi.Output.from_input(
            sorted(f"mlops-dashboard-{d}" for d in dashboard_data)
        )
        self.register_outputs(
            {
                "namespace_name": self.namespace_name,
                "agents_namespace_name": self.agents_namespace_name,
                "prometheus_url": self.prometheus_url,
                "alertmanager_url": self.alertmanager_url,
                "grafana_url": self.grafana_url,
                "grafana_admin_secret_name": self.grafana_admin_secret_name,
                "rule_names": self.rule_names,
                "dashboard_config_map_names": self.dashboard_config_map_names,
            }
        )
