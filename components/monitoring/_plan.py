"""Pure planning for the monitoring stack: names, labels, chart values, placement, policies.

Chart values use only keys present in each chart's upstream ``values.yaml`` at the version
pinned in ``mlops_blueprints.versions.CHARTS`` (``mlops-bp check`` enforces this), except the
documented keys of the bundled subcharts (Grafana, kube-state-metrics, node-exporter), whose own
defaults are not in the upstream data; ``mlops-bp check`` reports those as unchecked warnings.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

import pulumi

from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.versions import IMAGES

from ..kubernetes import METADATA_ENDPOINT_CIDR, namespace_pod_peer
from ..node_pools import (
    HARDWARE_CLASS_LABEL,
    NODE_POOL_LABEL,
    HardwareClass,
    NodePoolSpec,
    node_selector,
    pool_tolerations,
)
from ._alerting import AlertReceiver, alertmanager_config, receiver_secret_names

# Pod and namespace labels kube-state-metrics exports (as label_<name>) for cost allocation.
from ._catalogue import COST_ALLOCATION_LABELS

__all__ = [
    "ACCELERATOR_DASHBOARDS",
    "ACCELERATOR_RULE_FILES",
    "ALERTMANAGER_POD_LABELS",
    "BASIC_DASHBOARDS",
    "BASIC_RULE_FILES",
    "COST_ALLOCATION_LABELS",
    "COST_DASHBOARDS",
    "DASHBOARD_LABEL",
    "DASHBOARD_LABEL_VALUE",
    "DCGM_EXPORTER_PORT",
    "DEFAULT_CLUSTER_NETWORK_CIDRS",
    "FEATURE_STORE_RULE_FILES",
    "GRAFANA_ADMIN_PASSWORD_KEY",
    "GRAFANA_ADMIN_USER_KEY",
    "GRAFANA_POD_LABELS",
    "MONITORING_AGENTS_NAMESPACE",
    "MONITORING_NAMESPACE",
    "MONITOR_LABEL",
    "MONITOR_LABELS",
    "NEURON_MONITOR_PORT",
    "OPERATOR_POD_LABELS",
    "OPERATOR_WEBHOOK_PORT",
    "PROMETHEUS_POD_LABELS",
    "PROMETHEUS_PORT",
    "RELEASE_NAME",
    "accelerator_placement",
    "accelerator_pools",
    "agents_network_policy_spec",
    "alertmanager_url",
    "dashboard_config_map_data",
    "dashboard_names",
    "dcgm_exporter_values",
    "grafana_url",
    "kube_prometheus_stack_values",
    "metric_labels_allowlist",
    "monitoring_network_policy_specs",
    "neuron_monitor_pod_spec",
    "prometheus_url",
    "retention_size_gib",
    "rule_file_names",
    "validate_cpu_quantity",
]

MONITORING_NAMESPACE: Final = "monitoring"
# Node agents (node-exporter, DCGM exporter, neuron-monitor) need host access, which only the
# 'privileged' Pod Security level admits; they live apart so 'monitoring' stays 'restricted'.
MONITORING_AGENTS_NAMESPACE: Final = "monitoring-agents"
RELEASE_NAME: Final = "kube-prometheus-stack"

# Prometheus selects ServiceMonitors, PodMonitors, Probes, ScrapeConfigs and PrometheusRules in
# every namespace by this one label; monitors and rules of other components must carry it.
MONITOR_LABEL: Final = "mlops-blueprints.io/monitoring"
MONITOR_LABELS: Final[dict[str, str]] = {MONITOR_LABEL: "true"}

# Grafana's dashboard sidecar loads every ConfigMap carrying this label.
DASHBOARD_LABEL: Final = "grafana_dashboard"
DASHBOARD_LABEL_VALUE: Final = "1"


# Rule files and dashboards of the content API, by feature.
BASIC_RULE_FILES: Final = frozenset({"serving", "platform", "pipelines", "recording"})
ACCELERATOR_RULE_FILES: Final = frozenset({"gpu", "neuron", "drift"})
# Its alert also fires when the feature server is absent, so it is opt-in.
FEATURE_STORE_RULE_FILES: Final = frozenset({"feature-store"})
BASIC_DASHBOARDS: Final = frozenset({"model-serving"})
# OpenCost feeds it (components/cost), from Level 3.
COST_DASHBOARDS: Final = frozenset({"cost"})
ACCELERATOR_DASHBOARDS: Final = frozenset({"gpu-accelerators", "drift-model-quality"})

# Labels the operator and the charts put on the pods (the release is named RELEASE_NAME).
PROMETHEUS_POD_LABELS: Final[dict[str, str]] = {"app.kubernetes.io/name": "prometheus"}
ALERTMANAGER_POD_LABELS: Final[dict[str, str]] = {"app.kubernetes.io/name": "alertmanager"}
GRAFANA_POD_LABELS: Final[dict[str, str]] = {"app.kubernetes.io/name": "grafana"}
OPERATOR_POD_LABELS: Final[dict[str, str]] = {
    "app": f"{RELEASE_NAME}-operator",
    "release": RELEASE_NAME,
}

PROMETHEUS_PORT: Final = 9090
ALERTMANAGER_PORT: Final = 9093
GRAFANA_SERVICE_PORT: Final = 80
OPERATOR_WEBHOOK_PORT: Final = 10250
KUBE_API_PORTS: Final[tuple[int, ...]] = (443, 6443)
DCGM_EXPORTER_PORT: Final = 9400
NEURON_MONITOR_PORT: Final = 8000

GRAFANA_ADMIN_USER_KEY: Final = "admin-user"
GRAFANA_ADMIN_PASSWORD_KEY: Final = "admin-password"

# The API server, kubelets and node-exporter live on the node network; private ranges cover a
# VPC (aws) and kind's Docker network without opening the internet.
DEFAULT_CLUSTER_NETWORK_CIDRS: Final[tuple[str, ...]] = (
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
)

ALERTMANAGER_STORAGE_GIB: Final = 2
ALERTMANAGER_RETENTION: Final = "120h"
# Share of the Prometheus volume the TSDB may fill before the oldest blocks go; the rest is
# headroom for the write-ahead log and compaction.
RETENTION_SIZE_SHARE: Final = 0.8
# A ConfigMap holds at most 1 MiB; leave room for metadata.
_MAX_DASHBOARD_BYTES: Final = 900 * 1024

_QUANTITY_CPU = re.compile(r"^([0-9]+m|[0-9]+(\.[0-9]+)?)$")

# Requests for scheduling and a memory limit (no CPU limit, so bursts are not throttled).
_OPERATOR_RESOURCES: Final = {
    "requests": {"cpu": "100m", "memory": "128Mi"},
    "limits": {"memory": "512Mi"},
}
_RELOADER_RESOURCES: Final = {
    "requests": {"cpu": "10m", "memory": "32Mi"},
    "limits": {"memory": "64Mi"},
}
_WEBHOOK_JOB_RESOURCES: Final = {
    "requests": {"cpu": "10m", "memory": "32Mi"},
    "limits": {"memory": "64Mi"},
}
_ALERTMANAGER_RESOURCES: Final = {
    "requests": {"cpu": "50m", "memory": "64Mi"},
    "limits": {"memory": "256Mi"},
}
_GRAFANA_RESOURCES: Final = {
    "requests": {"cpu": "100m", "memory": "256Mi"},
    "limits": {"memory": "512Mi"},
}
_SIDECAR_RESOURCES: Final = {
    "requests": {"cpu": "10m", "memory": "64Mi"},
    "limits": {"memory": "128Mi"},
}
_KSM_RESOURCES: Final = {
    "requests": {"cpu": "50m", "memory": "128Mi"},
    "limits": {"memory": "512Mi"},
}
_NODE_EXPORTER_RESOURCES: Final = {
    "requests": {"cpu": "50m", "memory": "32Mi"},
    "limits": {"memory": "128Mi"},
}
_NEURON_MONITOR_RESOURCES: Final = {
    "requests": {"cpu": "250m", "memory": "128Mi"},
    "limits": {"cpu": "500m", "memory": "256Mi"},
}

# Control-plane components a managed control plane (EKS) does not expose to the cluster; their
# scrapes and alerts would only ever report them as down.
_UNREACHABLE_CONTROL_PLANE: Final = (
    "kubeControllerManager",
    "kubeScheduler",
    "kubeEtcd",
    "kubeProxy",
)
_UNREACHABLE_RULE_GROUPS: Final = (
    "etcd",
    "kubeControllerManager",
    "kubeProxy",
    "kubeSchedulerAlerting",
    "kubeSchedulerRecording",
    "windows",
)

_GRAFANA_INI: Final = {
    # No calls home: the stack has no internet egress, and users sign in with the admin Secret.
    "analytics": {
        "reporting_enabled": False,
        "check_for_updates": False,
        "check_for_plugin_updates": False,
    },
    "users": {"allow_sign_up": False},
    "auth.anonymous": {"enabled": False},
    "security": {"disable_gravatar": True},
}


# --- validation ---------------------------------------------------------------------------


def validate_cpu_quantity(value: str, *, field: str) -> str:
    """A positive CPU quantity such as ``250m`` or ``1``."""
    if not isinstance(value, str) or not _QUANTITY_CPU.match(value) or value in ("0", "0m"):
        raise BlueprintConfigError(
            field, value, "Use a positive CPU quantity such as '500m' or '1'."
        )
    return value


def retention_size_gib(storage_size_gib: int, retention_size: int | None) -> int:
    """The TSDB size cap: ``retention_size`` or 80 % of the volume (at least 1 GiB)."""
    if retention_size is not None:
        return retention_size
    return max(1, math.floor(storage_size_gib * RETENTION_SIZE_SHARE))


# --- content selection --------------------------------------------------------------------


def rule_file_names(
    *, enable_accelerator_monitoring: bool, enable_feature_store_monitoring: bool
) -> frozenset[str]:
    """Rule files to deploy: the basic set, plus gpu, neuron and drift, and the feature
    store's, when requested."""
    names = BASIC_RULE_FILES
    if enable_accelerator_monitoring:
        names |= ACCELERATOR_RULE_FILES
    if enable_feature_store_monitoring:
        names |= FEATURE_STORE_RULE_FILES
    return names


