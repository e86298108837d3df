"""The BentoML service: built as a bento, served on loopback, scraped for its metrics."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from _require import free_port, unavailable
from mlflow import MlflowClient
from mlops_reference_app import data, tracking, training
from mlops_reference_app.metrics import AppMetrics
from mlops_reference_app.scoring import rows_to_matrix
from mlops_reference_app.service import (
    load_served_model,
    pinned_version,
    publish_monitoring,
    publish_to,
    serving_settings,
)
from mlops_reference_app.settings import AppSettings
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.app

APP_DIR = Path(__file__).resolve().parents[1]
BENTOML = Path(sys.executable).with_name("bentoml")
READY_TIMEOUT_SECONDS = 120.0
QUIET_ENV = {
    "DO_NOT_TRACK": "true",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "BENTOML_DO_NOT_TRACK": "true",
}
for _name, _value in QUIET_ENV.items():
    os.environ.setdefault(_name, _value)


@dataclass
class Registry:
    settings: AppSettings
    champion: int
    broken: int
    model: training.TrainedModel
    holdout: pd.DataFrame


def _register(settings: AppSettings, model: training.TrainedModel, frame: pd.DataFrame) -> int:
    run_id = tracking.log_training_run(settings, model, data_version="test", params={}, frame=frame)
    return tracking.register(settings, run_id)


def _delete_serialized_model(settings: AppSettings, version: int) -> None:
    source = (
        MlflowClient(settings.tracking_uri, settings.registry_uri)
        .get_model_version(settings.model_name, str(version))
        .source
    )
    model_dir = settings.workdir / "mlflow-artifacts" / "models" / source.rsplit("/", 1)[-1]
    files = list(model_dir.rglob("model.*"))
    assert files, f"no serialized model under {model_dir}"
    for file in files:
        file.unlink()


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    settings = AppSettings.embedded(tmp_path_factory.mktemp("serving"))
    weather = data.load_weather()
    train_frame = data.window(weather, "2012-01-01", "2015-01-01")
    model = training.train(train_frame)
    champion = _register(settings, model, train_frame)
    tracking.set_alias(settings, champion, tracking.CHAMPION)
    broken = _register(settings, training.train(train_frame.iloc[:300]), train_frame.iloc[:300])
    tracking.set_alias(settings, broken, "broken")
    _delete_serialized_model(settings, broken)
    return Registry(
        settings, champion, broken, model, data.window(weather, "2015-01-01", "2016-01-01")
    )


@pytest.fixture(scope="module")
def bento(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str]]:
    """Build the bento into a private BentoML home; returns its tag and the environment."""
    if not BENTOML.exists():
        unavailable(f"the bentoml CLI is not installed next to {sys.executable}")
    home = tmp_path_factory.mktemp("bentoml-home")
    env = {**os.environ, **QUIET_ENV, "BENTOML_HOME": str(home)}
    started = time.monotonic()
    result = subprocess.run(
        [str(BENTOML), "build", "-f", "bentofile.yaml", "src", "--output", "tag"],
        cwd=APP_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    tag = result.stdout.strip().splitlines()[-1].removeprefix("__tag__:")
    assert tag.startswith("rain_tomorrow:"), result.stdout
    print(f"bento {tag} built in {time.monotonic() - started:.1f}s")
    return tag, env


class Server:
    def __init__(self, tag: str, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self._out = log.open("wb")
        self.proc = subprocess.Popen(
            [str(BENTOML), "serve", tag, "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=log.parent,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self) -> float:
        started = time.monotonic()
        while time.monotonic() - started < READY_TIMEOUT_SECONDS:
            if self.proc.poll() is not None:
                raise AssertionError(f"bentoml serve exited early:\n{self.output()[-3000:]}")
            if self.ready():
                return time.monotonic() - started
            time.sleep(0.5)
        raise AssertionError(f"not ready in {READY_TIMEOUT_SECONDS}s:\n{self.output()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(timeout=10)
        self._out.close()


def _serve_env(
    env: dict[str, str], registry: Registry, alias: str, version: int | None = None
) -> dict[str, str]:
    served = {
        **env,
        "MLFLOW_TRACKING_URI": registry.settings.tracking_uri,
        "MLFLOW_REGISTRY_URI": registry.settings.registry_uri,
        "REFERENCE_APP_MODEL_ALIAS": alias,
    }
    if version is not None:
        served["REFERENCE_APP_MODEL_VERSION"] = str(version)
    return served


@pytest.fixture(scope="module")
def servers(
    bento, registry: Registry, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Server]]:
    """Servers of the same bento, booted side by side: a broken alias, the champion, and the
    champion's version pinned by number under an alias that does not exist."""
    tag, env = bento
    started = {}
    try:
        for key, alias, version in (
            ("broken", "broken", None),
            ("champion", "champion", None),
            ("pinned", "nowhere", registry.champion),
        ):
            log = tmp_path_factory.mktemp(f"serve-{key}") / "serve.log"
            served = _serve_env(env, registry, alias, version)
            if key == "pinned":
                # BentoML keeps its multi-process metrics under BENTOML_HOME: a server with
                # its own copy of the home keeps its gauges out of the champion's /metrics.
                home = tmp_path_factory.mktemp("bentoml-home-pinned")
                shutil.copytree(
                    env["BENTOML_HOME"],
                    home,
                    dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("prometheus_multiproc_dir"),
                )
                served["BENTOML_HOME"] = str(home)
            started[key] = Server(tag, served, log)
        yield started
    finally:
        for srv in started.values():
            srv.stop()


