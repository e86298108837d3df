"""Prometheus alerting and recording rules for the platform, as rule-file data.

``rule_groups`` returns, per rule file, the ``groups`` list of a Prometheus rule file (the same
shape as a PrometheusRule's ``spec.groups``). Every alert carries a ``severity`` label and
``summary``, ``description`` and ``runbook_url`` annotations; annotation templates only use
``{{ $labels.<name> }}``, so the rendered text is predictable and testable.

Serving SLOs follow the multiwindow, multi-burn-rate pattern: an alert fires when the error
(or slow-request) ratio burns the 30-day budget 14.4 times too fast over both 1h and 5m
(critical), or 6 times too fast over both 6h and 30m (warning). The ratios are recording rules
(``mlops:serving_*``) that unify the three request sources the serving runtimes export and
that the dashboards reuse.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from mlops_blueprints.errors import BlueprintConfigError

from ..cost._plan import LEVEL_LABEL, MODEL_LABEL, TEAM_LABEL
from ._thresholds import AlertThresholds

__all__ = [
    "COST_ALLOCATION_LABELS",
    "DEFAULT_RUNBOOK_URL",
    "FEATURE_SERVER_JOB",
    "MODEL_REGISTRY_JOB",
    "PLATFORM_NAMESPACE",
    "RULE_FILES",
    "SLI_WINDOWS",
    "alert_rules",
    "kube_state_metrics_label",
    "recorded_names",
    "rule_groups",
    "runbook_anchor",
]

RULE_FILES: Final[tuple[str, ...]] = (
    "recording",
    "serving",
    "gpu",
    "neuron",
    "drift",
    "pipelines",
    "platform",
    "feature-store",
)
# Alert files whose expressions read recording rules; they need "recording" alongside.
_NEEDS_RECORDING: Final = frozenset({"serving"})

# The platform namespace and the Services Prometheus scrapes there. With a ServiceMonitor the
# ``job`` label is the scraped Service's name: the MLflow release "mlflow" and the feature
# server Service, named after the FeatureStore component ("feature-store").
PLATFORM_NAMESPACE: Final = "mlops"
MODEL_REGISTRY_JOB: Final = "mlflow"
FEATURE_SERVER_JOB: Final = "feature-store"

DEFAULT_RUNBOOK_URL: Final = "docs/runbooks.md"

SLI_WINDOWS: Final[tuple[str, ...]] = ("5m", "30m", "1h", "6h")
_LATENCY_OBJECTIVE: Final = 0.95  # the "p95" of serving_latency_p95_seconds
_SLO_PERIOD_DAYS: Final = 30

# BentoML counts its own health and metrics endpoints too; they are not inference traffic.
_BENTOML_API: Final = 'endpoint!~"/(livez|readyz|healthz|metrics)"'


@dataclass(frozen=True)
class _BurnWindow:
    speed: str
    long: str
    short: str
    factor: float
    severity: str
    for_: str


# Google SRE workbook, "Alerting on SLOs": 2 % of a 30-day budget in 1 hour, 5 % in 6 hours.
_BURN_WINDOWS: Final[tuple[_BurnWindow, ...]] = (
    _BurnWindow("Fast", "1h", "5m", 14.4, "critical", "2m"),
    _BurnWindow("Slow", "6h", "30m", 6.0, "warning", "15m"),
)


def runbook_anchor(alert: str) -> str:
    """The runbook section anchor of an alert: its name in lower case."""
    return alert.lower()


def _num(value: float) -> str:
    """A threshold as PromQL text: short, exact enough, never scientific for our ranges."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text or "0"


def _le_matcher(bound: float) -> str:
    """Match a histogram bucket bound however the exporter spells it ("1" or "1.0")."""
    spellings = sorted({repr(float(bound)), f"{bound:g}"})
    return 'le=~"' + "|".join(s.replace(".", "\\\\.") for s in spellings) + '"'


def _sum_by_service(expr: str, *extra: str) -> str:
    labels = ", ".join(("namespace", "service", *extra))
    return f"sum by ({labels}) ({expr})"


