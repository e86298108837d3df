"""Cost tracking: compute seconds per pipeline run and serving cost per 1,000 predictions.

Pricing assumption. Compute is priced per vCPU-hour at :data:`DEFAULT_USD_PER_VCPU_HOUR`,
0.048 USD: the on-demand Linux price of a general-purpose x86 instance with 2 vCPUs and
8 GiB at 0.096 USD per hour (AWS m6i.large in us-east-1, list price when this was written)
divided by its 2 vCPUs. Memory, storage, network and idle capacity are not priced; the
figure is the CPU share of what the work itself used, a floor on the real bill. Pass your
own rate (spot, reserved, another region or cloud) as ``usd_per_vcpu_hour``; the
platform's OpenCost dashboards give the cluster's real allocation.

Measuring. CPU seconds are ``time.process_time`` of this process (every thread) plus the
CPU of child processes that finished meanwhile (``RUSAGE_CHILDREN``, which covers pipeline
steps the local Kubeflow runner starts as subprocesses). Serving cost divides the CPU the
serving process spent by the rows it scored.
"""

from __future__ import annotations

import math
import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from threading import Lock

from mlops_reference_app.metrics import AppMetrics

__all__ = [
    "DEFAULT_USD_PER_VCPU_HOUR",
    "ComputeUsage",
    "CostTracker",
    "ServingCostMeter",
    "compute_cost_usd",
    "cost_per_1k_predictions",
    "cpu_seconds_now",
    "measure_compute",
]

DEFAULT_USD_PER_VCPU_HOUR = 0.048
SECONDS_PER_HOUR = 3600.0


def compute_cost_usd(
    cpu_seconds: float, *, usd_per_vcpu_hour: float = DEFAULT_USD_PER_VCPU_HOUR
) -> float:
    """Price of ``cpu_seconds`` of one vCPU."""
    _check_rate(usd_per_vcpu_hour)
    if cpu_seconds < 0 or not math.isfinite(cpu_seconds):
        raise ValueError(f"cpu_seconds={cpu_seconds!r} must be a finite number >= 0")
    return cpu_seconds / SECONDS_PER_HOUR * usd_per_vcpu_hour


def cost_per_1k_predictions(
    cpu_seconds: float,
    predictions: int,
    *,
    usd_per_vcpu_hour: float = DEFAULT_USD_PER_VCPU_HOUR,
) -> float:
    """USD per 1,000 predictions, given the CPU seconds spent making ``predictions``.

    NaN when nothing was predicted yet (the cost per prediction is undefined, not zero).
    """
    if predictions < 0:
        raise ValueError(f"predictions={predictions} must be >= 0")
    total = compute_cost_usd(cpu_seconds, usd_per_vcpu_hour=usd_per_vcpu_hour)
    if predictions == 0:
        return math.nan
    return total / predictions * 1000.0


def _check_rate(usd_per_vcpu_hour: float) -> None:
    if not (usd_per_vcpu_hour > 0 and math.isfinite(usd_per_vcpu_hour)):
        raise ValueError(
            f"usd_per_vcpu_hour={usd_per_vcpu_hour!r} must be a positive price, e.g. "
            f"{DEFAULT_USD_PER_VCPU_HOUR}"
        )


