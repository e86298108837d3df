"""Where every metric the rules and dashboards read comes from.

``METRIC_SOURCES`` names the exporter (and version) behind each raw metric. ``metrics_used``
parses every rule and dashboard expression and returns the metrics they read, so a test can
require the two to agree: no expression reads an undocumented metric, and the catalogue lists
nothing unused. Names produced by the recording rules are not raw metrics; they are checked
against the recording rules instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Final

from ._dashboards import DASHBOARDS, dashboard_queries, dashboards
from ._rules import (
    COST_ALLOCATION_LABELS,
    RULE_FILES,
    kube_state_metrics_label,
    recorded_names,
    rule_groups,
)
from ._thresholds import AlertThresholds

__all__ = [
    "COST_ALLOCATION_LABELS",
    "KUBE_STATE_METRICS_LABELS_ALLOWLIST",
    "METRIC_SOURCES",
    "REFERENCE_APP_METRICS",
    "catalogue_markdown",
    "catalogue_problems",
    "kube_state_metrics_label",
    "metric_names",
    "metrics_used",
]

# kube-state-metrics ``--metric-labels-allowlist`` entry (chart value metricLabelsAllowlist).
KUBE_STATE_METRICS_LABELS_ALLOWLIST: Final = f"pods=[{','.join(COST_ALLOCATION_LABELS)}]"

_REFERENCE_APP: Final = "reference application drift monitor (reference-app)"

# The contract the reference application's drift monitor implements (gauges it sets after each
# evaluation), documented here because the drift alerts and dashboard read them.
REFERENCE_APP_METRICS: Final[Mapping[str, str]] = {
    "mlops_feature_drift_score": "gauge 0..1 per feature; labels model, feature",
    "mlops_dataset_drift_share": "gauge 0..1, share of drifted features; labels model",
    "mlops_model_quality_score": (
        "gauge 0..1, higher is better (e.g. accuracy, roc_auc); labels model, metric"
    ),
}

_BENTOML: Final = (
    "BentoML 1.4 default service metric (namespace bentoml_service; labels endpoint, "
    "service_name, service_version, http_response_code), scraped by the InferenceEndpoint "
    "ServiceMonitor"
)
_KNATIVE: Final = (
    "Knative Serving queue-proxy (OpenTelemetry metrics, Knative 1.20 and later; port 9091 with "
    "config-observability request-metrics-protocol=prometheus; labels k8s_namespace_name, "
    "kn_service_name, kn_revision_name, http_response_status_code), Serverless mode only"
)
_KSERVE: Final = (
    "KServe Python model server v0.20 (kserve/sklearnserver, kserve/xgbserver; histogram, "
    "label model_name), scraped by the InferenceEndpoint ServiceMonitor"
)
_DCGM: Final = (
    "NVIDIA dcgm-exporter 4.8 default counters (labels gpu, UUID, modelName, Hostname; pod and "
    "namespace of the GPU's workload with the ServiceMonitor's honorLabels)"
)
_NEURON: Final = (
    "AWS neuron-monitor Prometheus exporter (neuron-monitor-prometheus.py; labels instance_id, "
    "instance_type, availability_zone, region)"
)
_OPENCOST: Final = "OpenCost 1.120 cost exporter (labels node, instance_type; honorLabels)"

METRIC_SOURCES: Final[Mapping[str, str]] = {
    # Serving runtimes.
    "bentoml_service_request_total": f"{_BENTOML}; counter",
    "bentoml_service_request_duration_seconds_bucket": f"{_BENTOML}; histogram buckets",
    "bentoml_service_request_duration_seconds_count": f"{_BENTOML}; histogram count",
    "bentoml_service_request_in_progress": f"{_BENTOML}; gauge",
    "kn_serving_invocation_duration_seconds_bucket": (
        f"{_KNATIVE}; kn.serving.invocation.duration histogram buckets (seconds)"
    ),
    "kn_serving_invocation_duration_seconds_count": (
        f"{_KNATIVE}; kn.serving.invocation.duration histogram count"
    ),
    "kn_serving_queue_depth": f"{_KNATIVE}; kn.serving.queue.depth gauge",
    "request_predict_seconds_bucket": f"{_KSERVE}; predict latency buckets",
    "request_predict_seconds_count": f"{_KSERVE}; predict request count",
    "request_preprocess_seconds_bucket": f"{_KSERVE}; pre-processing latency buckets",
    "request_postprocess_seconds_bucket": f"{_KSERVE}; post-processing latency buckets",
    # Accelerators.
    "DCGM_FI_DEV_GPU_UTIL": f"{_DCGM}; GPU utilisation, gauge in %",
    "DCGM_FI_DEV_FB_USED": f"{_DCGM}; framebuffer memory used, gauge in MiB",
    "DCGM_FI_DEV_FB_FREE": f"{_DCGM}; framebuffer memory free, gauge in MiB",
    "DCGM_FI_DEV_XID_ERRORS": f"{_DCGM}; last XID error code, gauge",
    "DCGM_FI_DEV_POWER_USAGE": f"{_DCGM}; power draw, gauge in W",
    "DCGM_FI_DEV_GPU_TEMP": f"{_DCGM}; GPU temperature, gauge in C",
    "neuroncore_utilization_ratio": f"{_NEURON}; per NeuronCore in use (label neuroncore), 0..1",
    "neuron_runtime_memory_used_bytes": (
        f"{_NEURON}; runtime memory, label memory_location (host, neuron_device)"
    ),
    "execution_errors_total": f"{_NEURON}; failed executions, counter, label error_type",
    # Reference application.
    **{name: f"{_REFERENCE_APP}; {shape}" for name, shape in REFERENCE_APP_METRICS.items()},
    # Pipelines.
    "argo_workflows_total_count": (
        "Argo Workflows controller 3.6 and later, as deployed by Kubeflow Pipelines 2.17; "
        "counter of workflows entering each phase, labels namespace, phase"
    ),
    # Platform.
    "up": "Prometheus scrape health of every target (1 scraped, 0 failed)",
    "ALERTS": "Prometheus rule manager: one series per pending or firing alert",
    # Cost.
    "node_total_hourly_cost": f"{_OPENCOST}; total node price per hour",
    "node_cpu_hourly_cost": f"{_OPENCOST}; price per vCPU-hour of a node",
    "node_ram_hourly_cost": f"{_OPENCOST}; price per GiB-hour of a node's memory",
    "node_gpu_hourly_cost": f"{_OPENCOST}; price per GPU-hour of a node",
    "container_cpu_allocation": f"{_OPENCOST}; vCPUs allocated (max of request and usage)",
    "container_memory_allocation_bytes": f"{_OPENCOST}; memory allocated in bytes",
    "container_gpu_allocation": f"{_OPENCOST}; GPUs allocated",
    "kube_pod_labels": (
        "kube-state-metrics (kube-prometheus-stack), with metricLabelsAllowlist "
        f"{KUBE_STATE_METRICS_LABELS_ALLOWLIST}: labels "
        + ", ".join(kube_state_metrics_label(k) for k in COST_ALLOCATION_LABELS)
    ),
}

# PromQL words that look like identifiers but are not metrics.
_KEYWORDS: Final = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right"}
    | {"offset", "bool", "inf", "nan", "atan2"}
)
_LABEL_LIST_KEYWORDS: Final = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right"}
)
_AGGREGATIONS: Final = frozenset(
    {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values"}
    | {"bottomk", "topk", "quantile", "limitk", "limit_ratio"}
)
_IDENT_START: Final = re.compile(r"[A-Za-z_:]")
_IDENT: Final = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_WORD: Final = re.compile(r"[A-Za-z0-9_.]+")


def _skip_string(text: str, i: int) -> int:
    quote = text[i]
    i += 1
    while i < len(text):
        if text[i] == "\\" and quote != "`":
            i += 2
            continue
        if text[i] == quote:
            return i + 1
        i += 1
    raise ValueError(f"unterminated string in {text!r}")


def _skip_group(text: str, i: int, close: str) -> int:
    """From an opening bracket at ``i``, the index after its closing ``close``."""
    i += 1
    while i < len(text):
        char = text[i]
        if char in "\"'`":
            i = _skip_string(text, i)
            continue
        if char == close:
            return i + 1
        i += 1
    raise ValueError(f"unbalanced {close!r} in {text!r}")


def _next_char(text: str, i: int) -> str:
    while i < len(text) and text[i].isspace():
        i += 1
    return text[i] if i < len(text) else ""


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression reads.

    Skips strings, label matchers (``{...}``), ranges (``[...]``), label lists after
    ``by``/``without``/``on``/``ignoring``/``group_left``/``group_right``, function and
    aggregation names, keywords, numbers, durations and Grafana variables.
    """
    names: set[str] = set()
    i = 0
    while i < len(expr):
        char = expr[i]
        if char.isspace():
            i += 1
        elif char in "\"'`":
            i = _skip_string(expr, i)
        elif char == "{":
            i = _skip_group(expr, i, "}")
        elif char == "[":
            i = _skip_group(expr, i, "]")
        elif char == "#":
            end = expr.find("\n", i)
            i = len(expr) if end < 0 else end
        elif char == "$":
            i += 1
            if i < len(expr) and expr[i] == "{":
                i = _skip_group(expr, i, "}")
            else:
                match = _WORD.match(expr, i)
                i = match.end() if match else i
        elif _IDENT_START.match(char):
            match = _IDENT.match(expr, i)
            assert match is not None
            word = match.group()
            i = match.end()
            following = _next_char(expr, i)
            lower = word.lower()
            if lower in _LABEL_LIST_KEYWORDS:
                if following == "(":
                    i = _skip_group(expr, expr.index("(", i), ")")
            elif lower in _KEYWORDS or lower in _AGGREGATIONS or following == "(":
                continue
            else:
                names.add(word)
        elif char.isdigit() or char == ".":
            match = _WORD.match(expr, i)
            assert match is not None
            i = match.end()
        else:
            i += 1
    return names