def _knative_by_service(expr: str, *extra: str) -> str:
    """Knative's OpenTelemetry labels (k8s_namespace_name, kn_service_name) as namespace/service."""
    relabelled = (
        f'label_replace(label_replace({expr}, "namespace", "$1", "k8s_namespace_name", "(.*)"), '
        '"service", "$1", "kn_service_name", "(.*)")'
    )
    return _sum_by_service(relabelled, *extra)


def _first_of(*sources: str) -> str:
    """Per (namespace, service), the first source that has data (a runtime exports one)."""
    return " or ".join(f"({s})" for s in sources)


def _requests(window: str) -> str:
    return _first_of(
        _sum_by_service(f"rate(bentoml_service_request_total{{{_BENTOML_API}}}[{window}])"),
        _knative_by_service(f"rate(kn_serving_invocation_duration_seconds_count[{window}])"),
        _sum_by_service(f"rate(request_predict_seconds_count[{window}])"),
    )


def _errors(window: str) -> str:
    # "or 0 * total" keeps a zero error rate for services that never failed, so the ratio
    # exists (and reads 0) instead of having no data.
    bentoml_total = _sum_by_service(
        f"rate(bentoml_service_request_total{{{_BENTOML_API}}}[{window}])"
    )
    bentoml_5xx = _sum_by_service(
        "rate(bentoml_service_request_total"
        f'{{{_BENTOML_API}, http_response_code=~"5.."}}[{window}])'
    )
    knative_total = _knative_by_service(
        f"rate(kn_serving_invocation_duration_seconds_count[{window}])"
    )
    knative_5xx = _knative_by_service(
        "rate(kn_serving_invocation_duration_seconds_count"
        f'{{http_response_status_code=~"5.."}}[{window}])'
    )
    return _first_of(
        f"{bentoml_5xx} or 0 * {bentoml_total}",
        f"{knative_5xx} or 0 * {knative_total}",
    )


def _slow_ratio(window: str, bound: float) -> str:
    le = _le_matcher(bound)

    def ratio(good: str, total: str) -> str:
        return f"1 - ({good} / {total})"

    return _first_of(
        ratio(
            _sum_by_service(
                "rate(bentoml_service_request_duration_seconds_bucket"
                f"{{{_BENTOML_API}, {le}}}[{window}])"
            ),
            _sum_by_service(
                f"rate(bentoml_service_request_duration_seconds_count{{{_BENTOML_API}}}[{window}])"
            ),
        ),
        ratio(
            _knative_by_service(
                f"rate(kn_serving_invocation_duration_seconds_bucket{{{le}}}[{window}])"
            ),
            _knative_by_service(f"rate(kn_serving_invocation_duration_seconds_count[{window}])"),
        ),
        ratio(
            _sum_by_service(f"rate(request_predict_seconds_bucket{{{le}}}[{window}])"),
            _sum_by_service(f"rate(request_predict_seconds_count[{window}])"),
        ),
    )


def _p95(window: str) -> str:
    return _first_of(
        "histogram_quantile(0.95, "
        + _sum_by_service(
            f"rate(bentoml_service_request_duration_seconds_bucket{{{_BENTOML_API}}}[{window}])",
            "le",
        )
        + ")",
        "histogram_quantile(0.95, "
        + _knative_by_service(
            f"rate(kn_serving_invocation_duration_seconds_bucket[{window}])", "le"
        )
        + ")",
        "histogram_quantile(0.95, "
        + _sum_by_service(f"rate(request_predict_seconds_bucket[{window}])", "le")
        + ")",
    )


# Workload labels the platform sets for cost allocation. kube-state-metrics exports them on
# kube_pod_labels only when allowlisted (chart value metricLabelsAllowlist).
COST_ALLOCATION_LABELS: Final[tuple[str, ...]] = (
    TEAM_LABEL,
    MODEL_LABEL,
    LEVEL_LABEL,
)
_INVALID_LABEL_CHARS: Final = re.compile(r"[^a-zA-Z0-9_]")


