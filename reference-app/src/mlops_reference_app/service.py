"""The BentoML service: the registry's champion behind ``/predict``, with Prometheus metrics.

Serve it with ``bentoml serve mlops_reference_app.service:RainTomorrow`` (or build the bento
with the ``bentofile.yaml`` next to this package). At start-up the service resolves an alias
(``champion`` by default) in the MLflow registry and loads that version once; a missing alias
or unreadable artifacts stop the start-up with :class:`~mlops_reference_app.tracking.ModelLoadError`
and a message naming the model, alias, version and artifact location.

Configuration (environment):

- ``MLFLOW_TRACKING_URI`` (required) and ``MLFLOW_REGISTRY_URI`` (default: the tracking URI).
- ``REFERENCE_APP_MODEL_NAME`` (default ``rain-tomorrow``): the registered model.
- ``REFERENCE_APP_MODEL_ALIAS`` (default ``champion``): the alias to serve.
- ``REFERENCE_APP_MODEL_VERSION`` (unset): a registered version to serve instead of the
  alias. A deployment that pins it (as a GitOps manifest should) serves exactly that
  version whatever the aliases say when a pod restarts.
- ``REFERENCE_APP_SCORING`` (default ``auto``): ``auto`` scores with the numpy form of the
  pipeline when :mod:`~mlops_reference_app.scoring` proves it exact, else with
  scikit-learn; ``scikit-learn`` always uses the pipeline's own ``predict_proba``.

Endpoints:

- ``POST /predict`` ``{"rows": [{feature: value, ...}, ...]}`` answers
  ``{"probabilities": [...], "model_version": "N", "model": name}``.
- ``POST /monitoring`` ``{"feature_drift": {...}, "drift_share": x, "quality": {...}}`` sets
  the drift and quality gauges; the drift job calls it through :func:`publish_monitoring`.
- ``GET /metrics`` (built in): BentoML's request metrics plus the application's
  (:class:`~mlops_reference_app.metrics.AppMetrics` on the default registry):
  ``mlops_predictions_total``, ``mlops_request_duration_seconds``,
  ``mlops_request_errors_total``, ``mlops_model_version`` and the contract gauges
  ``mlops_feature_drift_score{model,feature}``, ``mlops_dataset_drift_share{model}``,
  ``mlops_model_quality_score{model,metric}``.
- ``GET /readyz`` and ``GET /livez`` (built in).
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bentoml
import httpx
import numpy as np
import prometheus_client
from bentoml.exceptions import InvalidArgument

from mlops_reference_app import tracking
from mlops_reference_app.data import FEATURES
from mlops_reference_app.metrics import AppMetrics
from mlops_reference_app.scoring import Scorer, compile_scorer, rows_to_matrix, sklearn_scorer
from mlops_reference_app.settings import DEFAULT_MODEL_NAME, AppSettings, SettingsError

SERVICE_NAME = "rain_tomorrow"
ROLE = "serving"
ALIAS_ENV = "REFERENCE_APP_MODEL_ALIAS"
VERSION_ENV = "REFERENCE_APP_MODEL_VERSION"
MODEL_NAME_ENV = "REFERENCE_APP_MODEL_NAME"
SCORING_ENV = "REFERENCE_APP_SCORING"
SCORING_MODES = ("auto", "scikit-learn")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServedModel:
    """A registry model ready to score: the pipeline, its version, feature order and scorer."""

    model: Any
    name: str
    source: str  # the alias it was resolved through, or "version N" when pinned
    version: int
    features: tuple[str, ...]
    scorer: Scorer
    scoring: str

    def predict(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        return self.scorer(rows_to_matrix(rows, self.features))


def serving_settings(environ: Mapping[str, str] | None = None) -> AppSettings:
    """Settings for the serving process: only the registry matters here."""
    env = os.environ if environ is None else environ
    tracking_uri = env.get("MLFLOW_TRACKING_URI", "").strip()
    if not tracking_uri:
        raise SettingsError(
            "MLFLOW_TRACKING_URI is not set; point the service at the MLflow registry "
            "(e.g. http://mlflow.mlflow:5000 or sqlite:///path/mlflow.db)"
        )
    workdir = Path(env.get("REFERENCE_APP_WORKDIR", "."))
    return AppSettings(
        workdir=workdir,
        tracking_uri=tracking_uri,
        registry_uri=env.get("MLFLOW_REGISTRY_URI", "").strip() or tracking_uri,
        dvc_remote="",
        feast_repo=workdir / "feast",
        model_name=env.get(MODEL_NAME_ENV, DEFAULT_MODEL_NAME),
    )


def load_served_model(
    settings: AppSettings,
    alias: str = tracking.CHAMPION,
    scoring: str = "auto",
    *,
    version: int | None = None,
) -> ServedModel:
    """Load ``models:/<name>@<alias>``, or ``models:/<name>/<version>`` when ``version`` is set.

    Raises ``tracking.ModelLoadError`` with a clear message. ``scoring`` is ``auto`` (numpy
    when proven exact) or ``scikit-learn``.
    """
    if scoring not in SCORING_MODES:
        raise SettingsError(
            f"{SCORING_ENV}={scoring!r} is not a scoring mode; use one of {list(SCORING_MODES)}"
        )
    if version is not None:
        model = tracking.load_model_version(settings, version)
        source = f"version {version}"
    else:
        version, model = tracking.load_aliased_model(settings, alias)
        source = alias
    names = getattr(model, "feature_names_in_", None)
    features = tuple(str(n) for n in names) if names is not None else tuple(FEATURES)
    if scoring == "auto":
        scorer, how = compile_scorer(model, features)
    else:
        scorer, how = sklearn_scorer(model, features), "scikit-learn (as configured)"
    return ServedModel(model, settings.model_name, source, version, features, scorer, how)


def pinned_version(environ: Mapping[str, str]) -> int | None:
    """``REFERENCE_APP_MODEL_VERSION`` as a version number, or None when unset."""
    raw = environ.get(VERSION_ENV, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise SettingsError(
            f"{VERSION_ENV}={raw!r} is not a registered model version; give a positive "
            f"number, or unset it to serve {ALIAS_ENV}"
        )
    return int(raw)


def publish_to(
    metrics: AppMetrics,
    model: str,
    *,
    feature_drift: Mapping[str, float] | None = None,
    drift_share: float | None = None,
    quality: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """Set the drift and quality gauges of ``metrics``; returns what was set.

    Scores must be finite and in [0, 1] (the alert rules compare them with fixed thresholds).
    """

    def unit(name: str, value: Any) -> float:
        number = float(value)
        if not math.isfinite(number) or not 0.0 <= number <= 1.0:
            raise ValueError(f"{name} must be a number within [0, 1], got {value!r}")
        return number

    checked_drift = {
        str(f): unit(f"drift score of {f}", s) for f, s in (feature_drift or {}).items()
    }
    share = None if drift_share is None else unit("drift_share", drift_share)
    checked_quality = {str(m): unit(f"quality {m}", v) for m, v in (quality or {}).items()}
    for feature, score in checked_drift.items():
        metrics.feature_drift.labels(model=model, feature=feature).set(score)
    if share is not None:
        metrics.dataset_drift.labels(model=model).set(share)
    for metric, value in checked_quality.items():
        metrics.model_quality.labels(model=model, metric=metric).set(value)
    return {"feature_drift": checked_drift, "drift_share": share, "quality": checked_quality}


def publish_monitoring(
    base_url: str,
    *,
    feature_drift: Mapping[str, float] | None = None,
    drift_share: float | None = None,
    quality: Mapping[str, float] | None = None,
    timeout_seconds: float = 10.0,
) -> dict[str, Any]:
    """Send drift scores and quality to a running service (``POST <base_url>/monitoring``)."""
    response = httpx.post(
        base_url.rstrip("/") + "/monitoring",
        json={
            "feature_drift": dict(feature_drift or {}),
            "drift_share": drift_share,
            "quality": dict(quality or {}),
        },
        timeout=timeout_seconds,
    )
    response.raise_for_status()
    return dict(response.json())


@bentoml.service(name=SERVICE_NAME, workers=1, traffic={"timeout": 30})
class RainTomorrow:
    """Probability of rain tomorrow for rows of today's weather features."""

    def __init__(self) -> None:
        settings = serving_settings()
        alias = os.environ.get(ALIAS_ENV, tracking.CHAMPION)
        scoring = os.environ.get(SCORING_ENV, "auto")
        self.served = load_served_model(
            settings, alias, scoring, version=pinned_version(os.environ)
        )
        logger.info(
            "serving %s v%s (%s) scored with %s",
            self.served.name,
            self.served.version,
            self.served.source,
            self.served.scoring,
        )
        # The default registry is what BentoML's built-in /metrics exposes.
        self.metrics = AppMetrics(prometheus_client.REGISTRY)
        self._labels = {
            "model": self.served.name,
            "role": ROLE,
            "version": str(self.served.version),
        }
        self.metrics.model_version.labels(model=self.served.name, role=ROLE).set(
            self.served.version
        )

    @bentoml.api
    def predict(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            probabilities = self.served.predict(rows)
        except ValueError as exc:
            self.metrics.request_errors.labels(**self._labels).inc()
            raise InvalidArgument(str(exc)) from None
        except Exception:
            self.metrics.request_errors.labels(**self._labels).inc()
            raise
        finally:
            self.metrics.request_duration.labels(**self._labels).observe(
                time.perf_counter() - started
            )
        positives = int((probabilities >= 0.5).sum())
        if positives:
            self.metrics.predictions.labels(**self._labels, predicted_class="1").inc(positives)
        if len(probabilities) - positives:
            self.metrics.predictions.labels(**self._labels, predicted_class="0").inc(
                len(probabilities) - positives
            )
        return {
            "model": self.served.name,
            "model_version": str(self.served.version),
            "probabilities": [float(p) for p in probabilities],
        }

    @bentoml.api
    def monitoring(
        self,
        feature_drift: dict[str, float] | None = None,
        drift_share: float | None = None,
        quality: dict[str, float] | None = None,
    ) -> dict[str, Any]:
        try:
            return publish_to(
                self.metrics,
                self.served.name,
                feature_drift=feature_drift,
                drift_share=drift_share,
                quality=quality,
            )
        except ValueError as exc:
            raise InvalidArgument(str(exc)) from None


__all__ = [
    "ALIAS_ENV",
    "MODEL_NAME_ENV",
    "SCORING_ENV",
    "SERVICE_NAME",
    "VERSION_ENV",
    "RainTomorrow",
    "ServedModel",
    "load_served_model",
    "pinned_version",
    "publish_monitoring",
    "publish_to",
    "serving_settings",
]