def metrics_used() -> dict[str, set[str]]:
    """Every raw metric any rule or dashboard reads -> where (``rules/<file>/<rule>`` or
    ``dashboards/<file>/<panel or variable>``). Recording-rule outputs are left out."""
    files = rule_groups(AlertThresholds(), include=frozenset(RULE_FILES))
    places: list[tuple[str, str]] = []
    for file, groups in files.items():
        for group in groups:
            for rule in group["rules"]:
                name = rule.get("alert") or rule["record"]
                places.append((f"rules/{file}/{name}", rule["expr"]))
    for file, board in dashboards(frozenset(DASHBOARDS)).items():
        for where, query in dashboard_queries(board):
            places.append((f"dashboards/{file}/{where}", query))
    return _collect(places, recorded=recorded_names(files))


def _collect(places: Iterable[tuple[str, str]], *, recorded: set[str]) -> dict[str, set[str]]:
    used: dict[str, set[str]] = {}
    for where, expr in places:
        for name in metric_names(expr) - recorded:
            used.setdefault(name, set()).add(where)
    return used


def catalogue_problems(
    used: Mapping[str, set[str]], sources: Mapping[str, str] = METRIC_SOURCES
) -> list[str]:
    """Disagreements between the metrics used and the catalogue, one sentence each."""
    problems = [
        f"{name} is read by {', '.join(sorted(where))} but has no entry in METRIC_SOURCES"
        for name, where in sorted(used.items())
        if name not in sources
    ]
    problems += [
        f"METRIC_SOURCES lists {name}, which no rule or dashboard reads"
        for name in sorted(sources)
        if name not in used
    ]
    return problems


def catalogue_markdown(sources: Mapping[str, str] = METRIC_SOURCES) -> str:
    """The catalogue as a Markdown table (the README's "Metric catalogue" section)."""
    rows = ["| Metric | Source |", "| --- | --- |"]
    rows += [f"| `{name}` | {sources[name]} |" for name in sorted(sources, key=str.lower)]
    return "\n".join(rows) + "\n"