def kube_state_metrics_label(key: str) -> str:
    """The Prometheus label kube-state-metrics gives a Kubernetes label key.

    kube-state-metrics prefixes ``label_`` and replaces every character outside
    ``[a-zA-Z0-9_]`` with ``_``: ``mlops-blueprints.io/team`` -> ``label_mlops_blueprints_io_team``.
    """
    return "label_" + _INVALID_LABEL_CHARS.sub("_", key)


# Cost allocation from OpenCost's allocation and node price metrics, joined to the workload
# labels kube-state-metrics exports (label_mlops_blueprints_io_team, ..._model, ..._level).
_COST_LABELS: Final = tuple(kube_state_metrics_label(k) for k in COST_ALLOCATION_LABELS)
_GIB: Final = 1024**3


def _pod_cost() -> str:
    def resource(allocation: str, price: str, name: str) -> str:
        cost = _sum_by_pod(f"{allocation} * on (node) group_left () max by (node) ({price})")
        return f'label_replace({cost}, "resource", "{name}", "", "")'

    return _first_of(
        resource("container_cpu_allocation", "node_cpu_hourly_cost", "cpu"),
        resource(f"container_memory_allocation_bytes / {_GIB}", "node_ram_hourly_cost", "memory"),
        resource("container_gpu_allocation", "node_gpu_hourly_cost", "gpu"),
    )


def _sum_by_pod(expr: str) -> str:
    return f"sum by (namespace, pod) ({expr})"


def _workload_cost() -> str:
    labels = ", ".join(_COST_LABELS)
    return (
        "sum by (namespace, pod) (mlops:pod_cost_hourly:sum)"
        f" * on (namespace, pod) group_left ({labels})"
        f" max by (namespace, pod, {labels}) (kube_pod_labels)"
    )


def _recording(t: AlertThresholds) -> list[dict[str, Any]]:
    sli: list[dict[str, Any]] = []
    for window in SLI_WINDOWS:
        sli += [
            {"record": f"mlops:serving_requests:rate{window}", "expr": _requests(window)},
            {"record": f"mlops:serving_request_errors:rate{window}", "expr": _errors(window)},
            {
                "record": f"mlops:serving_request_errors:ratio_rate{window}",
                "expr": (
                    f"mlops:serving_request_errors:rate{window}"
                    f" / mlops:serving_requests:rate{window}"
                ),
            },
            {
                "record": f"mlops:serving_slow_requests:ratio_rate{window}",
                "expr": _slow_ratio(window, t.serving_latency_p95_seconds),
            },
        ]
    sli.append({"record": "mlops:serving_latency_seconds:p95_rate5m", "expr": _p95("5m")})
    objectives = [
        {
            "record": "mlops:serving_availability:objective",
            "expr": f"vector({_num(t.serving_availability_slo)})",
        },
        {
            "record": "mlops:serving_latency:objective",
            "expr": f"vector({_num(_LATENCY_OBJECTIVE)})",
        },
        {
            "record": "mlops:serving_latency_threshold:seconds",
            "expr": f"vector({_num(t.serving_latency_p95_seconds)})",
        },
    ]
    cost = [
        {"record": "mlops:pod_cost_hourly:sum", "expr": _pod_cost()},
        {"record": "mlops:workload_cost_hourly:sum", "expr": _workload_cost()},
        {"record": "mlops:cluster_cost_hourly:sum", "expr": "sum(node_total_hourly_cost)"},
    ]
    return [
        {"name": "mlops-serving-sli", "rules": sli},
        {"name": "mlops-slo-objectives", "rules": objectives},
        {"name": "mlops-cost-allocation", "rules": cost},
    ]