@pytest.fixture(scope="module")
def server(servers: dict[str, Server]) -> Server:
    seconds = servers["champion"].wait_ready()
    print(f"bento ready in {seconds:.1f}s")
    return servers["champion"]


def _rows(frame: pd.DataFrame) -> list[dict[str, float]]:
    return frame[list(data.FEATURES)].to_dict("records")


def _samples(url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return samples


def test_corrupt_registry_artifact_stops_the_service(
    servers: dict[str, Server], registry: Registry
) -> None:
    # First in the module: the broken server restarts its worker in a loop, so it is stopped
    # as soon as its error has been seen.
    srv = servers["broken"]
    try:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline and "ModelLoadError" not in srv.output():
            assert not srv.ready(), "the service must not become ready without its model"
            time.sleep(0.5)
        output = srv.output()
        assert "ModelLoadError" in output, output[-3000:]
        assert (
            f"model 'rain-tomorrow' alias 'broken' (version {registry.broken}) could not be loaded"
            in output
        )
        assert "missing or unreadable" in output
        assert not srv.ready()
    finally:
        srv.stop()


def test_predict_returns_the_champions_probabilities(server: Server, registry: Registry) -> None:
    rows = registry.holdout.head(20)
    response = httpx.post(f"{server.url}/predict", json={"rows": _rows(rows)}, timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == str(registry.champion)
    assert body["model"] == registry.settings.model_name
    np.testing.assert_allclose(body["probabilities"], registry.model.predict_proba(rows), rtol=1e-9)


def test_a_pinned_version_is_served_by_number(
    servers: dict[str, Server], registry: Registry
) -> None:
    pinned = servers["pinned"]
    pinned.wait_ready()
    rows = registry.holdout.head(5)
    response = httpx.post(f"{pinned.url}/predict", json={"rows": _rows(rows)}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["model_version"] == str(registry.champion)
    np.testing.assert_allclose(
        response.json()["probabilities"], registry.model.predict_proba(rows), rtol=1e-9
    )
    pinned.stop()


def test_bad_rows_are_rejected_with_a_clear_message(server: Server) -> None:
    response = httpx.post(f"{server.url}/predict", json={"rows": [{"wind": 2.0}]}, timeout=30)
    assert response.status_code == 400
    assert "row 0 lacks features" in response.text
    assert "precipitation" in response.text
    response = httpx.post(
        f"{server.url}/predict", json={"rows": [dict.fromkeys(data.FEATURES, "wet")]}, timeout=30
    )
    assert response.status_code == 400
    assert "every feature must be a number" in response.text


def test_metrics_expose_the_contract_names(server: Server, registry: Registry) -> None:
    httpx.post(f"{server.url}/predict", json={"rows": _rows(registry.holdout.head(5))}, timeout=30)
    httpx.post(f"{server.url}/predict", json={"rows": [{}]}, timeout=30)
    published = publish_monitoring(
        server.url,
        feature_drift={"wind": 0.42, "temp_max": 0.05},
        drift_share=0.25,
        quality={"roc_auc": 0.71},
    )
    assert published["drift_share"] == 0.25
    samples = _samples(server.url)
    model = registry.settings.model_name
    version = str(registry.champion)

    def value(name: str, **labels: str) -> float:
        found = [v for got, v in samples.get(name, []) if labels.items() <= got.items()]
        assert found, f"{name}{labels} not exposed; have {sorted(samples)}"
        return sum(found)

    assert value("mlops_predictions_total", model=model, version=version) >= 5
    assert value("mlops_request_errors_total", model=model, version=version) >= 1
    assert value("mlops_request_duration_seconds_count", model=model, version=version) >= 2
    assert value("mlops_model_version", model=model, role="serving") == registry.champion
    assert value("mlops_feature_drift_score", model=model, feature="wind") == pytest.approx(0.42)
    assert value("mlops_dataset_drift_share", model=model) == pytest.approx(0.25)
    assert value("mlops_model_quality_score", model=model, metric="roc_auc") == pytest.approx(0.71)
    assert (
        value("bentoml_service_request_total", endpoint="/predict", http_response_code="200") >= 1
    )
    bad = httpx.post(f"{server.url}/monitoring", json={"drift_share": 3.0}, timeout=10)
    assert bad.status_code == 400
    assert "within [0, 1]" in bad.text


def test_prometheus_scrapes_the_service(server: Server, tmp_path: Path) -> None:
    binary = shutil.which("prometheus")
    if binary is None:
        unavailable("prometheus is not installed (Debian package prometheus)")
    publish_monitoring(server.url, feature_drift={"precipitation": 0.37})
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: rain-tomorrow\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{server.port}']}}]\n"
    )
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        query = 'max by (model, feature) (mlops_feature_drift_score{feature="precipitation"})'
        deadline = time.monotonic() + 60
        result: list = []
        while time.monotonic() < deadline and not result:
            time.sleep(1)
            try:
                body = httpx.get(
                    f"http://127.0.0.1:{port}/api/v1/query", params={"query": query}, timeout=5
                ).json()
            except httpx.HTTPError:
                continue
            result = body.get("data", {}).get("result", [])
        assert result, "Prometheus never saw mlops_feature_drift_score from the service"
        assert float(result[0]["value"][1]) == pytest.approx(0.37)
        assert result[0]["metric"] == {"model": "rain-tomorrow", "feature": "precipitation"}
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_load_errors_in_process(registry: Registry) -> None:
    served = load_served_model(registry.settings)
    assert served.version == registry.champion
    assert served.features == tuple(data.FEATURES)
    assert served.scoring == "numpy"
    reference = load_served_model(registry.settings, scoring="scikit-learn")
    assert reference.scoring == "scikit-learn (as configured)"
    rows = _rows(registry.holdout)
    np.testing.assert_allclose(served.predict(rows), reference.predict(rows), rtol=0, atol=1e-12)
    with pytest.raises(Exception, match="REFERENCE_APP_SCORING='fast' is not a scoring mode"):
        load_served_model(registry.settings, scoring="fast")
    assert served.source == "champion"


def test_a_pinned_version_is_served_whatever_the_aliases_say(registry: Registry) -> None:
    pinned = load_served_model(registry.settings, "nowhere", version=registry.champion)
    assert (pinned.version, pinned.source) == (registry.champion, f"version {registry.champion}")
    rows = _rows(registry.holdout.head(10))
    np.testing.assert_allclose(
        pinned.predict(rows), registry.model.predict_proba(registry.holdout.head(10)), rtol=1e-9
    )
    with pytest.raises(tracking.ModelLoadError, match="has no version 999; pin a registered"):
        load_served_model(registry.settings, version=999)
    with pytest.raises(tracking.ModelLoadError, match=f"version {registry.broken} could not be"):
        load_served_model(registry.settings, version=registry.broken)
    assert pinned_version({}) is None
    assert pinned_version({"REFERENCE_APP_MODEL_VERSION": " 7 "}) == 7
    for bad in ("champion", "0", "-2", "1.5"):
        with pytest.raises(Exception, match="is not a registered model version"):
            pinned_version({"REFERENCE_APP_MODEL_VERSION": bad})
    with pytest.raises(tracking.ModelLoadError, match="has no version with alias 'nowhere'"):
        load_served_model(registry.settings, "nowhere")
    with pytest.raises(tracking.ModelLoadError, match="missing or unreadable"):
        load_served_model(registry.settings, "broken")


def test_serving_settings_and_helpers(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="MLFLOW_TRACKING_URI is not set"):
        serving_settings({})
    settings = serving_settings(
        {"MLFLOW_TRACKING_URI": "http://mlflow:5000", "REFERENCE_APP_MODEL_NAME": "m"}
    )
    assert (settings.tracking_uri, settings.registry_uri, settings.model_name) == (
        "http://mlflow:5000",
        "http://mlflow:5000",
        "m",
    )
    matrix = rows_to_matrix([{"b": 1, "a": None, "c": "x"}, {"a": 2.5, "b": True}], ["a", "b"])
    assert matrix.dtype == np.float64
    np.testing.assert_array_equal(matrix, [[np.nan, 1.0], [2.5, 1.0]])
    with pytest.raises(ValueError, match="'rows' is empty"):
        rows_to_matrix([], ["a"])
    with pytest.raises(ValueError, match=r"row 1 lacks features \['b'\]"):
        rows_to_matrix([{"a": 1, "b": 2}, {"a": 1}], ["a", "b"])
    with pytest.raises(ValueError, match="row 0 is list"):
        rows_to_matrix([[1, 2]], ["a", "b"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="every feature must be a number or null"):
        rows_to_matrix([{"a": {"nested": 1}}], ["a"])
    metrics = AppMetrics()
    publish_to(metrics, "m", feature_drift={"wind": 0.5}, quality={"accuracy": 0.8})
    assert metrics.sample("mlops_feature_drift_score", {"model": "m", "feature": "wind"}) == 0.5
    with pytest.raises(ValueError, match="drift score of wind"):
        publish_to(metrics, "m", feature_drift={"wind": float("nan")})
