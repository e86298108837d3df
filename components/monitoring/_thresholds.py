"""Alert thresholds: the numbers every monitoring rule is built from, validated up front."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Final

from mlops_blueprints.errors import BlueprintConfigError

__all__ = ["LATENCY_BUCKET_BOUNDS_SECONDS", "AlertThresholds"]

# Histogram bucket bounds shared by every serving runtime's latency histogram: the Prometheus
# client default (KServe's Python model server, BentoML's default ``duration.buckets``) and the
# explicit bounds of Knative's queue-proxy. A latency objective must sit on one of them, because
# the SLI counts requests in the ``le`` bucket of that bound.
LATENCY_BUCKET_BOUNDS_SECONDS: Final[tuple[float, ...]] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BlueprintConfigError(name, value, "Use a finite number.")
    return float(value)


def _whole(name: str, value: object, *, minimum: int, maximum: int, unit: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BlueprintConfigError(name, value, f"Use a whole number of {unit}.")
    if not minimum <= value <= maximum:
        raise BlueprintConfigError(
            name, value, f"Use a whole number of {unit} from {minimum} to {maximum}."
        )


def _open_ratio(name: str, value: object, fix: str) -> None:
    if not 0.0 < _number(name, value) < 1.0:
        raise BlueprintConfigError(name, value, fix)


def _percent(name: str, value: object, fix: str) -> None:
    if not 0.0 < _number(name, value) < 100.0:
        raise BlueprintConfigError(name, value, fix)


@dataclass(frozen=True)
class AlertThresholds:
    """What counts as unhealthy, for every alert the monitoring stack ships.

    - ``serving_availability_slo`` (0.99): share of inference requests that must not fail with
      a 5xx over 30 days; the error budget is ``1 - slo``. From 0.9 to 0.9999.
    - ``serving_latency_p95_seconds`` (0.5): 95 % of inference requests must finish within
      this many seconds. Must be a bucket bound of the runtimes' latency histograms (0.005,
      0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5 or 10).
    - ``gpu_utilisation_low_percent`` (20.0): a GPU averaging less than this utilisation for an
      hour is reported as underused (paid for, mostly idle).
    - ``gpu_memory_pressure_ratio`` (0.9): share of a GPU's framebuffer memory in use above
      which the GPU is close to out-of-memory errors.
    - ``neuron_utilisation_low_percent`` (20.0): a NeuronCore in use by a runtime averaging
      less than this utilisation for an hour is reported as underused.
    - ``drift_score`` (0.3): per-feature drift score (0 to 1) above which a feature drifted.
    - ``dataset_drift_share`` (0.5): share of a model's features that drifted above which the
      whole input dataset counts as drifted.
    - ``model_quality_min_score`` (0.7): a model quality score (0 to 1, higher is better)
      below this has degraded.
    - ``drift_for_minutes`` (30): how long drift or degraded quality must persist before an
      alert fires, so one noisy evaluation does not page anyone.
    - ``pipeline_failures`` (1): failed or errored pipeline runs within
      ``pipeline_failure_window_minutes`` that raise an alert.
    - ``pipeline_failure_window_minutes`` (60): the window over which pipeline failures count.
    """

    serving_availability_slo: float = 0.99
    serving_latency_p95_seconds: float = 0.5
    gpu_utilisation_low_percent: float = 20.0
    gpu_memory_pressure_ratio: float = 0.9
    neuron_utilisation_low_percent: float = 20.0
    drift_score: float = 0.3
    dataset_drift_share: float = 0.5
    model_quality_min_score: float = 0.7
    drift_for_minutes: int = 30
    pipeline_failures: int = 1
    pipeline_failure_window_minutes: int = 60

    def __post_init__(self) -> None:
        slo = _number("serving_availability_slo", self.serving_availability_slo)
        if not 0.9 <= slo <= 0.9999:
            raise BlueprintConfigError(
                "serving_availability_slo",
                self.serving_availability_slo,
                "Use a fraction from 0.9 to 0.9999 (e.g. 0.99 for 99 %); the error budget is "
                "1 - slo, so a value of 1 or more leaves no budget to burn.",
            )
        latency = _number("serving_latency_p95_seconds", self.serving_latency_p95_seconds)
        if latency not in LATENCY_BUCKET_BOUNDS_SECONDS:
            bounds = ", ".join(f"{b:g}" for b in LATENCY_BUCKET_BOUNDS_SECONDS)
            raise BlueprintConfigError(
                "serving_latency_p95_seconds",
                self.serving_latency_p95_seconds,
                f"Use one of the latency histogram bucket bounds the runtimes export: {bounds} "
                "(seconds); the SLI counts requests in that bucket, so other values cannot be "
                "measured.",
            )
        _percent(
            "gpu_utilisation_low_percent",
            self.gpu_utilisation_low_percent,
            "Use a percentage between 0 and 100 (exclusive), e.g. 20.",
        )
        _open_ratio(
            "gpu_memory_pressure_ratio",
            self.gpu_memory_pressure_ratio,
            "Use a fraction between 0 and 1 (exclusive), e.g. 0.9 for 90 % of GPU memory.",
        )
        _percent(
            "neuron_utilisation_low_percent",
            self.neuron_utilisation_low_percent,
            "Use a percentage between 0 and 100 (exclusive), e.g. 20.",
        )
        _open_ratio(
            "drift_score",
            self.drift_score,
            "Use a drift score between 0 and 1 (exclusive), e.g. 0.3.",
        )
        _open_ratio(
            "dataset_drift_share",
            self.dataset_drift_share,
            "Use a share of drifted features between 0 and 1 (exclusive), e.g. 0.5.",
        )
        _open_ratio(
            "model_quality_min_score",
            self.model_quality_min_score,
            "Use a quality score between 0 and 1 (exclusive), e.g. 0.7.",
        )
        _whole("drift_for_minutes", self.drift_for_minutes, minimum=1, maximum=1440, unit="minutes")
        _whole("pipeline_failures", self.pipeline_failures, minimum=1, maximum=10000, unit="runs")
        _whole(
            "pipeline_failure_window_minutes",
            self.pipeline_failure_window_minutes,
            minimum=5,
            maximum=1440,
            unit="minutes",
        )

    @property
    def serving_error_budget(self) -> float:
        """Share of requests allowed to fail: ``1 - serving_availability_slo``."""
        return 1.0 - self.serving_availability_slo

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))
