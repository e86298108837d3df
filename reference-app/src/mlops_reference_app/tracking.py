"""MLflow tracking and registry: every training run is logged and can be registered.

A logged run carries:

- params: the trainer's hyper-parameters and training facts, plus the caller's ``params``;
- metrics: ``train_*`` (in-sample), ``fit_seconds``, and any evaluation metrics passed in;
- tags: ``data_version`` (the DVC md5 of the training window), ``model_uri``, and
  ``env.*`` (python, scikit-learn, pandas, numpy, mlflow versions; platform);
- artifacts: the model (``model/``, with explicit pip requirements, signature and
  ``predict_proba`` as its pyfunc method), ``environment.json``,
  ``feature_importance.csv``/``.png`` and ``calibration.csv``/``.png``.

Nothing here reads git: the environment is described by package versions, and the data by
its DVC version.
"""

from __future__ import annotations

import json
import math
import platform
import tempfile
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow
import mlflow.sklearn
import pandas as pd
from matplotlib.figure import Figure
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from mlops_reference_app.settings import AppSettings
from mlops_reference_app.training import (
    TrainedModel,
    calibration_table,
    feature_importance,
    metrics_with_prefix,
)

MODEL_ARTIFACT = "model"
DATA_VERSION_TAG = "data_version"
MODEL_URI_TAG = "model_uri"
CHAMPION = "champion"
CHALLENGER = "challenger"
ENVIRONMENT_PACKAGES: tuple[str, ...] = ("scikit-learn", "pandas", "numpy", "mlflow", "scipy")
# Requirements recorded with the model; given explicitly so that logging never spawns a
# dependency-inference subprocess.
REQUIREMENT_PACKAGES: tuple[str, ...] = ("scikit-learn", "pandas", "numpy", "scipy")
# Types outside scikit-learn that the skops serialiser meets in the fitted pipeline (the
# imputer stores its dtype). Trusting them is recorded in the model's metadata.
SKOPS_TRUSTED_TYPES: tuple[str, ...] = ("numpy.dtype",)


class ModelLoadError(RuntimeError):
    """A registered model could not be loaded; the message says which and what to do."""


def _client(settings: AppSettings) -> MlflowClient:
    return MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.registry_uri)


def _activate(settings: AppSettings) -> None:
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.registry_uri)


