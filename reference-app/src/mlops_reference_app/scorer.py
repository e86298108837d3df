"""A minimal model server process: one pinned registry version behind HTTP.

Run it as ``python -m mlops_reference_app.scorer --tracking-uri URI --model-name NAME
--version N --port P``. It loads ``models:/NAME/N`` once, then serves:

- ``POST /predict`` with ``{"rows": [{feature: value, ...}, ...]}``, answering
  ``{"probabilities": [...], "version": "N"}``;
- ``GET /metrics``: request latency, errors, predictions, the model version and the serving
  cost per 1,000 predictions (see :mod:`mlops_reference_app.metrics`);
- ``GET /healthz``: ``{"status": "ok", "version": "N"}`` once the model is loaded.

It pins a version rather than an alias, so a process never changes model under its callers;
the canary router decides which process gets traffic. It is a uvicorn server with one
worker: small, quick to start (about a second plus the model load) and easy to kill in a
reliability test. In the platform the BentoML service plays this part.

:func:`start_scorer` starts one as a child process and waits until it is healthy.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlops_reference_app import metrics_free_environ
from mlops_reference_app.cost import DEFAULT_USD_PER_VCPU_HOUR, CostTracker, ServingCostMeter
from mlops_reference_app.data import FEATURES
from mlops_reference_app.metrics import CONTENT_TYPE, AppMetrics

__all__ = ["ScorerProcess", "build_app", "main", "start_scorer"]

DEFAULT_HOST = "127.0.0.1"
READY_TIMEOUT_SECONDS = 60.0


def build_app(
    model: Any,
    *,
    model_name: str,
    version: str,
    role: str = "serving",
    features: Sequence[str] = FEATURES,
    usd_per_vcpu_hour: float = DEFAULT_USD_PER_VCPU_HOUR,
    metrics: AppMetrics | None = None,
) -> Any:
    """The ASGI app serving ``model`` (a fitted classifier)."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from mlops_reference_app.scoring import compile_scorer, rows_to_matrix

    metrics = metrics if metrics is not None else AppMetrics()
    tracker = CostTracker(
        model_name=model_name, metrics=metrics, usd_per_vcpu_hour=usd_per_vcpu_hour
    )
    meter = ServingCostMeter(usd_per_vcpu_hour=usd_per_vcpu_hour)
    labels = {"model": model_name, "role": role, "version": version}
    with contextlib.suppress(ValueError):
        metrics.model_version.labels(model=model_name, role=role).set(float(version))
    scorer, _ = compile_scorer(model, tuple(features))

    def score(rows: list[dict[str, Any]]) -> np.ndarray:
        return scorer(rows_to_matrix(rows, features))

    async def predict(request: Request) -> Response:
        started = time.perf_counter()
        try:
            body = await request.json()
            rows = body["rows"]
            probabilities = await run_in_threadpool(score, rows)
        except (KeyError, TypeError, ValueError) as exc:
            metrics.request_errors.labels(**labels).inc()
            return JSONResponse({"error": f"bad request: {exc}"}, status_code=400)
        except Exception as exc:
            metrics.request_errors.labels(**labels).inc()
            return JSONResponse({"error": f"{type(exc).__name__}: {exc}"}, status_code=500)
        metrics.request_duration.labels(**labels).observe(time.perf_counter() - started)
        positives = int((probabilities >= 0.5).sum())
        metrics.predictions.labels(**labels, predicted_class="1").inc(positives)
        metrics.predictions.labels(**labels, predicted_class="0").inc(
            len(probabilities) - positives
        )
        meter.add_predictions(len(probabilities))
        return JSONResponse({"probabilities": probabilities.tolist(), "version": version})

    async def metrics_endpoint(request: Request) -> Response:
        tracker.export_serving(meter)
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "version": version, "pid": os.getpid()})

    return Starlette(
        routes=[
            Route("/predict", predict, methods=["POST"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def _load(tracking_uri: str, registry_uri: str, model_name: str, version: str) -> Any:
    import mlflow
    import mlflow.sklearn

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(registry_uri)
    return mlflow.sklearn.load_model(f"models:/{model_name}/{version}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve one registered model version over HTTP.")
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--registry-uri", default=None, help="default: the tracking URI")
    parser.add_argument("--model-name", required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--role", default="serving", help="label on the metrics (e.g. challenger)")
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--usd-per-vcpu-hour", type=float, default=DEFAULT_USD_PER_VCPU_HOUR)
    args = parser.parse_args(argv)

    import uvicorn

    model = _load(
        args.tracking_uri, args.registry_uri or args.tracking_uri, args.model_name, args.version
    )
    app = build_app(
        model,
        model_name=args.model_name,
        version=str(args.version),
        role=args.role,
        usd_per_vcpu_hour=args.usd_per_vcpu_hour,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


@dataclass
class ScorerProcess:
    """A running scorer child process (see :func:`start_scorer`)."""

    process: subprocess.Popen[bytes]
    url: str
    version: str
    log_path: Path
    started_seconds: float = 0.0

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """Kill at once (SIGKILL), as a crash would."""
        if self.alive():
            self.process.kill()
        self.process.wait(timeout=10)

    def stop(self, timeout_seconds: float = 10.0) -> None:
        """Stop gracefully (SIGTERM), killing after ``timeout_seconds``."""
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout_seconds)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_scorer(
    *,
    tracking_uri: str,
    model_name: str,
    version: int | str,
    port: int,
    log_path: str | Path,
    registry_uri: str | None = None,
    role: str = "serving",
    host: str = DEFAULT_HOST,
    env: dict[str, str] | None = None,
    ready_timeout_seconds: float = READY_TIMEOUT_SECONDS,
) -> ScorerProcess:
    """Start a scorer process and return once ``/healthz`` answers; its output goes to
    ``log_path``. Raises RuntimeError (with the log's tail) if it dies or stays unready.
    """
    import httpx

    log = Path(log_path)
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "mlops_reference_app.scorer",
        "--tracking-uri",
        tracking_uri,
        "--model-name",
        model_name,
        "--version",
        str(version),
        "--role",
        role,
        "--host",
        host,
        "--port",
        str(port),
    ]
    if registry_uri:
        command += ["--registry-uri", registry_uri]
    child_env = metrics_free_environ(env)
    child_env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    child_env.setdefault("DO_NOT_TRACK", "true")
    started = time.perf_counter()
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=child_env)
    url = f"http://{host}:{port}"
    handle = ScorerProcess(process=process, url=url, version=str(version), log_path=log)
    deadline = time.monotonic() + ready_timeout_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(
                f"scorer for version {version} exited with {process.returncode}:\n{tail}"
            )
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                handle.started_seconds = time.perf_counter() - started
                return handle
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    handle.kill()
    tail = log.read_text(errors="replace")[-2000:]
    raise RuntimeError(
        f"scorer for version {version} not ready after {ready_timeout_seconds:.0f} s:\n{tail}"
    )


if __name__ == "__main__":
    main()
