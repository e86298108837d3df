"""Monitoring stack: kube-prometheus-stack, rules and dashboards, accelerator exporters.

Pure planning (Alertmanager routing, receivers, chart values, placement, policies) is tested
directly; the component is rendered under mocks, and the exact children, the security-relevant
inputs and `mlops-bp check` on the rendered values and custom resources are asserted.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pulumi_kubernetes as k8s
import pytest
from hypothesis import given
from hypothesis import strategies as st
from mlops_blueprints.components.kubernetes import WorkloadNamespace, WorkloadNamespaceArgs
from mlops_blueprints.components.monitoring import (
    DASHBOARD_LABEL,
    MONITOR_LABELS,
    AlertThresholds,
    EmailReceiver,
    MonitoringStack,
    MonitoringStackArgs,
    SlackReceiver,
    WebhookReceiver,
    pod_monitor,
    service_monitor,
)
from mlops_blueprints.components.monitoring._alerting import (
    alertmanager_config,
    receiver_egress_ports,
    receiver_secret_names,
)
from mlops_blueprints.components.monitoring._catalogue import (
    COST_ALLOCATION_LABELS,
    KUBE_STATE_METRICS_LABELS_ALLOWLIST,
)
from mlops_blueprints.components.monitoring._monitors import monitor_endpoint
from mlops_blueprints.components.monitoring._plan import (
    ACCELERATOR_DASHBOARDS,
    ACCELERATOR_RULE_FILES,
    BASIC_DASHBOARDS,
    BASIC_RULE_FILES,
    DEFAULT_CLUSTER_NETWORK_CIDRS,
    accelerator_placement,
    dashboard_config_map_data,
    dashboard_names,
    kube_prometheus_stack_values,
    metric_labels_allowlist,
    monitoring_network_policy_specs,
    retention_size_gib,
    rule_file_names,
)
from mlops_blueprints.components.node_pools import (
    HARDWARE_CLASS_LABEL,
    NODE_POOL_LABEL,
    NodePoolSpec,
    Taint,
    taints,
    tolerates,
)

from mlops_blueprints.check import run_checks
from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.render import Registration, RenderCapture, run_program, write_rendered
from mlops_blueprints.versions import CHARTS, IMAGES
from tests.components._helpers import by_name as _by_name
from tests.components._helpers import children as _children
from tests.components._helpers import raises as _raises

pytestmark = pytest.mark.unit

CPU = NodePoolSpec("general")
GPU = NodePoolSpec("gpu", hardware_class="nvidia-gpu")
GPU_B = NodePoolSpec(
    "gpu-b", hardware_class="nvidia-gpu", extra_taints=(Taint("example.com/team", "cv"),)
)
NEURON = NodePoolSpec("inf", hardware_class="neuron", instance_families=("inf2",))
SLACK = SlackReceiver("platform-oncall", webhook_secret_name="alertmanager-slack")
EMAIL = EmailReceiver(
    "ml-team",
    to="ml-team@example.com",
    from_address="alertmanager@example.com",
    smarthost="smtp.example.com:587",
    auth_username="alertmanager",
    password_secret_name="alertmanager-smtp",
)

NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PROMETHEUS_RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
RELEASE = "kubernetes:helm.sh/v3:Release"


# --- helpers ------------------------------------------------------------------------------


def _render_module(
    tmp_path_factory: pytest.TempPathFactory, args: MonitoringStackArgs
) -> RenderCapture:
    capture = run_program(
        lambda: MonitoringStack("monitoring", args),
        project="mlops-platform",
        stack="test",
        config={},
    )
    out = tmp_path_factory.mktemp("monitoring")
    write_rendered(capture, out)
    report = run_checks(out, upstream=Path(os.environ["MLOPS_BP_UPSTREAM_DIR"]))
    assert report.ok, [f"{f.object}: {f.field}: {f.message}" for f in report.findings]
    return capture


def _walk(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def _values(capture: RenderCapture, resource: str = "monitoring-release") -> dict[str, Any]:
    values: dict[str, Any] = _by_name(capture)[resource].inputs["values"]
    return values


def _of_type(capture: RenderCapture, typ: str) -> dict[str, Registration]:
    return {r.name: r for r in capture.registrations if r.type == typ}


BASE_CHILDREN = {
    "monitoring-namespace": "mlops:kubernetes:WorkloadNamespace",
    "monitoring-agents-namespace": "mlops:kubernetes:WorkloadNamespace",
    "monitoring-grafana-admin-password": "random:index/randomPassword:RandomPassword",
    "monitoring-grafana-admin": "kubernetes:core/v1:Secret",
    "monitoring-release": RELEASE,
    "monitoring-allow-same-namespace": NETWORK_POLICY,
    "monitoring-allow-kube-api": NETWORK_POLICY,
    "monitoring-prometheus-scrape": NETWORK_POLICY,
    "monitoring-operator-webhook": NETWORK_POLICY,
    "monitoring-agents-allow-prometheus": NETWORK_POLICY,
    "monitoring-rules-recording": PROMETHEUS_RULE,
    "monitoring-rules-serving": PROMETHEUS_RULE,
    "monitoring-rules-pipelines": PROMETHEUS_RULE,
    "monitoring-rules-platform": PROMETHEUS_RULE,
    "monitoring-dashboard-model-serving": CONFIG_MAP,
}
ACCELERATOR_CONTENT = {
    "monitoring-rules-gpu": PROMETHEUS_RULE,
    "monitoring-rules-neuron": PROMETHEUS_RULE,
    "monitoring-rules-drift": PROMETHEUS_RULE,
    "monitoring-dashboard-gpu-accelerators": CONFIG_MAP,
    "monitoring-dashboard-drift-model-quality": CONFIG_MAP,
}


# --- pure planning: alerting --------------------------------------------------------------


def test_severities_route_to_their_receivers_and_the_rest_is_dropped() -> None:
    config = alertmanager_config(critical=SLACK, warning=EMAIL)
    assert config["route"]["receiver"] == "null"
    assert config["route"]["routes"] == [
        {"receiver": "null", "matchers": ['alertname = "Watchdog"']},
        {"receiver": "platform-oncall", "matchers": ['severity = "critical"']},
        {"receiver": "ml-team", "matchers": ['severity = "warning"']},
    ]
    assert [r["name"] for r in config["receivers"]] == ["null", "platform-oncall", "ml-team"]


def test_unset_receivers_route_to_null() -> None:
    config = alertmanager_config(critical=None, warning=None)
    assert {route["receiver"] for route in config["route"]["routes"]} == {"null"}
    assert config["receivers"] == [{"name": "null"}]


def test_one_receiver_for_both_severities_is_declared_once() -> None:
    config = alertmanager_config(critical=SLACK, warning=SLACK)
    assert [r["name"] for r in config["receivers"]] == ["null", "platform-oncall"]
    assert receiver_secret_names([SLACK, SLACK]) == ["alertmanager-slack"]


def test_receivers_read_credentials_from_mounted_secrets_only() -> None:
    slack = SlackReceiver("oncall", "hook", webhook_secret_key="webhook", channel="#ml-alerts")
    assert slack.config() == {
        "name": "oncall",
        "slack_configs": [
            {
                "api_url_file": "/etc/alertmanager/secrets/hook/webhook",
                "send_resolved": True,
                "channel": "#ml-alerts",
            }
        ],
    }
    assert WebhookReceiver("pager", "pager-url").config() == {
        "name": "pager",
        "webhook_configs": [
            {"url_file": "/etc/alertmanager/secrets/pager-url/url", "send_resolved": True}
        ],
    }
    email = EMAIL.config()["email_configs"][0]
    assert email["auth_password_file"] == "/etc/alertmanager/secrets/alertmanager-smtp/password"
    assert email["require_tls"] is True
    # No key of any receiver carries a credential inline.
    for receiver in (slack, EMAIL, WebhookReceiver("pager", "pager-url")):
        keys = {key for key, _ in _walk(receiver.config())}
        assert not keys & {"api_url", "url", "auth_password", "auth_secret"}


def test_receiver_egress_ports_follow_the_receivers() -> None:
    assert receiver_egress_ports([None, None]) == []
    assert receiver_egress_ports([SLACK, EMAIL]) == [443, 587]
    assert receiver_egress_ports([WebhookReceiver("pager", "pager-url", port=8443), None]) == [8443]
    assert receiver_secret_names([SLACK, EMAIL]) == ["alertmanager-slack", "alertmanager-smtp"]
    relay = EmailReceiver("relay", "a@example.com", "am@example.com", "relay.internal:25")
    assert receiver_secret_names([relay, None]) == []
    assert "auth_password_file" not in relay.config()["email_configs"][0]


@pytest.mark.parametrize(
    ("build", "field", "value", "fix"),
    [
        (
            lambda: SlackReceiver("oncall", ""),
            "receiver.webhook_secret_name",
            "",
            "Name the Secret",
        ),
        (
            lambda: SlackReceiver("oncall", "Hook_Secret"),
            "receiver.webhook_secret_name",
            "Hook_Secret",
            "lowercase",
        ),
        (
            lambda: SlackReceiver("oncall", "hook", webhook_secret_key="a/b"),
            "receiver.webhook_secret_key",
            "a/b",
            "Secret data key",
        ),
        (lambda: SlackReceiver("null", "hook"), "receiver.name", "null", "drops alerts"),
        (
            lambda: SlackReceiver("oncall", "hook", channel="ML Alerts"),
            "receiver.channel",
            "ML Alerts",
            "#ml-alerts",
        ),
        (lambda: WebhookReceiver("pager", ""), "receiver.url_secret_name", "", "Name the Secret"),
        (lambda: WebhookReceiver("pager", "url", port=0), "receiver.port", 0, "1-65535"),
        (
            lambda: EmailReceiver(
                "team", "not-an-address", "am@example.com", "smtp.example.com:587"
            ),
            "receiver.to",
            "not-an-address",
            "email addresses",
        ),
        (
            lambda: EmailReceiver("team", "a@example.com", "am", "smtp.example.com:587"),
            "receiver.from_address",
            "am",
            "sender",
        ),
        (
            lambda: EmailReceiver("team", "a@example.com", "am@example.com", "smtp.example.com"),
            "receiver.smarthost",
            "smtp.example.com",
            "host:port",
        ),
        (
            lambda: EmailReceiver(
                "team", "a@example.com", "am@example.com", "smtp.example.com:587", auth_username="u"
            ),
            "receiver.password_secret_name",
            None,
            "together",
        ),
        (
            lambda: EmailReceiver(
                "team",
                "a@example.com",
                "am@example.com",
                "smtp.example.com:587",
                auth_username="u",
                password_secret_name="",
            ),
            "receiver.password_secret_name",
            "",
            "SMTP password",
        ),
    ],
)
def test_bad_receiver(build: Callable[[], object], field: str, value: object, fix: str) -> None:
    _raises(build, field, value, fix)


# --- pure planning: values, placement, policies -------------------------------------------


@given(storage=st.integers(2, 10_000))
def test_default_retention_size_leaves_headroom(storage: int) -> None:
    size = retention_size_gib(storage, None)
    assert 1 <= size < storage
    assert size == int(storage * 0.8)
    assert retention_size_gib(storage, 1) == 1


def test_content_selection_by_feature() -> None:
    assert rule_file_names(
        enable_accelerator_monitoring=False, enable_feature_store_monitoring=False
    ) == {"serving", "platform", "pipelines", "recording"}
    assert rule_file_names(
        enable_accelerator_monitoring=True, enable_feature_store_monitoring=True
    ) == BASIC_RULE_FILES | ACCELERATOR_RULE_FILES | {"feature-store"}
    assert dashboard_names(enable_accelerator_monitoring=False, enable_cost_dashboard=False) == {
        "model-serving"
    }
    assert dashboard_names(enable_accelerator_monitoring=False, enable_cost_dashboard=True) == {
        "model-serving",
        "cost",
    }
    assert dashboard_names(enable_accelerator_monitoring=True, enable_cost_dashboard=False) == (
        BASIC_DASHBOARDS | ACCELERATOR_DASHBOARDS
    )


def test_dashboard_config_map_is_one_json_file() -> None:
    data = dashboard_config_map_data("cost", {"title": "Cost", "panels": []})
    assert list(data) == ["cost.json"]
    assert json.loads(data["cost.json"]) == {"title": "Cost", "panels": []}
    _raises(
        lambda: dashboard_config_map_data("huge", {"blob": "x" * (1024 * 1024)}),
        "dashboards[huge]",
        f"{len(json.dumps({'blob': 'x' * (1024 * 1024)}, separators=(',', ':')))} bytes",
        "at most 1 MiB",
    )


def test_cost_labels_are_exported_for_pods_and_namespaces() -> None:
    allowlist = metric_labels_allowlist()
    assert KUBE_STATE_METRICS_LABELS_ALLOWLIST in allowlist
    assert allowlist == [
        "namespaces=[mlops-blueprints.io/team,mlops-blueprints.io/model,mlops-blueprints.io/level]",
        "pods=[mlops-blueprints.io/team,mlops-blueprints.io/model,mlops-blueprints.io/level]",
    ]
    assert set(COST_ALLOCATION_LABELS) == {
        "mlops-blueprints.io/team",
        "mlops-blueprints.io/model",
        "mlops-blueprints.io/level",
    }


def test_agents_run_on_exactly_their_pools_and_tolerate_every_taint() -> None:
    placement = accelerator_placement([GPU, GPU_B])
    assert placement["nodeSelector"] == {HARDWARE_CLASS_LABEL: "nvidia-gpu"}
    terms = placement["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms["nodeSelectorTerms"] == [
        {
            "matchExpressions": [
                {"key": NODE_POOL_LABEL, "operator": "In", "values": ["gpu", "gpu-b"]}
            ]
        }
    ]
    assert placement["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"},
        {"key": "example.com/team", "operator": "Equal", "value": "cv", "effect": "NoSchedule"},
    ]
    for pool in (GPU, GPU_B):
        assert all(tolerates(placement["tolerations"], taint) for taint in taints(pool))
    with pytest.raises(ValueError, match="one hardware class"):
        accelerator_placement([GPU, NEURON])


def _values_for(**overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "agents_namespace": "monitoring-agents",
        "retention_days": 15,
        "retention_size_gib": 40,
        "storage_size_gib": 50,
        "storage_class_name": None,
        "scrape_interval_seconds": 30,
        "prometheus_resources": {"requests": {"cpu": "500m"}},
        "replicas": 1,
        "critical_receiver": None,
        "warning_receiver": None,
        "grafana_admin_secret": "grafana-admin",
        "grafana_namespace": "monitoring",
        "stack_pool": None,
    }
    arguments.update(overrides)
    return kube_prometheus_stack_values(**arguments)


def test_prometheus_selects_every_monitor_and_rule_by_the_monitor_label() -> None:
    spec = _values_for()["prometheus"]["prometheusSpec"]
    for kind in ("serviceMonitor", "podMonitor", "rule", "probe", "scrapeConfig"):
        assert spec[f"{kind}SelectorNilUsesHelmValues"] is False
        assert spec[f"{kind}Selector"] == {"matchLabels": MONITOR_LABELS}
        assert spec[f"{kind}NamespaceSelector"] == {}
    values = _values_for()
    # The chart's own monitors and rules carry the same label.
    assert values["commonLabels"] == MONITOR_LABELS
    assert values["kube-state-metrics"]["prometheus"]["monitor"]["additionalLabels"] == (
        MONITOR_LABELS
    )
    node_exporter = values["prometheus-node-exporter"]
    assert node_exporter["prometheus"]["monitor"]["additionalLabels"] == MONITOR_LABELS
    assert values["grafana"]["serviceMonitor"]["labels"] == MONITOR_LABELS


def test_nothing_is_exposed_outside_the_cluster() -> None:
    values = _values_for(critical_receiver=SLACK)
    types = [item for key, item in _walk(values) if key == "type"]
    assert set(types) == {"ClusterIP"}
    for section in ("alertmanager", "prometheus", "grafana"):
        assert values[section]["ingress"] == {"enabled": False}
        assert values[section]["service"] == {"type": "ClusterIP"}
    assert values["prometheus"]["prometheusSpec"]["enableAdminAPI"] is False
    assert "adminPassword" not in values["grafana"]
    assert values["grafana"]["admin"]["existingSecret"] == "grafana-admin"
    # Grafana reads its own namespace only.
    assert values["grafana"]["rbac"] == {"namespaced": True}
    assert values["grafana"]["sidecar"]["dashboards"]["searchNamespace"] == "monitoring"


def test_stack_pool_places_the_stack_pods() -> None:
    tainted = NodePoolSpec("system", extra_taints=(Taint("example.com/system", "true"),))
    values = _values_for(stack_pool=tainted)
    selector = {NODE_POOL_LABEL: "system", HARDWARE_CLASS_LABEL: "cpu"}
    toleration = {
        "key": "example.com/system",
        "operator": "Equal",
        "value": "true",
        "effect": "NoSchedule",
    }
    placed = [
        values["prometheus"]["prometheusSpec"],
        values["alertmanager"]["alertmanagerSpec"],
        values["prometheusOperator"],
        values["prometheusOperator"]["admissionWebhooks"]["patch"],
        values["grafana"],
        values["kube-state-metrics"],
    ]
    for section in placed:
        assert section["nodeSelector"] == selector
        assert section["tolerations"] == [toleration]
    assert "nodeSelector" not in _values_for()["prometheus"]["prometheusSpec"]


def test_network_policies_open_only_what_the_stack_needs() -> None:
    specs = monitoring_network_policy_specs(
        cluster_network_cidrs=DEFAULT_CLUSTER_NETWORK_CIDRS, receiver_egress_ports=[]
    )
    assert set(specs) == {
        "allow-same-namespace",
        "allow-kube-api",
        "prometheus-scrape",
        "operator-webhook",
    }
    assert specs["allow-kube-api"]["egress"] == [
        {
            "to": [{"ipBlock": {"cidr": cidr}} for cidr in DEFAULT_CLUSTER_NETWORK_CIDRS],
            "ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}],
        }
    ]
    assert specs["operator-webhook"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 10250}]
    # Without receivers nothing may leave the private networks.
    cidrs = {item["cidr"] for key, item in _walk(specs) if key == "ipBlock"}
    assert cidrs == set(DEFAULT_CLUSTER_NETWORK_CIDRS)
    with_receivers = monitoring_network_policy_specs(
        cluster_network_cidrs=("10.0.0.0/16",), receiver_egress_ports=[443, 587]
    )
    assert with_receivers["alertmanager-receivers"] == {
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "alertmanager"}},
        "policyTypes": ["Egress"],
        "egress": [
            {
                "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.0.0/16"]}}],
                "ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 587}],
            }
        ],
    }


def test_monitor_endpoint_port_forms() -> None:
    assert monitor_endpoint(port="http") == {
        "port": "http",
        "path": "/metrics",
        "interval": "30s",
        "scheme": "http",
    }
    assert monitor_endpoint(port=9400)["targetPort"] == 9400
    assert monitor_endpoint(port=8000, number_key="portNumber")["portNumber"] == 8000
    assert "tlsConfig" not in monitor_endpoint(port="metrics", scheme="https")
    assert monitor_endpoint(port="metrics", scheme="https", insecure_skip_verify=True)[
        "tlsConfig"
    ] == {"insecureSkipVerify": True}


@pytest.mark.parametrize(
    ("kwargs", "field", "value", "fix"),
    [
        ({"port": "Metrics_Port"}, "port", "Metrics_Port", "port's name"),
        ({"port": 0}, "port", 0, "1 to 65535"),
        ({"port": True}, "port", True, "port name"),
        ({"port": "http", "path": "metrics"}, "path", "metrics", "absolute URL path"),
        ({"port": "http", "interval_seconds": 1}, "interval_seconds", 1, "5 to 600"),
        ({"port": "http", "scheme": "ftp"}, "scheme", "ftp", "'http' or 'https'"),
        ({"port": "http", "insecure_skip_verify": True}, "insecure_skip_verify", True, "https"),
    ],
)
def test_bad_monitor_endpoint(kwargs: dict[str, Any], field: str, value: object, fix: str) -> None:
    _raises(lambda: monitor_endpoint(**kwargs), field, value, fix)


# --- bad stack inputs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "value", "fix"),
    [
        ({"retention_days": 0}, "retention_days", 0, "1 to 3650 days"),
        ({"storage_size_gib": 0}, "storage_size_gib", 0, "at least 2 GiB"),
        ({"storage_size_gib": 10, "retention_size_gib": 10}, "retention_size_gib", 10, "below"),
        ({"retention_size_gib": 0}, "retention_size_gib", 0, "1 to 49 GiB"),
        ({"scrape_interval_seconds": 1}, "scrape_interval_seconds", 1, "5 to 300"),
        ({"prometheus_cpu_request": "0"}, "prometheus_cpu_request", "0", "positive CPU"),
        (
            {"prometheus_memory_request_mib": 64},
            "prometheus_memory_request_mib",
            64,
            "at least 256 MiB",
        ),
        (
            {"prometheus_memory_limit_mib": 1024},
            "prometheus_memory_limit_mib",
            1024,
            "at or above the request (2048 MiB)",
        ),
        (
            {"critical_receiver": "https://hooks.slack.com/services/x"},
            "critical_receiver",
            "https://hooks.slack.com/services/x",
            "SlackReceiver",
        ),
        (
            {
                "critical_receiver": SLACK,
                "warning_receiver": SlackReceiver("platform-oncall", "other-secret"),
            },
            "receiver.name",
            "platform-oncall",
            "share this name",
        ),
        ({"grafana_admin_user": ""}, "grafana_admin_user", "", "1-64 letters"),
        (
            {"cluster_network_cidrs": ("0.0.0.0/0",)},
            "cluster_network_cidrs",
            "0.0.0.0/0",
            "private networks",
        ),
        ({"cluster_network_cidrs": ()}, "cluster_network_cidrs", (), "VPC"),
        (
            {"thresholds": {"drift_score": 0.3}},
            "thresholds",
            {"drift_score": 0.3},
            "AlertThresholds",
        ),
        ({"node_pools": (CPU, NodePoolSpec("general"))}, "node_pools[1].name", "general", "unique"),
        (
            {"node_pools": (CPU,), "stack_pool_name": "system"},
            "stack_pool_name",
            "system",
            "general",
        ),
        (
            {"node_pools": (CPU, GPU), "stack_pool_name": "gpu"},
            "stack_pool_name",
            "gpu",
            "cpu pool",
        ),
        ({"node_pools": ("gpu",)}, "node_pools[0]", "gpu", "NodePoolSpec"),
        ({"labels": {"team": 1}}, "labels", {"team": 1}, "string values"),
    ],
)
def test_bad_stack_input(overrides: dict[str, Any], field: str, value: object, fix: str) -> None:
    _raises(lambda: MonitoringStackArgs(**overrides), field, value, fix)


def test_bad_thresholds_value_propagates() -> None:
    _raises(
        lambda: MonitoringStackArgs(thresholds=AlertThresholds(drift_score=1.5)),
        "drift_score",
        1.5,
        "between 0 and 1",
    )


def test_bad_input_registers_nothing() -> None:
    errors: list[BlueprintConfigError] = []

    def program() -> None:
        try:
            MonitoringStack("monitoring", MonitoringStackArgs(storage_size_gib=0))
        except BlueprintConfigError as error:
            errors.append(error)

    capture = run_program(program, project="mlops-platform", stack="test", config={})
    assert [e.field for e in errors] == ["storage_size_gib"]
    assert [r.type for r in capture.registrations if r.type != "pulumi:pulumi:Stack"] == []


# --- rendered component -------------------------------------------------------------------


@pytest.fixture(scope="module")
def default(tmp_path_factory: pytest.TempPathFactory) -> RenderCapture:
    return _render_module(tmp_path_factory, MonitoringStackArgs())


def test_default_children(default: RenderCapture) -> None:
    assert _children(default, "monitoring") == BASE_CHILDREN
    assert _by_name(default)["monitoring"].type == "mlops:monitoring:MonitoringStack"


def test_default_release_is_the_pinned_chart(default: RenderCapture) -> None:
    release = _by_name(default)["monitoring-release"].inputs
    assert (release["chart"], release["version"]) == ("kube-prometheus-stack", "88.5.3")
    assert release["version"] == CHARTS["kube-prometheus-stack"].version
    assert release["repositoryOpts"] == {"repo": CHARTS["kube-prometheus-stack"].repository}
    assert (release["name"], release["namespace"]) == ("kube-prometheus-stack", "monitoring")
    assert not release.get("createNamespace")


def test_default_retention_storage_and_resources(default: RenderCapture) -> None:
    spec = _values(default)["prometheus"]["prometheusSpec"]
    assert (spec["retention"], spec["retentionSize"]) == ("15d", "40GB")
    assert spec["storageSpec"] == {
        "volumeClaimTemplate": {
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "50Gi"}},
            }
        }
    }
    assert spec["resources"] == {
        "requests": {"cpu": "500m", "memory": "2048Mi"},
        "limits": {"memory": "4096Mi"},
    }
    assert (spec["replicas"], spec["scrapeInterval"]) == (1, "30s")
    values = _values(default)
    for section in (
        values["alertmanager"]["alertmanagerSpec"],
        values["prometheusOperator"],
        values["prometheusOperator"]["prometheusConfigReloader"],
        values["prometheusOperator"]["admissionWebhooks"]["patch"],
        values["grafana"],
        values["grafana"]["sidecar"],
        values["kube-state-metrics"],
        values["prometheus-node-exporter"],
    ):
        assert set(section["resources"]) == {"requests", "limits"}
        assert "memory" in section["resources"]["limits"]


def test_default_namespaces_and_pod_security(default: RenderCapture) -> None:
    resources = _by_name(default)
    stack = resources["monitoring-namespace-namespace"].inputs["metadata"]
    agents = resources["monitoring-agents-namespace-namespace"].inputs["metadata"]
    assert stack["name"] == "monitoring"
    assert stack["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert agents["name"] == "monitoring-agents"
    # node-exporter needs the host network, PID namespace and paths.
    assert agents["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    assert _values(default)["prometheus-node-exporter"]["namespaceOverride"] == "monitoring-agents"
    # Both namespaces deny by default.
    assert "monitoring-namespace-default-deny" in resources
    assert "monitoring-agents-namespace-default-deny" in resources


def test_grafana_password_is_generated_into_a_secret(default: RenderCapture) -> None:
    resources = _by_name(default)
    secret = resources["monitoring-grafana-admin"].inputs
    assert secret["metadata"]["name"] == "grafana-admin"
    # The values hold no password, only the Secret's name and keys.
    assert secret["stringData"] == {"admin-user": "[secret]", "admin-password": "[secret]"}
    grafana = _values(default)["grafana"]
    assert grafana["admin"] == {
        "existingSecret": "grafana-admin",
        "userKey": "admin-user",
        "passwordKey": "admin-password",
    }
    assert not {key for key, _ in _walk(_values(default))} & {"adminPassword", "password"}
    assert resources["monitoring-grafana-admin"].urn in resources["monitoring-release"].dependencies
    password = resources["monitoring-grafana-admin-password"].inputs
    assert password["length"] == 32


def test_no_service_is_public(default: RenderCapture) -> None:
    for registration in default.registrations:
        for key, item in _walk(registration.inputs):
            assert not (key == "type" and item in ("LoadBalancer", "NodePort")), registration.name


def test_rules_and_dashboards_are_labelled_and_ordered(default: RenderCapture) -> None:
    resources = _by_name(default)
    release = resources["monitoring-release"].urn
    for name, registration in _of_type(default, PROMETHEUS_RULE).items():
        metadata = registration.inputs["metadata"]
        file = name.removeprefix("monitoring-rules-")
        assert metadata["name"] == f"mlops-{file}"
        assert metadata["namespace"] == "monitoring"
        assert metadata["labels"]["mlops-blueprints.io/monitoring"] == "true"
        assert registration.inputs["spec"]["groups"], name
        # The CRD comes with the release.
        assert release in registration.dependencies
    for name, registration in _of_type(default, CONFIG_MAP).items():
        dashboard = name.removeprefix("monitoring-dashboard-")
        assert registration.inputs["metadata"]["labels"][DASHBOARD_LABEL] == "1"
        assert list(registration.inputs["data"]) == [f"{dashboard}.json"]
        assert json.loads(registration.inputs["data"][f"{dashboard}.json"])["panels"]


def test_missing_receivers_are_announced(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        run_program(
            lambda: MonitoringStack("monitoring", MonitoringStackArgs(critical_receiver=SLACK)),
            project="mlops-platform",
            stack="test",
            config={},
        )
    messages = [r.getMessage() for r in caplog.records if "receiver" in r.getMessage()]
    assert len(messages) == 1
    assert "no warning_receiver is set" in messages[0]
    assert "nobody is notified" in messages[0]


def test_default_has_no_receiver_egress_and_drops_alerts(default: RenderCapture) -> None:
    values = _values(default)
    assert values["alertmanager"]["alertmanagerSpec"]["secrets"] == []
    assert values["alertmanager"]["config"]["receivers"] == [{"name": "null"}]
    assert "monitoring-alertmanager-receivers" not in _by_name(default)


@pytest.fixture(scope="module")
def accelerated(tmp_path_factory: pytest.TempPathFactory) -> RenderCapture:
    return _render_module(
        tmp_path_factory,
        MonitoringStackArgs(
            enable_accelerator_monitoring=True,
            enable_cost_dashboard=True,
            node_pools=(CPU, GPU, GPU_B, NEURON),
            critical_receiver=SLACK,
            warning_receiver=EMAIL,
            enable_high_availability=True,
            storage_class_name="gp3",
            storage_size_gib=100,
            retention_days=30,
            retention_size_gib=90,
            stack_pool_name="general",
        ),
    )


def test_accelerated_children(accelerated: RenderCapture) -> None:
    assert _children(accelerated, "monitoring") == {
        **BASE_CHILDREN,
        **ACCELERATOR_CONTENT,
        "monitoring-dashboard-cost": CONFIG_MAP,
        "monitoring-alertmanager-receivers": NETWORK_POLICY,
        "monitoring-dcgm-exporter": RELEASE,
        "monitoring-neuron-monitor": "kubernetes:apps/v1:DaemonSet",
        "monitoring-neuron-monitor-pod-monitor": "kubernetes:monitoring.coreos.com/v1:PodMonitor",
    }


def test_dcgm_exporter_runs_on_gpu_pools_only(accelerated: RenderCapture) -> None:
    resources = _by_name(accelerated)
    dcgm = resources["monitoring-dcgm-exporter"].inputs
    assert (dcgm["chart"], dcgm["version"]) == ("dcgm-exporter", "4.8.2")
    assert dcgm["version"] == CHARTS["dcgm-exporter"].version
    assert (dcgm["name"], dcgm["namespace"]) == ("dcgm-exporter", "monitoring-agents")
    values = dcgm["values"]
    assert values["nodeSelector"] == {HARDWARE_CLASS_LABEL: "nvidia-gpu"}
    pools = values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert pools["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == ["gpu", "gpu-b"]
    assert {
        "key": "nvidia.com/gpu",
        "operator": "Equal",
        "value": "true",
        "effect": "NoSchedule",
    } in (values["tolerations"])
    assert not any(t["key"] == "aws.amazon.com/neuron" for t in values["tolerations"])
    assert values["serviceMonitor"]["enabled"] is True
    assert values["serviceMonitor"]["additionalLabels"] == MONITOR_LABELS
    # GPU series keep the pod and namespace of the workload using the GPU.
    assert values["serviceMonitor"]["honorLabels"] is True
    # It requests no GPU: the chart's resources have none, and no value sets any.
    assert "resources" not in values
    assert resources["monitoring-release"].urn in resources["monitoring-dcgm-exporter"].dependencies


def test_neuron_monitor_runs_on_neuron_pools_only(accelerated: RenderCapture) -> None:
    resources = _by_name(accelerated)
    daemonset = resources["monitoring-neuron-monitor"].inputs
    assert daemonset["metadata"]["namespace"] == "monitoring-agents"
    pod = daemonset["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {HARDWARE_CLASS_LABEL: "neuron"}
    pools = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert pools["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == ["inf"]
    assert pod["tolerations"] == [
        {
            "key": "aws.amazon.com/neuron",
            "operator": "Equal",
            "value": "true",
            "effect": "NoSchedule",
        }
    ]
    (container,) = pod["containers"]
    assert container["image"] == IMAGES["neuron-monitor"]
    assert not container["image"].endswith(":latest")
    assert container["resources"]["limits"] == {"cpu": "500m", "memory": "256Mi"}
    # No Neuron device is claimed by the monitor.
    assert not any("neuron" in key for key in container["resources"]["requests"])
    assert pod["automountServiceAccountToken"] is False
    monitor = resources["monitoring-neuron-monitor-pod-monitor"]
    assert (
        monitor.inputs["spec"]["selector"]["matchLabels"]
        == (daemonset["spec"]["selector"]["matchLabels"])
    )
    assert monitor.inputs["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"
    assert monitor.inputs["metadata"]["labels"]["mlops-blueprints.io/monitoring"] == "true"
    assert resources["monitoring-release"].urn in monitor.dependencies


def test_custom_storage_retention_and_high_availability(accelerated: RenderCapture) -> None:
    values = _values(accelerated)
    spec = values["prometheus"]["prometheusSpec"]
    assert (spec["retention"], spec["retentionSize"]) == ("30d", "90GB")
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert (claim["storageClassName"], claim["resources"]) == (
        "gp3",
        {"requests": {"storage": "100Gi"}},
    )
    alertmanager = values["alertmanager"]
    assert (
        alertmanager["alertmanagerSpec"]["storage"]["volumeClaimTemplate"]["spec"][
            "storageClassName"
        ]
        == "gp3"
    )
    assert spec["replicas"] == alertmanager["alertmanagerSpec"]["replicas"] == 2
    assert values["prometheus"]["podDisruptionBudget"] == {"enabled": True}
    assert alertmanager["podDisruptionBudget"] == {"enabled": True}
    assert spec["nodeSelector"] == {NODE_POOL_LABEL: "general", HARDWARE_CLASS_LABEL: "cpu"}


def test_receivers_are_mounted_and_reachable(accelerated: RenderCapture) -> None:
    values = _values(accelerated)["alertmanager"]
    assert values["alertmanagerSpec"]["secrets"] == ["alertmanager-slack", "alertmanager-smtp"]
    routes = values["config"]["route"]["routes"]
    assert routes[1:] == [
        {"receiver": "platform-oncall", "matchers": ['severity = "critical"']},
        {"receiver": "ml-team", "matchers": ['severity = "warning"']},
    ]
    policy = _by_name(accelerated)["monitoring-alertmanager-receivers"].inputs["spec"]
    assert policy["egress"][0]["ports"] == [
        {"protocol": "TCP", "port": 443},
        {"protocol": "TCP", "port": 587},
    ]


def test_gpu_pool_without_accelerator_monitoring_runs_no_exporter(
    render: Callable[..., RenderCapture],
) -> None:
    capture = render(
        lambda: MonitoringStack("monitoring", MonitoringStackArgs(node_pools=(CPU, GPU, NEURON)))
    )
    assert _children(capture, "monitoring") == BASE_CHILDREN


def test_accelerator_monitoring_without_accelerator_pools(
    render: Callable[..., RenderCapture],
) -> None:
    capture = render(
        lambda: MonitoringStack(
            "monitoring",
            MonitoringStackArgs(enable_accelerator_monitoring=True, node_pools=(CPU,)),
        )
    )
    # Rules and dashboards are added; there is nothing to run an exporter on.
    assert _children(capture, "monitoring") == {**BASE_CHILDREN, **ACCELERATOR_CONTENT}


def test_gpu_pool_only_adds_dcgm(render: Callable[..., RenderCapture]) -> None:
    capture = render(
        lambda: MonitoringStack(
            "monitoring",
            MonitoringStackArgs(
                enable_accelerator_monitoring=True,
                enable_feature_store_monitoring=True,
                node_pools=(GPU,),
            ),
        )
    )
    assert _children(capture, "monitoring") == {
        **BASE_CHILDREN,
        **ACCELERATOR_CONTENT,
        "monitoring-rules-feature-store": PROMETHEUS_RULE,
        "monitoring-dcgm-exporter": RELEASE,
    }


# --- monitor helpers ----------------------------------------------------------------------


def test_monitor_helpers_carry_the_label_and_wait_for_the_crds(
    render: Callable[..., RenderCapture],
) -> None:
    def program() -> None:
        stack = MonitoringStack("monitoring", MonitoringStackArgs())
        mlops = WorkloadNamespace("mlops", WorkloadNamespaceArgs(namespace="mlops"))
        service_monitor(
            "mlflow-service-monitor",
            name="mlflow",
            namespace=mlops.namespace_name,
            selector={"app.kubernetes.io/name": "mlflow"},
            port="http",
            operator=stack.prometheus_operator,
            labels={"team": "ml"},
        )
        pod_monitor(
            "feast-pod-monitor",
            name="feature-server",
            namespace=mlops.namespace_name,
            selector={"app.kubernetes.io/name": "feature-server"},
            port=8000,
            operator=stack,
            path="/stats",
            interval_seconds=60,
        )

    capture = render(program)
    resources = _by_name(capture)
    service = resources["mlflow-service-monitor"]
    assert service.type == "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
    assert service.inputs["metadata"]["labels"]["mlops-blueprints.io/monitoring"] == "true"
    assert service.inputs["metadata"]["labels"]["team"] == "ml"
    assert service.inputs["spec"] == {
        "selector": {"matchLabels": {"app.kubernetes.io/name": "mlflow"}},
        "endpoints": [{"port": "http", "path": "/metrics", "interval": "30s", "scheme": "http"}],
    }
    assert resources["monitoring-release"].urn in service.dependencies
    pod = resources["feast-pod-monitor"]
    assert pod.type == "kubernetes:monitoring.coreos.com/v1:PodMonitor"
    assert pod.inputs["spec"]["podMetricsEndpoints"] == [
        {"portNumber": 8000, "path": "/stats", "interval": "60s", "scheme": "http"}
    ]
    # A dependency on the stack is one on all of its children, the release among them.
    assert resources["monitoring-release"].urn in pod.dependencies


@pytest.mark.parametrize(
    ("kwargs", "field", "value", "fix"),
    [
        ({"selector": {}}, "selector", {}, "at least one label"),
        ({"name": "MLflow"}, "name", "MLflow", "lowercase"),
        ({"operator": "kube-prometheus-stack"}, "operator", "kube-prometheus-stack", "CRDs"),
    ],
)
def test_bad_monitor_helper_input(
    kwargs: dict[str, Any], field: str, value: object, fix: str
) -> None:
    arguments: dict[str, Any] = {
        "name": "mlflow",
        "namespace": "mlops",
        "selector": {"app": "mlflow"},
        "port": "http",
        "operator": k8s.core.v1.Namespace.__new__(k8s.core.v1.Namespace),
    }
    arguments.update(kwargs)
    # Validation happens before any resource is constructed, so no engine is needed.
    for helper in (service_monitor, pod_monitor):
        _raises(lambda helper=helper: helper("monitor", **arguments), field, value, fix)


def test_monitor_labels_constant() -> None:
    assert MONITOR_LABELS == {"mlops-blueprints.io/monitoring": "true"}
