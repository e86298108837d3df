"""Helm release rules: each proven on compliant and non-compliant values, and on our renders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from mlops_blueprints.policies import AnalyzedResource
from mlops_blueprints.policies._rule import Rule
from mlops_blueprints.policies.helm import (
    ADMIN_CREDENTIALS,
    REQUIRED_SECURITY_CONTEXTS,
    RULES,
    chart_name,
)
from mlops_blueprints.policies.helm._rules import (
    ADMIN_CREDENTIALS_FROM_SECRET,
    CHART_PINNED,
    SECURITY_CONTEXTS_NOT_WEAKENED,
    SECURITY_CONTEXTS_SET,
    SERVICES_INTERNAL,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from mlops_blueprints.versions import CHARTS
from tests.conftest import RenderFn
from tests.policies._helpers import assert_complies, assert_violates, resource, violations

pytestmark = pytest.mark.policy

RELEASE = "kubernetes:helm.sh/v3:Release"

RESTRICTED_POD = {
    "runAsNonRoot": True,
    "runAsUser": 1001,
    "seccompProfile": {"type": "RuntimeDefault"},
}
RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "readOnlyRootFilesystem": True,
}


def release(
    chart: str,
    values: dict[str, Any] | None = None,
    *,
    version: str | None = "1.2.3",
    type_: str = RELEASE,
    name: str = "release",
) -> AnalyzedResource:
    props: dict[str, Any] = {"chart": chart, "values": values or {}}
    if version is not None:
        props["version"] = version
    return resource(type_, name, props)


def test_rules_are_exported_once_each() -> None:
    names = [rule.name for rule in RULES]
    assert names == [
        "helm-chart-pinned-to-exact-version",
        "helm-admin-credentials-from-existing-secret",
        "helm-values-set-restricted-security-contexts",
        "helm-values-keep-pods-unprivileged",
        "helm-release-services-stay-cluster-internal",
    ]
    assert all(rule.levels == (1, 2, 3, 4) for rule in RULES)


@pytest.mark.parametrize(
    ("chart", "expected"),
    [
        ("argo-cd", "argo-cd"),
        ("prometheus-community/kube-prometheus-stack", "kube-prometheus-stack"),
        ("oci://public.ecr.aws/neuron/neuron-helm-chart", "neuron-helm-chart"),
        ("https://example.com/charts/mlflow.tgz", "mlflow"),
    ],
)
def test_chart_name_ignores_repository_and_scheme(chart: str, expected: str) -> None:
    assert chart_name(chart) == expected


# --- pinned ----------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.2.3", "v0.20.0", "88.5.3", "1.0.0-rc.1", "2.0.0+build.5"])
def test_exact_versions_comply(version: str) -> None:
    assert_complies(CHART_PINNED, release("argo-cd", version=version))


def test_local_chart_needs_no_version() -> None:
    assert_complies(CHART_PINNED, release("./charts/reference-app", version=None))


@pytest.mark.parametrize(
    ("version", "fragment"),
    [
        (None, "has no version"),
        ("", "has no version"),
        ("^1.2.0", "not one exact version"),
        ("~1.2", "not one exact version"),
        ("1.x", "not one exact version"),
        (">=1.0.0 <2.0.0", "not one exact version"),
        ("1.2", "not one exact version"),
        ("*", "not one exact version"),
        ("latest", "not one exact version"),
    ],
)
def test_missing_or_ranged_versions_violate(version: str | None, fragment: str) -> None:
    subject = release("argo-cd", version=version)
    assert fragment in assert_violates(CHART_PINNED, subject).message


def test_helm_v4_charts_are_checked_too() -> None:
    subject = release("argo-cd", version="^10", type_="kubernetes:helm.sh/v4:Chart")
    assert_violates(CHART_PINNED, subject)


def test_every_pinned_chart_in_versions_passes() -> None:
    # The one place charts are pinned must itself hold exact versions.
    for pin in CHARTS.values():
        assert_complies(CHART_PINNED, release(pin.chart, version=pin.version))


# --- admin credentials -----------------------------------------------------------------------

_GRAFANA_SECRET = {"admin": {"existingSecret": "grafana-admin"}}


@pytest.mark.parametrize(
    ("chart", "values"),
    [
        ("kube-prometheus-stack", {"grafana": _GRAFANA_SECRET}),
        ("kube-prometheus-stack", {"grafana": {"enabled": False}}),
        ("grafana", _GRAFANA_SECRET),
        ("mlflow", {}),  # authentication off: no admin account
        ("mlflow", {"auth": {"enabled": True, "existingAdminSecret": {"name": "mlflow-admin"}}}),
        ("argo-cd", {}),
    ],
)
def test_admin_credentials_from_a_secret_comply(chart: str, values: dict[str, Any]) -> None:
    assert_complies(ADMIN_CREDENTIALS_FROM_SECRET, release(chart, values))


@pytest.mark.parametrize(
    ("chart", "values", "fragment"),
    [
        (
            "kube-prometheus-stack",
            {"grafana": {**_GRAFANA_SECRET, "adminPassword": "prom-operator"}},
            "grafana.adminPassword is the well-known chart default",
        ),
        (
            "kube-prometheus-stack",
            {"grafana": {**_GRAFANA_SECRET, "adminPassword": "s3cret"}},
            "grafana.adminPassword is a plaintext password",
        ),
        (
            "kube-prometheus-stack",
            {"grafana": {"enabled": True}},
            "grafana.admin.existingSecret is not set",
        ),
        ("kube-prometheus-stack", {}, "grafana.admin.existingSecret is not set"),
        ("grafana", {"admin": {"existingSecret": ""}}, "admin.existingSecret is not set"),
        (
            "mlflow",
            {
                "auth": {
                    "enabled": True,
                    "adminPassword": "pw",
                    "existingAdminSecret": {"name": "s"},
                }
            },
            "auth.adminPassword is a plaintext password",
        ),
        ("mlflow", {"auth": {"enabled": True}}, "auth.existingAdminSecret.name is not set"),
    ],
)
def test_plaintext_default_or_missing_admin_credentials_violate(
    chart: str, values: dict[str, Any], fragment: str
) -> None:
    found = assert_violates(ADMIN_CREDENTIALS_FROM_SECRET, release(chart, values))
    assert fragment in found.message


def test_admin_credential_paths_exist_upstream(upstream: Path) -> None:
    # Keys the rule reads must be keys the chart knows (or its Grafana sub-chart's).
    kps = yaml.safe_load((upstream / "charts/kube-prometheus-stack/values.yaml").read_text())
    assert kps["grafana"]["admin"]["existingSecret"] == ""
    assert kps["grafana"]["enabled"] is True
    mlflow = yaml.safe_load((upstream / "charts/mlflow/values.yaml").read_text())
    spec = ADMIN_CREDENTIALS["mlflow"]
    for path in (spec.password, spec.secret, spec.enabled):
        assert path is not None
        node: Any = mlflow
        for step in path:
            node = node[step]


# --- security contexts set -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chart", "values"),
    [
        ("mlflow", {"podSecurityContext": RESTRICTED_POD}),
        (
            "opencost",
            {
                "podSecurityContext": RESTRICTED_POD,
                "opencost": {"exporter": {"securityContext": RESTRICTED_CONTAINER}},
            },
        ),
        ("nvidia-device-plugin", {"securityContext": RESTRICTED_CONTAINER}),
        (
            "oci://public.ecr.aws/neuron/neuron-helm-chart",
            {"devicePlugin": {"securityContext": RESTRICTED_CONTAINER}},
        ),
        ("argo-cd", {}),  # restricted per component upstream
        ("dcgm-exporter", {}),  # needs root and SYS_ADMIN, as upstream grants
    ],
)
def test_restricted_contexts_comply(chart: str, values: dict[str, Any]) -> None:
    assert_complies(SECURITY_CONTEXTS_SET, release(chart, values))


def _required_cases() -> list[tuple[str, dict[str, Any], str]]:
    """For each required context: values with every other context set and this one missing."""
    cases = []
    for chart, required in REQUIRED_SECURITY_CONTEXTS.items():
        for missing in required:
            values: dict[str, Any] = {}
            for item in required:
                if item == missing:
                    continue
                node = values
                for step in item.path[:-1]:
                    node = node.setdefault(step, {})
                node[item.path[-1]] = RESTRICTED_POD if item.kind == "pod" else RESTRICTED_CONTAINER
            cases.append((chart, values, f"{'.'.join(missing.path)} is not set"))
    return cases


@pytest.mark.parametrize(("chart", "values", "fragment"), _required_cases())
def test_each_required_context_missing_violates(
    chart: str, values: dict[str, Any], fragment: str
) -> None:
    found = assert_violates(SECURITY_CONTEXTS_SET, release(chart, values))
    assert fragment in found.message


@pytest.mark.parametrize(
    ("chart", "values", "fragment"),
    [
        (
            "mlflow",
            {"podSecurityContext": {**RESTRICTED_POD, "runAsNonRoot": False}},
            "runAsNonRoot is not true",
        ),
        (
            "mlflow",
            {"podSecurityContext": {"runAsNonRoot": True, "fsGroup": 1001}},
            "seccompProfile.type is not RuntimeDefault",
        ),
        (
            "mlflow",
            {"podSecurityContext": {**RESTRICTED_POD, "seccompProfile": {"type": "Unconfined"}}},
            "seccompProfile.type is not RuntimeDefault",
        ),
        (
            "nvidia-device-plugin",
            {"securityContext": {"capabilities": {"drop": ["ALL"]}}},
            "allowPrivilegeEscalation is not false",
        ),
        (
            "nvidia-device-plugin",
            {"securityContext": {"allowPrivilegeEscalation": False, "capabilities": {}}},
            "capabilities.drop does not include ALL",
        ),
        (
            "nvidia-device-plugin",
            {"securityContext": {**RESTRICTED_CONTAINER, "privileged": True}},
            "privileged is true",
        ),
    ],
)
def test_incomplete_contexts_violate(chart: str, values: dict[str, Any], fragment: str) -> None:
    found = assert_violates(SECURITY_CONTEXTS_SET, release(chart, values))
    assert fragment in found.message


def test_required_contexts_are_ones_upstream_leaves_unrestricted(upstream: Path) -> None:
    """Every listed path is a key of the chart, and its upstream default fails the rule."""
    for chart, required in REQUIRED_SECURITY_CONTEXTS.items():
        defaults = yaml.safe_load((upstream / "charts" / chart / "values.yaml").read_text())
        for item in required:
            node: Any = defaults
            for step in item.path:
                assert isinstance(node, dict), (chart, item.path)
                assert step in node, (chart, item.path)
                node = node[step]
        subject = release(chart, defaults, name=chart)
        assert len(violations(SECURITY_CONTEXTS_SET, subject)) == len(required), chart


# --- never weakened --------------------------------------------------------------------------


def test_restricted_values_comply() -> None:
    values = {
        "securityContext": {**RESTRICTED_CONTAINER, "capabilities": {"add": ["NET_BIND_SERVICE"]}},
        "controller": {"containerSecurityContext": RESTRICTED_CONTAINER, "hostNetwork": False},
        "podSecurityContext": RESTRICTED_POD,
    }
    assert_complies(SECURITY_CONTEXTS_NOT_WEAKENED, release("argo-cd", values))


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        (
            {"controller": {"containerSecurityContext": {"privileged": True}}},
            "controller.containerSecurityContext sets privileged: true",
        ),
        (
            {"securityContext": {"allowPrivilegeEscalation": True}},
            "securityContext sets allowPrivilegeEscalation: true",
        ),
        ({"podSecurityContext": {"runAsNonRoot": False}}, "sets runAsNonRoot: false"),
        ({"podSecurityContext": {"runAsUser": 0}}, "sets runAsUser: 0"),
        (
            {"securityContext": {"capabilities": {"add": ["SYS_ADMIN", "NET_BIND_SERVICE"]}}},
            "sets capabilities.add: SYS_ADMIN",
        ),
        (
            {"extraContainers": [{"name": "x", "securityContext": {"privileged": True}}]},
            "extraContainers[0].securityContext sets privileged: true",
        ),
        ({"hostNetwork": True}, "hostNetwork is true"),
        ({"server": {"hostPID": True}}, "server.hostPID is true"),
    ],
)
def test_privileged_values_violate(values: dict[str, Any], fragment: str) -> None:
    found = assert_violates(SECURITY_CONTEXTS_NOT_WEAKENED, release("argo-cd", values))
    assert fragment in found.message


def test_unknown_values_elsewhere_do_not_hide_a_privileged_setting() -> None:
    # During a preview an unrelated value (a database host) may be unknown.
    values = {
        "backendStore": {"host": UNKNOWN_STRING_VALUE},
        "securityContext": {"privileged": True},
    }
    assert_violates(SECURITY_CONTEXTS_NOT_WEAKENED, release("mlflow", values))


# --- services --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chart", "values"),
    [
        ("kube-prometheus-stack", {"grafana": {"service": {"type": "ClusterIP"}}}),
        (
            "kube-prometheus-stack",
            {"prometheus": {"thanosServiceExternal": {"enabled": False, "type": "LoadBalancer"}}},
        ),
        ("argo-cd", {"dex": {"enabled": False, "service": {"type": "NodePort"}}}),
        ("argo-cd", {"server": {"service": {"type": "ClusterIP"}}}),
        ("mlflow", {"serviceMonitor": {"enabled": True}, "service": {"port": 5000}}),
    ],
)
def test_cluster_internal_services_comply(chart: str, values: dict[str, Any]) -> None:
    assert_complies(SERVICES_INTERNAL, release(chart, values))


@pytest.mark.parametrize(
    ("chart", "values", "fragment"),
    [
        (
            "kube-prometheus-stack",
            {"grafana": {"service": {"type": "LoadBalancer"}}},
            "grafana.service.type is LoadBalancer",
        ),
        (
            "argo-cd",
            {"server": {"service": {"type": "NodePort"}}},
            "server.service.type is NodePort",
        ),
        (
            "argo-cd",
            {"server": {"ingress": {"aws": {"serviceType": "NodePort"}}}},
            "server.ingress.aws.serviceType is NodePort",
        ),
        ("mlflow", {"service": {"type": "LoadBalancer"}}, "service.type is LoadBalancer"),
        (
            "kube-prometheus-stack",
            {"prometheus": {"thanosServiceExternal": {"enabled": True}}},
            "prometheus.thanosServiceExternal is enabled with the chart's default type",
        ),
    ],
)
def test_external_services_violate(chart: str, values: dict[str, Any], fragment: str) -> None:
    found = assert_violates(SERVICES_INTERNAL, release(chart, values))
    assert fragment in found.message


def test_external_service_default_is_the_upstream_one(upstream: Path) -> None:
    kps = yaml.safe_load((upstream / "charts/kube-prometheus-stack/values.yaml").read_text())
    assert kps["prometheus"]["thanosServiceExternal"]["type"] == "LoadBalancer"
    assert kps["prometheus"]["thanosServiceExternal"]["enabled"] is False


def test_unknown_service_type_is_left_for_the_update() -> None:
    values = {"service": {"type": UNKNOWN_STRING_VALUE}}
    assert_complies(SERVICES_INTERNAL, release("mlflow", values))


# --- our renders -----------------------------------------------------------------------------


def _releases(result: Any) -> list[AnalyzedResource]:
    return [
        AnalyzedResource(type=r.type, name=r.name, urn=r.urn, props=r.inputs)
        for r in result.capture.registrations
        if r.type == RELEASE
    ]


def _found(rule: Rule, resources: list[AnalyzedResource]) -> list[tuple[str, str]]:
    return [(v.resource_name, v.message) for v in violations(rule, *resources)]


@pytest.mark.parametrize("target", ["kind", "aws"])
def test_level4_releases_comply(render_level: RenderFn, target: str) -> None:
    releases = _releases(render_level(4, target))
    charts = {chart_name(r.props["chart"]) for r in releases}
    assert {"kube-prometheus-stack", "mlflow", "argo-cd", "opencost"} <= charts
    for rule in RULES:
        assert _found(rule, releases) == [], rule.name