def dashboard_names(
    *, enable_accelerator_monitoring: bool, enable_cost_dashboard: bool
) -> frozenset[str]:
    """Dashboards to deploy: serving, plus accelerators and drift, and cost, when requested."""
    names = BASIC_DASHBOARDS
    if enable_accelerator_monitoring:
        names |= ACCELERATOR_DASHBOARDS
    if enable_cost_dashboard:
        names |= COST_DASHBOARDS
    return names


def dashboard_config_map_data(name: str, dashboard: Mapping[str, Any]) -> dict[str, str]:
    """``data`` of a dashboard ConfigMap: one ``<name>.json`` key, deterministic JSON."""
    text = json.dumps(dashboard, sort_keys=True, separators=(",", ":"))
    if len(text.encode()) > _MAX_DASHBOARD_BYTES:
        raise BlueprintConfigError(
            f"dashboards[{name}]",
            f"{len(text.encode())} bytes",
            "A dashboard ConfigMap holds at most 1 MiB; split the dashboard into smaller ones.",
        )
    return {f"{name}.json": text}


def metric_labels_allowlist() -> list[str]:
    """kube-state-metrics ``--metric-labels-allowlist`` entries for cost allocation."""
    labels = ",".join(COST_ALLOCATION_LABELS)
    return [f"namespaces=[{labels}]", f"pods=[{labels}]"]


