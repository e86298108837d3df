"""Phase 1: training, MLflow tracking, DVC data versions and the KFP training pipeline.

Everything runs for real: a sqlite MLflow store in a temp dir, DVC pushing to a local
directory and to S3 on a moto server on loopback, and the KFP local runner starting the
pipeline's components as subprocesses of this interpreter.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient
from mlops_reference_app import data, pipeline, pipeline_steps, tracking, training, versioning
from mlops_reference_app.settings import AppSettings, SettingsError
from moto.server import ThreadedMotoServer

for _name in ("DO_NOT_TRACK", "MLFLOW_DISABLE_TELEMETRY", "BENTOML_DO_NOT_TRACK"):
    os.environ.setdefault(_name, "true")

pytestmark = pytest.mark.app

TRAIN_START, TRAIN_END = "2012-01-01", "2014-01-01"
LATER_START, LATER_END = "2014-01-01", "2016-01-01"


@pytest.fixture(scope="module")
def train_frame(weather: pd.DataFrame) -> pd.DataFrame:
    return data.window(weather, TRAIN_START, TRAIN_END)


@pytest.fixture(scope="module")
def trained(train_frame: pd.DataFrame) -> training.TrainedModel:
    return training.train(train_frame, seed=0)


def _client(settings: AppSettings) -> MlflowClient:
    return MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.registry_uri)


# --------------------------------------------------------------------------------------
# Training and evaluation
# --------------------------------------------------------------------------------------


def test_training_beats_chance_on_a_later_held_out_window(
    weather: pd.DataFrame, trained: training.TrainedModel
) -> None:
    later = data.window(weather, LATER_START, LATER_END)
    scores = training.evaluate(trained, later)
    assert scores["roc_auc"] > 0.6
    assert 0.6 < scores["accuracy"] <= 1.0
    assert scores["log_loss"] < math.log(2)  # better than a coin
    assert scores["n_rows"] == len(later)
    # In-sample metrics are recorded and plausible, and fitting took measurable time.
    assert 0.6 < trained.metrics["roc_auc"] < 0.95
    assert trained.fit_seconds > 0
    assert trained.params["train_rows"] == len(data.window(weather, TRAIN_START, TRAIN_END))
    assert trained.params["train_start"] == "2012-01-03"
    # A model registry round trip hands back a bare pipeline: evaluate takes that too.
    assert training.evaluate(trained.pipeline, later) == scores


def test_training_is_deterministic_for_a_seed(
    train_frame: pd.DataFrame, trained: training.TrainedModel
) -> None:
    again = training.train(train_frame, seed=0)
    first = trained.pipeline.named_steps["classify"].coef_
    assert np.array_equal(first, again.pipeline.named_steps["classify"].coef_)
    assert again.metrics == trained.metrics


def test_one_class_windows_are_handled(weather: pd.DataFrame) -> None:
    month = data.window(weather, "2013-07-01", "2013-08-01")
    dry = month.assign(**{data.TARGET: 0})
    scores = training.evaluate(training.train(weather.head(200)), dry)
    assert math.isnan(scores["roc_auc"])  # undefined with one class, not an exception
    assert 0.0 <= scores["accuracy"] <= 1.0
    assert math.isfinite(scores["log_loss"])
    fallback = training.train(dry)
    assert fallback.params["model"] == "prior"
    proba = fallback.predict_proba(month)
    assert proba.shape == (len(month),)
    assert np.all(proba < 0.01)
    empty = training.evaluate(fallback, month.iloc[:0])
    assert empty["n_rows"] == 0
    assert math.isnan(empty["accuracy"])


def test_feature_importance_and_calibration_tables(
    train_frame: pd.DataFrame, trained: training.TrainedModel
) -> None:
    importance = training.feature_importance(trained)
    assert set(importance["feature"]) == set(data.FEATURES)
    assert importance["importance"].is_monotonic_decreasing
    calibration = training.calibration_table(trained, train_frame)
    assert calibration["count"].sum() == len(train_frame)
    known = calibration.dropna()
    # Where the model says "likely", it rains more often than where it says "unlikely".
    assert known["observed_rate"].iloc[-1] > known["observed_rate"].iloc[0]


# --------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------


def test_embedded_settings_keep_everything_under_the_workdir(tmp_path: Path) -> None:
    settings = AppSettings.embedded(tmp_path / "app")
    root = (tmp_path / "app").resolve()
    assert settings.tracking_uri == f"sqlite:///{root / 'mlflow.db'}"
    assert settings.registry_uri == settings.tracking_uri
    assert Path(settings.dvc_remote).is_dir()
    assert settings.feast_repo == root / "feast"
    assert settings.artifact_location == (root / "mlflow-artifacts").as_uri()
    assert settings.model_name == "rain-tomorrow"
    assert AppSettings.from_json(settings.to_json()) == settings


def test_settings_from_the_platform_environment(tmp_path: Path) -> None:
    env = {
        "MLFLOW_TRACKING_URI": "http://mlflow.mlflow:5000",
        "REFERENCE_APP_DVC_REMOTE": "s3://ml-data/dvc",
        "MLFLOW_S3_ENDPOINT_URL": "http://minio.storage:9000",
        "REFERENCE_APP_WORKDIR": str(tmp_path),
    }
    settings = AppSettings.from_env(env)
    assert settings.tracking_uri == settings.registry_uri == "http://mlflow.mlflow:5000"
    assert settings.dvc_remote == "s3://ml-data/dvc"
    assert settings.s3_endpoint_url == "http://minio.storage:9000"
    assert settings.workdir == tmp_path.resolve()
    with pytest.raises(SettingsError, match="MLFLOW_TRACKING_URI is not set"):
        AppSettings.from_env({"REFERENCE_APP_DVC_REMOTE": "s3://ml-data/dvc"})
    with pytest.raises(SettingsError, match="REFERENCE_APP_DVC_REMOTE is not set"):
        AppSettings.from_env({"MLFLOW_TRACKING_URI": "http://mlflow:5000"})
    with pytest.raises(SettingsError, match="unknown keys \\['colour'\\]"):
        AppSettings.from_json(json.dumps({**json.loads(settings.to_json()), "colour": "red"}))


# --------------------------------------------------------------------------------------
# MLflow tracking and registry
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tracked(
    tmp_path_factory: pytest.TempPathFactory,
    trained: training.TrainedModel,
    train_frame: pd.DataFrame,
) -> tuple[AppSettings, str]:
    settings = AppSettings.embedded(tmp_path_factory.mktemp("tracking"))
    run_id = tracking.log_training_run(
        settings,
        trained,
        data_version="0123456789abcdef0123456789abcdef",
        params={"window_start": TRAIN_START, "window_end": TRAIN_END},
        metrics={"holdout_roc_auc": 0.71, "undefined_metric": math.nan},
        frame=train_frame,
    )
    return settings, run_id


def test_a_training_run_logs_params_metrics_environment_data_version_and_artifacts(
    tracked: tuple[AppSettings, str], trained: training.TrainedModel
) -> None:
    settings, run_id = tracked
    client = _client(settings)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert client.get_experiment(run.info.experiment_id).name == settings.experiment_name
    params = run.data.params
    assert params["window_start"] == TRAIN_START
    assert params["seed"] == "0"
    assert params["C"] == "1.0"
    assert params["train_rows"] == str(trained.params["train_rows"])
    assert params["n_features"] == str(len(data.FEATURES))
    metrics = run.data.metrics
    for name in ("roc_auc", "accuracy", "log_loss"):
        assert metrics[f"train_{name}"] == pytest.approx(trained.metrics[name])
    assert metrics["fit_seconds"] > 0
    assert metrics["holdout_roc_auc"] == 0.71
    assert "undefined_metric" not in metrics  # NaN is left out, not logged as garbage
    tags = run.data.tags
    assert tags[tracking.DATA_VERSION_TAG] == "0123456789abcdef0123456789abcdef"
    env = tracking.environment_info()
    assert tags["env.python"] == env["python"]
    assert tags["env.scikit-learn"] == env["scikit-learn"]
    assert tags[tracking.MODEL_URI_TAG].startswith("models:/")
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert {
        "environment.json",
        "feature_importance.csv",
        "feature_importance.png",
        "calibration.csv",
        "calibration.png",
    } <= artifacts
    local = Path(client.download_artifacts(run_id, "feature_importance.csv"))
    importance = pd.read_csv(local)
    assert list(importance["feature"]) == list(training.feature_importance(trained)["feature"])
    environment = json.loads(
        Path(client.download_artifacts(run_id, "environment.json")).read_text()
    )
    assert environment == env
    assert Path(client.download_artifacts(run_id, "calibration.png")).read_bytes()[:4] == b"\x89PNG"


def test_register_alias_champion_and_load(
    tracked: tuple[AppSettings, str], weather: pd.DataFrame, trained: training.TrainedModel
) -> None:
    settings, run_id = tracked
    assert tracking.champion_version(settings) is None or tracking.champion_version(settings) >= 1
    version = tracking.register(settings, run_id)
    assert version >= 1
    stored = _client(settings).get_model_version(settings.model_name, str(version))
    assert stored.run_id == run_id
    assert stored.tags[tracking.DATA_VERSION_TAG] == "0123456789abcdef0123456789abcdef"
    tracking.set_alias(settings, version, tracking.CHAMPION)
    assert tracking.champion_version(settings) == version
    assert tracking.alias_version(settings, "nobody-set-this") is None
    model = tracking.load_model(settings, tracking.CHAMPION)
    later = data.window(weather, LATER_START, LATER_END)
    expected = trained.predict_proba(later)
    assert np.allclose(training.positive_probability(model, later[list(data.FEATURES)]), expected)
    # The model's pinned requirements came from the installed versions, not inference.
    requirements = Path(tracking.model_artifact_location(settings, version).removeprefix("file://"))
    pinned = (requirements / "requirements.txt").read_text()
    assert f"scikit-learn=={tracking.environment_info()['scikit-learn']}" in pinned


def test_a_one_class_window_model_round_trips_through_the_registry(
    tracked: tuple[AppSettings, str], weather: pd.DataFrame
) -> None:
    settings, _ = tracked
    dry = data.window(weather, "2013-07-01", "2013-08-01").assign(**{data.TARGET: 0})
    fallback = training.train(dry)
    run_id = tracking.log_training_run(settings, fallback, data_version="dry", params={}, frame=dry)
    version = tracking.register(settings, run_id)
    tracking.set_alias(settings, version, "dry-month")
    model = tracking.load_model(settings, "dry-month")
    proba = training.positive_probability(model, dry[list(data.FEATURES)])
    assert np.array_equal(proba, np.zeros(len(dry)))


def test_model_load_errors_are_clear(tracked: tuple[AppSettings, str]) -> None:
    settings, run_id = tracked
    with pytest.raises(tracking.ModelLoadError, match="has no version with alias 'ghost'"):
        tracking.load_model(settings, "ghost")

    # Corrupt artifact: the serialised model is overwritten with junk.
    corrupt = tracking.register(settings, run_id)
    tracking.set_alias(settings, corrupt, "corrupt")
    location = Path(tracking.model_artifact_location(settings, corrupt).removeprefix("file://"))
    # Each registration of the same run points at the same logged model; copy it aside so
    # that damaging it does not hurt the champion used by other tests.
    backup = location.parent / "intact-copy"
    shutil.copytree(location, backup)
    try:
        (location / "model.skops").write_bytes(b"not a model")
        with pytest.raises(tracking.ModelLoadError) as corrupted:
            tracking.load_model(settings, "corrupt")
        _assert_clear(corrupted.value, settings, "corrupt", corrupt, location)

        # Deleted artifact: the whole model directory is gone.
        shutil.rmtree(location)
        with pytest.raises(tracking.ModelLoadError) as deleted:
            tracking.load_model(settings, "corrupt")
        _assert_clear(deleted.value, settings, "corrupt", corrupt, location)
        assert deleted.value.__cause__ is not None  # the detail is chained for debugging
    finally:
        shutil.rmtree(location, ignore_errors=True)
        shutil.move(backup, location)
    assert tracking.load_model(settings, "corrupt") is not None


def _assert_clear(
    error: Exception, settings: AppSettings, alias: str, version: int, location: Path
) -> None:
    message = str(error)
    assert f"model {settings.model_name!r} alias {alias!r} (version {version})" in message
    assert str(location) in message
    assert "Point the alias at a version whose artifacts exist" in message
    assert "Traceback" not in message
    assert 'File "' not in message
    assert "\n" not in message


# --------------------------------------------------------------------------------------
# DVC data versions
# --------------------------------------------------------------------------------------


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_data_versions_on_a_local_remote(tmp_path: Path, weather: pd.DataFrame) -> None:
    settings = AppSettings.embedded(tmp_path / "app")
    january = data.monthly_batches(weather)[0].frame
    saved = versioning.save_window(settings, january, "2012-01")
    assert saved.md5 == _md5(saved.path)
    assert saved.rows == len(january)
    assert saved.dvc_file.read_text().count(saved.md5) == 1
    pushed = Path(settings.dvc_remote) / "files" / "md5" / saved.md5[:2] / saved.md5[2:]
    assert pushed.read_bytes() == saved.path.read_bytes()
    # Same rows, same version; different rows, different version.
    assert versioning.version_window(settings, january.copy(), "2012-01-again") == saved.md5
    february = data.monthly_batches(weather)[1].frame
    assert versioning.version_window(settings, february, "2012-02") != saved.md5
    # A fresh checkout rebuilt from the version string alone gets identical bytes back.
    shutil.rmtree(versioning.repo_dir(settings))  # the workspace (and its cache) is gone
    fetched = versioning.fetch_version(settings, saved.md5, tmp_path / "fresh")
    assert _md5(fetched) == saved.md5
    restored = versioning.read_window(fetched)
    pd.testing.assert_frame_equal(restored[list(data.FEATURES)], january[list(data.FEATURES)])
    assert restored[data.TIMESTAMP].equals(january[data.TIMESTAMP])


def test_data_version_errors(tmp_path: Path, weather: pd.DataFrame) -> None:
    settings = AppSettings.embedded(tmp_path / "app")
    with pytest.raises(versioning.DataVersionError, match="not a plain file name"):
        versioning.save_window(settings, weather.head(3), "../escape")
    with pytest.raises(versioning.DataVersionError, match="not an md5"):
        versioning.fetch_version(settings, "latest", tmp_path / "a")
    with pytest.raises(versioning.DataVersionError, match="never pushed there"):
        versioning.fetch_version(settings, "f" * 32, tmp_path / "b")


@pytest.fixture
def moto_s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def test_data_versions_on_s3(tmp_path: Path, weather: pd.DataFrame, moto_s3: str) -> None:
    s3 = boto3.client("s3", endpoint_url=moto_s3, region_name="us-east-1")
    s3.create_bucket(Bucket="ml-data")
    embedded = AppSettings.embedded(tmp_path / "app")
    settings = AppSettings(
        workdir=embedded.workdir,
        tracking_uri=embedded.tracking_uri,
        registry_uri=embedded.registry_uri,
        dvc_remote="s3://ml-data/dvc",
        feast_repo=embedded.feast_repo,
        s3_endpoint_url=moto_s3,
    )
    window = data.window(weather, "2013-01-01", "2013-04-01")
    saved = versioning.save_window(settings, window, "2013-q1")
    config = (versioning.repo_dir(settings) / ".dvc" / "config").read_text()
    assert "s3://ml-data/dvc" in config
    assert moto_s3 in config
    assert "testing" not in config  # credentials stay in the untracked config.local
    key = f"dvc/files/md5/{saved.md5[:2]}/{saved.md5[2:]}"
    stored = s3.get_object(Bucket="ml-data", Key=key)["Body"].read()
    assert stored == saved.path.read_bytes()
    fetched = versioning.fetch_version(settings, saved.md5, tmp_path / "fresh-checkout")
    assert fetched.read_bytes() == saved.path.read_bytes()
    frame = versioning.load_version(settings, saved.md5, tmp_path / "another-checkout")
    assert len(frame) == len(window)


# --------------------------------------------------------------------------------------
# Kubeflow Pipelines
# --------------------------------------------------------------------------------------


def test_compiled_pipeline_is_deterministic_and_names_its_parts(tmp_path: Path) -> None:
    first = pipeline.compile_pipeline(tmp_path / "a.yaml")
    second = pipeline.compile_pipeline(tmp_path / "b.yaml")
    assert first.read_bytes() == second.read_bytes()
    spec = yaml.safe_load(first.read_text())
    assert spec["pipelineInfo"]["name"] == pipeline.PIPELINE_NAME
    assert set(spec["components"]) == {f"comp-{name}" for name in pipeline.COMPONENT_NAMES}
    assert set(spec["root"]["dag"]["tasks"]) == set(pipeline.COMPONENT_NAMES)
    parameters = spec["root"]["inputDefinitions"]["parameters"]
    assert set(parameters) == set(pipeline.PIPELINE_PARAMETERS)
    assert parameters["settings_json"]["defaultValue"] == ""  # on a cluster: from the env
    dag = spec["root"]["dag"]["tasks"]
    assert dag["train-model"]["dependentTasks"] == ["prepare-data"]
    assert sorted(dag["register-candidate"]["dependentTasks"]) == [
        "evaluate-model",
        "prepare-data",
        "train-model",
    ]
    for executor in spec["deploymentSpec"]["executors"].values():
        container = executor["container"]
        assert container["image"] == pipeline.DEFAULT_BASE_IMAGE
        command = " ".join(container["command"])
        assert "pip install" not in command  # the image carries the dependencies
        assert "from mlops_reference_app import pipeline_steps" in command
    custom = yaml.safe_load(
        pipeline.compile_pipeline(
            tmp_path / "c.yaml", base_image="registry.local/app:1.2.3"
        ).read_text()
    )
    images = {e["container"]["image"] for e in custom["deploymentSpec"]["executors"].values()}
    assert images == {"registry.local/app:1.2.3"}


def test_register_step_gates_the_candidate_on_held_out_roc_auc(
    tracked: tuple[AppSettings, str],
) -> None:
    settings, run_id = tracked
    client = _client(settings)
    weak = {"roc_auc": 0.55, "accuracy": 0.6, "log_loss": 0.68, "n_rows": 90.0}
    rejected = pipeline_steps.register_step(settings, run_id, weak, min_roc_auc=0.6, alias="gated")
    assert rejected == {"run_id": run_id, "model_version": 0, "accepted": False}
    assert client.get_run(run_id).data.tags["candidate"] == "rejected"
    assert client.get_run(run_id).data.metrics["eval_roc_auc"] == 0.55
    assert tracking.alias_version(settings, "gated") is None
    undefined = pipeline_steps.register_step(
        settings, run_id, {**weak, "roc_auc": math.nan}, min_roc_auc=0.6, alias="gated"
    )
    assert undefined["accepted"] is False
    accepted = pipeline_steps.register_step(
        settings, run_id, {**weak, "roc_auc": 0.75}, min_roc_auc=0.6, alias="gated"
    )
    assert accepted["accepted"] is True
    assert tracking.alias_version(settings, "gated") == accepted["model_version"] > 0
    assert client.get_run(run_id).data.tags["candidate"] == "accepted"


@pytest.fixture(scope="module")
def pipeline_runs(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[AppSettings, list[pipeline.PipelineResult], set[Path]]:
    temp_root = Path(tempfile.gettempdir())
    before = set(temp_root.glob("kfp-workspace-*"))
    settings = AppSettings.embedded(tmp_path_factory.mktemp("kfp"))
    runs = [
        pipeline.run_pipeline_locally(settings, "2012-01-01", "2013-07-01", eval_end="2014-01-01")
        for _ in range(2)
    ]
    leftovers = set(temp_root.glob("kfp-workspace-*")) - before
    return settings, runs, leftovers


def test_local_pipeline_run_trains_tracks_and_registers(
    pipeline_runs: tuple[AppSettings, list[pipeline.PipelineResult], set[Path]],
) -> None:
    settings, runs, leftovers = pipeline_runs
    first = runs[0]
    print(f"local KFP run took {first.seconds:.1f}s and {runs[1].seconds:.1f}s")
    assert first.accepted
    assert first.model_version == 1
    assert first.eval_metrics["roc_auc"] > 0.6
    assert first.eval_metrics["n_rows"] == 184  # 2013-07-01 .. 2013-12-31
    client = _client(settings)
    run = client.get_run(first.run_id)
    assert run.data.tags[tracking.DATA_VERSION_TAG] == first.data_version
    assert run.data.tags["candidate"] == "accepted"
    assert run.data.params["window_end"] == "2013-07-01"
    assert run.data.metrics["eval_roc_auc"] == pytest.approx(first.eval_metrics["roc_auc"])
    assert "train_roc_auc" in run.data.metrics
    version = client.get_model_version(settings.model_name, "1")
    assert version.run_id == first.run_id
    assert version.tags["stage"] == "candidate"
    assert tracking.alias_version(settings, pipeline.CANDIDATE_ALIAS) == runs[1].model_version == 2
    # The data version is the pushed training window: it can be fetched back and matches.
    window = versioning.load_version(settings, first.data_version, settings.workdir / "check")
    assert window[data.TIMESTAMP].min() == pd.Timestamp("2012-01-03")
    assert window[data.TIMESTAMP].max() == pd.Timestamp("2013-06-30")
    # The registered candidate is a working model.
    assert tracking.load_model(settings, pipeline.CANDIDATE_ALIAS) is not None
    # The runner's workspace was cleaned away.
    assert leftovers == set()
    assert not (settings.workdir / "kfp-workspace").exists()


def test_pipeline_reruns_reproduce_data_version_and_metrics(
    pipeline_runs: tuple[AppSettings, list[pipeline.PipelineResult], set[Path]],
) -> None:
    settings, runs, _ = pipeline_runs
    first, second = runs
    assert second.run_id != first.run_id
    assert second.data_version == first.data_version
    assert second.eval_metrics == first.eval_metrics
    client = _client(settings)
    metrics: list[dict[str, Any]] = [
        {k: v for k, v in client.get_run(r.run_id).data.metrics.items() if k != "fit_seconds"}
        for r in runs
    ]
    assert metrics[0] == metrics[1]
    assert set(metrics[0]) >= {"train_roc_auc", "eval_roc_auc", "eval_log_loss"}
