"""Where the application keeps its runs, models, data versions and features.

Two ways to build settings:

- :meth:`AppSettings.embedded` puts everything under one local directory: a sqlite MLflow
  store (tracking and registry), a local MLflow artifact directory, a local DVC remote
  directory and a Feast repo directory. Nothing listens on a port.
- :meth:`AppSettings.from_env` reads the platform's endpoints from the environment, so the
  same code talks to the platform's MLflow server, its S3 bucket for data versions and its
  Feast repo when deployed.

Environment variables read by :meth:`AppSettings.from_env`:

- ``MLFLOW_TRACKING_URI`` (required): the MLflow server, e.g. ``http://mlflow.mlflow:5000``.
- ``MLFLOW_REGISTRY_URI`` (default: the tracking URI): the model registry.
- ``REFERENCE_APP_DVC_REMOTE`` (required): the DVC remote, e.g. ``s3://ml-data/dvc``.
- ``MLFLOW_S3_ENDPOINT_URL`` or ``AWS_ENDPOINT_URL`` (default: none, i.e. AWS itself):
  an S3-compatible endpoint for artifacts and data versions.
- ``REFERENCE_APP_WORKDIR`` (default: ``./reference-app-work``): local scratch space.
- ``REFERENCE_APP_FEAST_REPO`` (default: ``<workdir>/feast``): the Feast repo directory.
- ``REFERENCE_APP_MODEL_NAME`` (default: ``rain-tomorrow``): the registered model name.
- ``REFERENCE_APP_EXPERIMENT`` (default: ``rain-tomorrow``): the MLflow experiment name.
- ``REFERENCE_APP_ARTIFACT_LOCATION`` (default: the server's default): artifact root used
  when the experiment is created.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path

DEFAULT_MODEL_NAME = "rain-tomorrow"
DEFAULT_EXPERIMENT = "rain-tomorrow"
DEFAULT_WORKDIR = "reference-app-work"


class SettingsError(ValueError):
    """A required setting is missing or malformed; the message names the variable and a fix."""


@dataclass
class AppSettings:
    """Endpoints and names used by every module of the application.

    - ``workdir``: local scratch directory (DVC workspace, windows, reports).
    - ``tracking_uri``: MLflow tracking URI (``sqlite:///...`` or ``http://...``).
    - ``registry_uri``: MLflow model registry URI.
    - ``dvc_remote``: DVC remote URL: a local directory or ``s3://bucket/prefix``.
    - ``feast_repo``: Feast repository directory.
    - ``model_name`` ("rain-tomorrow"): registered model name.
    - ``s3_endpoint_url`` (None): S3-compatible endpoint (moto, MinIO); None means AWS.
    - ``experiment_name`` ("rain-tomorrow"): MLflow experiment for training runs.
    - ``artifact_location`` (None): artifact root for a new experiment; None uses the
      server's default. The embedded settings point it under ``workdir``.
    """

    workdir: Path
    tracking_uri: str
    registry_uri: str
    dvc_remote: str
    feast_repo: Path
    model_name: str = DEFAULT_MODEL_NAME
    s3_endpoint_url: str | None = None
    experiment_name: str = DEFAULT_EXPERIMENT
    artifact_location: str | None = None

    def __post_init__(self) -> None:
        self.workdir = Path(self.workdir)
        self.feast_repo = Path(self.feast_repo)
        if not self.model_name:
            raise SettingsError("model_name is empty; give the registered model a name")
        if not self.tracking_uri:
            raise SettingsError("tracking_uri is empty; set MLFLOW_TRACKING_URI")

    @classmethod
    def embedded(cls, workdir: str | Path) -> AppSettings:
        """Everything local under ``workdir``; the directories are created."""
        root = Path(workdir).resolve()
        root.mkdir(parents=True, exist_ok=True)
        artifacts = root / "mlflow-artifacts"
        artifacts.mkdir(exist_ok=True)
        remote = root / "dvc-remote"
        remote.mkdir(exist_ok=True)
        store = f"sqlite:///{root / 'mlflow.db'}"
        return cls(
            workdir=root,
            tracking_uri=store,
            registry_uri=store,
            dvc_remote=str(remote),
            feast_repo=root / "feast",
            artifact_location=artifacts.as_uri(),
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AppSettings:
        """The platform's endpoints, from environment variables (see the module docstring)."""
        env = os.environ if environ is None else environ
        tracking = env.get("MLFLOW_TRACKING_URI", "").strip()
        if not tracking:
            raise SettingsError(
                "MLFLOW_TRACKING_URI is not set; point it at the platform's MLflow server "
                "(e.g. http://mlflow.mlflow:5000) or use AppSettings.embedded(workdir)"
            )
        remote = env.get("REFERENCE_APP_DVC_REMOTE", "").strip()
        if not remote:
            raise SettingsError(
                "REFERENCE_APP_DVC_REMOTE is not set; set it to the data-version bucket "
                "(e.g. s3://ml-data/dvc) or a local directory"
            )
        workdir = Path(env.get("REFERENCE_APP_WORKDIR", DEFAULT_WORKDIR)).resolve()
        endpoint = env.get("MLFLOW_S3_ENDPOINT_URL") or env.get("AWS_ENDPOINT_URL") or None
        return cls(
            workdir=workdir,
            tracking_uri=tracking,
            registry_uri=env.get("MLFLOW_REGISTRY_URI", "").strip() or tracking,
            dvc_remote=remote,
            feast_repo=Path(env.get("REFERENCE_APP_FEAST_REPO", str(workdir / "feast"))),
            model_name=env.get("REFERENCE_APP_MODEL_NAME", DEFAULT_MODEL_NAME),
            s3_endpoint_url=endpoint,
            experiment_name=env.get("REFERENCE_APP_EXPERIMENT", DEFAULT_EXPERIMENT),
            artifact_location=env.get("REFERENCE_APP_ARTIFACT_LOCATION") or None,
        )

    def to_json(self) -> str:
        """A JSON object of every field (paths as strings), for passing to pipeline steps."""
        values = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}
        return json.dumps(values, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> AppSettings:
        """Inverse of :meth:`to_json`; unknown keys are an error."""
        values = json.loads(text)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise SettingsError(
                f"settings JSON has unknown keys {unknown}; known keys are {sorted(known)}"
            )
        return cls(**values)