# --- placement ----------------------------------------------------------------------------


def accelerator_pools(
    pools: Sequence[NodePoolSpec], hardware_class: HardwareClass
) -> list[NodePoolSpec]:
    """The pools of one hardware class, in the given order."""
    return [pool for pool in pools if pool.hardware_class == hardware_class]


def accelerator_placement(pools: Sequence[NodePoolSpec]) -> dict[str, Any]:
    """``nodeSelector``, ``affinity`` and ``tolerations`` that run a node agent on exactly the
    given pools (all of one hardware class), requesting no accelerator.

    ``place_workload`` is not used: it would make the agent claim an accelerator device. The
    class label selects the hardware, node affinity narrows it to these pools, and the
    tolerations cover every taint of every pool, each once.
    """
    classes = {pool.hardware_class for pool in pools}
    if len(classes) != 1:
        raise ValueError(f"expected pools of one hardware class, got {sorted(classes)}")
    tolerations: list[dict[str, str]] = []
    for pool in pools:
        for toleration in pool_tolerations(pool):
            if toleration not in tolerations:
                tolerations.append(toleration)
    return {
        "nodeSelector": {HARDWARE_CLASS_LABEL: pools[0].hardware_class},
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {
                                    "key": NODE_POOL_LABEL,
                                    "operator": "In",
                                    "values": [pool.name for pool in pools],
                                }
                            ]
                        }
                    ]
                }
            }
        },
        "tolerations": tolerations,
    }


