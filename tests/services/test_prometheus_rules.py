"""The generated rule files pass ``promtool check rules``, and every alert is proven with
``promtool test rules``: it fires on a failing input series and stays silent on a healthy one.

Inputs use the metric names and labels of the real exporters (see the monitoring metric
catalogue). Expected alerts list every label and the rendered annotations, so a changed label
set, severity or annotation fails here too. A last test feeds a deliberately wrong expectation
to show that the harness reports failures.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from mlops_blueprints.components.monitoring._rules import (
    RULE_FILES,
    alert_rules,
    rule_groups,
)
from mlops_blueprints.components.monitoring._thresholds import AlertThresholds

from tests.services._require import unavailable

pytestmark = pytest.mark.slow

PROMTOOL = "/usr/bin/promtool"
ALL_RULES = frozenset(RULE_FILES)


@pytest.fixture(scope="module")
def promtool() -> str:
    path = PROMTOOL if Path(PROMTOOL).exists() else shutil.which("promtool")
    if path is None:
        unavailable("promtool is not installed (apt-get install prometheus)")
    return path


def _write_rules(directory: Path, thresholds: AlertThresholds) -> dict[str, dict[str, Any]]:
    """Write every rule file as Prometheus rule-file YAML; return the alerts by name, each
    with the rule files a test of it loads under ``"files"``."""
    directory.mkdir(parents=True, exist_ok=True)
    files = rule_groups(thresholds, include=ALL_RULES)
    for name, groups in files.items():
        (directory / f"{name}.yaml").write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    # Alerts that read mlops:* series need the recording rules loaded with them.
    return {
        rule["alert"]: {
            **rule,
            "files": ["recording.yaml", f"{file}.yaml"]
            if ":" in rule["expr"]
            else [f"{file}.yaml"],
        }
        for file, rule in alert_rules(files)
    }


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, Any]]]:
    directory = tmp_path_factory.mktemp("rules")
    return directory, _write_rules(directory, AlertThresholds())


def _run(promtool: str, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *map(str, args)],
        check=False,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("file", RULE_FILES)
def test_promtool_check_rules(
    promtool: str, rules: tuple[Path, dict[str, dict[str, Any]]], file: str
) -> None:
    directory, _ = rules
    result = _run(promtool, "check", "rules", f"{file}.yaml", cwd=directory)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


# --- alert unit tests -----------------------------------------------------------------------

SERVICE = {"namespace": "models", "service": "churn-predictor"}
BENTOML = {**SERVICE, "endpoint": "/predict", "service_name": "churn", "pod": "churn-0"}
KNATIVE = {
    "namespace": "models",
    "pod": "fraud-predictor-00001-deployment-0",
    "k8s_namespace_name": "models",
    "kn_service_name": "fraud-predictor",
    "kn_configuration_name": "fraud-predictor",
    "kn_revision_name": "fraud-predictor-00001",
    "service_name": "fraud-predictor",
}
KSERVE = {**SERVICE, "model_name": "churn", "pod": "churn-predictor-7c9d-x2"}
GPU = {
    "gpu": "0",
    "UUID": "GPU-5e2c3a4b-1f2d-4c1e-9a77-0d3f5b1c2a10",
    "device": "nvidia0",
    "modelName": "NVIDIA A10G",
    "Hostname": "ip-10-0-12-34",
    "namespace": "models",
    "pod": "llm-predictor-0",
    "container": "kserve-container",
}
NEURON = {
    "instance_id": "i-0abc1234def567890",
    "instance_type": "inf2.xlarge",
    "availability_zone": "us-east-1a",
    "region": "us-east-1",
    "subnet_id": "subnet-0123456789abcdef0",
    "runtime_tag": "1234",
}
DRIFT = {"namespace": "models", "job": "reference-app", "model": "churn"}
ARGO = {
    "namespace": "kubeflow",
    "job": "workflow-controller-metrics",
    "instance": "10.0.3.7:9090",
    "pod": "workflow-controller-5f6d9",
}
MLFLOW_UP = {
    "job": "mlflow",
    "namespace": "mlops",
    "instance": "10.0.1.5:5000",
    "pod": "mlflow-6d9f8b-qk2",
    "service": "mlflow",
    "endpoint": "http",
}
FEAST_UP = {**MLFLOW_UP, "job": "feature-store", "service": "feature-store", "pod": "fs-0"}


def _series(name: str, labels: Mapping[str, str], **extra: str) -> str:
    merged = {**labels, **extra}
    return name + "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(merged.items())) + "}"


@dataclass(frozen=True)
class Case:
    """Input series (selector -> promtool values) and the alerts expected at ``eval_time``."""

    id: str
    alert: str
    series: Mapping[str, str]
    eval_time: str
    fires: tuple[Mapping[str, str], ...] = ()
    thresholds: AlertThresholds = field(default_factory=AlertThresholds)


def _bentoml(ok: str, failed: str) -> dict[str, str]:
    name = "bentoml_service_request_total"
    return {
        _series(name, BENTOML, http_response_code="200"): ok,
        _series(name, BENTOML, http_response_code="500"): failed,
        # Health probes are not inference traffic: these never count.
        _series(name, BENTOML, endpoint="/readyz", http_response_code="503"): "0+600x70",
    }


def _kserve(fast: str, total: str) -> dict[str, str]:
    return {
        _series("request_predict_seconds_bucket", KSERVE, le="0.1"): fast,
        _series("request_predict_seconds_bucket", KSERVE, le="0.5"): fast,
        _series("request_predict_seconds_bucket", KSERVE, le="+Inf"): total,
        _series("request_predict_seconds_count", KSERVE): total,
    }


def _knative_errors(ok: str, failed: str) -> dict[str, str]:
    name = "kn_serving_invocation_duration_seconds_count"
    return {
        _series(name, KNATIVE, http_response_status_code="200"): ok,
        _series(name, KNATIVE, http_response_status_code="503"): failed,
    }


FRAUD = {"namespace": "models", "service": "fraud-predictor"}

CASES = [
    # Serving SLOs (16.7 % errors burns a 1 % budget 16.7x; 8 % burns it 8x).
    Case(
        "bentoml-16pct",
        "ModelServingErrorBudgetFastBurn",
        _bentoml("0+600x40", "0+120x40"),
        "40m",
        (SERVICE,),
    ),
    Case(
        "knative-16pct",
        "ModelServingErrorBudgetFastBurn",
        _knative_errors("0+600x40", "0+120x40"),
        "40m",
        (FRAUD,),
    ),
    Case("bentoml-8pct", "ModelServingErrorBudgetFastBurn", _bentoml("0+920x40", "0+80x40"), "40m"),
    Case(
        "bentoml-healthy",
        "ModelServingErrorBudgetFastBurn",
        _bentoml("0+1000x40", "0+5x40"),
        "40m",
    ),
    Case(
        "bentoml-8pct",
        "ModelServingErrorBudgetSlowBurn",
        _bentoml("0+920x70", "0+80x70"),
        "70m",
        (SERVICE,),
    ),
    Case(
        "bentoml-healthy",
        "ModelServingErrorBudgetSlowBurn",
        _bentoml("0+1000x70", "0+5x70"),
        "70m",
    ),
    # Latency: 90 % and 40 % of requests slower than 0.5 s against a 5 % budget.
    Case(
        "kserve-90pct-slow",
        "ModelServingLatencyBudgetFastBurn",
        _kserve("0+60x40", "0+600x40"),
        "40m",
        (SERVICE,),
    ),
    Case(
        "kserve-40pct-slow",
        "ModelServingLatencyBudgetFastBurn",
        _kserve("0+360x40", "0+600x40"),
        "40m",
    ),
    Case(
        "kserve-healthy",
        "ModelServingLatencyBudgetFastBurn",
        _kserve("0+594x40", "0+600x40"),
        "40m",
    ),
    Case(
        "kserve-40pct-slow",
        "ModelServingLatencyBudgetSlowBurn",
        _kserve("0+360x70", "0+600x70"),
        "70m",
        (SERVICE,),
    ),
    Case(
        "kserve-healthy",
        "ModelServingLatencyBudgetSlowBurn",
        _kserve("0+594x70", "0+600x70"),
        "70m",
    ),
    # GPUs.
    Case(
        "util-5pct",
        "GPUUnderutilised",
        {_series("DCGM_FI_DEV_GPU_UTIL", GPU): "5x60"},
        "60m",
        (GPU,),
    ),
    Case("util-80pct", "GPUUnderutilised", {_series("DCGM_FI_DEV_GPU_UTIL", GPU): "80x60"}, "60m"),
    Case("util-0", "GPUIdle", {_series("DCGM_FI_DEV_GPU_UTIL", GPU): "40x10 0x80"}, "90m", (GPU,)),
    Case("util-40pct", "GPUIdle", {_series("DCGM_FI_DEV_GPU_UTIL", GPU): "40x90"}, "90m"),
    Case("idle-40m", "GPUIdle", {_series("DCGM_FI_DEV_GPU_UTIL", GPU): "40x50 0x40"}, "90m"),
    Case(
        "fb-97pct",
        "GPUMemoryPressure",
        {
            _series("DCGM_FI_DEV_FB_USED", GPU): "22000x60",
            _series("DCGM_FI_DEV_FB_FREE", GPU): "500x60",
        },
        "60m",
        (GPU,),
    ),
    Case(
        "fb-36pct",
        "GPUMemoryPressure",
        {
            _series("DCGM_FI_DEV_FB_USED", GPU): "8000x60",
            _series("DCGM_FI_DEV_FB_FREE", GPU): "14000x60",
        },
        "60m",
    ),
    Case(
        "xid-79",
        "GPUXidError",
        {_series("DCGM_FI_DEV_XID_ERRORS", GPU): "0x50 79x10"},
        "60m",
        (GPU,),
    ),
    Case("no-xid", "GPUXidError", {_series("DCGM_FI_DEV_XID_ERRORS", GPU): "0x60"}, "60m"),
    # Neuron.
    Case(
        "core-5pct",
        "NeuronCoreUnderutilised",
        {_series("neuroncore_utilization_ratio", NEURON, neuroncore="0"): "0.05x60"},
        "60m",
        ({**NEURON, "neuroncore": "0"},),
    ),
    Case(
        "core-70pct",
        "NeuronCoreUnderutilised",
        {_series("neuroncore_utilization_ratio", NEURON, neuroncore="0"): "0.7x60"},
        "60m",
    ),
    Case(
        "hardware-errors",
        "NeuronExecutionErrors",
        {_series("execution_errors_total", NEURON, error_type="hardware"): "0x30 0+1x30"},
        "60m",
        ({**NEURON, "error_type": "hardware"},),
    ),
    Case(
        "no-new-errors",
        "NeuronExecutionErrors",
        {_series("execution_errors_total", NEURON, error_type="hardware"): "3x60"},
        "60m",
    ),
    # Drift and quality (the reference application's gauges).
    Case(
        "score-0.6",
        "FeatureDriftDetected",
        {_series("mlops_feature_drift_score", DRIFT, feature="tenure"): "0.6x60"},
        "60m",
        ({"namespace": "models", "model": "churn", "feature": "tenure"},),
    ),
    Case(
        "score-0.1",
        "FeatureDriftDetected",
        {_series("mlops_feature_drift_score", DRIFT, feature="tenure"): "0.1x60"},
        "60m",
    ),
    Case(
        "score-0.6-briefly",
        "FeatureDriftDetected",
        {_series("mlops_feature_drift_score", DRIFT, feature="tenure"): "0.1x45 0.6x15"},
        "60m",
    ),
    Case(
        "share-0.7",
        "DatasetDriftDetected",
        {_series("mlops_dataset_drift_share", DRIFT): "0.7x60"},
        "60m",
        ({"namespace": "models", "model": "churn"},),
    ),
    Case(
        "share-0.2",
        "DatasetDriftDetected",
        {_series("mlops_dataset_drift_share", DRIFT): "0.2x60"},
        "60m",
    ),
    Case(
        "auc-0.55",
        "ModelQualityDegraded",
        {_series("mlops_model_quality_score", DRIFT, metric="roc_auc"): "0.55x60"},
        "60m",
        ({"namespace": "models", "model": "churn", "metric": "roc_auc"},),
    ),
    Case(
        "auc-0.9",
        "ModelQualityDegraded",
        {_series("mlops_model_quality_score", DRIFT, metric="roc_auc"): "0.9x60"},
        "60m",
    ),
    # Pipelines (Argo Workflows controller counters).
    Case(
        "failed-run",
        "PipelineRunsFailing",
        {
            _series("argo_workflows_total_count", ARGO, phase="Failed"): "0x100 1x20",
            _series("argo_workflows_total_count", ARGO, phase="Succeeded"): "0+1x120",
        },
        "120m",
        ({"namespace": "kubeflow", "job": "workflow-controller-metrics"},),
    ),
    Case(
        "first-failure-new-series",
        "PipelineRunsFailing",
        {_series("argo_workflows_total_count", ARGO, phase="Error"): "_x100 1x20"},
        "120m",
        ({"namespace": "kubeflow", "job": "workflow-controller-metrics"},),
    ),
    Case(
        "old-failures-only",
        "PipelineRunsFailing",
        {
            _series("argo_workflows_total_count", ARGO, phase="Failed"): "2x120",
            _series("argo_workflows_total_count", ARGO, phase="Succeeded"): "0+1x120",
        },
        "120m",
    ),
    Case(
        "three-failures-needed",
        "PipelineRunsFailing",
        {_series("argo_workflows_total_count", ARGO, phase="Failed"): "0x100 2x20"},
        "120m",
        thresholds=AlertThresholds(pipeline_failures=3),
    ),
    # Platform services.
    Case(
        "target-down", "ModelRegistryDown", {_series("up", MLFLOW_UP): "0x10"}, "10m", (MLFLOW_UP,)
    ),
    Case(
        "no-target",
        "ModelRegistryDown",
        {_series("up", FEAST_UP): "1x10"},
        "10m",
        ({"job": "mlflow", "namespace": "mlops"},),
    ),
    Case("target-up", "ModelRegistryDown", {_series("up", MLFLOW_UP): "1x10"}, "10m"),
    Case("down-briefly", "ModelRegistryDown", {_series("up", MLFLOW_UP): "1x7 0x3"}, "10m"),
    Case("target-down", "FeatureServerDown", {_series("up", FEAST_UP): "0x10"}, "10m", (FEAST_UP,)),
    Case(
        "no-target",
        "FeatureServerDown",
        {_series("up", MLFLOW_UP): "1x10"},
        "10m",
        ({"job": "feature-store", "namespace": "mlops"},),
    ),
    Case("target-up", "FeatureServerDown", {_series("up", FEAST_UP): "1x10"}, "10m"),
]


def _render(template: str, labels: Mapping[str, str]) -> str:
    def label(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in labels, f"annotation uses {name!r}, which the alert does not carry"
        return labels[name]

    return re.sub(r"{{ \$labels\.(\w+) }}", label, template)


def _test_file(case: Case, rule: dict[str, Any], *, expect: tuple[Mapping[str, str], ...]) -> str:
    exp_alerts = [
        {
            "exp_labels": {**labels, **rule["labels"]},
            "exp_annotations": {k: _render(v, labels) for k, v in rule["annotations"].items()},
        }
        for labels in expect
    ]
    document = {
        "rule_files": rule["files"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in case.series.items()],
                "alert_rule_test": [
                    {"eval_time": case.eval_time, "alertname": case.alert, "exp_alerts": exp_alerts}
                ],
            }
        ],
    }
    return yaml.safe_dump(document, sort_keys=False)


def _case_id(case: Case) -> str:
    return f"{case.alert}-{case.id}-{'fires' if case.fires else 'silent'}"


def test_every_alert_has_a_firing_and_a_silent_case() -> None:
    alerts = {
        rule["alert"] for _, rule in alert_rules(rule_groups(AlertThresholds(), include=ALL_RULES))
    }
    firing = {case.alert for case in CASES if case.fires}
    silent = {case.alert for case in CASES if not case.fires}
    assert firing == alerts
    assert silent == alerts


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_alert(promtool: str, tmp_path: Path, case: Case) -> None:
    alerts = _write_rules(tmp_path, case.thresholds)
    (tmp_path / "test.yaml").write_text(_test_file(case, alerts[case.alert], expect=case.fires))
    result = _run(promtool, "test", "rules", "test.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_a_wrong_expectation_fails(promtool: str, tmp_path: Path) -> None:
    """The harness can fail: claim the registry is down while its target is up."""
    alerts = _write_rules(tmp_path, AlertThresholds())
    healthy = next(c for c in CASES if c.alert == "ModelRegistryDown" and not c.fires)
    wrong = _test_file(healthy, alerts["ModelRegistryDown"], expect=(MLFLOW_UP,))
    (tmp_path / "test.yaml").write_text(wrong)
    result = _run(promtool, "test", "rules", "test.yaml", cwd=tmp_path)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "FAILED" in output
    assert "ModelRegistryDown" in output


# --- recording rules per serving source -----------------------------------------------------

RATE_4 = "0+240x40"  # 4 requests per second
RATE_3 = "0+180x40"
RATE_1 = "0+60x40"


def _sample(name: str, labels: Mapping[str, str], value: float) -> dict[str, Any]:
    return {"labels": _series(name, labels), "value": value}


def _expr_test(series: Mapping[str, str], checks: list[tuple[str, list[dict[str, Any]]]]) -> str:
    return yaml.safe_dump(
        {
            "rule_files": ["recording.yaml"],
            "evaluation_interval": "1m",
            "tests": [
                {
                    "interval": "1m",
                    "input_series": [{"series": s, "values": v} for s, v in series.items()],
                    "promql_expr_test": [
                        {"expr": expr, "eval_time": "30m", "exp_samples": samples}
                        for expr, samples in checks
                    ],
                }
            ],
        },
        sort_keys=False,
    )


SOURCES = {
    # BentoML: 4 req/s, 1 of them a 5xx; 3 within 1 s.
    "bentoml": (
        {
            _series("bentoml_service_request_total", BENTOML, http_response_code="200"): RATE_3,
            _series("bentoml_service_request_total", BENTOML, http_response_code="500"): RATE_1,
            _series("bentoml_service_request_duration_seconds_bucket", BENTOML, le="1.0"): RATE_3,
            _series("bentoml_service_request_duration_seconds_count", BENTOML): RATE_4,
        },
        SERVICE,
        True,
    ),
    # Knative (Go exporter spells the bound "1"): 4 req/s, 1 a 503; 3 within 1 s.
    "knative": (
        {
            **_knative_errors(RATE_3, RATE_1),
            _series("kn_serving_invocation_duration_seconds_bucket", KNATIVE, le="1"): RATE_3,
        },
        FRAUD,
        True,
    ),
    # KServe's model server: latency only, no status codes, so no error ratio.
    "kserve": (
        {
            _series("request_predict_seconds_bucket", KSERVE, le="1.0"): RATE_3,
            _series("request_predict_seconds_count", KSERVE): RATE_4,
        },
        SERVICE,
        False,
    ),
}


@pytest.mark.parametrize("source", SOURCES)
def test_serving_sli_recording_rules_per_source(promtool: str, tmp_path: Path, source: str) -> None:
    series, labels, has_status = SOURCES[source]
    _write_rules(tmp_path, AlertThresholds(serving_latency_p95_seconds=1.0))
    expected = {
        "mlops:serving_requests:rate5m": 4.0,
        "mlops:serving_slow_requests:ratio_rate5m": 0.25,
        "mlops:serving_request_errors:rate5m": 1.0,
        "mlops:serving_request_errors:ratio_rate5m": 0.25,
    }
    checks = [
        (name, [_sample(name, labels, value)] if has_status or "errors" not in name else [])
        for name, value in expected.items()
    ]
    (tmp_path / "test.yaml").write_text(_expr_test(series, checks))
    result = _run(promtool, "test", "rules", "test.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
