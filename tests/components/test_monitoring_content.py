"""Alert thresholds, rules, dashboards and the metric catalogue of the monitoring stack (offline).

The same content runs against real Prometheus tools in tests/services/test_prometheus_rules.py
and tests/services/test_prometheus_dashboards.py.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from mlops_blueprints.components.monitoring._catalogue import (
    KUBE_STATE_METRICS_LABELS_ALLOWLIST,
    METRIC_SOURCES,
    REFERENCE_APP_METRICS,
    catalogue_markdown,
    catalogue_problems,
    metric_names,
    metrics_used,
)
from mlops_blueprints.components.monitoring._dashboards import (
    DASHBOARD_UIDS,
    DASHBOARDS,
    SCHEMA_VERSION,
    dashboard_queries,
    dashboards,
)
from mlops_blueprints.components.monitoring._rules import (
    COST_ALLOCATION_LABELS,
    DEFAULT_RUNBOOK_URL,
    FEATURE_SERVER_JOB,
    MODEL_REGISTRY_JOB,
    PLATFORM_NAMESPACE,
    RULE_FILES,
    alert_rules,
    kube_state_metrics_label,
    recorded_names,
    rule_groups,
)
from mlops_blueprints.components.monitoring._thresholds import (
    LATENCY_BUCKET_BOUNDS_SECONDS,
    AlertThresholds,
)

from mlops_blueprints.errors import BlueprintConfigError
from tests.components._helpers import raises

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
RUNBOOKS = REPO / "docs" / "runbooks.md"
README = REPO / "components" / "monitoring" / "README.md"
ALL_RULES = frozenset(RULE_FILES)
ALL_DASHBOARDS = frozenset(DASHBOARDS)
SEVERITIES = {"critical", "warning", "info"}
# Runbook headings that introduce a group of alerts rather than name one.
RUNBOOK_INTRO_HEADINGS = {"serving slo alerts"}

EXPECTED_ALERTS = {
    "serving": {
        "ModelServingErrorBudgetFastBurn",
        "ModelServingErrorBudgetSlowBurn",
        "ModelServingLatencyBudgetFastBurn",
        "ModelServingLatencyBudgetSlowBurn",
    },
    "gpu": {"GPUUnderutilised", "GPUIdle", "GPUMemoryPressure", "GPUXidError"},
    "neuron": {"NeuronCoreUnderutilised", "NeuronExecutionErrors"},
    "drift": {"FeatureDriftDetected", "DatasetDriftDetected", "ModelQualityDegraded"},
    "pipelines": {"PipelineRunsFailing"},
    "platform": {"ModelRegistryDown"},
    "feature-store": {"FeatureServerDown"},
}


def _alerts(thresholds: AlertThresholds | None = None) -> dict[str, dict[str, Any]]:
    files = rule_groups(thresholds or AlertThresholds(), include=ALL_RULES)
    return {rule["alert"]: rule for _, rule in alert_rules(files)}


# --- thresholds -----------------------------------------------------------------------------


def test_default_thresholds_are_valid_and_documented() -> None:
    thresholds = AlertThresholds()
    assert thresholds.serving_error_budget == pytest.approx(0.01)
    doc = AlertThresholds.__doc__ or ""
    for name in AlertThresholds.field_names():
        assert f"``{name}`` (" in doc, f"{name} has no docstring bullet"


@pytest.mark.parametrize(
    ("field", "value", "fix"),
    [
        ("serving_availability_slo", 1.5, "from 0.9 to 0.9999"),
        ("serving_availability_slo", 1.0, "no budget"),
        ("serving_availability_slo", 0.5, "from 0.9 to 0.9999"),
        ("serving_availability_slo", "0.99", "finite number"),
        ("serving_availability_slo", True, "finite number"),
        ("serving_availability_slo", math.inf, "finite number"),
        ("serving_latency_p95_seconds", 0.3, "bucket bounds"),
        ("serving_latency_p95_seconds", 0, "bucket bounds"),
        ("serving_latency_p95_seconds", -1.0, "bucket bounds"),
        ("serving_latency_p95_seconds", 60, "bucket bounds"),
        ("gpu_utilisation_low_percent", 120, "between 0 and 100"),
        ("gpu_utilisation_low_percent", 0, "between 0 and 100"),
        ("gpu_utilisation_low_percent", None, "finite number"),
        ("gpu_memory_pressure_ratio", 1.2, "between 0 and 1"),
        ("gpu_memory_pressure_ratio", 0.0, "between 0 and 1"),
        ("neuron_utilisation_low_percent", -5, "between 0 and 100"),
        ("drift_score", 1.5, "between 0 and 1"),
        ("dataset_drift_share", 0, "between 0 and 1"),
        ("model_quality_min_score", 2, "between 0 and 1"),
        ("drift_for_minutes", 0, "from 1 to 1440"),
        ("drift_for_minutes", 2.5, "whole number of minutes"),
        ("drift_for_minutes", 10_000, "from 1 to 1440"),
        ("pipeline_failures", 0, "from 1 to 10000"),
        ("pipeline_failures", True, "whole number of runs"),
        ("pipeline_failure_window_minutes", 1, "from 5 to 1440"),
    ],
)
def test_bad_thresholds_name_field_value_and_fix(field: str, value: object, fix: str) -> None:
    raises(lambda: AlertThresholds(**{field: value}), field, value, fix)  # type: ignore[arg-type]


def test_nan_threshold_is_refused() -> None:
    with pytest.raises(BlueprintConfigError) as caught:
        AlertThresholds(drift_score=math.nan)
    assert caught.value.field == "drift_score"
    assert math.isnan(caught.value.value)
    assert "finite number" in caught.value.fix


@pytest.mark.parametrize("bound", LATENCY_BUCKET_BOUNDS_SECONDS)
def test_every_shared_bucket_bound_is_a_valid_latency_objective(bound: float) -> None:
    assert AlertThresholds(serving_latency_p95_seconds=bound).serving_latency_p95_seconds == bound


def test_thresholds_land_in_the_rule_expressions() -> None:
    custom = AlertThresholds(
        serving_availability_slo=0.999,
        serving_latency_p95_seconds=1.0,
        gpu_utilisation_low_percent=35,
        gpu_memory_pressure_ratio=0.8,
        neuron_utilisation_low_percent=15,
        drift_score=0.4,
        dataset_drift_share=0.6,
        model_quality_min_score=0.8,
        drift_for_minutes=45,
        pipeline_failures=3,
        pipeline_failure_window_minutes=120,
    )
    alerts = _alerts(custom)
    # Error budget 0.1 %: 14.4x and 6x burn; latency budget 5 %: 72 % and 30 % slow.
    assert alerts["ModelServingErrorBudgetFastBurn"]["expr"] == (
        "mlops:serving_request_errors:ratio_rate1h > 0.0144"
        " and mlops:serving_request_errors:ratio_rate5m > 0.0144"
    )
    assert "ratio_rate6h > 0.006 and" in alerts["ModelServingErrorBudgetSlowBurn"]["expr"]
    assert "ratio_rate1h > 0.72 and" in alerts["ModelServingLatencyBudgetFastBurn"]["expr"]
    assert "ratio_rate6h > 0.3 and" in alerts["ModelServingLatencyBudgetSlowBurn"]["expr"]
    assert alerts["GPUUnderutilised"]["expr"].endswith("< 35")
    assert alerts["GPUMemoryPressure"]["expr"].endswith("> 0.8")
    assert alerts["NeuronCoreUnderutilised"]["expr"].endswith("< 0.15")
    assert alerts["FeatureDriftDetected"]["expr"].endswith("> 0.4")
    assert alerts["DatasetDriftDetected"]["expr"].endswith("> 0.6")
    assert alerts["ModelQualityDegraded"]["expr"].endswith("< 0.8")
    for name in ("FeatureDriftDetected", "DatasetDriftDetected", "ModelQualityDegraded"):
        assert alerts[name]["for"] == "45m"
    pipeline = alerts["PipelineRunsFailing"]["expr"]
    assert "[120m]" in pipeline
    assert "offset 120m" in pipeline
    assert pipeline.endswith(">= 3")
    recording = {
        rule["record"]: rule["expr"]
        for group in rule_groups(custom, include=frozenset({"recording"}))["recording"]
        for rule in group["rules"]
    }
    # The latency SLI reads the 1 s bucket however the exporter spells the bound.
    assert 'le=~"1|1\\\\.0"' in recording["mlops:serving_slow_requests:ratio_rate5m"]
    assert recording["mlops:serving_availability:objective"] == "vector(0.999)"
    assert recording["mlops:serving_latency_threshold:seconds"] == "vector(1)"
    # And the defaults are different numbers, so the assertions above are not vacuous.
    assert _alerts()["GPUUnderutilised"]["expr"].endswith("< 20")


# --- alerts and runbooks --------------------------------------------------------------------


def test_each_rule_file_has_exactly_its_alerts() -> None:
    files = rule_groups(AlertThresholds(), include=ALL_RULES)
    found: dict[str, set[str]] = {}
    for file, rule in alert_rules(files):
        found.setdefault(file, set()).add(rule["alert"])
    assert found == EXPECTED_ALERTS
    assert not any("alert" in r for g in files["recording"] for r in g["rules"])


@pytest.mark.parametrize("alert", sorted(set().union(*EXPECTED_ALERTS.values())))
def test_alert_has_severity_summary_description_and_runbook(alert: str) -> None:
    rule = _alerts()[alert]
    assert rule["labels"]["severity"] in SEVERITIES
    annotations = rule["annotations"]
    assert set(annotations) == {"summary", "description", "runbook_url"}
    assert annotations["summary"].strip()
    assert len(annotations["description"]) > len(annotations["summary"])
    assert annotations["runbook_url"] == f"{DEFAULT_RUNBOOK_URL}#{alert.lower()}"
    # Templates only name labels, so their rendering is predictable (promtool tests rely on it).
    for template in re.findall(r"{{.*?}}", " ".join(annotations.values())):
        assert re.fullmatch(r"{{ \$labels\.\w+ }}", template), template


def _github_anchors(markdown: str) -> set[str]:
    anchors = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*$", markdown, flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def test_every_runbook_anchor_exists_and_every_section_is_an_alert() -> None:
    text = RUNBOOKS.read_text()
    anchors = _github_anchors(text)
    alerts = _alerts()
    for name, rule in alerts.items():
        anchor = rule["annotations"]["runbook_url"].partition("#")[2]
        assert anchor in anchors, f"docs/runbooks.md has no section for {name}"
    sections = {
        h.strip().lower() for h in re.findall(r"^## (.+)$", text, flags=re.MULTILINE)
    } - RUNBOOK_INTRO_HEADINGS
    assert sections == {name.lower() for name in alerts}


def test_runbook_url_base_is_configurable() -> None:
    base = "https://example.com/mlops/docs/runbooks.md"
    files = rule_groups(AlertThresholds(), include=frozenset({"gpu"}), runbook_url=base)
    urls = {rule["annotations"]["runbook_url"] for _, rule in alert_rules(files)}
    assert f"{base}#gpuidle" in urls
    raises(
        lambda: rule_groups(AlertThresholds(), include=frozenset({"gpu"}), runbook_url=""),
        "runbook_url",
        "",
        "docs/runbooks.md",
    )


def test_names_are_unique() -> None:
    files = rule_groups(AlertThresholds(), include=ALL_RULES)
    groups = [g["name"] for gs in files.values() for g in gs]
    assert len(groups) == len(set(groups))
    records = [r["record"] for g in files["recording"] for r in g["rules"]]
    assert len(records) == len(set(records))
    alerts = [rule["alert"] for _, rule in alert_rules(files)]
    assert len(alerts) == len(set(alerts))


def test_platform_alerts_watch_the_platform_services() -> None:
    alerts = _alerts()
    for name, job in (
        ("ModelRegistryDown", MODEL_REGISTRY_JOB),
        ("FeatureServerDown", FEATURE_SERVER_JOB),
    ):
        selector = f'up{{job="{job}", namespace="{PLATFORM_NAMESPACE}"}}'
        assert alerts[name]["expr"] == f"{selector} == 0 or absent({selector})"
        assert alerts[name]["labels"]["severity"] == "critical"
    # The names the platform deploys: MLflow's release, the FeatureStore component's Service.
    assert (PLATFORM_NAMESPACE, MODEL_REGISTRY_JOB, FEATURE_SERVER_JOB) == (
        "mlops",
        "mlflow",
        "feature-store",
    )


def test_serving_alerts_are_multiwindow_multi_burn_rate() -> None:
    alerts = _alerts()
    fast = alerts["ModelServingErrorBudgetFastBurn"]
    slow = alerts["ModelServingErrorBudgetSlowBurn"]
    assert (fast["labels"]["severity"], fast["for"]) == ("critical", "2m")
    assert (slow["labels"]["severity"], slow["for"]) == ("warning", "15m")
    assert fast["expr"] == (
        "mlops:serving_request_errors:ratio_rate1h > 0.144"
        " and mlops:serving_request_errors:ratio_rate5m > 0.144"
    )
    assert slow["expr"] == (
        "mlops:serving_request_errors:ratio_rate6h > 0.06"
        " and mlops:serving_request_errors:ratio_rate30m > 0.06"
    )


# --- include selection ----------------------------------------------------------------------


def test_include_selects_rule_files_in_order() -> None:
    files = rule_groups(AlertThresholds(), include=frozenset({"platform", "gpu"}))
    assert list(files) == ["gpu", "platform"]
    assert rule_groups(AlertThresholds(), include=frozenset()) == {}
    assert list(rule_groups(AlertThresholds(), include=ALL_RULES)) == list(RULE_FILES)


def test_include_refuses_unknown_files_and_serving_without_recording() -> None:
    raises(
        lambda: rule_groups(AlertThresholds(), include=frozenset({"gpu", "gpus"})),
        "include",
        ["gpus"],
        "recording, serving, gpu",
    )
    raises(
        lambda: rule_groups(AlertThresholds(), include=frozenset({"serving"})),
        "include",
        ["serving"],
        "Add 'recording'",
    )
    raises(
        lambda: rule_groups(0.99, include=frozenset({"gpu"})),  # type: ignore[arg-type]
        "thresholds",
        0.99,
        "AlertThresholds()",
    )


def test_include_selects_dashboards() -> None:
    assert list(dashboards(frozenset({"cost", "model-serving"}))) == ["model-serving", "cost"]
    assert dashboards(frozenset()) == {}
    raises(lambda: dashboards(frozenset({"costs"})), "include", ["costs"], "model-serving")


# --- recording rules ------------------------------------------------------------------------


def test_every_recorded_series_used_is_recorded() -> None:
    files = rule_groups(AlertThresholds(), include=ALL_RULES)
    recorded = recorded_names(files)
    exprs = [rule["expr"] for gs in files.values() for g in gs for rule in g["rules"]]
    exprs += [
        q for board in dashboards(ALL_DASHBOARDS).values() for _, q in dashboard_queries(board)
    ]
    used = {name for expr in exprs for name in metric_names(expr) if ":" in name}
    assert used, "the alerts and dashboards build on recording rules"
    assert used <= recorded, used - recorded
    for name in recorded:
        assert re.fullmatch(r"mlops:[a-z0-9_]+:[a-z0-9_]+", name), name


def test_sli_recording_rules_cover_every_burn_rate_window() -> None:
    recorded = recorded_names(rule_groups(AlertThresholds(), include=frozenset({"recording"})))
    for window in ("5m", "30m", "1h", "6h"):
        assert f"mlops:serving_request_errors:ratio_rate{window}" in recorded
        assert f"mlops:serving_slow_requests:ratio_rate{window}" in recorded


# --- catalogue ------------------------------------------------------------------------------


def test_catalogue_and_expressions_agree() -> None:
    used = metrics_used()
    assert catalogue_problems(used) == []
    assert set(used) == set(METRIC_SOURCES)


def test_an_unknown_metric_or_unused_entry_is_reported() -> None:
    used = metrics_used()
    used["made_up_requests_total"] = {"rules/serving/Invented"}
    problems = catalogue_problems(used)
    assert problems == [
        "made_up_requests_total is read by rules/serving/Invented but has no entry in "
        "METRIC_SOURCES"
    ]
    sources = {**METRIC_SOURCES, "stale_metric": "an exporter nobody runs"}
    assert catalogue_problems(metrics_used(), sources) == [
        "METRIC_SOURCES lists stale_metric, which no rule or dashboard reads"
    ]


def test_reference_app_metrics_are_the_drift_contract() -> None:
    assert set(REFERENCE_APP_METRICS) == {
        "mlops_feature_drift_score",
        "mlops_dataset_drift_share",
        "mlops_model_quality_score",
    }
    for name in REFERENCE_APP_METRICS:
        assert METRIC_SOURCES[name].startswith(
            "reference application drift monitor (reference-app)"
        )


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        (
            'sum by (namespace, service) (rate(foo_total{job="a", le=~"0\\\\.5"}[5m]))',
            {"foo_total"},
        ),
        ("a * on (node) group_left (label_x) max by (node) (b)", {"a", "b"}),
        ('label_replace(c, "dst", "$1", "src_label", "(.*)")', {"c"}),
        ("x offset 1h unless y", {"x", "y"}),
        ("histogram_quantile(0.95, sum(rate(h_bucket[$__rate_interval])) by (le))", {"h_bucket"}),
        ('vector(1) or absent(up{job="x"})', {"up"}),
        ("sum without (instance) (z) > bool 3", {"z"}),
        (
            'mlops:serving_requests:rate5m{namespace=~"$namespace"} * 1e-3',
            {"mlops:serving_requests:rate5m"},
        ),
        ('count_values("value", w)', {"w"}),
        ("topk(10, m{a=\"}\", b='{'})", {"m"}),
        (
            "DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE) > 0.9",
            {"DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE"},
        ),
        ("rate(q[5m:1m] @ start())", {"q"}),
        ("sum(p) by (instance) and on () group_right () r", {"p", "r"}),
    ],
)
def test_metric_names_parses_promql(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_readme_lists_the_catalogue() -> None:
    text = README.read_text()
    start = text.index("<!-- CONTENT START -->")
    end = text.index("<!-- CONTENT END -->")
    assert catalogue_markdown() in text[start:end]


# --- cost labels ----------------------------------------------------------------------------


def test_cost_labels_follow_kube_state_metrics_sanitisation() -> None:
    assert [kube_state_metrics_label(k) for k in COST_ALLOCATION_LABELS] == [
        "label_mlops_blueprints_io_team",
        "label_mlops_blueprints_io_model",
        "label_mlops_blueprints_io_level",
    ]
    assert KUBE_STATE_METRICS_LABELS_ALLOWLIST == (
        "pods=[mlops-blueprints.io/team,mlops-blueprints.io/model,mlops-blueprints.io/level]"
    )
    recording = rule_groups(AlertThresholds(), include=frozenset({"recording"}))["recording"]
    workload = next(
        r["expr"]
        for g in recording
        for r in g["rules"]
        if r.get("record") == "mlops:workload_cost_hourly:sum"
    )
    for label in ("label_mlops_blueprints_io_team", "label_mlops_blueprints_io_level"):
        assert label in workload
    cost = json.dumps(dashboards(frozenset({"cost"}))["cost"])
    assert "label_values(kube_pod_labels, label_mlops_blueprints_io_team)" in cost


# --- dashboards -----------------------------------------------------------------------------


def test_dashboards_have_stable_unique_uids() -> None:
    boards = dashboards(ALL_DASHBOARDS)
    assert {name: board["uid"] for name, board in boards.items()} == {
        "model-serving": "mlops-model-serving",
        "gpu-accelerators": "mlops-gpu-accelerators",
        "drift-model-quality": "mlops-drift-model-quality",
        "cost": "mlops-cost",
    }
    assert {name: board["uid"] for name, board in boards.items()} == DASHBOARD_UIDS
    titles = [board["title"] for board in boards.values()]
    assert len(titles) == len(set(titles))


@pytest.mark.parametrize("name", DASHBOARDS)
def test_dashboard_structure(name: str) -> None:
    board = dashboards(frozenset({name}))[name]
    assert json.loads(json.dumps(board)) == board
    assert board["schemaVersion"] == SCHEMA_VERSION == 39
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    assert len(ids) >= 4
    cells = [(panel["gridPos"]["x"], panel["gridPos"]["y"]) for panel in board["panels"]]
    assert len(cells) == len(set(cells)), "panels must not overlap"
    for panel in board["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        refs = [target["refId"] for target in panel["targets"]]
        assert refs
        assert len(refs) == len(set(refs))
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"
    # Every variable a query uses is defined (or is one of Grafana's own).
    for where, query in dashboard_queries(board):
        for var in re.findall(r"\$(\w+)", query):
            assert var.startswith("__") or var in variables, f"{where}: ${var} undefined"