def _stack_placement(pool: NodePoolSpec | None) -> dict[str, Any]:
    if pool is None:
        return {}
    placement: dict[str, Any] = {"nodeSelector": node_selector(pool)}
    tolerations = pool_tolerations(pool)
    if tolerations:
        placement["tolerations"] = tolerations
    return placement


# --- chart values -------------------------------------------------------------------------


def _volume_claim(size_gib: int, storage_class_name: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": f"{size_gib}Gi"}},
    }
    if storage_class_name:
        spec["storageClassName"] = storage_class_name
    return {"volumeClaimTemplate": {"spec": spec}}


def _selected(kind: str) -> dict[str, Any]:
    # Nil-uses-Helm-values off: the selector below applies as written, in every namespace.
    return {
        f"{kind}SelectorNilUsesHelmValues": False,
        f"{kind}Selector": {"matchLabels": dict(MONITOR_LABELS)},
        f"{kind}NamespaceSelector": {},
    }


def kube_prometheus_stack_values(
    *,
    agents_namespace: pulumi.Input[str],
    retention_days: int,
    retention_size_gib: int,
    storage_size_gib: int,
    storage_class_name: str | None,
    scrape_interval_seconds: int,
    prometheus_resources: Mapping[str, Any],
    replicas: int,
    critical_receiver: AlertReceiver | None,
    warning_receiver: AlertReceiver | None,
    grafana_admin_secret: pulumi.Input[str],
    grafana_namespace: pulumi.Input[str],
    stack_pool: NodePoolSpec | None,
) -> dict[str, Any]:
    """Values for ``kube-prometheus-stack``.

    Prometheus keeps ``retention_days`` of data capped at ``retention_size_gib`` on a
    ``storage_size_gib`` volume, and selects monitors and rules by ``MONITOR_LABELS`` in every
    namespace (the chart's own carry them through ``commonLabels`` and the subcharts' monitor
    labels). Nothing is exposed outside the cluster: every Service is ClusterIP and every
    Ingress and route is off. Grafana's admin login comes from ``grafana_admin_secret``.
    """
    placement = _stack_placement(stack_pool)
    interval = f"{scrape_interval_seconds}s"
    high_availability = replicas > 1
    prometheus_spec: dict[str, Any] = {
        "replicas": replicas,
        "retention": f"{retention_days}d",
        # Prometheus reads GB as GiB (base 2).
        "retentionSize": f"{retention_size_gib}GB",
        "storageSpec": _volume_claim(storage_size_gib, storage_class_name),
        "resources": dict(prometheus_resources),
        "scrapeInterval": interval,
        "evaluationInterval": interval,
        "enableAdminAPI": False,
        **_selected("serviceMonitor"),
        **_selected("podMonitor"),
        **_selected("rule"),
        **_selected("probe"),
        **_selected("scrapeConfig"),
        **placement,
    }
    alertmanager_spec: dict[str, Any] = {
        "replicas": replicas,
        "retention": ALERTMANAGER_RETENTION,
        "storage": _volume_claim(ALERTMANAGER_STORAGE_GIB, storage_class_name),
        "secrets": receiver_secret_names([critical_receiver, warning_receiver]),
        "resources": _ALERTMANAGER_RESOURCES,
        **placement,
    }
    values: dict[str, Any] = {
        "commonLabels": dict(MONITOR_LABELS),
        "crds": {"enabled": True},
        "defaultRules": {
            "create": True,
            "rules": dict.fromkeys(_UNREACHABLE_RULE_GROUPS, False),
        },
        **{component: {"enabled": False} for component in _UNREACHABLE_CONTROL_PLANE},
        "windowsMonitoring": {"enabled": False},
        "alertmanager": {
            "enabled": True,
            "config": alertmanager_config(critical=critical_receiver, warning=warning_receiver),
            "alertmanagerSpec": alertmanager_spec,
            "podDisruptionBudget": {"enabled": high_availability},
            "service": {"type": "ClusterIP"},
            "ingress": {"enabled": False},
        },
        "prometheus": {
            "enabled": True,
            "prometheusSpec": prometheus_spec,
            "podDisruptionBudget": {"enabled": high_availability},
            "service": {"type": "ClusterIP"},
            "ingress": {"enabled": False},
        },
        "prometheusOperator": {
            "enabled": True,
            "resources": _OPERATOR_RESOURCES,
            "prometheusConfigReloader": {"resources": _RELOADER_RESOURCES},
            "admissionWebhooks": {
                "enabled": True,
                "patch": {"resources": _WEBHOOK_JOB_RESOURCES, **placement},
            },
            "service": {"type": "ClusterIP"},
            **placement,
        },
        "grafana": {
            "enabled": True,
            "admin": {
                "existingSecret": grafana_admin_secret,
                "userKey": GRAFANA_ADMIN_USER_KEY,
                "passwordKey": GRAFANA_ADMIN_PASSWORD_KEY,
            },
            "ingress": {"enabled": False},
            "service": {"type": "ClusterIP"},
            # Read ConfigMaps and Secrets of its own namespace only (a Role, not a ClusterRole).
            "rbac": {"namespaced": True},
            "sidecar": {
                "dashboards": {
                    "enabled": True,
                    "label": DASHBOARD_LABEL,
                    "labelValue": DASHBOARD_LABEL_VALUE,
                    "searchNamespace": grafana_namespace,
                },
                "resources": _SIDECAR_RESOURCES,
            },
            "serviceMonitor": {"enabled": True, "labels": dict(MONITOR_LABELS)},
            "grafana.ini": _GRAFANA_INI,
            "resources": _GRAFANA_RESOURCES,
            **placement,
        },
        "kube-state-metrics": {
            "metricLabelsAllowlist": metric_labels_allowlist(),
            "prometheus": {"monitor": {"enabled": True, "additionalLabels": dict(MONITOR_LABELS)}},
            "resources": _KSM_RESOURCES,
            **placement,
        },
        "prometheus-node-exporter": {
            "namespaceOverride": agents_namespace,
            "prometheus": {"monitor": {"enabled": True, "additionalLabels": dict(MONITOR_LABELS)}},
            "resources": _NODE_EXPORTER_RESOURCES,
        },
    }
    return values


