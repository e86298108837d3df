"""Training and evaluation of the rain-tomorrow classifier.

The model is a scikit-learn pipeline (median imputation, standard scaling, logistic
regression). It is small, deterministic for a given seed, and its standardised coefficients
read directly as feature importances. A training window with a single class (a dry summer
month) cannot fit a logistic regression; it falls back to a prior-probability classifier so
that a pipeline step never fails on real data.

Use :func:`positive_probability` rather than ``model.predict_proba(x)[:, 1]``: it also works
for the single-class fallback, whose ``predict_proba`` has one column.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from mlops_reference_app.data import FEATURES, TARGET

DEFAULT_C = 1.0
DEFAULT_MAX_ITER = 1000
# Probabilities are clipped before log loss so that one confident mistake stays finite.
PROBABILITY_EPSILON = 1e-6
METRIC_NAMES: tuple[str, ...] = ("roc_auc", "accuracy", "log_loss")


@dataclass(frozen=True)
class TrainedModel:
    """A fitted pipeline and what is known about its training.

    - ``pipeline``: the fitted scikit-learn pipeline (``predict_proba`` on a frame of features).
    - ``features``: the feature columns, in the order the pipeline expects.
    - ``target``: the target column it was trained on.
    - ``metrics``: in-sample metrics on the training frame (see :func:`evaluate`).
    - ``fit_seconds``: wall-clock seconds spent in ``fit``.
    - ``params``: the hyper-parameters and training facts (seed, rows, window bounds).
    """

    pipeline: Pipeline
    features: tuple[str, ...]
    target: str
    metrics: dict[str, float]
    fit_seconds: float
    params: dict[str, Any] = field(default_factory=dict)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Probability of the positive class for each row of ``frame``."""
        return positive_probability(self.pipeline, frame[list(self.features)])


def build_pipeline(*, seed: int = 0, c: float = DEFAULT_C) -> Pipeline:
    """The untrained pipeline; ``seed`` fixes the solver's randomness."""
    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="median")),
            ("scale", StandardScaler()),
            ("classify", LogisticRegression(C=c, max_iter=DEFAULT_MAX_ITER, random_state=seed)),
        ]
    )


def train(
    frame: pd.DataFrame,
    *,
    features: Sequence[str] = FEATURES,
    target: str = TARGET,
    seed: int = 0,
    c: float = DEFAULT_C,
) -> TrainedModel:
    """Fit the classifier on every row of ``frame``."""
    columns = list(features)
    missing = [col for col in (*columns, target) if col not in frame.columns]
    if missing:
        raise ValueError(f"training frame lacks columns {missing}")
    if frame.empty:
        raise ValueError("training frame is empty; choose a window that contains rows")
    x = frame[columns]
    y = frame[target].astype(int).to_numpy()
    classes = np.unique(y)
    if len(classes) < 2:
        pipeline = Pipeline(
            [
                ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                ("classify", DummyClassifier(strategy="prior")),
            ]
        )
        model_kind = "prior"
    else:
        pipeline = build_pipeline(seed=seed, c=c)
        model_kind = "logistic_regression"
    started = time.perf_counter()
    pipeline.fit(x, y)
    fit_seconds = time.perf_counter() - started
    params: dict[str, Any] = {
        "model": model_kind,
        "C": c,
        "max_iter": DEFAULT_MAX_ITER,
        "seed": seed,
        "n_features": len(columns),
        "train_rows": len(frame),
    }
    if "timestamp" in frame.columns and len(frame):
        params["train_start"] = str(pd.Timestamp(frame["timestamp"].min()).date())
        params["train_end"] = str(pd.Timestamp(frame["timestamp"].max()).date())
    trained = TrainedModel(
        pipeline=pipeline,
        features=tuple(columns),
        target=target,
        metrics={},
        fit_seconds=fit_seconds,
        params=params,
    )
    trained.metrics.update(evaluate(trained, frame))
    return trained


