"""Grafana dashboards (JSON models) for serving, accelerators, drift and cost.

Every dashboard has a stable ``uid``, reads Prometheus through a ``${datasource}`` template
variable, and builds on the recording rules of ``_rules`` (the ``mlops:*`` series) where a
query would otherwise repeat the SLI or cost arithmetic. Thresholds are not baked in: SLO
objectives come from the ``mlops:*:objective`` recording rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from mlops_blueprints.errors import BlueprintConfigError

from ._rules import COST_ALLOCATION_LABELS, kube_state_metrics_label

__all__ = [
    "DASHBOARDS",
    "DASHBOARD_UIDS",
    "SCHEMA_VERSION",
    "dashboard_queries",
    "dashboards",
]

DASHBOARDS: Final[tuple[str, ...]] = (
    "model-serving",
    "gpu-accelerators",
    "drift-model-quality",
    "cost",
)
DASHBOARD_UIDS: Final[dict[str, str]] = {name: f"mlops-{name}" for name in DASHBOARDS}
SCHEMA_VERSION: Final = 39
_TAGS: Final = ("mlops-blueprints",)
_DATASOURCE: Final = {"type": "prometheus", "uid": "${datasource}"}
_WIDTH: Final = 12
_HEIGHT: Final = 8


@dataclass(frozen=True)
class _Target:
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class _Panel:
    title: str
    targets: Sequence[_Target]
    unit: str = "short"
    kind: str = "timeseries"
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict)


def _q(expr: str, legend: str = "") -> tuple[_Target, ...]:
    return (_Target(expr, legend),)


def _datasource_variable() -> dict[str, Any]:
    return {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "refresh": 1,
        "regex": "",
        "options": [],
    }


def _query_variable(name: str, label: str, query: str) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": dict(_DATASOURCE),
        "definition": query,
        "query": {"query": query, "refId": f"{name}-values"},
        "refresh": 2,
        "includeAll": True,
        "allValue": ".*",
        "multi": True,
        "current": {},
        "sort": 1,
        "hide": 0,
        "options": [],
        "regex": "",
    }


def _panel_json(panel: _Panel, panel_id: int) -> dict[str, Any]:
    index = panel_id - 1
    body: dict[str, Any] = {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "datasource": dict(_DATASOURCE),
        "gridPos": {
            "x": (index % 2) * _WIDTH,
            "y": (index // 2) * _HEIGHT,
            "w": _WIDTH,
            "h": _HEIGHT,
        },
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "options": dict(panel.options),
        "targets": [
            {
                "refId": chr(ord("A") + n),
                "datasource": dict(_DATASOURCE),
                "expr": target.expr,
                "legendFormat": target.legend,
                "range": True,
            }
            for n, target in enumerate(panel.targets)
        ],
    }
    if panel.description:
        body["description"] = panel.description
    return body


def _dashboard(
    name: str, title: str, description: str, variables: list[dict[str, Any]], panels: list[_Panel]
) -> dict[str, Any]:
    return {
        "uid": DASHBOARD_UIDS[name],
        "title": title,
        "description": description,
        "tags": list(_TAGS),
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": True,
        "graphTooltip": 1,
        "timezone": "browser",
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "1m",
        "annotations": {"list": []},
        "links": [],
        "templating": {"list": [_datasource_variable(), *variables]},
        "panels": [_panel_json(p, n) for n, p in enumerate(panels, start=1)],
    }


def _model_serving() -> dict[str, Any]:
    sel = 'namespace=~"$namespace", service=~"$service"'
    kn = 'k8s_namespace_name=~"$namespace", kn_service_name=~"$service"'
    who = "{{service}} ({{namespace}})"
    panels = [
        _Panel(
            "Requests per second",
            _q(f"sum by (namespace, service) (mlops:serving_requests:rate5m{{{sel}}})", who),
            unit="reqps",
        ),
        _Panel(
            "Error ratio (5xx)",
            _q(f"mlops:serving_request_errors:ratio_rate5m{{{sel}}}", who),
            unit="percentunit",
            description="BentoML and Serverless endpoints; KServe's model server has no status.",
        ),
        _Panel(
            "Latency p95",
            (
                _Target(f"mlops:serving_latency_seconds:p95_rate5m{{{sel}}}", who),
                _Target("mlops:serving_latency_threshold:seconds", "objective"),
            ),
            unit="s",
        ),
        _Panel(
            "Requests slower than the latency objective",
            _q(f"mlops:serving_slow_requests:ratio_rate5m{{{sel}}}", who),
            unit="percentunit",
        ),
        _Panel(
            "Error budget burn rate (1h)",
            _q(
                f"mlops:serving_request_errors:ratio_rate1h{{{sel}}}"
                " / on () group_left () (1 - mlops:serving_availability:objective)",
                who,
            ),
            description="1 spends the 30-day budget in 30 days; alerts fire at 14.4 and 6.",
        ),
        _Panel(
            "Latency budget burn rate (1h)",
            _q(
                f"mlops:serving_slow_requests:ratio_rate1h{{{sel}}}"
                " / on () group_left () (1 - mlops:serving_latency:objective)",
                who,
            ),
        ),
        _Panel(
            "Responses by status (BentoML)",
            _q(
                "sum by (service, http_response_code) (rate(bentoml_service_request_total"
                f"{{{sel}}}[$__rate_interval]))",
                "{{service}} {{http_response_code}}",
            ),
            unit="reqps",
        ),
        _Panel(
            "Responses by status (Serverless, Knative queue-proxy)",
            _q(
                "sum by (kn_service_name, http_response_status_code) ("
                f"rate(kn_serving_invocation_duration_seconds_count{{{kn}}}[$__rate_interval]))",
                "{{kn_service_name}} {{http_response_status_code}}",
            ),
            unit="reqps",
        ),
        _Panel(
            "Predict latency p95 by model (KServe model server)",
            _q(
                "histogram_quantile(0.95, sum by (namespace, model_name, le) ("
                f"rate(request_predict_seconds_bucket{{{sel}}}[$__rate_interval])))",
                "{{model_name}} ({{namespace}})",
            ),
            unit="s",
        ),
        _Panel(
            "Pre- and post-processing latency p95 (KServe model server)",
            (
                _Target(
                    "histogram_quantile(0.95, sum by (model_name, le) ("
                    f"rate(request_preprocess_seconds_bucket{{{sel}}}[$__rate_interval])))",
                    "{{model_name}} preprocess",
                ),
                _Target(
                    "histogram_quantile(0.95, sum by (model_name, le) ("
                    f"rate(request_postprocess_seconds_bucket{{{sel}}}[$__rate_interval])))",
                    "{{model_name}} postprocess",
                ),
            ),
            unit="s",
        ),
        _Panel(
            "Requests in progress (BentoML)",
            _q(f"sum by (namespace, service) (bentoml_service_request_in_progress{{{sel}}})", who),
        ),
        _Panel(
            "Queue depth (Serverless, Knative queue-proxy)",
            _q(
                f"sum by (k8s_namespace_name, kn_service_name) (kn_serving_queue_depth{{{kn}}})",
                "{{kn_service_name}} ({{k8s_namespace_name}})",
            ),
        ),
    ]
    variables = [
        _query_variable(
            "namespace", "Namespace", "label_values(mlops:serving_requests:rate5m, namespace)"
        ),
        _query_variable(
            "service",
            "Service",
            'label_values(mlops:serving_requests:rate5m{namespace=~"$namespace"}, service)',
        ),
    ]
    return _dashboard(
        "model-serving",
        "MLOps / Model serving",
        "Traffic, errors, latency and SLO burn rates of the KServe inference endpoints.",
        variables,
        panels,
    )


def _gpu_accelerators() -> dict[str, Any]:
    node = 'Hostname=~"$node"'
    inst = 'instance_id=~"$instance_id"'
    gpu = "{{Hostname}} GPU {{gpu}}"
    panels = [
        _Panel(
            "GPU utilisation",
            _q(
                f"avg by (Hostname, gpu, modelName) (DCGM_FI_DEV_GPU_UTIL{{{node}}})",
                "{{Hostname}} GPU {{gpu}} ({{modelName}})",
            ),
            unit="percent",
        ),
        _Panel(
            "GPU memory in use",
            _q(
                f"sum by (Hostname, gpu) (DCGM_FI_DEV_FB_USED{{{node}}}) / ("
                f"sum by (Hostname, gpu) (DCGM_FI_DEV_FB_USED{{{node}}}) + "
                f"sum by (Hostname, gpu) (DCGM_FI_DEV_FB_FREE{{{node}}}))",
                gpu,
            ),
            unit="percentunit",
        ),
        _Panel(
            "GPU utilisation by workload",
            _q(
                f'avg by (namespace, pod) (DCGM_FI_DEV_GPU_UTIL{{{node}, pod!=""}})',
                "{{pod}} ({{namespace}})",
            ),
            unit="percent",
        ),
        _Panel(
            "GPUs idle for the last hour",
            _q(f"count(max_over_time(DCGM_FI_DEV_GPU_UTIL{{{node}}}[1h]) < 1) or vector(0)"),
            kind="stat",
        ),
        _Panel(
            "GPU power draw",
            _q(f"sum by (Hostname, gpu) (DCGM_FI_DEV_POWER_USAGE{{{node}}})", gpu),
            unit="watt",
        ),
        _Panel(
            "GPU temperature",
            _q(f"max by (Hostname, gpu) (DCGM_FI_DEV_GPU_TEMP{{{node}}})", gpu),
            unit="celsius",
        ),
        _Panel(
            "Last XID error code",
            _q(f"max by (Hostname, gpu) (DCGM_FI_DEV_XID_ERRORS{{{node}}})", gpu),
            description="0 means no XID error; any other value is the code of the last one.",
        ),
        _Panel(
            "NeuronCore utilisation",
            _q(
                f"avg by (instance_id, neuroncore) (neuroncore_utilization_ratio{{{inst}}})",
                "{{instance_id}} core {{neuroncore}}",
            ),
            unit="percentunit",
        ),
        _Panel(
            "Neuron runtime memory in use",
            _q(
                "sum by (instance_id, memory_location) ("
                f"neuron_runtime_memory_used_bytes{{{inst}}})",
                "{{instance_id}} {{memory_location}}",
            ),
            unit="bytes",
        ),
        _Panel(
            "Neuron execution errors",
            _q(
                "sum by (instance_id, error_type) ("
                f"rate(execution_errors_total{{{inst}}}[$__rate_interval]))",
                "{{instance_id}} {{error_type}}",
            ),
            unit="ops",
        ),
    ]
    variables = [
        _query_variable("node", "GPU node", "label_values(DCGM_FI_DEV_GPU_UTIL, Hostname)"),
        _query_variable(
            "instance_id",
            "Neuron instance",
            "label_values(neuroncore_utilization_ratio, instance_id)",
        ),
    ]
    return _dashboard(
        "gpu-accelerators",
        "MLOps / GPU and Neuron accelerators",
        "Utilisation, memory and errors of NVIDIA GPUs (dcgm-exporter) and AWS Neuron devices.",
        variables,
        panels,
    )


def _drift_model_quality() -> dict[str, Any]:
    sel = 'model=~"$model"'
    panels = [
        _Panel(
            "Share of drifted features",
            _q(f"max by (model) (mlops_dataset_drift_share{{{sel}}})", "{{model}}"),
            unit="percentunit",
        ),
        _Panel(
            "Most drifted features",
            _q(
                f"topk(10, max by (model, feature) (mlops_feature_drift_score{{{sel}}}))",
                "{{model}} {{feature}}",
            ),
            kind="bargauge",
        ),
        _Panel(
            "Model quality",
            _q(
                f"min by (model, metric) (mlops_model_quality_score{{{sel}}})",
                "{{model}} {{metric}}",
            ),
        ),
        _Panel(
            "Drift and quality alerts firing",
            _q(
                "sum by (alertname, model) (ALERTS{alertname=~"
                '"FeatureDriftDetected|DatasetDriftDetected|ModelQualityDegraded", '
                f'alertstate="firing", {sel}}})',
                "{{alertname}} {{model}}",
            ),
        ),
    ]
    variables = [
        _query_variable("model", "Model", "label_values(mlops_dataset_drift_share, model)")
    ]
    return _dashboard(
        "drift-model-quality",
        "MLOps / Drift and model quality",
        "Feature drift, dataset drift and model quality reported by the drift monitor.",
        variables,
        panels,
    )


def _cost() -> dict[str, Any]:
    team, model, level = (kube_state_metrics_label(k) for k in COST_ALLOCATION_LABELS)
    ns = 'namespace=~"$namespace"'
    by_team = f'{ns}, {team}=~"$team"'
    panels = [
        _Panel(
            "Cluster cost per hour",
            _q("mlops:cluster_cost_hourly:sum"),
            unit="currencyUSD",
            kind="stat",
        ),
        _Panel(
            "Projected monthly cost",
            _q("mlops:cluster_cost_hourly:sum * 730"),
            unit="currencyUSD",
            kind="stat",
        ),
        _Panel(
            "Cost per hour by team",
            _q(f"sum by ({team}) (mlops:workload_cost_hourly:sum{{{by_team}}})", f"{{{{{team}}}}}"),
            unit="currencyUSD",
        ),
        _Panel(
            "Cost per hour by model",
            _q(
                f"sum by ({model}) (mlops:workload_cost_hourly:sum{{{by_team}}})",
                f"{{{{{model}}}}}",
            ),
            unit="currencyUSD",
        ),
        _Panel(
            "Cost per hour by maturity level",
            _q(
                f"sum by ({level}) (mlops:workload_cost_hourly:sum{{{by_team}}})",
                f"{{{{{level}}}}}",
            ),
            unit="currencyUSD",
        ),
        _Panel(
            "Cost per hour without a team label",
            _q(f'sum(mlops:workload_cost_hourly:sum{{{ns}, {team}=""}}) or vector(0)'),
            unit="currencyUSD",
            kind="stat",
            description="Workloads to label with mlops-blueprints.io/team.",
        ),
        _Panel(
            "Cost per hour by resource",
            _q(f"sum by (resource) (mlops:pod_cost_hourly:sum{{{ns}}})", "{{resource}}"),
            unit="currencyUSD",
        ),
        _Panel(
            "Cost per hour by namespace",
            _q(f"sum by (namespace) (mlops:pod_cost_hourly:sum{{{ns}}})", "{{namespace}}"),
            unit="currencyUSD",
        ),
        _Panel(
            "Idle capacity cost per hour",
            _q("mlops:cluster_cost_hourly:sum - sum(mlops:pod_cost_hourly:sum)"),
            unit="currencyUSD",
            description="Node cost no workload's allocation accounts for.",
        ),
        _Panel(
            "Node cost per hour by instance type",
            _q("sum by (instance_type) (node_total_hourly_cost)", "{{instance_type}}"),
            unit="currencyUSD",
        ),
    ]
    variables = [
        _query_variable("team", "Team", f"label_values(kube_pod_labels, {team})"),
        _query_variable(
            "namespace", "Namespace", "label_values(mlops:pod_cost_hourly:sum, namespace)"
        ),
    ]
    return _dashboard(
        "cost",
        "MLOps / Cost allocation",
        "Cluster cost from OpenCost, allocated to teams, models and levels by workload labels.",
        variables,
        panels,
    )


_BUILDERS: Final = {
    "model-serving": _model_serving,
    "gpu-accelerators": _gpu_accelerators,
    "drift-model-quality": _drift_model_quality,
    "cost": _cost,
}


def dashboards(include: frozenset[str]) -> dict[str, dict[str, Any]]:
    """Dashboard JSON models per file name, for the names in ``include`` (``DASHBOARDS`` order).

    The serving and cost dashboards read the recording rules, so deploy the "recording" rule
    file with them.
    """
    unknown = sorted(str(name) for name in include if name not in DASHBOARDS)
    if unknown:
        raise BlueprintConfigError(
            "include", unknown, f"Choose dashboards from: {', '.join(DASHBOARDS)}."
        )
    return {name: _BUILDERS[name]() for name in DASHBOARDS if name in include}


_LABEL_VALUES: Final = re.compile(r"^\s*label_values\((?P<args>.*)\)\s*$", re.DOTALL)


def _variable_selector(query: str) -> str | None:
    """The series selector of a ``label_values(selector, label)`` query, if it has one."""
    match = _LABEL_VALUES.match(query)
    if not match:
        return query
    args = match.group("args")
    selector, comma, _ = args.rpartition(",")
    return selector.strip() if comma else None


def dashboard_queries(board: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Every PromQL expression of a dashboard as (where, expression): panel targets as
    ``panel <id> <refId>``, query variables as ``variable <name>`` (their series selector)."""
    for variable in board.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable["query"]
        text = query["query"] if isinstance(query, dict) else query
        selector = _variable_selector(text)
        if selector:
            yield f"variable {variable['name']}", selector
    for panel in board.get("panels", []):
        for target in panel.get("targets", []):
            yield f"panel {panel['id']} {target['refId']}", target["expr"]
