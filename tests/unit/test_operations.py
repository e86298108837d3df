"""Monitoring, cost allocation and budgets as the levels wire them, and their config errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mlops_blueprints.blueprints._spec import CONFIG_NAMESPACE

from mlops_blueprints.check import run_checks
from tests.conftest import RenderFn
from tests.unit._config import config_error

pytestmark = pytest.mark.unit

MONITOR_LABEL = "mlops-blueprints.io/monitoring"


def _children_of(result: Any, parent_name: str) -> dict[str, str]:
    by_name = {r.name: r for r in result.capture.registrations}
    urn = by_name[parent_name].urn
    return {r.name: r.type for r in result.capture.registrations if r.parent == urn}


def _platform_children(result: Any) -> dict[str, str]:
    return _children_of(result, "platform")


def _rules(result: Any) -> set[str]:
    return {
        r.inputs["metadata"]["name"]
        for r in result.capture.registrations
        if r.type == "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
    }


def _monitors(result: Any) -> dict[str, Any]:
    return {
        r.name: r
        for r in result.capture.registrations
        if r.type == "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
    }


def test_level1_has_no_operations_services(render_level: RenderFn) -> None:
    children = _platform_children(render_level(1, "kind"))
    assert "monitoring" not in children
    assert "cost-allocation" not in children


@pytest.mark.parametrize("target", ["kind", "aws"])
def test_level2_monitors_serving_the_registry_and_pipelines(
    render_level: RenderFn, target: str
) -> None:
    result = render_level(2, target)
    children = _platform_children(result)
    assert children["monitoring"] == "mlops:monitoring:MonitoringStack"
    assert "cost-allocation" not in children
    assert _rules(result) == {
        "mlops-serving",
        "mlops-platform",
        "mlops-pipelines",
        "mlops-recording",
    }
    releases = {
        r.name for r in result.capture.registrations if r.type == "kubernetes:helm.sh/v3:Release"
    }
    assert "monitoring-dcgm-exporter" not in releases, "accelerator metrics start at Level 3"
    monitors = _monitors(result)
    workflow = monitors["pipelines-service-monitor"].inputs
    assert workflow["metadata"]["namespace"] == "kubeflow"
    assert workflow["metadata"]["labels"][MONITOR_LABEL] == "true"
    assert workflow["spec"]["endpoints"][0]["scheme"] == "https"


def test_level3_aws_adds_accelerator_exporters_cost_and_feature_store_alerts(
    render_level: RenderFn,
) -> None:
    result = render_level(3, "aws")
    assert _platform_children(result)["cost-allocation"] == "mlops:cost:CostAllocation"
    assert _rules(result) >= {
        "mlops-gpu",
        "mlops-neuron",
        "mlops-drift",
        "mlops-feature-store",
    }
    found = {r.name: r for r in result.capture.registrations}
    dcgm = found["monitoring-dcgm-exporter"].inputs["values"]
    assert any(t.get("key") == "nvidia.com/gpu" for t in dcgm["tolerations"])
    assert found["monitoring-neuron-monitor"].type == "kubernetes:apps/v1:DaemonSet"
    opencost = found["cost-allocation-release"]
    assert found["monitoring-release"].urn in opencost.dependencies
    dashboards = {
        r.inputs["metadata"]["name"]
        for r in result.capture.registrations
        if r.type == "kubernetes:core/v1:ConfigMap"
        and r.inputs["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
    }
    assert len(dashboards) == 4
    feature_monitor = _monitors(result)["feature-store-service-monitor"].inputs
    assert feature_monitor["metadata"]["name"] == "feature-store"
    assert feature_monitor["spec"]["endpoints"][0]["port"] == "metrics"


def test_kind_level3_prices_cost_from_custom_prices(render_level: RenderFn) -> None:
    result = render_level(3, "kind")
    found = {r.name: r for r in result.capture.registrations}
    assert "monitoring-dcgm-exporter" not in found, "kind has no GPU pools"
    values = json.dumps(found["cost-allocation-release"].inputs["values"])
    assert "aws" not in values.lower() or "customPricing" in values


def test_endpoints_are_scraped_once_monitoring_exists(
    render_level: RenderFn, upstream: Path
) -> None:
    endpoint = (
        'endpoints=[{"name": "churn", "modelUri": "models:/churn@champion", '
        '"storageUri": "s3://mlops-dev-lake-artifacts/mlflow/1/models/m-1/artifacts"}]'
    )
    result = render_level(2, "kind", (endpoint,))
    monitor = _monitors(result)["endpoint-churn-service-monitor"].inputs
    assert monitor["metadata"]["labels"][MONITOR_LABEL] == "true"
    report = run_checks(Path(result.files.out_dir), upstream=upstream)
    assert report.ok, [f"{f.object}: {f.field}: {f.message}" for f in report.findings]


def test_level4_aws_sets_the_budget_from_config(render_level: RenderFn) -> None:
    result = render_level(4, "aws")
    (budget,) = [r for r in result.capture.registrations if r.type == "aws:budgets/budget:Budget"]
    assert budget.inputs["limitAmount"] == "3000.0" or float(budget.inputs["limitAmount"]) == 3000
    subscribers = json.dumps(budget.inputs["notifications"])
    assert "platform-team@example.com" in subscribers
    assert "user:mlops-blueprints.io/environment$dev" in json.dumps(budget.inputs)


_BUDGET = {"monthlyLimitUsd": 3000, "emailAddresses": ["finops@example.com"]}


@pytest.mark.parametrize(
    ("level", "target", "overrides", "field", "value", "fix"),
    [
        (4, "aws", {"budget": None}, "budget", None, "emailAddresses"),
        (
            4,
            "aws",
            {"budget": {"monthlyLimitUsd": 3000}},
            "budget.emailAddresses",
            [],
            "no alert recipients",
        ),
        (
            4,
            "aws",
            {"budget": {**_BUDGET, "actualThresholdsPercent": [80, 1500]}},
            "budget.actualThresholdsPercent",
            None,
            "1000",
        ),
        (
            4,
            "aws",
            {"budget": {**_BUDGET, "monthlyLimitUsd": -5}},
            "budget.monthlyLimitUsd",
            -5,
            None,
        ),
        (3, "kind", {"budget": _BUDGET}, "budget", None, "AWS Budgets"),
        (2, "kind", {"monitoring": {"retentionDays": 0}}, "monitoring.retentionDays", 0, None),
        (
            2,
            "kind",
            {"monitoring": {"thresholds": {"driftScore": 1.5}}},
            "monitoring.thresholds.driftScore",
            1.5,
            None,
        ),
        (
            2,
            "kind",
            {"monitoring": {"thresholds": {"latencyP99": 2}}},
            "monitoring.thresholds.latencyP99",
            2,
            "unknown threshold",
        ),
        (
            2,
            "aws",
            {"monitoring": {"thresholds": {"servingAvailabilitySlo": 1.2}}},
            "monitoring.thresholds.servingAvailabilitySlo",
            1.2,
            None,
        ),
    ],
)
def test_bad_operations_settings_fail_before_any_resource(  # noqa: PLR0917 - one row per case
    level: int,
    target: str,
    overrides: dict[str, Any],
    field: str,
    value: object,
    fix: str | None,
) -> None:
    error = config_error(level, target, **overrides)
    assert error.field.startswith(f"{CONFIG_NAMESPACE}:{field}"), error
    if value is not None:
        assert error.value == value
    if field == "budget":
        assert error.field == f"{CONFIG_NAMESPACE}:budget"
    if fix is not None:
        assert fix in error.fix


def test_a_receiver_must_name_exactly_one_channel() -> None:
    receiver = {
        "slack": {"name": "oncall", "webhookSecretName": "slack"},
        "email": {
            "name": "mail",
            "to": "a@example.com",
            "fromAddress": "b@example.com",
            "smarthost": "smtp.example.com:587",
        },
    }
    error = config_error(2, "kind", monitoring={"criticalReceiver": receiver})
    assert error.field == f"{CONFIG_NAMESPACE}:monitoring.criticalReceiver"
    assert "exactly one" in error.fix


def test_a_slack_receiver_reaches_alertmanager(render_level: RenderFn) -> None:
    receiver = json.dumps({"slack": {"name": "oncall", "webhookSecretName": "alert-slack"}})
    result = render_level(2, "kind", (f"monitoring.criticalReceiver={receiver}",))
    found = {r.name: r for r in result.capture.registrations}
    values = json.dumps(found["monitoring-release"].inputs["values"])
    assert "oncall" in values
    assert "alert-slack" in values


def test_level2_aws_trusts_one_repository_and_grants_ci_the_minimum(
    render_level: RenderFn,
) -> None:
    result = render_level(2, "aws")
    found = {r.name: r for r in result.capture.registrations}
    role = found["ci-build-role"].inputs
    trust = json.loads(role["assumeRolePolicy"])
    (statement,) = trust["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"] in (
        "repo:acme/churn-model:ref:refs/heads/main",
        ["repo:acme/churn-model:ref:refs/heads/main"],
    )
    grants = sorted(
        r.name
        for r in result.capture.registrations
        if r.type == "aws:iam/rolePolicy:RolePolicy" and "ci-build" in r.name
    )
    assert grants == [
        "data-lake-artifacts-write-ci-build-ci",
        "data-lake-artifacts-write-ci-build-mlflow",
        "data-lake-curated-read-ci-build-dvc",
        "model-images-push-ci-build",
    ]
    assert result.capture.stack_outputs["ci_role_arn"]


@pytest.mark.parametrize("target", ["kind", "aws"])
def test_gitops_syncs_the_configured_repository_into_the_model_namespace(
    render_level: RenderFn, target: str
) -> None:
    result = render_level(2, target)
    found = {r.name: r for r in result.capture.registrations}
    app = found["gitops-root-app"].inputs["spec"]
    assert app["source"]["repoURL"] == "https://github.com/acme/ml-deployments.git"
    assert app["source"]["path"] == "apps"
    project = found["gitops-project"].inputs["spec"]
    assert [d["namespace"] for d in project["destinations"]] == ["mlops"]
    assert "*" not in json.dumps(project["sourceRepos"])
    assert ("ci-build-role" in found) == (target == "aws")


_CICD = {"repository": "acme/churn-model", "gitopsRepoUrl": "https://github.com/acme/ops.git"}


@pytest.mark.parametrize(
    ("target", "cicd", "field", "fix"),
    [
        ("kind", None, "cicd", "gitopsRepoUrl"),
        ("aws", {**_CICD, "repository": "*"}, "cicd.repository", None),
        ("aws", {**_CICD, "repository": "acme/*"}, "cicd.repository", None),
        ("aws", {**_CICD, "branches": ["*"]}, "cicd.branches", None),
        ("kind", {**_CICD, "gitopsRepoUrl": "ftp://example.com/x"}, "cicd.gitopsRepoUrl", None),
    ],
)
def test_bad_ci_cd_settings_fail_before_any_resource(
    target: str, cicd: dict[str, Any] | None, field: str, fix: str | None
) -> None:
    error = config_error(2, target, cicd=cicd)
    assert error.field.startswith(f"{CONFIG_NAMESPACE}:{field}"), error
    if fix is not None:
        assert fix in error.fix


def test_ci_cd_settings_on_level1_are_refused() -> None:
    error = config_error(1, "kind", cicd=_CICD)
    assert error.field == f"{CONFIG_NAMESPACE}:cicd"
    assert "Level 2" in error.fix