def positive_probability(model: Any, x: pd.DataFrame) -> np.ndarray:
    """P(class 1) from any fitted classifier, including one that saw a single class."""
    proba = np.asarray(model.predict_proba(x), dtype=float)
    classes = list(getattr(model, "classes_", [0, 1]))
    if 1 in classes:
        return proba[:, classes.index(1)]
    return np.zeros(len(x), dtype=float)


def evaluate(
    model: TrainedModel | Any,
    frame: pd.DataFrame,
    *,
    features: Sequence[str] | None = None,
    target: str | None = None,
) -> dict[str, float]:
    """roc_auc, accuracy and log_loss of ``model`` on ``frame``, plus rows and positive rate.

    ``model`` is a :class:`TrainedModel` or any fitted classifier (e.g. one loaded from the
    registry; then ``features`` defaults to FEATURES). When ``frame`` holds one class only,
    roc_auc is undefined and reported as NaN; accuracy and log loss are still computed.
    An empty frame gives NaN for every metric.
    """
    if isinstance(model, TrainedModel):
        columns = list(features or model.features)
        target_column = target or model.target
        proba = positive_probability(model.pipeline, frame[columns]) if len(frame) else None
    else:
        columns = list(features or FEATURES)
        target_column = target or TARGET
        proba = positive_probability(model, frame[columns]) if len(frame) else None
    n_rows = float(len(frame))
    if proba is None:
        nan = math.nan
        return {
            "roc_auc": nan,
            "accuracy": nan,
            "log_loss": nan,
            "n_rows": 0.0,
            "positive_rate": nan,
        }
    y = frame[target_column].astype(int).to_numpy()
    clipped = np.clip(proba, PROBABILITY_EPSILON, 1.0 - PROBABILITY_EPSILON)
    roc_auc = float(roc_auc_score(y, proba)) if len(np.unique(y)) == 2 else math.nan
    return {
        "roc_auc": roc_auc,
        "accuracy": float(accuracy_score(y, (proba >= 0.5).astype(int))),
        "log_loss": float(log_loss(y, clipped, labels=[0, 1])),
        "n_rows": n_rows,
        "positive_rate": float(y.mean()),
    }


def feature_importance(trained: TrainedModel) -> pd.DataFrame:
    """Standardised coefficients (``importance`` is their absolute value), largest first.

    Because the pipeline scales every feature, coefficients are comparable: each is the change
    in log-odds for a one-standard-deviation change of its feature. The prior-only fallback
    has no coefficients and gives zeros.
    """
    classifier = trained.pipeline.steps[-1][1]
    coefficients = getattr(classifier, "coef_", None)
    values = (
        np.asarray(coefficients, dtype=float).ravel()
        if coefficients is not None
        else np.zeros(len(trained.features))
    )
    table = pd.DataFrame(
        {"feature": list(trained.features), "coefficient": values, "importance": np.abs(values)}
    )
    return table.sort_values(["importance", "feature"], ascending=[False, True]).reset_index(
        drop=True
    )


def calibration_table(
    trained: TrainedModel, frame: pd.DataFrame, *, bins: int = 10
) -> pd.DataFrame:
    """Reliability table: mean predicted probability against observed rate per probability bin."""
    proba = trained.predict_proba(frame)
    y = frame[trained.target].astype(int).to_numpy()
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(proba, edges[1:-1]), 0, bins - 1)
    rows = []
    for b in range(bins):
        mask = which == b
        count = int(mask.sum())
        rows.append(
            {
                "bin_lower": float(edges[b]),
                "bin_upper": float(edges[b + 1]),
                "count": count,
                "mean_predicted": float(proba[mask].mean()) if count else math.nan,
                "observed_rate": float(y[mask].mean()) if count else math.nan,
            }
        )
    return pd.DataFrame(rows)


def metrics_with_prefix(metrics: Mapping[str, float], prefix: str) -> dict[str, float]:
    """``{"roc_auc": x}`` -> ``{"<prefix>roc_auc": x}``."""
    return {f"{prefix}{name}": float(value) for name, value in metrics.items()}