def environment_info() -> dict[str, str]:
    """Interpreter, platform and package versions of this process."""
    info = {
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(terse=True),
        "machine": platform.machine(),
    }
    for package in ENVIRONMENT_PACKAGES:
        try:
            info[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            info[package] = "absent"
    return info


def pip_requirements() -> list[str]:
    """Pinned requirements of the logged model: the installed versions of what it unpickles."""
    return [f"{name}=={metadata.version(name)}" for name in REQUIREMENT_PACKAGES]


def ensure_experiment(settings: AppSettings) -> str:
    """The experiment id of ``settings.experiment_name``, created if missing."""
    client = _client(settings)
    experiment = client.get_experiment_by_name(settings.experiment_name)
    if experiment is not None:
        return str(experiment.experiment_id)
    return str(
        client.create_experiment(
            settings.experiment_name, artifact_location=settings.artifact_location
        )
    )


def _finite(metrics: Mapping[str, float]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if v is not None and math.isfinite(float(v))}


def _param_value(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 6000 else text[:6000]


def _plot_importance(importance: pd.DataFrame, path: Path) -> None:
    # Figure objects (not pyplot) keep no global state and need no backend selection.
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    ordered = importance.iloc[::-1]
    ax.barh(ordered["feature"], ordered["coefficient"])
    ax.set_xlabel("standardised coefficient (log-odds per s.d.)")
    ax.set_title("Feature importance")
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def _plot_calibration(calibration: pd.DataFrame, path: Path) -> None:
    fig = Figure(figsize=(4.5, 4.5))
    ax = fig.subplots()
    known = calibration.dropna(subset=["mean_predicted"])
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
    ax.plot(known["mean_predicted"], known["observed_rate"], marker="o", label="model")
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("observed rain rate")
    ax.set_title("Calibration (training window)")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def log_training_run(
    settings: AppSettings,
    trained: TrainedModel,
    *,
    data_version: str,
    params: Mapping[str, Any],
    metrics: Mapping[str, float] | None = None,
    frame: pd.DataFrame | None = None,
    tags: Mapping[str, str] | None = None,
    run_name: str | None = None,
) -> str:
    """Log one training run and return its run id.

    ``metrics`` are extra (e.g. held-out) metrics logged as given. ``frame`` is the training
    frame, used for the calibration artifact and the model signature; without it the
    calibration table is left out.
    """
    _activate(settings)
    experiment_id = ensure_experiment(settings)
    env = environment_info()
    all_params = {**trained.params, **dict(params)}
    run_tags = {
        DATA_VERSION_TAG: data_version,
        "model_name": settings.model_name,
        **{f"env.{k}": v for k, v in env.items()},
        **dict(tags or {}),
    }
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=run_tags) as run:
        mlflow.log_params({k: _param_value(v) for k, v in all_params.items()})
        mlflow.log_metrics(_finite(metrics_with_prefix(trained.metrics, "train_")))
        mlflow.log_metric("fit_seconds", trained.fit_seconds)
        if metrics:
            mlflow.log_metrics(_finite(metrics))
        with tempfile.TemporaryDirectory(prefix="reference-app-run-") as tmp:
            out = Path(tmp)
            (out / "environment.json").write_text(json.dumps(env, indent=2, sort_keys=True))
            importance = feature_importance(trained)
            importance.to_csv(out / "feature_importance.csv", index=False)
            _plot_importance(importance, out / "feature_importance.png")
            if frame is not None and len(frame):
                calibration = calibration_table(trained, frame)
                calibration.to_csv(out / "calibration.csv", index=False)
                _plot_calibration(calibration, out / "calibration.png")
            mlflow.log_artifacts(str(out))
        signature = None
        if frame is not None and len(frame):
            sample = frame[list(trained.features)].head(50)
            signature = infer_signature(sample, trained.pipeline.predict_proba(sample))
        info = mlflow.sklearn.log_model(
            trained.pipeline,
            name=MODEL_ARTIFACT,
            pip_requirements=pip_requirements(),
            signature=signature,
            pyfunc_predict_fn="predict_proba",
            skops_trusted_types=list(SKOPS_TRUSTED_TYPES),
        )
        mlflow.set_tag(MODEL_URI_TAG, info.model_uri)
        return str(run.info.run_id)


def log_run_metrics(
    settings: AppSettings, run_id: str, metrics: Mapping[str, float], *, prefix: str = ""
) -> None:
    """Add metrics (finite values only, names prefixed) to an existing run."""
    client = _client(settings)
    for name, value in _finite(metrics_with_prefix(metrics, prefix)).items():
        client.log_metric(run_id, name, value)


def tag_run(settings: AppSettings, run_id: str, tags: Mapping[str, str]) -> None:
    """Set tags on an existing run."""
    client = _client(settings)
    for key, value in tags.items():
        client.set_tag(run_id, key, value)


def register(
    settings: AppSettings, run_id: str, *, version_tags: Mapping[str, str] | None = None
) -> int:
    """Register the run's model under ``settings.model_name``; returns the new version.

    The version is tagged with the run's ``data_version`` and any ``version_tags``.
    """
    _activate(settings)
    client = _client(settings)
    run = client.get_run(run_id)
    source = run.data.tags.get(MODEL_URI_TAG) or f"runs:/{run_id}/{MODEL_ARTIFACT}"
    tags = {DATA_VERSION_TAG: run.data.tags.get(DATA_VERSION_TAG, ""), **dict(version_tags or {})}
    version = mlflow.register_model(
        source, settings.model_name, await_registration_for=0, tags=tags
    )
    return int(version.version)


def set_alias(settings: AppSettings, version: int, alias: str) -> None:
    """Point ``alias`` (e.g. ``champion``) at ``version`` of the registered model."""
    _client(settings).set_registered_model_alias(settings.model_name, alias, str(version))


def alias_version(settings: AppSettings, alias: str) -> int | None:
    """The version an alias points at, or None if the alias or the model does not exist."""
    try:
        version = _client(settings).get_model_version_by_alias(settings.model_name, alias)
    except MlflowException:
        return None
    return int(version.version)


def champion_version(settings: AppSettings) -> int | None:
    """The version aliased ``champion``, or None when no champion has been chosen."""
    return alias_version(settings, CHAMPION)


def model_artifact_location(settings: AppSettings, version: int) -> str:
    """Where the artifacts of a registered version are stored (a URI)."""
    client = _client(settings)
    source = str(client.get_model_version(settings.model_name, str(version)).source)
    prefix = "models:/"
    if source.startswith(prefix) and "/" not in source[len(prefix) :]:
        # MLflow 3 registers logged models by id; their artifacts live elsewhere.
        return str(client.get_logged_model(source[len(prefix) :]).artifact_location)
    return source


def _load_artifacts(settings: AppSettings, uri: str, what: str, location: str, fix: str) -> Any:
    """``mlflow.sklearn.load_model(uri)``, failing with a :class:`ModelLoadError` that says
    which model (``what``), where its artifacts are, and ``fix``."""
    try:
        return mlflow.sklearn.load_model(uri)
    except Exception as exc:
        raise ModelLoadError(
            f"model {settings.model_name!r} {what} could not be loaded: its artifacts at "
            f"{location} are missing or unreadable ({type(exc).__name__}). {fix}"
        ) from exc


def load_model_version(settings: AppSettings, version: int) -> Any:
    """The fitted scikit-learn pipeline of ``models:/<model_name>/<version>``.

    Raises :class:`ModelLoadError` when the version does not exist or its artifacts are
    missing or unreadable, naming the model, the version and the artifact location.
    """
    _activate(settings)
    try:
        location = model_artifact_location(settings, version)
    except MlflowException as exc:
        raise ModelLoadError(
            f"model {settings.model_name!r} has no version {version}; pin a registered "
            f"version (the registry lists them) or serve an alias instead"
        ) from exc
    return _load_artifacts(
        settings,
        f"models:/{settings.model_name}/{version}",
        f"version {version}",
        location,
        "Pin a version whose artifacts exist, or retrain and register a new version.",
    )


def load_aliased_model(settings: AppSettings, alias: str) -> tuple[int, Any]:
    """The version ``models:/<model_name>@<alias>`` points at, and its fitted pipeline.

    The alias is resolved once and that version is loaded, so the two always match even if
    the alias moves meanwhile. Raises :class:`ModelLoadError` when the alias does not exist
    or its artifacts are missing or unreadable. The message names the model, the alias, the
    version and the artifact location; the underlying exception is chained, not pasted into
    the message.
    """
    _activate(settings)
    version = alias_version(settings, alias)
    if version is None:
        raise ModelLoadError(
            f"model {settings.model_name!r} has no version with alias {alias!r}; "
            f"register a model and set the alias first"
        )
    try:
        location = model_artifact_location(settings, version)
    except Exception:  # the load below fails too, and says so
        location = "an unknown location"
    model = _load_artifacts(
        settings,
        f"models:/{settings.model_name}/{version}",
        f"alias {alias!r} (version {version})",
        location,
        "Point the alias at a version whose artifacts exist, or retrain and register a new "
        "version.",
    )
    return version, model


def load_model(settings: AppSettings, alias: str) -> Any:
    """The fitted scikit-learn pipeline behind ``models:/<model_name>@<alias>``; see
    :func:`load_aliased_model` for the errors."""
    return load_aliased_model(settings, alias)[1]
