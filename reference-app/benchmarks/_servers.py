"""Model servers on loopback for the benchmarks: the BentoML service and ``mlflow models serve``.

Both are started as child processes in their own session (so stopping one stops its workers
too), write their output to a log file, and are ready when their health endpoint answers.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

QUIET_ENV = {
    "DO_NOT_TRACK": "true",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "BENTOML_DO_NOT_TRACK": "true",
}
BIN_DIR = Path(sys.executable).parent
SERVICE = "mlops_reference_app.service:RainTomorrow"
READY_TIMEOUT_SECONDS = 180.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def quiet_environment() -> None:
    for name, value in QUIET_ENV.items():
        os.environ.setdefault(name, value)


def _child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {**os.environ, **QUIET_ENV, **extra}
    # mlflow models serve starts uvicorn by name: this interpreter's scripts must come first.
    env["PATH"] = f"{BIN_DIR}{os.pathsep}{env.get('PATH', '')}"
    # A multi-process Prometheus directory inherited from a parent (Feast sets one) would
    # change how the servers keep their metrics.
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.pop("PROMETHEUS_MULTIPROCESS_DIR", None)
    return env


@dataclass
class Server:
    """A model server child process on loopback."""

    name: str
    command: list[str]
    env: dict[str, str]
    log_path: Path
    health_path: str
    predict_path: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    ready_seconds: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.command,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.log_path.parent,
            )
        self.started_at = time.perf_counter()
        return self

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}{self.health_path}", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout_seconds: float = READY_TIMEOUT_SECONDS) -> float:
        """Seconds from start until the health endpoint answered."""
        assert self.process is not None, "start() first"
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.tail()}"
                )
            if self.ready():
                self.ready_seconds = time.perf_counter() - self.started_at
                return self.ready_seconds
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"{self.name} not ready after {timeout_seconds:.0f} s:\n{self.tail()}")

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def bentoml_server(
    *,
    tracking_uri: str,
    model_name: str,
    log_path: Path,
    alias: str = "champion",
    bentoml_home: Path | None = None,
    scoring: str = "auto",
    name: str = "bentoml",
) -> Server:
    """The BentoML service from its import path, loading ``models:/<name>@<alias>``."""
    env = _child_env(
        {
            "MLFLOW_TRACKING_URI": tracking_uri,
            "MLFLOW_REGISTRY_URI": tracking_uri,
            "REFERENCE_APP_MODEL_NAME": model_name,
            "REFERENCE_APP_MODEL_ALIAS": alias,
            "REFERENCE_APP_SCORING": scoring,
        }
    )
    if bentoml_home is not None:
        env["BENTOML_HOME"] = str(bentoml_home)
    port = free_port()
    command = [
        str(BIN_DIR / "bentoml"),
        "serve",
        SERVICE,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    return Server(name, command, env, log_path, "/readyz", "/predict", port=port)


def mlflow_server(*, tracking_uri: str, model_uri: str, log_path: Path) -> Server:
    """``mlflow models serve`` of ``model_uri`` in this environment (one worker)."""
    env = _child_env({"MLFLOW_TRACKING_URI": tracking_uri, "MLFLOW_REGISTRY_URI": tracking_uri})
    port = free_port()
    command = [
        str(BIN_DIR / "mlflow"),
        "models",
        "serve",
        "-m",
        model_uri,
        "--env-manager",
        "local",
        "--workers",
        "1",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    return Server("mlflow models serve", command, env, log_path, "/ping", "/invocations", port=port)
