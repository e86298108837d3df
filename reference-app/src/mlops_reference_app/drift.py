"""Drift detection on each incoming batch, with evidently, exported as Prometheus gauges.

:func:`detect_drift` runs evidently's ``DataDriftPreset`` on a batch against reference data
(usually the champion's training window) and returns a :class:`DriftReport`: one drift score
per feature, which features drifted, the share that drifted and whether the dataset as a
whole drifted. :class:`DriftMonitor` keeps the reference and exports every report as
``mlops_feature_drift_score{model,feature}`` and ``mlops_dataset_drift_share{model}``.

Scores. Evidently returns a distance for some methods (higher is more drift) and a p-value
for statistical tests (lower is more drift). The exported score is always "0..1, higher is
more drift": a distance is clipped to [0, 1] and a p-value ``p`` becomes ``1 - p``. The
default method is the Jensen-Shannon distance, which is bounded in [0, 1] and compares
directly with a fixed alert threshold (the platform alerts above 0.3 by default). With
``method=None`` evidently picks a method per column from its type and the sample size
(Kolmogorov-Smirnov or chi-square below 1,000 rows): better calibrated on small batches,
but the score of a test is ``1 - p`` and needs a threshold near 0.95 to alert on.

Small batches inflate every distance: a month of daily rows (about 30) shows a
Jensen-Shannon distance of 0.1 to 0.3 against its own season. Feed the monitor batches of a
few hundred rows or more, or use ``method=None`` on small ones.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from mlops_reference_app.metrics import AppMetrics

__all__ = [
    "DEFAULT_DATASET_DRIFT_SHARE",
    "DEFAULT_METHOD",
    "DriftError",
    "DriftMonitor",
    "DriftReport",
    "detect_drift",
    "drift_score",
]

DEFAULT_METHOD: str | None = "jensenshannon"
# Share of drifted features at which the dataset counts as drifted (evidently's default).
DEFAULT_DATASET_DRIFT_SHARE = 0.5

# Evidently's names (as passed in) and display names (as reported when it chose the method)
# of the methods whose value is a p-value (drift when below the threshold); every other
# method returns a distance (drift when at or above it).
_P_VALUE_METHODS: frozenset[str] = frozenset(
    {
        "ks",
        "z",
        "chisquare",
        "anderson",
        "cramer_von_mises",
        "es",
        "fisher_exact",
        "mannw",
        "K-S p_value",
        "Z-test p_value",
        "chi-square p_value",
        "Anderson-Darling",
        "Cramer-von Mises",
        "Epps-Singleton",
        "Fisher's Exact test",
        "Mann-Whitney U-rank test",
        "g_test",
        "t_test",
        "empirical_mmd",
    }
)


class DriftError(ValueError):
    """Drift cannot be computed for these inputs; the message says what to change."""


@dataclass(frozen=True)
class DriftReport:
    """The outcome of one drift check.

    - ``scores``: per-feature drift score, 0..1, higher is more drift (see the module doc).
    - ``statistics``: per-feature raw value evidently returned (distance or p-value).
    - ``methods``: per-feature method evidently used (its display name).
    - ``thresholds``: per-feature threshold evidently applied to the raw value.
    - ``drifted``: the features evidently judged drifted, in input order.
    - ``drift_share``: share of features that drifted.
    - ``dataset_drift``: True when ``drift_share`` reaches the dataset drift share.
    - ``reference_rows`` and ``current_rows``: sample sizes compared.
    - ``seconds``: wall-clock seconds evidently took.
    """

    scores: dict[str, float]
    statistics: dict[str, float]
    methods: dict[str, str]
    thresholds: dict[str, float]
    drifted: tuple[str, ...]
    drift_share: float
    dataset_drift: bool
    reference_rows: int
    current_rows: int
    seconds: float


def drift_score(statistic: float, method: str) -> float:
    """Map evidently's raw value to a 0..1 score where higher means more drift."""
    if not math.isfinite(statistic):
        return 0.0
    if method in _P_VALUE_METHODS:
        return float(min(1.0, max(0.0, 1.0 - statistic)))
    return float(min(1.0, max(0.0, statistic)))


def _is_drifted(statistic: float, method: str, threshold: float) -> bool:
    if not math.isfinite(statistic):
        return False
    if method in _P_VALUE_METHODS:
        return statistic < threshold
    return statistic >= threshold