def dcgm_exporter_values(gpu_pools: Sequence[NodePoolSpec]) -> dict[str, Any]:
    """Values for ``dcgm-exporter``: a DaemonSet on the GPU pools only, and its ServiceMonitor
    labelled for Prometheus. The chart's resources, security context (root with
    ``SYS_ADMIN`` for profiling counters) and default counters are kept.
    """
    return {
        **accelerator_placement(gpu_pools),
        "service": {"enable": True, "type": "ClusterIP", "port": DCGM_EXPORTER_PORT},
        "serviceMonitor": {
            "enabled": True,
            "interval": "30s",
            # The exporter labels each GPU with the pod and namespace using it; honouring them
            # keeps those (instead of the exporter's own) for per-workload GPU dashboards.
            "honorLabels": True,
            "additionalLabels": dict(MONITOR_LABELS),
        },
    }


def neuron_monitor_pod_spec(neuron_pools: Sequence[NodePoolSpec]) -> dict[str, Any]:
    """Pod spec of the neuron-monitor DaemonSet on the Neuron pools only.

    The container runs AWS's published entrypoint (neuron-monitor piped into its Prometheus
    exporter on ``NEURON_MONITOR_PORT``). It must be privileged to read the Neuron devices'
    counters; it needs no API access, so no service-account token is mounted.
    """
    return {
        **accelerator_placement(neuron_pools),
        "automountServiceAccountToken": False,
        "priorityClassName": "system-node-critical",
        "containers": [
            {
                "name": "neuron-monitor",
                "image": IMAGES["neuron-monitor"],
                "command": ["/opt/bin/entrypoint.sh"],
                "args": ["--port", str(NEURON_MONITOR_PORT)],
                "ports": [{"name": "metrics", "containerPort": NEURON_MONITOR_PORT}],
                "env": [{"name": "GOMEMLIMIT", "value": "160MiB"}],
                "resources": _NEURON_MONITOR_RESOURCES,
                # The exporter answers on its metrics port once it has read the devices.
                "readinessProbe": {"tcpSocket": {"port": "metrics"}, "periodSeconds": 15},
                "livenessProbe": {
                    "tcpSocket": {"port": "metrics"},
                    "initialDelaySeconds": 30,
                    "periodSeconds": 30,
                },
                "securityContext": {"privileged": True},
            }
        ],
    }


