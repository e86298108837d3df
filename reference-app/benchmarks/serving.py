"""Serving benchmark: the BentoML service against ``mlflow models serve``, same model, same load.

One model version is trained on 2012-2014 and registered in a sqlite MLflow registry. Three
servers load that same version on loopback:

- the application's BentoML service (``bentoml serve mlops_reference_app.service:RainTomorrow``,
  one worker, resolving the ``champion`` alias), ``POST /predict {"rows": [...]}``, as shipped:
  it scores with the numpy form of the pipeline, proven equal to scikit-learn at load time
  (:mod:`mlops_reference_app.compiled`);
- the same service with ``REFERENCE_APP_SCORING=scikit-learn``: the pipeline's own
  ``predict_proba``, to show how much of the difference is the scoring path and how much the
  server;
- MLflow's scoring server (``mlflow models serve -m models:/rain-tomorrow/N --env-manager
  local --workers 1``), ``POST /invocations {"dataframe_records": [...]}``.

All servers are started and warmed up, then each receives the same bounded load from the
same client in turn: ``--requests`` requests (default 5,000) with ``--concurrency`` in flight
(default 8), each carrying ``--rows`` rows of held-out 2015 days, pre-encoded so the client
does the same work for both. A request counts as an error when it fails, times out, does
not answer 200, or answers without one probability per row. Before the load, every server
scores the same rows and they must agree.

Usage::

    uv run python benchmarks/serving.py
    uv run python benchmarks/serving.py --requests 20000 --concurrency 16 --rows 10

The client runs on the same machine as the servers, so on a small machine it competes with
them for CPU: compare the two servers with each other, not with a dedicated load generator.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from _cli import add_json_argument, add_workdir_argument, in_workdir, write_figures
from _servers import Server, bentoml_server, mlflow_server, quiet_environment
from mlops_reference_app import data, tracking, training
from mlops_reference_app.canary import rows_from_frame
from mlops_reference_app.settings import AppSettings

DEFAULT_REQUESTS = 5000
DEFAULT_CONCURRENCY = 8
DEFAULT_ROWS = 1
DEFAULT_WARMUP = 200
DEFAULT_TIMEOUT_SECONDS = 10.0
AGREEMENT_ROWS = 50
TRAIN_WINDOW = ("2012-01-01", "2015-01-01")
TRAFFIC_WINDOW = ("2015-01-01", "2016-01-01")


@dataclass
class LoadResult:
    """One server under the load."""

    server: str
    requests: int
    errors: int
    seconds: float
    throughput_rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    first_error: str | None
    ready_seconds: float


def _percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q) * 1000.0) if len(values) else math.nan


async def _drive(
    url: str,
    path: str,
    bodies: Sequence[bytes],
    *,
    requests: int,
    concurrency: int,
    timeout_seconds: float,
    valid: Callable[[Any], bool],
) -> tuple[list[float], int, str | None, float]:
    """Send ``requests`` requests with ``concurrency`` in flight; (latencies, errors, first
    error, wall seconds)."""
    latencies: list[float] = []
    errors = 0
    first_error: str | None = None
    counter = itertools.count()
    headers = {"content-type": "application/json"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=timeout_seconds) as client:

        async def worker() -> None:
            nonlocal errors, first_error
            while True:
                i = next(counter)
                if i >= requests:
                    return
                body = bodies[i % len(bodies)]
                started = time.perf_counter()
                problem = None
                try:
                    response = await client.post(path, content=body, headers=headers)
                    if response.status_code != 200:
                        problem = f"HTTP {response.status_code}: {response.text[:200]}"
                    elif not valid(response.json()):
                        problem = f"unexpected answer: {response.text[:200]}"
                except (httpx.HTTPError, ValueError) as exc:
                    problem = f"{type(exc).__name__}: {exc}"
                latencies.append(time.perf_counter() - started)
                if problem is not None:
                    errors += 1
                    first_error = first_error or problem

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - began
    return latencies, errors, first_error, wall


def _bodies(frame: Any, rows: int, shape: Callable[[list[dict[str, Any]]], Any]) -> list[bytes]:
    records = rows_from_frame(frame)
    bodies = []
    for start in range(0, len(records) - rows + 1, rows):
        bodies.append(json.dumps(shape(records[start : start + rows])).encode())
    return bodies


def _bentoml_payload(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"rows": rows}


def _mlflow_payload(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"dataframe_records": rows}


def _bentoml_probabilities(answer: Any) -> list[float]:
    return [float(p) for p in answer["probabilities"]]


def _mlflow_probabilities(answer: Any) -> list[float]:
    # The model's pyfunc method is predict_proba: one [P(0), P(1)] pair per row.
    return [float(pair[-1]) for pair in answer["predictions"]]


def _valid(extract: Callable[[Any], list[float]], rows: int) -> Callable[[Any], bool]:
    def check(answer: Any) -> bool:
        try:
            values = extract(answer)
        except (KeyError, TypeError, ValueError, IndexError):
            return False
        return len(values) == rows and all(0.0 <= v <= 1.0 for v in values)

    return check


def setup_registry(workdir: Path) -> tuple[AppSettings, int, Any]:
    """Train on 2012-2014, register, alias ``champion``; returns settings, version, traffic."""
    settings = AppSettings.embedded(workdir)
    weather = data.load_weather()
    train = data.window(weather, *TRAIN_WINDOW)
    model = training.train(train)
    run_id = tracking.log_training_run(
        settings, model, data_version="serving-benchmark", params={}, frame=train
    )
    version = tracking.register(settings, run_id)
    tracking.set_alias(settings, version, tracking.CHAMPION)
    return settings, version, data.window(weather, *TRAFFIC_WINDOW)


def _agreement(bento: Server, mlflow: Server, traffic: Any) -> float:
    rows = rows_from_frame(traffic.head(AGREEMENT_ROWS))
    a = httpx.post(f"{bento.url}/predict", json={"rows": rows}, timeout=30)
    b = httpx.post(f"{mlflow.url}/invocations", json={"dataframe_records": rows}, timeout=30)
    a.raise_for_status()
    b.raise_for_status()
    left = np.asarray(_bentoml_probabilities(a.json()))
    right = np.asarray(_mlflow_probabilities(b.json()))
    if left.shape != right.shape:
        raise RuntimeError(f"the servers answered {left.shape} and {right.shape} values")
    return float(np.max(np.abs(left - right)))


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    quiet_environment()
    print(f"setting up a registry in {workdir} ...", flush=True)
    settings, version, traffic = setup_registry(workdir)
    logs = workdir / "logs"
    bento = bentoml_server(
        tracking_uri=settings.tracking_uri,
        model_name=settings.model_name,
        log_path=logs / "bentoml.log",
        bentoml_home=workdir / "bentoml",
    )
    bento_sklearn = bentoml_server(
        tracking_uri=settings.tracking_uri,
        model_name=settings.model_name,
        log_path=logs / "bentoml-scikit-learn.log",
        bentoml_home=workdir / "bentoml",
        scoring="scikit-learn",
        name="bentoml scikit-learn",
    )
    mlflow = mlflow_server(
        tracking_uri=settings.tracking_uri,
        model_uri=f"models:/{settings.model_name}/{version}",
        log_path=logs / "mlflow.log",
    )
    bento_bodies = _bodies(traffic, args.rows, _bentoml_payload)
    servers = [
        (bento, bento_bodies, _bentoml_probabilities),
        (bento_sklearn, bento_bodies, _bentoml_probabilities),
        (mlflow, _bodies(traffic, args.rows, _mlflow_payload), _mlflow_probabilities),
    ]
    results: list[LoadResult] = []
    try:
        for server, _, _ in servers:
            server.start()
        for server, _, _ in servers:
            seconds = server.wait_ready()
            print(f"{server.name} ready at {server.url} in {seconds:.1f} s", flush=True)
        difference = max(_agreement(b, mlflow, traffic) for b in (bento, bento_sklearn))
        print(
            f"all servers score {AGREEMENT_ROWS} rows identically "
            f"(largest difference {difference:.2e})"
        )
        if difference > 1e-9:
            raise RuntimeError(f"the servers disagree by {difference} on the same rows")
        for server, bodies, extract in servers:
            check = _valid(extract, args.rows)
            asyncio.run(
                _drive(
                    server.url,
                    server.predict_path,
                    bodies,
                    requests=args.warmup,
                    concurrency=args.concurrency,
                    timeout_seconds=args.timeout,
                    valid=check,
                )
            )
            latencies, errors, first_error, wall = asyncio.run(
                _drive(
                    server.url,
                    server.predict_path,
                    bodies,
                    requests=args.requests,
                    concurrency=args.concurrency,
                    timeout_seconds=args.timeout,
                    valid=check,
                )
            )
            results.append(
                LoadResult(
                    server=server.name,
                    requests=len(latencies),
                    errors=errors,
                    seconds=wall,
                    throughput_rps=len(latencies) / wall if wall else math.nan,
                    p50_ms=_percentile(latencies, 50),
                    p95_ms=_percentile(latencies, 95),
                    p99_ms=_percentile(latencies, 99),
                    mean_ms=float(np.mean(latencies) * 1000.0) if latencies else math.nan,
                    first_error=first_error,
                    ready_seconds=server.ready_seconds,
                )
            )
            print(f"{server.name}: load done in {wall:.1f} s", flush=True)
    finally:
        for server, _, _ in servers:
            server.stop()
    bento_result, sklearn_result, mlflow_result = results
    return {
        "model": f"{settings.model_name} v{version}",
        "requests": args.requests,
        "concurrency": args.concurrency,
        "rows_per_request": args.rows,
        "results": [asdict(r) for r in results],
        "ratio_throughput": bento_result.throughput_rps / mlflow_result.throughput_rps,
        "ratio_p95": bento_result.p95_ms / mlflow_result.p95_ms,
        "ratio_throughput_scikit_learn": sklearn_result.throughput_rps
        / mlflow_result.throughput_rps,
        "ratio_p95_scikit_learn": sklearn_result.p95_ms / mlflow_result.p95_ms,
        "errors": sum(r.errors for r in results),
    }


def report(summary: dict[str, Any]) -> None:
    print("")
    print(
        f"{summary['model']}: {summary['requests']} requests per server, concurrency "
        f"{summary['concurrency']}, {summary['rows_per_request']} row(s) per request, one "
        "asyncio httpx client on this machine"
    )
    header = (
        f"{'server':<20} {'requests':>8} {'errors':>6} {'seconds':>8} {'req/s':>8} "
        f"{'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'ready s':>7}"
    )
    print(header)
    print("-" * len(header))
    for r in summary["results"]:
        print(
            f"{r['server']:<20} {r['requests']:>8d} {r['errors']:>6d} {r['seconds']:>8.2f} "
            f"{r['throughput_rps']:>8.1f} {r['p50_ms']:>7.2f} {r['p95_ms']:>7.2f} "
            f"{r['p99_ms']:>7.2f} {r['ready_seconds']:>7.1f}"
        )
        if r["first_error"]:
            print(f"  first error: {r['first_error']}")
    print("")
    print(
        f"BentoML / MLflow: throughput {summary['ratio_throughput']:.2f}x, "
        f"p95 latency {summary['ratio_p95']:.2f}x"
    )
    print(
        "BentoML scoring with scikit-learn / MLflow: throughput "
        f"{summary['ratio_throughput_scikit_learn']:.2f}x, "
        f"p95 latency {summary['ratio_p95_scikit_learn']:.2f}x"
    )
    print(f"errors: {summary['errors']} (zero expected)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=DEFAULT_REQUESTS)
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="rows per request")
    parser.add_argument(
        "--warmup", type=int, default=DEFAULT_WARMUP, help="unmeasured requests first"
    )
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS)
    add_workdir_argument(parser)
    add_json_argument(parser)
    args = parser.parse_args(argv)
    for name in ("requests", "concurrency", "rows"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must be >= 0")
    summary = in_workdir(args.workdir, "serving-benchmark-", lambda workdir: run(args, workdir))
    report(summary)
    write_figures(args.json, summary)
    return 1 if summary["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