def detect_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    features: Sequence[str],
    method: str | None = DEFAULT_METHOD,
    threshold: float | None = None,
    dataset_drift_share: float = DEFAULT_DATASET_DRIFT_SHARE,
) -> DriftReport:
    """Compare ``current`` with ``reference`` on ``features`` with evidently's drift preset.

    ``method`` is an evidently method name (e.g. ``"jensenshannon"``, ``"psi"``, ``"ks"``),
    or None for evidently's automatic choice per column. ``threshold`` overrides the
    method's default threshold (0.1 for Jensen-Shannon).
    """
    columns = list(features)
    if not columns:
        raise DriftError("no features given; pass the model's feature columns")
    for name, frame in (("reference", reference), ("current", current)):
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise DriftError(f"{name} data lacks feature columns {missing}")
        if frame.empty:
            raise DriftError(f"{name} data is empty; drift needs rows on both sides")
    if not 0.0 < dataset_drift_share <= 1.0:
        raise DriftError(
            f"dataset_drift_share={dataset_drift_share!r} is outside (0, 1]; use e.g. 0.5"
        )

    from evidently import Report
    from evidently.presets import DataDriftPreset

    preset = DataDriftPreset(
        columns=columns,
        method=method,
        threshold=threshold,
        drift_share=dataset_drift_share,
        include_tests=False,
    )
    started = time.perf_counter()
    with warnings.catch_warnings():
        # Constant columns in a small batch make numpy divide by zero inside the binning.
        warnings.simplefilter("ignore", RuntimeWarning)
        snapshot = Report([preset]).run(
            current_data=current[columns].reset_index(drop=True),
            reference_data=reference[columns].reset_index(drop=True),
        )
    seconds = time.perf_counter() - started

    statistics: dict[str, float] = {}
    methods: dict[str, str] = {}
    thresholds: dict[str, float] = {}
    for item in snapshot.dict()["metrics"]:
        config = item.get("config", {})
        if not str(config.get("type", "")).endswith(":ValueDrift"):
            continue
        column = str(config["column"])
        statistics[column] = float(item["value"])
        methods[column] = str(config.get("method"))
        thresholds[column] = float(config.get("threshold"))
    absent = [c for c in columns if c not in statistics]
    if absent:
        raise DriftError(f"evidently returned no drift value for {absent}")
    scores = {c: drift_score(statistics[c], methods[c]) for c in columns}
    drifted = tuple(c for c in columns if _is_drifted(statistics[c], methods[c], thresholds[c]))
    share = len(drifted) / len(columns)
    return DriftReport(
        scores=scores,
        statistics=statistics,
        methods=methods,
        thresholds=thresholds,
        drifted=drifted,
        drift_share=share,
        dataset_drift=share >= dataset_drift_share,
        reference_rows=len(reference),
        current_rows=len(current),
        seconds=seconds,
    )


class DriftMonitor:
    """Checks each incoming batch against a reference and exports the result.

    ``reference`` is the data the serving model was trained on; replace it with
    :meth:`set_reference` when a new champion is promoted.
    """

    def __init__(
        self,
        reference: pd.DataFrame,
        *,
        model_name: str,
        features: Sequence[str],
        metrics: AppMetrics | None = None,
        method: str | None = DEFAULT_METHOD,
        threshold: float | None = None,
        dataset_drift_share: float = DEFAULT_DATASET_DRIFT_SHARE,
    ) -> None:
        self.model_name = model_name
        self.features = tuple(features)
        self.metrics = metrics if metrics is not None else AppMetrics()
        self.method = method
        self.threshold = threshold
        self.dataset_drift_share = dataset_drift_share
        self.last_report: DriftReport | None = None
        self.set_reference(reference)

    def set_reference(self, reference: pd.DataFrame) -> None:
        missing = [c for c in self.features if c not in reference.columns]
        if missing or reference.empty:
            raise DriftError(
                f"reference data must hold rows with every feature; missing columns {missing}, "
                f"rows {len(reference)}"
            )
        self.reference = reference[list(self.features)].reset_index(drop=True)

    def observe(self, batch: pd.DataFrame) -> DriftReport:
        """Run drift detection on ``batch`` and export the scores."""
        report = detect_drift(
            self.reference,
            batch,
            features=self.features,
            method=self.method,
            threshold=self.threshold,
            dataset_drift_share=self.dataset_drift_share,
        )
        for feature, score in report.scores.items():
            self.metrics.feature_drift.labels(model=self.model_name, feature=feature).set(score)
        self.metrics.dataset_drift.labels(model=self.model_name).set(report.drift_share)
        self.last_report = report
        return report