def cpu_seconds_now() -> float:
    """CPU seconds used so far by this process and its finished, waited-for children."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


@dataclass
class ComputeUsage:
    """Filled in when a :func:`measure_compute` block ends.

    - ``cpu_seconds``: CPU of this process and of the children that finished in the block.
    - ``wall_seconds``: elapsed wall-clock time.
    """

    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0

    def cost_usd(self, usd_per_vcpu_hour: float = DEFAULT_USD_PER_VCPU_HOUR) -> float:
        return compute_cost_usd(self.cpu_seconds, usd_per_vcpu_hour=usd_per_vcpu_hour)


@contextmanager
def measure_compute(
    *,
    cpu_clock: Callable[[], float] = cpu_seconds_now,
    wall_clock: Callable[[], float] = time.perf_counter,
) -> Iterator[ComputeUsage]:
    """``with measure_compute() as usage: ...``; ``usage`` is filled in at the end."""
    usage = ComputeUsage()
    cpu0, wall0 = cpu_clock(), wall_clock()
    try:
        yield usage
    finally:
        usage.cpu_seconds = max(0.0, cpu_clock() - cpu0)
        usage.wall_seconds = max(0.0, wall_clock() - wall0)


class ServingCostMeter:
    """Serving CPU and rows scored since :meth:`reset`, and the cost per 1,000 of them.

    Thread-safe. ``cpu_clock`` defaults to this process's CPU time, so the meter counts
    everything the serving process does (HTTP handling and metrics included), not only
    the model call; reset it after the model is loaded so loading is not billed to serving.
    """

    def __init__(
        self,
        *,
        usd_per_vcpu_hour: float = DEFAULT_USD_PER_VCPU_HOUR,
        cpu_clock: Callable[[], float] = time.process_time,
    ) -> None:
        _check_rate(usd_per_vcpu_hour)
        self.usd_per_vcpu_hour = usd_per_vcpu_hour
        self._clock = cpu_clock
        self._lock = Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._cpu0 = self._clock()
            self._predictions = 0

    def add_predictions(self, rows: int) -> None:
        with self._lock:
            self._predictions += int(rows)

    @property
    def predictions(self) -> int:
        return self._predictions

    @property
    def cpu_seconds(self) -> float:
        return max(0.0, self._clock() - self._cpu0)

    def cost_per_1k(self) -> float:
        with self._lock:
            return cost_per_1k_predictions(
                self.cpu_seconds, self._predictions, usd_per_vcpu_hour=self.usd_per_vcpu_hour
            )


class CostTracker:
    """Exports pipeline compute and serving cost for one model.

    - :meth:`pipeline_run` measures a block (``with tracker.pipeline_run("training"):``) and
      exports ``mlops_pipeline_compute_seconds`` and ``mlops_pipeline_wall_seconds``.
    - :meth:`export_serving` exports ``mlops_serving_cpu_seconds`` and
      ``mlops_cost_per_1k_predictions_usd`` from a :class:`ServingCostMeter`.
    """

    def __init__(
        self,
        *,
        model_name: str,
        metrics: AppMetrics | None = None,
        usd_per_vcpu_hour: float = DEFAULT_USD_PER_VCPU_HOUR,
    ) -> None:
        _check_rate(usd_per_vcpu_hour)
        self.model_name = model_name
        self.metrics = metrics if metrics is not None else AppMetrics()
        self.usd_per_vcpu_hour = usd_per_vcpu_hour
        self.runs: list[tuple[str, ComputeUsage]] = []

    def record_pipeline(self, pipeline: str, usage: ComputeUsage) -> None:
        labels = {"model": self.model_name, "pipeline": pipeline}
        self.metrics.pipeline_compute.labels(**labels).set(usage.cpu_seconds)
        self.metrics.pipeline_wall.labels(**labels).set(usage.wall_seconds)
        self.metrics.pipeline_runs.labels(**labels).inc()
        self.runs.append((pipeline, usage))

    @contextmanager
    def pipeline_run(self, pipeline: str) -> Iterator[ComputeUsage]:
        with measure_compute() as usage:
            yield usage
        self.record_pipeline(pipeline, usage)

    def export_serving(self, meter: ServingCostMeter) -> float:
        """Export the meter's CPU seconds and cost per 1,000 predictions; returns the cost."""
        cost = meter.cost_per_1k()
        self.metrics.serving_cpu.labels(model=self.model_name).set(meter.cpu_seconds)
        if math.isfinite(cost):
            self.metrics.cost_per_1k.labels(model=self.model_name).set(cost)
        return cost
