"""Prometheus metrics of the serving path, the drift monitor and cost tracking.

One :class:`AppMetrics` owns every metric family on one ``CollectorRegistry``. Each process
(the canary router, a scorer process) builds one and serves :meth:`AppMetrics.exposition`
on ``/metrics``. A fresh registry is used unless one is given, so several routers or
scorers can live in one interpreter (tests, the roadmap) without name clashes; pass
``prometheus_client.REGISTRY`` to publish on a framework's built-in endpoint (BentoML's
``/metrics`` serves the default registry).

Metric names and labels (the drift and quality gauges are the contract the platform's drift
alerts and dashboard read):

- ``mlops_request_duration_seconds{model,role,version}``: histogram of scoring latency.
- ``mlops_request_errors_total{model,role,version}``: failed scoring requests.
- ``mlops_predictions_total{model,role,version,predicted_class}``: rows scored, by the
  class a 0.5 threshold gives.
- ``mlops_model_version{model,role}``: the registry version serving under a role.
- ``mlops_feature_drift_score{model,feature}``: per-feature drift score, 0..1, higher is
  more drift.
- ``mlops_dataset_drift_share{model}``: share of features that drifted, 0..1.
- ``mlops_model_quality_score{model,metric}``: quality on labelled data, 0..1, higher is
  better (roc_auc, accuracy).
- ``mlops_canary_traffic_share{model}``: share of requests sent to the challenger now.
- ``mlops_canary_decisions_total{model,decision}``: canary outcomes (promote, rollback).
- ``mlops_pipeline_compute_seconds{model,pipeline}``: CPU seconds of the last pipeline run.
- ``mlops_pipeline_wall_seconds{model,pipeline}``: wall-clock seconds of the last run.
- ``mlops_pipeline_runs_total{model,pipeline}``: pipeline runs measured.
- ``mlops_serving_cpu_seconds{model}``: CPU seconds spent serving since the meter started.
- ``mlops_cost_per_1k_predictions_usd{model}``: estimated serving cost of 1,000 rows scored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = [
    "CONTENT_TYPE",
    "LATENCY_BUCKETS_SECONDS",
    "METRIC_NAMES",
    "QUALITY_METRICS",
    "AppMetrics",
]

CONTENT_TYPE = CONTENT_TYPE_LATEST

# Scoring one small batch takes milliseconds; the buckets resolve 1 ms to 5 s.
LATENCY_BUCKETS_SECONDS: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)

# Quality metrics exported as gauges: bounded in [0, 1] with higher better. Log loss is
# neither, so it stays in the tracking store only.
QUALITY_METRICS: tuple[str, ...] = ("roc_auc", "accuracy")

METRIC_NAMES: tuple[str, ...] = (
    "mlops_request_duration_seconds",
    "mlops_request_errors_total",
    "mlops_predictions_total",
    "mlops_model_version",
    "mlops_feature_drift_score",
    "mlops_dataset_drift_share",
    "mlops_model_quality_score",
    "mlops_canary_traffic_share",
    "mlops_canary_decisions_total",
    "mlops_pipeline_compute_seconds",
    "mlops_pipeline_wall_seconds",
    "mlops_pipeline_runs_total",
    "mlops_serving_cpu_seconds",
    "mlops_cost_per_1k_predictions_usd",
)


class AppMetrics:
    """Every metric family of the application, registered on one registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.request_duration = Histogram(
            "mlops_request_duration_seconds",
            "Seconds spent scoring one request.",
            ["model", "role", "version"],
            buckets=LATENCY_BUCKETS_SECONDS,
            registry=r,
        )
        self.request_errors = Counter(
            "mlops_request_errors",
            "Scoring requests that failed.",
            ["model", "role", "version"],
            registry=r,
        )
        self.predictions = Counter(
            "mlops_predictions",
            "Rows scored, by predicted class at a 0.5 threshold.",
            ["model", "role", "version", "predicted_class"],
            registry=r,
        )
        self.model_version = Gauge(
            "mlops_model_version",
            "Registry version of the model serving under a role.",
            ["model", "role"],
            registry=r,
        )
        self.feature_drift = Gauge(
            "mlops_feature_drift_score",
            "Per-feature drift score between the reference and the latest batch (0..1).",
            ["model", "feature"],
            registry=r,
        )
        self.dataset_drift = Gauge(
            "mlops_dataset_drift_share",
            "Share of features that drifted in the latest batch (0..1).",
            ["model"],
            registry=r,
        )
        self.model_quality = Gauge(
            "mlops_model_quality_score",
            "Model quality on the latest labelled data (0..1, higher is better).",
            ["model", "metric"],
            registry=r,
        )
        self.canary_share = Gauge(
            "mlops_canary_traffic_share",
            "Share of requests routed to the challenger.",
            ["model"],
            registry=r,
        )
        self.canary_decisions = Counter(
            "mlops_canary_decisions",
            "Canary outcomes.",
            ["model", "decision"],
            registry=r,
        )
        self.pipeline_compute = Gauge(
            "mlops_pipeline_compute_seconds",
            "CPU seconds (this process and its finished children) of the last pipeline run.",
            ["model", "pipeline"],
            registry=r,
        )
        self.pipeline_wall = Gauge(
            "mlops_pipeline_wall_seconds",
            "Wall-clock seconds of the last pipeline run.",
            ["model", "pipeline"],
            registry=r,
        )
        self.pipeline_runs = Counter(
            "mlops_pipeline_runs",
            "Pipeline runs measured.",
            ["model", "pipeline"],
            registry=r,
        )
        self.serving_cpu = Gauge(
            "mlops_serving_cpu_seconds",
            "CPU seconds spent serving since the cost meter started.",
            ["model"],
            registry=r,
        )
        self.cost_per_1k = Gauge(
            "mlops_cost_per_1k_predictions_usd",
            "Estimated serving cost of 1,000 predictions in US dollars.",
            ["model"],
            registry=r,
        )

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format (serve with :data:`CONTENT_TYPE`)."""
        return generate_latest(self.registry)

    def set_quality(self, model: str, scores: Mapping[str, float]) -> dict[str, float]:
        """Export the finite scores among :data:`QUALITY_METRICS`; returns what was set."""
        exported: dict[str, float] = {}
        for metric in QUALITY_METRICS:
            value = scores.get(metric)
            if value is None or not math.isfinite(float(value)):
                continue
            self.model_quality.labels(model=model, metric=metric).set(float(value))
            exported[metric] = float(value)
        return exported

    def sample(self, name: str, labels: Mapping[str, str] | None = None) -> float | None:
        """Current value of one sample (e.g. ``mlops_request_errors_total``), or None."""
        value = self.registry.get_sample_value(name, dict(labels or {}))
        return None if value is None else float(value)