def _alert(
    name: str,
    expr: str,
    *,
    severity: str,
    summary: str,
    description: str,
    runbook_url: str,
    for_: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    rule: dict[str, Any] = {"alert": name, "expr": expr}
    if for_ is not None:
        rule["for"] = for_
    rule["labels"] = {"severity": severity, **(labels or {})}
    rule["annotations"] = {
        "summary": summary,
        "description": description,
        "runbook_url": f"{runbook_url}#{runbook_anchor(name)}",
    }
    return rule


def _serving(t: AlertThresholds, runbook_url: str) -> list[dict[str, Any]]:
    target = "{{ $labels.service }} in {{ $labels.namespace }}"
    budgets = (
        (
            "Error",
            "mlops:serving_request_errors:ratio_rate",
            t.serving_error_budget,
            "availability",
            "of requests failed with a 5xx",
            f"{_num(t.serving_availability_slo * 100)} % availability objective",
        ),
        (
            "Latency",
            "mlops:serving_slow_requests:ratio_rate",
            1.0 - _LATENCY_OBJECTIVE,
            "latency",
            f"of requests took longer than {_num(t.serving_latency_p95_seconds)} s",
            f"objective of 95 % of requests within {_num(t.serving_latency_p95_seconds)} s",
        ),
    )
    rules = []
    for kind, ratio, budget, slo, what, objective in budgets:
        for w in _BURN_WINDOWS:
            threshold = w.factor * budget
            days = _SLO_PERIOD_DAYS / w.factor
            rules.append(
                _alert(
                    f"ModelServing{kind}Budget{w.speed}Burn",
                    f"{ratio}{w.long} > {_num(threshold)} and {ratio}{w.short} > {_num(threshold)}",
                    for_=w.for_,
                    severity=w.severity,
                    labels={"slo": slo},
                    summary=f"{target} burns its {slo} error budget {w.factor:g}x too fast",
                    description=(
                        f"More than {_num(threshold * 100)} % {what} over both the last "
                        f"{w.long} and the last {w.short} ({w.factor:g} times the budget of the "
                        f"{objective}). At this rate the 30-day budget is spent in about "
                        f"{days:.3g} days."
                    ),
                    runbook_url=runbook_url,
                )
            )
    return [{"name": "mlops-serving-slo", "rules": rules}]


def _gpu(t: AlertThresholds, runbook_url: str) -> list[dict[str, Any]]:
    gpu = "GPU {{ $labels.gpu }} ({{ $labels.modelName }}) on {{ $labels.Hostname }}"
    return [
        {
            "name": "mlops-gpu",
            "rules": [
                _alert(
                    "GPUUnderutilised",
                    "avg_over_time(DCGM_FI_DEV_GPU_UTIL[1h]) < "
                    f"{_num(t.gpu_utilisation_low_percent)}",
                    for_="30m",
                    severity="info",
                    summary=f"{gpu} is mostly idle",
                    description=(
                        f"{gpu} averaged under {_num(t.gpu_utilisation_low_percent)} % "
                        "utilisation for the last hour. The node is paid for by the hour: "
                        "pack more work onto it, use a smaller GPU, or let it scale down."
                    ),
                    runbook_url=runbook_url,
                ),
                _alert(
                    "GPUIdle",
                    "max_over_time(DCGM_FI_DEV_GPU_UTIL[1h]) < 1",
                    for_="15m",
                    severity="warning",
                    summary=f"{gpu} has done no work for an hour",
                    description=(
                        f"{gpu} stayed below 1 % utilisation for over an hour, "
                        "so a GPU node is running for nothing."
                    ),
                    runbook_url=runbook_url,
                ),
                _alert(
                    "GPUMemoryPressure",
                    "DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE) > "
                    f"{_num(t.gpu_memory_pressure_ratio)}",
                    for_="15m",
                    severity="warning",
                    summary=f"{gpu} is close to running out of memory",
                    description=(
                        f"More than {_num(t.gpu_memory_pressure_ratio * 100)} % of the "
                        f"framebuffer memory of {gpu} has been in use for 15 minutes; the next "
                        "allocation may fail with CUDA out-of-memory."
                    ),
                    runbook_url=runbook_url,
                ),
                _alert(
                    "GPUXidError",
                    "max_over_time(DCGM_FI_DEV_XID_ERRORS[10m]) > 0",
                    severity="warning",
                    summary=f"{gpu} reported an XID error",
                    description=(
                        f"The driver reported an XID error on {gpu} in the last 10 minutes. "
                        "The metric value is the XID code; some codes mean the GPU needs a "
                        "reset or the node a replacement."
                    ),
                    runbook_url=runbook_url,
                ),
            ],
        }
    ]


def _neuron(t: AlertThresholds, runbook_url: str) -> list[dict[str, Any]]:
    core = "NeuronCore {{ $labels.neuroncore }} on {{ $labels.instance_id }}"
    return [
        {
            "name": "mlops-neuron",
            "rules": [
                _alert(
                    "NeuronCoreUnderutilised",
                    "avg_over_time(neuroncore_utilization_ratio[1h]) < "
                    f"{_num(t.neuron_utilisation_low_percent / 100)}",
                    for_="30m",
                    severity="info",
                    summary=f"{core} is mostly idle",
                    description=(
                        f"{core} is held by a Neuron runtime but averaged under "
                        f"{_num(t.neuron_utilisation_low_percent)} % utilisation for the last "
                        "hour. Batch more requests per core or use fewer cores."
                    ),
                    runbook_url=runbook_url,
                ),
                _alert(
                    "NeuronExecutionErrors",
                    "increase(execution_errors_total[10m]) > 0",
                    severity="warning",
                    summary=(
                        "Neuron runtime on {{ $labels.instance_id }} reports "
                        "{{ $labels.error_type }} execution errors"
                    ),
                    description=(
                        "Inferences on {{ $labels.instance_id }} failed with "
                        "{{ $labels.error_type }} errors in the last 10 minutes."
                    ),
                    runbook_url=runbook_url,
                ),
            ],
        }
    ]


def _drift(t: AlertThresholds, runbook_url: str) -> list[dict[str, Any]]:
    persist = f"{t.drift_for_minutes}m"
    return [
        {
            "name": "mlops-drift",
            "rules": [
                _alert(
                    "FeatureDriftDetected",
                    "max by (namespace, model, feature) (mlops_feature_drift_score) > "
                    f"{_num(t.drift_score)}",
                    for_=persist,
                    severity="warning",
                    summary=(
                        "Feature {{ $labels.feature }} of model {{ $labels.model }} has drifted"
                    ),
                    description=(
                        "The drift score of feature {{ $labels.feature }} (model "
                        f"{{{{ $labels.model }}}}) has stayed above {_num(t.drift_score)} for "
                        f"{t.drift_for_minutes} minutes: live inputs no longer look like the "
                        "training data."
                    ),
                    runbook_url=runbook_url,
                ),
                _alert(
                    "DatasetDriftDetected",
                    "max by (namespace, model) (mlops_dataset_drift_share) > "
                    f"{_num(t.dataset_drift_share)}",
                    for_=persist,
                    severity="warning",
                    summary="Inputs of model {{ $labels.model }} have drifted",
                    description=(
                        "More than "
                        f"{_num(t.dataset_drift_share * 100)} % of the features of model "
                        "{{ $labels.model }} have drifted for "
                        f"{t.drift_for_minutes} minutes; retraining is probably due."
                    ),
                    runbook_url=runbook_url,
                ),
                _alert(
                    "ModelQualityDegraded",
                    "min by (namespace, model, metric) (mlops_model_quality_score) < "
                    f"{_num(t.model_quality_min_score)}",
                    for_=persist,
                    severity="warning",
                    summary="Model {{ $labels.model }} scores low on {{ $labels.metric }}",
                    description=(
                        "The {{ $labels.metric }} score of model {{ $labels.model }} has stayed "
                        f"below {_num(t.model_quality_min_score)} for {t.drift_for_minutes} "
                        "minutes."
                    ),
                    runbook_url=runbook_url,
                ),
            ],
        }
    ]


def _pipelines(t: AlertThresholds, runbook_url: str) -> list[dict[str, Any]]:
    window = f"{t.pipeline_failure_window_minutes}m"
    failed = 'argo_workflows_total_count{phase=~"Failed|Error"}'
    # increase() misses a counter series that first appears inside the window (its first
    # sample already counts the failure), so such series count with their whole value.
    failures = (
        f"sum without (instance, pod, phase) ("
        f"(increase({failed}[{window}]) and {failed} offset {window})"
        f" or ({failed} unless {failed} offset {window}))"
    )
    return [
        {
            "name": "mlops-pipelines",
            "rules": [
                _alert(
                    "PipelineRunsFailing",
                    f"{failures} >= {t.pipeline_failures}",
                    severity="warning",
                    summary="Pipeline runs are failing",
                    description=(
                        f"At least {t.pipeline_failures} pipeline run(s) ended Failed or Error "
                        f"in the last {t.pipeline_failure_window_minutes} minutes (Argo "
                        "Workflows controller, which runs Kubeflow Pipelines)."
                    ),
                    runbook_url=runbook_url,
                )
            ],
        }
    ]


def _target_down(name: str, job: str, what: str, runbook_url: str, *, group: str) -> dict[str, Any]:
    selector = f'up{{job="{job}", namespace="{PLATFORM_NAMESPACE}"}}'
    return {
        "name": group,
        "rules": [
            _alert(
                name,
                f"{selector} == 0 or absent({selector})",
                for_="5m",
                severity="critical",
                summary=f"{what} is down",
                description=(
                    f"Prometheus has not scraped the {what} (job {job} in namespace "
                    f"{PLATFORM_NAMESPACE}) for 5 minutes: the target is down, or it has no "
                    "target at all."
                ),
                runbook_url=runbook_url,
            )
        ],
    }


def _platform(_: AlertThresholds, runbook_url: str) -> list[dict[str, Any]]:
    return [
        _target_down(
            "ModelRegistryDown",
            MODEL_REGISTRY_JOB,
            "model registry (MLflow)",
            runbook_url,
            group="mlops-platform",
        )
    ]


def _feature_store(_: AlertThresholds, runbook_url: str) -> list[dict[str, Any]]:
    return [
        _target_down(
            "FeatureServerDown",
            FEATURE_SERVER_JOB,
            "feature server (Feast)",
            runbook_url,
            group="mlops-feature-store",
        )
    ]


_BUILDERS: Final = {
    "serving": _serving,
    "gpu": _gpu,
    "neuron": _neuron,
    "drift": _drift,
    "pipelines": _pipelines,
    "platform": _platform,
    "feature-store": _feature_store,
}


def rule_groups(
    thresholds: AlertThresholds,
    *,
    include: frozenset[str],
    runbook_url: str = DEFAULT_RUNBOOK_URL,
) -> dict[str, list[dict[str, Any]]]:
    """Rule groups per rule file, for the files in ``include`` (in ``RULE_FILES`` order).

    ``runbook_url`` is where ``docs/runbooks.md`` is published; each alert links to its
    section (``<runbook_url>#<alert name in lower case>``).
    """
    if not isinstance(thresholds, AlertThresholds):
        raise BlueprintConfigError(
            "thresholds", thresholds, "Pass an AlertThresholds (AlertThresholds() for defaults)."
        )
    unknown = sorted(str(name) for name in include if name not in RULE_FILES)
    if unknown:
        raise BlueprintConfigError(
            "include", unknown, f"Choose rule files from: {', '.join(RULE_FILES)}."
        )
    missing = sorted(n for n in include if n in _NEEDS_RECORDING and "recording" not in include)
    if missing:
        raise BlueprintConfigError(
            "include",
            sorted(include),
            f"Add 'recording': the {', '.join(missing)} alerts read its recording rules.",
        )
    if not runbook_url:
        raise BlueprintConfigError(
            "runbook_url", runbook_url, "Use the URL where docs/runbooks.md is published."
        )
    files: dict[str, list[dict[str, Any]]] = {}
    for name in RULE_FILES:
        if name not in include:
            continue
        if name == "recording":
            files[name] = _recording(thresholds)
        else:
            files[name] = _BUILDERS[name](thresholds, runbook_url)
    return files


def alert_rules(files: Mapping[str, list[dict[str, Any]]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every alerting rule as (rule file, rule)."""
    for file, groups in files.items():
        for group in groups:
            for rule in group["rules"]:
                if "alert" in rule:
                    yield file, rule


def recorded_names(files: Mapping[str, list[dict[str, Any]]]) -> set[str]:
    """Names the recording rules in ``files`` produce."""
    return {
        rule["record"]
        for groups in files.values()
        for group in groups
        for rule in group["rules"]
        if "record" in rule
    }