# --- network policies ---------------------------------------------------------------------


def _ip_blocks(cidrs: Sequence[str]) -> list[dict[str, Any]]:
    return [{"ipBlock": {"cidr": cidr}} for cidr in cidrs]


def _tcp(ports: Sequence[int]) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port} for port in ports]


def monitoring_network_policy_specs(
    *, cluster_network_cidrs: Sequence[str], receiver_egress_ports: Sequence[int]
) -> dict[str, dict[str, Any]]:
    """NetworkPolicy specs for the monitoring namespace, on top of its default deny.

    - ``allow-same-namespace``: the stack's pods talk to each other (Grafana and Prometheus to
      Alertmanager, Prometheus scraping the stack, Alertmanager gossip).
    - ``allow-kube-api``: every pod may reach the API server (443, 6443) on the cluster
      networks (operator, sidecars, kube-state-metrics, Prometheus discovery).
    - ``prometheus-scrape``: Prometheus may reach every pod, and the nodes (kubelet,
      node-exporter on the host network) on the cluster networks.
    - ``operator-webhook``: the API server may call the operator's admission webhook.
    - ``alertmanager-receivers`` (only with receivers): Alertmanager may reach the receivers'
      ports outside the cluster, but not the instance metadata endpoint.
    """
    specs: dict[str, dict[str, Any]] = {
        "allow-same-namespace": {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"podSelector": {}}]}],
            "egress": [{"to": [{"podSelector": {}}]}],
        },
        "allow-kube-api": {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"to": _ip_blocks(cluster_network_cidrs), "ports": _tcp(KUBE_API_PORTS)}],
        },
        "prometheus-scrape": {
            "podSelector": {"matchLabels": dict(PROMETHEUS_POD_LABELS)},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"namespaceSelector": {}}, *_ip_blocks(cluster_network_cidrs)]}],
        },
        "operator-webhook": {
            "podSelector": {"matchLabels": dict(OPERATOR_POD_LABELS)},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": _ip_blocks(cluster_network_cidrs),
                    "ports": _tcp([OPERATOR_WEBHOOK_PORT]),
                }
            ],
        },
    }
    if receiver_egress_ports:
        specs["alertmanager-receivers"] = {
            "podSelector": {"matchLabels": dict(ALERTMANAGER_POD_LABELS)},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": [METADATA_ENDPOINT_CIDR]}}],
                    "ports": _tcp(receiver_egress_ports),
                }
            ],
        }
    return specs


def agents_network_policy_spec(monitoring_namespace: Any) -> dict[str, Any]:
    """Ingress to the node agents' pods from Prometheus only (node-exporter, on the host
    network, is outside NetworkPolicy)."""
    return {
        "podSelector": {},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [namespace_pod_peer(monitoring_namespace, PROMETHEUS_POD_LABELS)]}],
    }


# --- in-cluster addresses -----------------------------------------------------------------


def prometheus_url(namespace: str) -> str:
    return f"http://{RELEASE_NAME}-prometheus.{namespace}.svc.cluster.local:{PROMETHEUS_PORT}"


def alertmanager_url(namespace: str) -> str:
    return f"http://{RELEASE_NAME}-alertmanager.{namespace}.svc.cluster.local:{ALERTMANAGER_PORT}"


def grafana_url(namespace: str) -> str:
    return f"http://{RELEASE_NAME}-grafana.{namespace}.svc.cluster.local:{GRAFANA_SERVICE_PORT}"
