"""A real MLflow server, started exactly as the model registry component configures it.

PostgreSQL (local binaries) is the backend store, a moto S3 server on loopback the artifact
store. The server gets the arguments and environment of ``server_settings``, the same pure
function the chart values come from; database credentials arrive as libpq variables, as the
chart passes them. A client then logs, registers, aliases and loads a model through it.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient
from mlops_blueprints.components.model_registry import server_settings
from moto.server import ThreadedMotoServer
from sklearn.linear_model import LogisticRegression

from tests.services._require import unavailable

pytestmark = [
    pytest.mark.slow,
    # sklearn's pyfunc wrapper has an untyped predict; MLflow notes it skips validation.
    pytest.mark.filterwarnings("ignore:.*Any type hint is inferred as AnyType:UserWarning"),
]

_SERVICE_USER = "postgres"
_DB_PASSWORD = "tracking-Passw0rd"


def _pg_bin() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_service_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", _SERVICE_USER, "--", *command]


@pytest.fixture(scope="module")
def postgres() -> Iterator[dict[str, str]]:
    """A throw-away PostgreSQL with a role and schema shaped like a database grant."""
    bindir = _pg_bin()
    if bindir is None:
        unavailable("PostgreSQL server binaries (initdb, postgres) are not installed")
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam(_SERVICE_USER)
        except KeyError:
            unavailable("running as root and no 'postgres' user exists to run the server")
        if shutil.which("runuser") is None:
            unavailable("running as root and 'runuser' is missing to drop privileges")
    root = Path(tempfile.mkdtemp(prefix="mlflow-pg-"))
    data, sockets = root / "data", root / "run"
    sockets.mkdir()
    if os.geteuid() == 0:
        os.chmod(root, 0o755)
        for path in (root, sockets):
            os.chown(path, account.pw_uid, account.pw_gid)
    port = _free_port()
    subprocess.run(
        _as_service_user(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ]
        ),
        check=True,
        capture_output=True,
    )
    server = subprocess.Popen(
        _as_service_user(
            [
                str(bindir / "postgres"),
                "-D",
                str(data),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-k",
                str(sockets),
            ]
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    psql = [str(bindir / "psql"), "-h", str(sockets), "-p", str(port), "-U", "postgres"]
    try:
        for _ in range(100):
            ready = subprocess.run(
                _as_service_user([*psql, "-c", "select 1"]), capture_output=True, check=False
            )
            if ready.returncode == 0:
                break
            time.sleep(0.2)
        else:
            pytest.fail("PostgreSQL did not start")
        script = (
            f"CREATE ROLE mlflow LOGIN PASSWORD '{_DB_PASSWORD}';\n"
            "CREATE DATABASE mlops;\n"
            "\\c mlops\n"
            "REVOKE ALL ON SCHEMA public FROM PUBLIC;\n"
            "CREATE SCHEMA mlflow AUTHORIZATION mlflow;\n"
        )
        subprocess.run(
            _as_service_user([*psql, "-v", "ON_ERROR_STOP=1", "-d", "postgres"]),
            input=script.encode(),
            check=True,
            capture_output=True,
        )
        yield {
            "PGHOST": "127.0.0.1",
            "PGPORT": str(port),
            "PGDATABASE": "mlops",
            "PGUSER": "mlflow",
            "PGPASSWORD": _DB_PASSWORD,
        }
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"mlflow server exited early:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"mlflow server was not healthy in time:\n{log.read_text()[-4000:]}")


def test_the_planned_server_tracks_registers_and_serves_a_champion(
    postgres: dict[str, str], s3: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dummy_keys = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    boto3.client(
        "s3",
        endpoint_url=s3,
        **{
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
            "region_name": "us-east-1",
        },
    ).create_bucket(Bucket="acme-models")

    port = _free_port()
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    settings = server_settings(
        host="127.0.0.1",
        port=port,
        bucket="acme-models",
        prefix="mlflow/",
        metrics_dir=str(metrics),
        s3_endpoint_url=s3,
    )
    assert "--workers=1" in settings.args
    assert settings.env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
    # Credentials live on the server only, as in the cluster.
    env = {**os.environ, **settings.env, **postgres, **dummy_keys}
    env.pop("MLFLOW_TRACKING_URI", None)
    mlflow_cli = Path(sys.executable).with_name("mlflow")
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(mlflow_cli), *settings.args], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, server, log)
        monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        monkeypatch.setenv("DO_NOT_TRACK", "true")
        monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
        mlflow.set_tracking_uri(url)
        features = np.array([[0.0], [1.0], [2.0], [3.0]])
        labels = np.array([0, 0, 1, 1])
        model = LogisticRegression().fit(features, labels)
        mlflow.set_experiment("registry-service-test")
        with mlflow.start_run():
            mlflow.log_param("C", model.C)
            info = mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
        version = mlflow.register_model(info.model_uri, "churn")
        client = MlflowClient()
        client.set_registered_model_alias("churn", "champion", version.version)
        loaded = mlflow.pyfunc.load_model("models:/churn@champion")
        assert list(loaded.predict(features)) == list(model.predict(features))
        assert client.get_model_version_by_alias("churn", "champion").version == version.version

        # Artifacts landed in the bucket under the prefix, runs in PostgreSQL.
        keys = [
            obj["Key"]
            for obj in boto3.client(
                "s3",
                endpoint_url=s3,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                region_name="us-east-1",
            ).list_objects_v2(Bucket="acme-models")["Contents"]
        ]
        assert keys
        assert all(key.startswith("mlflow/") for key in keys)
        assert any(key.endswith("MLmodel") for key in keys)
        with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
            assert b"mlflow_http_request" in response.read()
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
