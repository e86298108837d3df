"""The 16-week roadmap, end to end: ``python -m mlops_reference_app [WORKDIR] [--fast]``.

The job replays Seattle's daily weather 2012-2015 as if it arrived month by month in
production, and walks the four phases of the roadmap on it:

1. **Weeks 1-4: tracking, data versioning, a reproducible pipeline.** The Kubeflow training
   pipeline (:mod:`~mlops_reference_app.pipeline`, local runner) versions the first training
   window with DVC, trains, logs an MLflow run, evaluates on the following months and
   registers version 1. The data version is then pulled back from the DVC remote.
2. **Weeks 5-8: validation gate, registry, feature store, packaging.** The gate
   (:mod:`~mlops_reference_app.validation`) checks the training data and the model, and
   :func:`~mlops_reference_app.registry.promote_challenger_if_better` makes version 1 the
   ``champion``. A Feast repository (:mod:`~mlops_reference_app.features`) is applied and
   materialized, and a point-in-time training set is compared with the versioned window.
   The BentoML service is built into a bento.
3. **Weeks 9-12: serving, canary, monitoring.** The champion runs in a scorer process
   (:mod:`~mlops_reference_app.scorer`) behind the canary router
   (:mod:`~mlops_reference_app.canary`), whose Prometheus metrics are served on loopback
   (and scraped by a real Prometheus server when one is installed). A challenger trained on
   more recent months gets a share of the next month's traffic and is promoted or rolled
   back on live metrics.
4. **Weeks 13-16: drift, retrain or reuse, cost.** Every further month is served, then
   arrives with its labels: it is validated, its served quality is measured, evidently
   checks it for drift (:mod:`~mlops_reference_app.drift`) and, on drift, a stored model
   whose training distribution matches is reused (:mod:`~mlops_reference_app.reuse`) or a
   new one is trained by the pipeline's steps in process. A candidate that passes the gate
   against the champion goes to a canary in the next month. Training compute and serving
   cost are measured (:mod:`~mlops_reference_app.cost`).

The job writes ``report.md`` (with PNG figures next to it) and ``summary.json`` in the
workdir, and prints a summary. Everything runs on embedded services under the workdir
(sqlite MLflow store, local DVC remote, Feast with duckdb and sqlite) unless ``--from-env``
points it at a deployed platform (:meth:`AppSettings.from_env`).

Why retraining does not use the Kubeflow runner after phase 1: the local runner starts one
process per step and takes 20-30 s per run here; the retraining path calls the very same
step functions (:mod:`~mlops_reference_app.pipeline_steps`) in this process, so a month
with drift costs seconds. On the platform both paths run the same code.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mlops_reference_app import data, training
from mlops_reference_app.settings import AppSettings

if TYPE_CHECKING:  # the pipeline module imports the KFP SDK: loaded only when it runs
    from mlops_reference_app.pipeline import PipelineResult

__all__ = [
    "CANARY_CONFIG",
    "DEFAULT_WORKDIR",
    "FAST_BATCHES",
    "FIGURES",
    "FIRST_TRAIN_MONTHS",
    "PROMETHEUS_ENV",
    "QUIET_ENV",
    "REQUESTS_PER_DAY",
    "RETRAIN_MONTHS",
    "SUMMARY_KEYS",
    "BatchRecord",
    "Deployment",
    "RoadmapError",
    "main",
    "retrain_in_process",
    "run_roadmap",
    "write_report",
]

DEFAULT_WORKDIR = Path(".cache") / "roadmap"
# The first model learns a whole year, so that every season is in it once.
FIRST_TRAIN_MONTHS = 12
# Months after the first training window used to evaluate it (the pipeline's default).
EVAL_MONTHS = 3
# Later models learn the six months before the month that drifted: long enough to learn
# from (models of three months lose about a point of ROC AUC on this data), short enough to
# hold one season, so that fingerprints tell seasons apart and recurring ones match.
RETRAIN_MONTHS = 6
# Each day's features are requested this many times: one row per day would give a canary
# a handful of requests a month.
REQUESTS_PER_DAY = 10
# Unmeasured requests a new serving process answers before it gets traffic.
WARM_UP_REQUESTS = 20
FAST_BATCHES = 4
SUMMARY_KEYS: tuple[str, ...] = (
    "data",
    "settings",
    "total_seconds",
    "phase_seconds",
    "kfp_pipeline_seconds",
    "batches_streamed",
    "models_trained",
    "models_reused",
    "champion_kept_on_drift",
    "drift_detections",
    "promotions",
    "rollbacks",
    "gate_rejections",
    "canary_pending",
    "champion_version",
    "champion_roc_auc",
    "baseline_roc_auc",
    "serving_latency_ms",
    "requests_served",
    "lead_time_seconds",
    "training_cpu_seconds",
    "training_cost_usd",
    "cost_per_1k_predictions_usd",
    "usd_per_vcpu_hour",
    "data_version",
    "bento",
    "feast",
    "prometheus",
    "batches",
    "deployments",
)
QUIET_ENV = {
    "DO_NOT_TRACK": "true",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "BENTOML_DO_NOT_TRACK": "true",
}
MARKER_FILE = ".roadmap-workdir"
SUMMARY_FILE = "summary.json"
_APP_DIR = Path(__file__).resolve().parents[2]
BENTOFILE = _APP_DIR / "bentofile.yaml"


def _canary_config() -> Any:
    from mlops_reference_app.canary import CanaryConfig

    # A quarter of the traffic, judged after 60 challenger requests: with REQUESTS_PER_DAY
    # a canary is decided within the month it starts in. Scorer processes on a shared
    # machine jitter by milliseconds, hence the 10 ms latency slack.
    return CanaryConfig(
        challenger_share=0.25,
        window_requests=60,
        min_requests_to_judge=20,
        min_labelled=50,
        latency_slack_seconds=0.01,
    )


CANARY_CONFIG = _canary_config()


class RoadmapError(RuntimeError):
    """The roadmap cannot run (e.g. a workdir that holds something else)."""


# -- records -------------------------------------------------------------------------------


@dataclass
class BatchRecord:
    """What happened to one streamed month.

    - ``index`` / ``month``: the batch (``YYYY-MM``) and its position in the series.
    - ``rows``: labelled days in the batch.
    - ``requests`` / ``latency_p50_ms`` / ``latency_p95_ms``: the month's traffic.
    - ``served_roc_auc`` / ``served_accuracy``: quality of what clients received (first
      answer per day), known once the labels arrive; NaN when the month has one class.
    - ``baseline_roc_auc``: the first model, never updated, on the same days.
    - ``champion_version``: the version serving as champion when the month ended.
    - ``canary``: canary decisions taken during the month (``promote v3``, ``rollback v4``).
    - ``valid`` / ``validation``: the data gate's verdict on the arrived batch.
    - ``drift_share`` / ``dataset_drift`` / ``drifted``: evidently's verdict.
    - ``action``: ``none`` (no drift), ``invalid``, ``postponed`` (a canary still runs),
      ``keep`` (the best match is the champion itself), ``reuse`` or ``retrain``.
    - ``candidate``: the version offered; ``gate``: ``accepted``/``rejected``.
    - ``distance``: fingerprint distance to the nearest stored model.
    - ``lead_time_seconds``: batch arrival to the new version answering in its process.
    - ``retrain_cpu_seconds``: CPU spent training for this batch.
    - ``note``: one sentence on the decision.
    """

    index: int
    month: str
    rows: int
    requests: int = 0
    latency_p50_ms: float = math.nan
    latency_p95_ms: float = math.nan
    served_roc_auc: float = math.nan
    served_accuracy: float = math.nan
    baseline_roc_auc: float = math.nan
    champion_version: int = 0
    canary: list[str] = field(default_factory=list)
    valid: bool = True
    validation: str = ""
    drift_share: float = math.nan
    dataset_drift: bool = False
    drifted: list[str] = field(default_factory=list)
    action: str = "none"
    candidate: int | None = None
    gate: str | None = None
    distance: float | None = None
    lead_time_seconds: float | None = None
    retrain_cpu_seconds: float = 0.0
    note: str = ""


@dataclass
class Deployment:
    """One candidate put in front of traffic (or made champion by the gate alone).

    - ``version`` / ``source``: the model and where it came from (``kfp pipeline``,
      ``retrain``, ``reuse``).
    - ``month``: the batch whose arrival led to it.
    - ``trained_on``: its training window.
    - ``gate``: the gate's message; ``candidate_metric`` / ``champion_metric``: the
      compared metric on the held-out month (None when there was no comparison).
    - ``outcome``: ``champion`` (gate only), ``promote``, ``rollback`` or ``pending``.
    - ``decided_in``: the month whose traffic decided the canary.
    - ``reason``: the canary's (or gate's) reason.
    - ``lead_time_seconds``: arrival to the first answer of its serving process.
    """

    version: int
    source: str
    month: str
    trained_on: str
    gate: str
    candidate_metric: float | None = None
    champion_metric: float | None = None
    outcome: str = "pending"
    decided_in: str = ""
    reason: str = ""
    lead_time_seconds: float | None = None


# -- small helpers -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _quiet(log: Path) -> Iterator[None]:
    """Send this process's stdout and stderr (file descriptors too) to ``log``.

    Kubeflow's local runner, Feast, DVC and MLflow print progress of their own; the
    roadmap keeps them in a log file so its own progress stays readable.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = (os.dup(1), os.dup(2))
    try:
        with log.open("ab") as handle:
            os.dup2(handle.fileno(), 1)
            os.dup2(handle.fileno(), 2)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    yield
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
    finally:
        os.close(saved[0])
        os.close(saved[1])


# Importing Feast's metrics module switches prometheus_client to multi-process mode through
# these variables; child processes (the scorers) would inherit it.
PROMETHEUS_ENV: tuple[str, ...] = ("PROMETHEUS_MULTIPROC_DIR", "PROMETHEUS_MULTIPROCESS_DIR")


@contextlib.contextmanager
def _environment_restored(names: Sequence[str]) -> Iterator[None]:
    """Undo whatever the block does to the environment variables ``names``."""
    before = {name: os.environ.get(name) for name in names}
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _percentile_ms(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q) * 1000.0) if len(values) else math.nan


def _finite_or_none(value: float | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return _finite_or_none(float(value))
    if isinstance(value, Path):
        return str(value)
    return value


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)} min {rest:.0f} s"


def _roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    if len(np.unique(labels)) < 2:
        return math.nan
    return float(roc_auc_score(labels, scores))


def _month(stamp: pd.Timestamp) -> str:
    return f"{stamp:%Y-%m}"


def _span(start: pd.Timestamp, end: pd.Timestamp) -> str:
    """``2012-04..2013-03`` for the half-open month range [start, end)."""
    last = end - pd.DateOffset(months=1)
    return f"{_month(start)}..{_month(last)}"


def prepare_workdir(workdir: Path) -> Path:
    """Create ``workdir`` or clear a previous roadmap run in it; refuse anything else."""
    root = workdir.resolve()
    if root.exists():
        if not root.is_dir():
            raise RoadmapError(f"workdir {root} is a file; choose a directory")
        entries = list(root.iterdir())
        if entries and not (root / MARKER_FILE).exists():
            raise RoadmapError(
                f"workdir {root} is not empty and was not made by the roadmap; choose an "
                "empty or new directory (the roadmap clears its own previous runs only)"
            )
        for entry in entries:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER_FILE).write_text("made by python -m mlops_reference_app; safe to delete\n")
    return root


# -- retraining in process -----------------------------------------------------------------


def retrain_in_process(
    settings: AppSettings,
    *,
    window_start: str | pd.Timestamp,
    window_end: str | pd.Timestamp,
    eval_end: str | pd.Timestamp,
    seed: int = 0,
) -> PipelineResult:
    """Run the training pipeline's four steps in this process.

    The same step functions as the Kubeflow components (prepare with DVC versioning, train
    with an MLflow run, evaluate on ``[window_end, eval_end)``, register with the
    ``candidate`` alias), without a process per step.
    """
    from mlops_reference_app import pipeline_steps as steps
    from mlops_reference_app.pipeline import PipelineResult

    start = str(pd.Timestamp(window_start).date())
    end = str(pd.Timestamp(window_end).date())
    evaluation_end = str(pd.Timestamp(eval_end).date())
    began = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="steps-", dir=settings.workdir))
    try:
        prepared = steps.prepare_step(
            settings,
            window_start=start,
            window_end=end,
            eval_end=evaluation_end,
            train_path=work / "train.csv",
            eval_path=work / "eval.csv",
        )
        run_id = steps.train_step(
            settings,
            work / "train.csv",
            work / "model.pkl",
            data_version=prepared.data_version,
            seed=seed,
            params={
                "window_start": start,
                "window_end": end,
                "eval_data_version": prepared.eval_data_version,
                "runner": "in-process",
            },
        )
        scores = steps.evaluate_step(work / "model.pkl", work / "eval.csv")
        outcome = steps.register_step(
            settings, run_id, scores, min_roc_auc=0.0, alias=steps.CANDIDATE_ALIAS
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return PipelineResult(
        run_id=run_id,
        model_version=int(outcome["model_version"]),
        accepted=bool(outcome["accepted"]),
        data_version=prepared.data_version,
        eval_metrics={k: float(v) for k, v in scores.items()},
        seconds=time.perf_counter() - began,
    )


# -- background servers --------------------------------------------------------------------


class _AppServer:
    """An ASGI app under uvicorn in a daemon thread, on loopback."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> _AppServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RoadmapError("the router's HTTP server did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class _Prometheus:
    """A real Prometheus server scraping the router every second (when installed)."""

    def __init__(self, workdir: Path, target: str) -> None:
        binary = shutil.which("prometheus") or "/usr/bin/prometheus"
        self.available = Path(binary).exists()
        self.process: subprocess.Popen[bytes] | None = None
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        if not self.available:
            return
        home = workdir / "prometheus"
        home.mkdir(parents=True, exist_ok=True)
        config = home / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: reference-app\n    static_configs:\n"
            f"      - targets: ['{target}']\n"
        )
        with (home / "prometheus.log").open("wb") as log:
            self.process = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={home / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def query(self, expr: str) -> list[dict[str, Any]]:
        import httpx

        body = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=5).json()
        return list(body["data"]["result"])

    def scalar(self, expr: str) -> float | None:
        try:
            result = self.query(expr)
        except Exception:
            return None
        if not result:
            return None
        return float(result[0]["value"][1])

    def wait_for(self, expr: str, want: float, timeout_seconds: float = 15.0) -> float | None:
        """Poll ``expr`` until it reaches ``want`` (Prometheus scrapes every second)."""
        deadline = time.monotonic() + timeout_seconds
        value = None
        while time.monotonic() < deadline:
            value = self.scalar(expr)
            if value is not None and value >= want:
                return value
            time.sleep(0.5)
        return value

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _scrape_serving_cost(url: str) -> tuple[float, float]:
    """(CPU seconds, rows scored) from a scorer process's ``/metrics``."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{url}/metrics", timeout=5).text
    cpu = predictions = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "mlops_serving_cpu_seconds":
                cpu += sample.value
            elif sample.name == "mlops_predictions_total":
                predictions += sample.value
    return cpu, predictions


# -- the roadmap ---------------------------------------------------------------------------


class _Roadmap:
    """State of one roadmap run; each ``phase_*`` method prints its progress."""

    def __init__(
        self,
        settings: AppSettings,
        *,
        fast: bool,
        batches: int | None,
        requests_per_day: int,
        embedded: bool,
        out: Callable[[str], None],
    ) -> None:
        from mlops_reference_app.cost import DEFAULT_USD_PER_VCPU_HOUR, CostTracker
        from mlops_reference_app.metrics import AppMetrics

        self.settings = settings
        self.fast = fast
        self.embedded = embedded
        self.out = out
        self.requests_per_day = requests_per_day
        self.workdir = settings.workdir
        self.logs = self.workdir / "logs"
        self.gates = self.workdir / "gates"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.gates.mkdir(parents=True, exist_ok=True)
        self.weather = data.load_weather()
        self.batches = data.monthly_batches(self.weather)
        self.first_stream = FIRST_TRAIN_MONTHS + EVAL_MONTHS
        available = len(self.batches) - self.first_stream
        if available < 1:
            raise RoadmapError(
                f"the data has {len(self.batches)} monthly batches; the roadmap needs more "
                f"than {self.first_stream}"
            )
        wanted = batches if batches is not None else (FAST_BATCHES if fast else available)
        self.stream = list(range(self.first_stream, self.first_stream + min(wanted, available)))
        self.metrics = AppMetrics()
        self.usd_per_vcpu_hour = DEFAULT_USD_PER_VCPU_HOUR
        self.cost = CostTracker(model_name=settings.model_name, metrics=self.metrics)
        self.phase_seconds: dict[str, float] = {}
        self.records: dict[int, BatchRecord] = {}
        self.deployments: list[Deployment] = []
        self.models: dict[int, Any] = {}
        self.train_frames: dict[int, pd.DataFrame] = {}
        self.train_spans: dict[int, str] = {}
        self.processes: dict[int, Any] = {}
        self.latencies: list[float] = []
        self.serving_cpu = 0.0
        self.serving_rows = 0.0
        self.models_trained = 0
        self.reuses = 0
        self.kept = 0
        self.drift_detections = 0
        self.gate_rejections = 0
        self.promotions = 0
        self.rollbacks = 0
        self.month = ""
        self.serving_version = 0
        self.baseline_model: Any = None
        self.router: Any = None
        self.router_server: _AppServer | None = None
        self.prometheus: _Prometheus | None = None
        self.monitor: Any = None
        self.store: Any = None
        self.kfp_seconds = math.nan
        self.data_version = ""
        self.bento: dict[str, Any] = {}
        self.feast: dict[str, Any] = {}
        self.prom_summary: dict[str, Any] = {}
        self.pending_deployment: Deployment | None = None
        self.first_version = 0
        self.phase3_release_seconds = math.nan
        self.first_eval = pd.DataFrame()

    # -- helpers ----------------------------------------------------------------------

    def _quiet(self, name: str) -> contextlib.AbstractContextManager[None]:
        return _quiet(self.logs / f"{name}.log")

    def _heading(self, text: str) -> None:
        self.out("")
        self.out(f"== {text}")

    def _window(self, first: int, end: int) -> pd.DataFrame:
        """Rows of batches ``first`` .. ``end - 1``."""
        return data.window(self.weather, self.batches[first].start, self.batches[end].start)

    def _load_version(self, version: int) -> Any:
        """Load a version from the registry through the ``challenger`` alias (cached)."""
        from mlops_reference_app import tracking

        tracking.set_alias(self.settings, version, tracking.CHALLENGER)
        if version not in self.models:
            self.models[version] = tracking.load_model(self.settings, tracking.CHALLENGER)
        return self.models[version]

    def _clear_challenger(self) -> None:
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        from mlops_reference_app import tracking

        client = MlflowClient(self.settings.tracking_uri, self.settings.registry_uri)
        with contextlib.suppress(MlflowException):
            client.delete_registered_model_alias(self.settings.model_name, tracking.CHALLENGER)

    def _start_scorer(self, version: int) -> Any:
        from mlops_reference_app.scorer import start_scorer

        return start_scorer(
            tracking_uri=self.settings.tracking_uri,
            registry_uri=self.settings.registry_uri,
            model_name=self.settings.model_name,
            version=version,
            port=_free_port(),
            log_path=self.logs / f"scorer-v{version}-{len(self.deployments)}.log",
            env=QUIET_ENV,
        )

    def _probe(self, process: Any, version: int) -> None:
        """One request straight to the process; it must answer with ``version``."""
        import httpx

        from mlops_reference_app.canary import rows_from_frame

        rows = rows_from_frame(self.weather.iloc[:1])
        body = httpx.post(f"{process.url}/predict", json={"rows": rows}, timeout=10).json()
        if str(body.get("version")) != str(version):
            raise RoadmapError(f"scorer for version {version} answered {body!r}")

    def _warm_scorer(self, process: Any, version: int) -> Any:
        """The router's client for a new process, after a few unmeasured requests.

        A fresh process and connection answer their first requests slowly; unwarmed, those
        would count in the canary's latency comparison against a long-running champion.
        """
        from mlops_reference_app.canary import HttpScorer

        scorer = HttpScorer(process.url, version=version)
        rows = self.weather[list(data.FEATURES)].iloc[:1]
        for _ in range(WARM_UP_REQUESTS):
            scorer.predict(rows)
        return scorer

    def _retire(self, version: int) -> None:
        process = self.processes.pop(version, None)
        if process is None:
            return
        with contextlib.suppress(Exception):
            cpu, rows = _scrape_serving_cost(process.url)
            self.serving_cpu += cpu
            self.serving_rows += rows
        process.stop()

    def _on_canary_decision(self, decision: Any) -> None:
        """The router decided: the registry follows, the retired process stops."""
        from mlops_reference_app.canary import RegistryAliases

        RegistryAliases(self.settings)(decision)
        challenger = int(decision.challenger.version)
        champion = int(decision.champion.version)
        if decision.action == "promote":
            self.promotions += 1
            self.serving_version = challenger
            self.monitor.set_reference(self.train_frames[challenger])
            self._retire(champion)
        else:
            self.rollbacks += 1
            self._retire(challenger)
        if self.pending_deployment is not None:
            self.pending_deployment.outcome = decision.action
            self.pending_deployment.decided_in = self.month
            self.pending_deployment.reason = decision.reason
            self.pending_deployment = None

    def _deploy(
        self, deployment: Deployment, arrival: float | None, record: BatchRecord | None
    ) -> None:
        """Start the candidate's scorer process and give it a canary share of traffic."""
        from mlops_reference_app import tracking

        version = deployment.version
        tracking.set_alias(self.settings, version, tracking.CHALLENGER)
        process = self._start_scorer(version)
        self.processes[version] = process
        self._probe(process, version)
        scorer = self._warm_scorer(process, version)
        if arrival is not None:
            deployment.lead_time_seconds = time.perf_counter() - arrival
            if record is not None:
                record.lead_time_seconds = deployment.lead_time_seconds
        self.deployments.append(deployment)
        self.pending_deployment = deployment
        self.router.start_canary(scorer)

    def _serve_month(self, index: int) -> BatchRecord:
        """Send the month's traffic through the router.

        While a canary runs, each answer's label is fed back at once (the router compares
        the arms' quality on them); the month's quality is computed here when it ends.
        """
        batch = self.batches[index]
        frame = batch.frame
        self.month = _month(batch.start)
        record = BatchRecord(index=index, month=self.month, rows=len(frame))
        labels = frame[data.TARGET].astype(int).to_numpy()
        first = np.full(len(frame), np.nan)
        latencies: list[float] = []
        decided_before = len(self.router.decisions)
        for i in range(len(frame)):
            row = frame.iloc[[i]]
            for repeat in range(self.requests_per_day):
                started = time.perf_counter()
                answer = self.router.predict(row)
                latencies.append(time.perf_counter() - started)
                if repeat == 0:
                    first[i] = float(answer.probabilities[0])
                if self.router.state == "canary":
                    self.router.feedback(answer.request_id, [int(labels[i])])
        if self.router.state == "canary":
            self.router.evaluate()
        if self.router.callback_error is not None:
            raise RoadmapError(
                f"applying a canary decision failed: {self.router.callback_error}"
            ) from self.router.callback_error
        self.latencies.extend(latencies)
        record.requests = len(latencies)
        record.latency_p50_ms = _percentile_ms(latencies, 50)
        record.latency_p95_ms = _percentile_ms(latencies, 95)
        record.served_roc_auc = _roc_auc(labels, first)
        record.served_accuracy = float(np.mean((first >= 0.5).astype(int) == labels))
        record.baseline_roc_auc = float(training.evaluate(self.baseline_model, frame)["roc_auc"])
        record.champion_version = self.serving_version
        record.canary = [
            f"{d.action} v{d.challenger.version}" for d in self.router.decisions[decided_before:]
        ]
        self.metrics.set_quality(
            self.settings.model_name,
            {"roc_auc": record.served_roc_auc, "accuracy": record.served_accuracy},
        )
        self.records[index] = record
        return record

    def _gate_metric(self, verdict: Any) -> tuple[float | None, float | None]:
        with contextlib.suppress(KeyError):
            details = verdict.check("no_regression").details
            metric = details.get("metric_used", details.get("metric", "roc_auc"))
            candidate = (details.get("candidate") or {}).get(metric)
            champion = (details.get("champion") or {}).get(metric)
            return _finite_or_none(candidate), _finite_or_none(champion)
        return None, None

    # -- phase 1 ----------------------------------------------------------------------

    def phase1(self) -> None:
        from mlops_reference_app.pipeline import compile_pipeline, run_pipeline_locally
        from mlops_reference_app.versioning import load_version

        started = time.perf_counter()
        self._heading("Phase 1 (weeks 1-4): experiment tracking, data versioning, a pipeline")
        train_start = self.batches[0].start
        train_end = self.batches[FIRST_TRAIN_MONTHS].start
        eval_end = self.batches[self.first_stream].start
        train = self._window(0, FIRST_TRAIN_MONTHS)
        self.out(
            f"  training window {_span(train_start, train_end)} ({len(train)} days), "
            f"evaluation window {_span(train_end, eval_end)}"
        )
        compiled = compile_pipeline(self.workdir / "pipeline" / "training-pipeline.yaml")
        self.out(f"  compiled the Kubeflow pipeline to {compiled}")
        self.out("  running it with the KFP local runner (one process per step) ...")
        with self.cost.pipeline_run("kfp-training") as usage, self._quiet("phase1-kfp"):
            result = run_pipeline_locally(self.settings, train_start, train_end, eval_end=eval_end)
        self.kfp_seconds = result.seconds
        self.models_trained += 1
        self.data_version = result.data_version
        self.out(
            f"  pipeline finished in {result.seconds:.1f} s ({usage.cpu_seconds:.1f} CPU s): "
            "prepare-data -> train-model -> evaluate-model -> register-candidate"
        )
        self.out(
            f"  data version (DVC md5) {result.data_version}, pushed to {self.settings.dvc_remote}"
        )
        with self._quiet("phase1-dvc"):
            pulled = load_version(
                self.settings, result.data_version, self.workdir / "checkout" / "first-window"
            )
        same = len(pulled) == len(train) and np.allclose(
            pulled[list(data.FEATURES)].to_numpy(dtype=float),
            train[list(data.FEATURES)].to_numpy(dtype=float),
            equal_nan=True,
        )
        self.out(
            f"  pulled the data version back from the remote: {len(pulled)} rows, "
            f"{'identical to' if same else 'DIFFERENT from'} the training window"
        )
        if not same:
            raise RoadmapError("the data version pulled from DVC differs from the window")
        metrics = result.eval_metrics
        self.out(
            f"  MLflow run {result.run_id}: held-out roc_auc {metrics['roc_auc']:.3f}, "
            f"accuracy {metrics['accuracy']:.3f}, log_loss {metrics['log_loss']:.3f}"
        )
        self.out(
            f"  registered {self.settings.model_name} version {result.model_version} "
            "(alias 'candidate')"
        )
        self.train_frames[result.model_version] = train
        self.train_spans[result.model_version] = _span(train_start, train_end)
        self.first_version = result.model_version
        self.first_eval = data.window(self.weather, train_end, eval_end)
        self.phase_seconds["phase1"] = time.perf_counter() - started
        self.out(f"  phase 1 took {_duration(self.phase_seconds['phase1'])}")

    # -- phase 2 ----------------------------------------------------------------------

    def phase2(self) -> None:
        from mlops_reference_app import tracking
        from mlops_reference_app.registry import promote_challenger_if_better

        started = time.perf_counter()
        self._heading("Phase 2 (weeks 5-8): validation gate, registry, feature store, packaging")
        version = self.first_version
        train = self.train_frames[version]
        with self._quiet("phase2-gate"):
            decision = promote_challenger_if_better(
                self.settings,
                version,
                holdout=self.first_eval,
                batch=train,
                config=_gate_config(),
                report_path=self.gates / "phase2-first-model.json",
            )
        verdict = decision.verdict
        names = ", ".join(c.name for c in verdict.checks)
        self.out(f"  gate ({len(verdict.checks)} checks: {names})")
        self.out(f"    {verdict.message}")
        self.out(f"  registry: {decision.message}")
        if not decision.promoted:
            raise RoadmapError(f"the first model was not promoted: {decision.message}")
        self.promotions += 1
        candidate, champion = self._gate_metric(verdict)
        self.deployments.append(
            Deployment(
                version=version,
                source="kfp pipeline",
                month=_month(self.batches[FIRST_TRAIN_MONTHS].start),
                trained_on=self.train_spans[version],
                gate=verdict.message,
                candidate_metric=candidate,
                champion_metric=champion,
                outcome="champion",
                decided_in="gate",
                reason=decision.message,
            )
        )
        with self._quiet("phase2-load"):
            self.baseline_model = tracking.load_model(self.settings, tracking.CHAMPION)
        self.models[version] = self.baseline_model
        self.serving_version = version
        self._feature_store(train)
        self._build_bento()
        self.phase_seconds["phase2"] = time.perf_counter() - started
        self.out(f"  phase 2 took {_duration(self.phase_seconds['phase2'])}")

    def _feature_store(self, train: pd.DataFrame) -> None:
        from mlops_reference_app.features import FeatureRepo, describe, online_store_from_env

        began = time.perf_counter()
        known = data.window(
            self.weather, self.batches[0].start, self.batches[self.first_stream].start
        )
        repo = FeatureRepo(self.settings, online=online_store_from_env())
        with self._quiet("phase2-feast"), _environment_restored(PROMETHEUS_ENV):
            repo.write(known)
            repo.apply()
            last_day = pd.Timestamp(train[data.TIMESTAMP].max())
            repo.materialize(train[data.TIMESTAMP].min(), last_day)
            online = repo.online_features()
            labels = train[[data.TIMESTAMP, data.TARGET]]
            training_set = repo.training_set(labels)
        features = list(data.FEATURES)
        difference = float(
            np.nanmax(
                np.abs(
                    training_set[features].to_numpy(dtype=float)
                    - train[features].to_numpy(dtype=float)
                )
            )
        )
        labels_equal = bool(
            (training_set[data.TARGET].to_numpy() == train[data.TARGET].to_numpy()).all()
        )
        info = describe(repo)
        self.feast = {
            "repo": str(repo.path),
            "feature_view": info["feature_view"],
            "features": len(info["features"]),
            "online_store": info["online_store"],
            "training_set_rows": len(training_set),
            "max_abs_difference": difference,
            "labels_equal": labels_equal,
            "online_features_day": str(last_day.date()),
            "seconds": time.perf_counter() - began,
        }
        self.out(
            f"  Feast: applied feature view '{info['feature_view']}' ({len(info['features'])} "
            f"features, {info['online_store']}), materialized up to {last_day.date()}"
        )
        precipitation = float(online["precipitation"].iloc[0])
        self.out(
            f"    online read for station 'seattle': precipitation {precipitation:g} mm "
            f"(the value of {last_day.date()})"
        )
        self.out(
            f"    point-in-time training set: {len(training_set)} rows; largest difference to "
            f"the versioned window {difference:g}, labels "
            f"{'identical' if labels_equal else 'DIFFERENT'}"
        )
        if difference > 1e-9 or not labels_equal:
            raise RoadmapError("the Feast training set differs from the training window")

    def _build_bento(self) -> None:
        bentoml = Path(sys.executable).with_name("bentoml")
        if not bentoml.exists():
            bentoml = Path(shutil.which("bentoml") or "bentoml")
        if not BENTOFILE.exists() or not (_APP_DIR / "src").is_dir():
            self.out(
                f"  bento: skipped, no bentofile.yaml at {BENTOFILE} (run from a source "
                "checkout of the reference app to build the bento)"
            )
            self.bento = {"tag": None, "seconds": None, "skipped": "no bentofile.yaml"}
            return
        home = self.workdir / "bentoml"
        env = {**os.environ, **QUIET_ENV, "BENTOML_HOME": str(home)}
        began = time.perf_counter()
        result = subprocess.run(
            [str(bentoml), "build", "-f", str(BENTOFILE), "src", "--output", "tag"],
            cwd=_APP_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        seconds = time.perf_counter() - began
        (self.logs / "phase2-bento.log").write_text(result.stdout + result.stderr)
        if result.returncode != 0:
            raise RoadmapError(
                f"bentoml build failed (exit {result.returncode}); see "
                f"{self.logs / 'phase2-bento.log'}"
            )
        tag = result.stdout.strip().splitlines()[-1].removeprefix("__tag__:")
        self.bento = {"tag": tag, "seconds": seconds, "home": str(home)}
        self.out(f"  bento {tag} built in {seconds:.1f} s (BENTOML_HOME={home})")
        self.out(
            f"    serve it with: BENTOML_HOME={home} MLFLOW_TRACKING_URI="
            f"{self.settings.tracking_uri} bentoml serve {tag}"
        )

    # -- phase 3 ----------------------------------------------------------------------

    def phase3(self) -> None:
        from mlops_reference_app import reuse, tracking
        from mlops_reference_app.canary import CanaryRouter, router_app
        from mlops_reference_app.drift import DriftMonitor
        from mlops_reference_app.validation import run_gate

        started = time.perf_counter()
        self._heading("Phase 3 (weeks 9-12): serving, canary release, monitoring")
        champion = self.serving_version
        process = self._start_scorer(champion)
        self.processes[champion] = process
        self._probe(process, champion)
        champion_scorer = self._warm_scorer(process, champion)
        self.out(
            f"  champion v{champion} serves from a scorer process at {process.url} "
            f"(ready in {process.started_seconds:.1f} s)"
        )
        self.router = CanaryRouter(
            champion_scorer,
            model_name=self.settings.model_name,
            config=CANARY_CONFIG,
            metrics=self.metrics,
            on_decision=self._on_canary_decision,
            seed=0,
        )
        self.router_server = _AppServer(router_app(self.router)).start()
        self.out(
            f"  canary router at {self.router_server.url} (/predict, /feedback, /canary); "
            f"Prometheus metrics at {self.router_server.url}/metrics"
        )
        self.prometheus = _Prometheus(self.workdir, self.router_server.url.removeprefix("http://"))
        if self.prometheus.available:
            self.out(
                f"  Prometheus server at {self.prometheus.url} scrapes the router every second"
            )
        else:
            self.out("  Prometheus is not installed: metrics are exposed but not scraped")
        first_train = self.train_frames[champion]
        self.monitor = DriftMonitor(
            first_train,
            model_name=self.settings.model_name,
            features=data.FEATURES,
            metrics=self.metrics,
            method=None,
        )
        self.store = reuse.ModelStore.from_reference(first_train, data.FEATURES)
        self.store.add(champion, first_train, label=self.train_spans[champion])

        # The next challenger: the latest twelve months, trained by the pipeline's steps.
        canary_month = self.first_stream
        start_index = canary_month - FIRST_TRAIN_MONTHS
        window_start = self.batches[start_index].start
        window_end = self.batches[canary_month].start
        with self.cost.pipeline_run("retraining") as usage, self._quiet("phase3-train"):
            result = retrain_in_process(
                self.settings,
                window_start=window_start,
                window_end=window_end,
                eval_end=self.batches[canary_month].end,
            )
        self.models_trained += 1
        version = result.model_version
        train = self._window(start_index, canary_month)
        self.train_frames[version] = train
        self.train_spans[version] = _span(window_start, window_end)
        self.store.add(version, train, label=self.train_spans[version])
        self.out(
            f"  challenger v{version} trained in process on {self.train_spans[version]} "
            f"in {result.seconds:.1f} s ({usage.cpu_seconds:.1f} CPU s)"
        )
        verdict = run_gate(
            train,
            config=_gate_config(),
            report_path=self.gates / f"phase3-v{version}-data.json",
            context={"candidate_version": version},
        )
        self.out(f"    data gate on its training window: {verdict.message}")
        self.out(
            "    no labelled month is unseen by both models yet, so the canary judges it "
            "on live traffic"
        )
        if not verdict.accepted:
            raise RoadmapError(f"the phase 3 challenger's data failed the gate: {verdict.message}")
        deploy_started = time.perf_counter()
        with self._quiet("phase3-load"):
            self._load_version(version)
        self._deploy(
            Deployment(
                version=version,
                source="retrain",
                month=_month(self.batches[canary_month].start),
                trained_on=self.train_spans[version],
                gate=verdict.message,
            ),
            arrival=deploy_started,
            record=None,
        )
        self.phase3_release_seconds = self.deployments[-1].lead_time_seconds or math.nan
        self.out(
            f"  challenger v{version} serving from its own process "
            f"({self.phase3_release_seconds:.1f} s to first answer); it gets "
            f"{CANARY_CONFIG.challenger_share:.0%} of the traffic"
        )
        record = self._serve_month(canary_month)
        self._print_month(record)
        decision = self.router.last_decision
        if decision is not None:
            self.out(f"  canary {decision.action}: {decision.reason}")
        self.out(
            f"  registry: champion is v{tracking.champion_version(self.settings)}, "
            f"serving champion is v{self.serving_version}"
        )
        self._show_metrics()
        self.phase_seconds["phase3"] = time.perf_counter() - started
        self.out(f"  phase 3 took {_duration(self.phase_seconds['phase3'])}")

    def _show_metrics(self) -> None:
        import httpx
        from prometheus_client.parser import text_string_to_metric_families

        assert self.router_server is not None
        text = httpx.get(f"{self.router_server.url}/metrics", timeout=5).text
        families = {f.name: f for f in text_string_to_metric_families(text)}
        shown = [
            name
            for name in (
                "mlops_request_duration_seconds",
                "mlops_predictions",
                "mlops_model_version",
                "mlops_model_quality_score",
                "mlops_canary_decisions",
                "mlops_pipeline_compute_seconds",
            )
            if name in families
        ]
        self.out(
            f"  /metrics exposes {len(families)} metric families, among them " + ", ".join(shown)
        )

    # -- phase 4 ----------------------------------------------------------------------

    def phase4(self) -> None:
        started = time.perf_counter()
        self._heading("Phase 4 (weeks 13-16): drift, retrain or reuse, cost")
        last = self.batches[self.stream[-1]]
        self.out(
            f"  streaming {len(self.stream)} monthly batches "
            f"({_month(self.batches[self.stream[0]].start)}..{_month(last.start)}): each month "
            f"is served ({self.requests_per_day} requests per day), then arrives with its "
            "labels and is validated, scored and checked for drift"
        )
        self.out("  month     served roc_auc  p95 ms  drift share  decision")
        for position, index in enumerate(self.stream):
            record = self.records.get(index) if position == 0 else None
            if record is None:
                record = self._serve_month(index)
            self._arrive(index, record)
            self._print_month(record, full=True)
        if self.router.state == "canary" and self.pending_deployment is not None:
            self.out(
                f"  the canary of v{self.pending_deployment.version} is still running when "
                "the data ends"
            )
        self.phase_seconds["phase4"] = time.perf_counter() - started
        self.out(f"  phase 4 took {_duration(self.phase_seconds['phase4'])}")

    def _arrive(self, index: int, record: BatchRecord) -> None:
        """The month's labelled batch arrives: validate, check drift, reuse or retrain."""
        from mlops_reference_app import reuse
        from mlops_reference_app.validation import run_gate

        batch = self.batches[index]
        arrival = time.perf_counter()
        verdict = run_gate(
            batch.frame,
            config=_gate_config(),
            report_path=self.gates / f"{record.month}-batch.json",
            context={"month": record.month},
        )
        record.valid = verdict.accepted
        record.validation = verdict.message
        if not verdict.accepted:
            record.action = "invalid"
            record.note = verdict.message
            return
        report = self.monitor.observe(batch.frame)
        record.drift_share = report.drift_share
        record.dataset_drift = report.dataset_drift
        record.drifted = list(report.drifted)
        if not report.dataset_drift:
            record.action = "none"
            return
        self.drift_detections += 1
        if self.router.state == "canary":
            record.action = "postponed"
            record.note = "a canary is still running; the next drifted month decides"
            return
        first = max(0, index - RETRAIN_MONTHS)
        window = self._window(first, index)
        span = _span(self.batches[first].start, batch.start)
        champion = self.serving_version
        verdicts: dict[int, Any] = {}
        cpu_before = sum(u.cpu_seconds for _, u in self.cost.runs)

        def gate(version: int | str, _window: pd.DataFrame) -> bool:
            candidate = int(version)
            if candidate == champion:
                return True
            with self._quiet("phase4-load"):
                model = self._load_version(candidate)
            verdicts[candidate] = run_gate(
                candidate=model,
                champion=self.models[champion],
                holdout=batch.frame,
                config=_gate_config(),
                report_path=self.gates / f"{record.month}-reuse-v{candidate}.json",
                context={"month": record.month, "candidate_version": candidate},
            )
            return bool(verdicts[candidate].accepted)

        def retrain(frame: pd.DataFrame) -> int:
            with self.cost.pipeline_run("retraining"), self._quiet("phase4-train"):
                result = retrain_in_process(
                    self.settings,
                    window_start=self.batches[first].start,
                    window_end=batch.start,
                    eval_end=batch.end,
                )
            candidate = result.model_version
            self.models_trained += 1
            self.train_frames[candidate] = frame
            self.train_spans[candidate] = span
            with self._quiet("phase4-load"):
                model = self._load_version(candidate)
            verdicts[candidate] = run_gate(
                frame,
                candidate=model,
                champion=self.models[champion],
                holdout=batch.frame,
                config=_gate_config(),
                report_path=self.gates / f"{record.month}-retrain-v{candidate}.json",
                context={"month": record.month, "candidate_version": candidate},
            )
            return candidate

        decision = reuse.reuse_or_retrain(
            window,
            self.store,
            retrain=retrain,
            gate=gate,
            label=span,
        )
        record.retrain_cpu_seconds = sum(u.cpu_seconds for _, u in self.cost.runs) - cpu_before
        version = int(decision.version)
        record.candidate = version
        record.distance = decision.distance
        record.note = decision.reason
        self.gate_rejections += len(decision.rejected)
        if decision.action == "reuse" and version == champion:
            record.action = "keep"
            record.gate = None
            self.kept += 1
            self._clear_challenger()
            return
        record.action = decision.action
        if decision.action == "reuse":
            self.reuses += 1
        verdict = verdicts[version]
        record.gate = "accepted" if verdict.accepted else "rejected"
        if not verdict.accepted:
            self.gate_rejections += 1
            record.note = f"{decision.reason}; the gate rejected it: {verdict.message}"
            self._clear_challenger()
            return
        candidate_metric, champion_metric = self._gate_metric(verdict)
        self._deploy(
            Deployment(
                version=version,
                source=decision.action,
                month=record.month,
                trained_on=self.train_spans.get(version, "?"),
                gate=verdict.message,
                candidate_metric=candidate_metric,
                champion_metric=champion_metric,
            ),
            arrival=arrival,
            record=record,
        )

    def _print_month(self, record: BatchRecord, *, full: bool = False) -> None:
        auc = "   n/a" if math.isnan(record.served_roc_auc) else f"{record.served_roc_auc:6.3f}"
        canary = "; ".join(f"canary {c}" for c in record.canary)
        if not full:
            self.out(
                f"  {record.month}: {record.requests} requests, "
                f"p50 {record.latency_p50_ms:.1f} ms, p95 {record.latency_p95_ms:.1f} ms, "
                f"served roc_auc {auc.strip()}" + (f"; {canary}" if canary else "")
            )
            return
        share = "  n/a" if math.isnan(record.drift_share) else f"{record.drift_share:4.2f}"
        parts = [_describe_action(record)]
        if canary:
            parts.insert(0, canary)
        self.out(
            f"  {record.month}   {auc}        {record.latency_p95_ms:6.1f}  {share}"
            f"{' drift' if record.dataset_drift else '      '}   " + "; ".join(parts)
        )

    # -- wrap-up ----------------------------------------------------------------------

    def finish_monitoring(self) -> None:
        """Read back what Prometheus scraped (when it runs)."""
        if self.prometheus is None or not self.prometheus.available:
            self.prom_summary = {"available": False}
            return
        requests = float(len(self.latencies))
        total = self.prometheus.wait_for(
            'sum(mlops_predictions_total{job="reference-app"})', requests
        )
        p95 = self.prometheus.scalar(
            "histogram_quantile(0.95, sum by (le) "
            '(mlops_request_duration_seconds_bucket{job="reference-app"}))'
        )
        drift = self.prometheus.scalar('max(mlops_dataset_drift_share{job="reference-app"})')
        promotions = self.prometheus.scalar(
            'sum(mlops_canary_decisions_total{job="reference-app",decision="promote"})'
        )
        self.prom_summary = {
            "available": True,
            "url": self.prometheus.url,
            "predictions_total": total,
            "p95_ms_from_histogram": None if p95 is None else p95 * 1000.0,
            "last_dataset_drift_share": drift,
            "canary_promotions": promotions,
        }

    def shutdown(self) -> None:
        for version in list(self.processes):
            self._retire(version)
        if self.router is not None:
            for scorer in (self.router.champion, self.router.challenger):
                if scorer is not None:
                    with contextlib.suppress(Exception):
                        scorer.close()
        if self.router_server is not None:
            self.router_server.stop()
            self.router_server = None
        if self.prometheus is not None:
            self.prometheus.stop()

    def summary(self, total_seconds: float) -> dict[str, Any]:
        from mlops_reference_app import tracking
        from mlops_reference_app.cost import compute_cost_usd, cost_per_1k_predictions

        streamed = [self.records[i] for i in self.stream if i in self.records]
        served = [r.served_roc_auc for r in streamed if math.isfinite(r.served_roc_auc)]
        baseline = [r.baseline_roc_auc for r in streamed if math.isfinite(r.baseline_roc_auc)]
        leads = [r.lead_time_seconds for r in streamed if r.lead_time_seconds is not None]
        training_cpu = sum(u.cpu_seconds for _, u in self.cost.runs)
        per_1k = (
            cost_per_1k_predictions(
                self.serving_cpu, int(self.serving_rows), usd_per_vcpu_hour=self.usd_per_vcpu_hour
            )
            if self.serving_rows
            else math.nan
        )
        pending = self.pending_deployment.version if self.pending_deployment else None
        return {
            "data": {
                "source": "Seattle daily weather 2012-2015 (vega_datasets)",
                "days": len(self.weather),
                "monthly_batches": len(self.batches),
                "first_training_months": FIRST_TRAIN_MONTHS,
                "retraining_months": RETRAIN_MONTHS,
                "requests_per_day": self.requests_per_day,
                "fast": self.fast,
            },
            "settings": {
                "embedded": self.embedded,
                "workdir": str(self.workdir),
                "tracking_uri": self.settings.tracking_uri,
                "dvc_remote": self.settings.dvc_remote,
                "model_name": self.settings.model_name,
            },
            "total_seconds": total_seconds,
            "phase_seconds": dict(self.phase_seconds),
            "kfp_pipeline_seconds": self.kfp_seconds,
            "batches_streamed": len(streamed),
            "models_trained": self.models_trained,
            "models_reused": self.reuses,
            "champion_kept_on_drift": self.kept,
            "drift_detections": self.drift_detections,
            "promotions": self.promotions,
            "rollbacks": self.rollbacks,
            "gate_rejections": self.gate_rejections,
            "canary_pending": pending,
            "champion_version": tracking.champion_version(self.settings),
            "champion_roc_auc": float(np.mean(served)) if served else math.nan,
            "baseline_roc_auc": float(np.mean(baseline)) if baseline else math.nan,
            "serving_latency_ms": {
                "p50": _percentile_ms(self.latencies, 50),
                "p95": _percentile_ms(self.latencies, 95),
                "p99": _percentile_ms(self.latencies, 99),
            },
            "requests_served": len(self.latencies),
            "lead_time_seconds": {
                "values": leads,
                "phase3_release": self.phase3_release_seconds,
                "median": float(np.median(leads)) if leads else math.nan,
                "max": float(max(leads)) if leads else math.nan,
            },
            "training_cpu_seconds": training_cpu,
            "training_cost_usd": compute_cost_usd(
                training_cpu, usd_per_vcpu_hour=self.usd_per_vcpu_hour
            ),
            "cost_per_1k_predictions_usd": per_1k,
            "serving_cpu_seconds": self.serving_cpu,
            "usd_per_vcpu_hour": self.usd_per_vcpu_hour,
            "data_version": self.data_version,
            "bento": self.bento,
            "feast": self.feast,
            "prometheus": self.prom_summary,
            "batches": [asdict(r) for r in streamed],
            "deployments": [asdict(d) for d in self.deployments],
        }


def _gate_config() -> Any:
    """The gate's default thresholds: a candidate may trail the champion by 0.01 ROC AUC."""
    from mlops_reference_app.validation import GateConfig

    return GateConfig()


def _describe_action(record: BatchRecord) -> str:
    if record.action == "none":
        return "no drift"
    if record.action == "invalid":
        return f"batch rejected by the data gate: {record.validation}"
    if record.action == "postponed":
        return "drift; a canary is running, decision postponed"
    distance = "" if record.distance is None else f" (distance {record.distance:.3f})"
    if record.action == "keep":
        return f"drift; nearest stored model is the champion v{record.candidate}{distance}: kept"
    verb = "reused" if record.action == "reuse" else "retrained"
    text = f"drift; {verb} v{record.candidate}{distance if record.action == 'reuse' else ''}"
    if record.gate == "rejected":
        return text + ", gate rejected it"
    if record.lead_time_seconds is not None:
        text += f", gate passed, canary from next month (live in {record.lead_time_seconds:.1f} s)"
    return text


# -- report --------------------------------------------------------------------------------


def _figure(width: float = 9.0, height: float = 3.4) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    return fig, fig.subplots()


def _month_axis(ax: Any, months: Sequence[str]) -> None:
    step = max(1, len(months) // 12)
    ax.set_xticks(range(0, len(months), step))
    ax.set_xticklabels([months[i] for i in range(0, len(months), step)], rotation=45, ha="right")
    ax.set_xlim(-0.5, len(months) - 0.5)


def _plot_quality(batches: Sequence[dict[str, Any]], path: Path) -> None:
    months = [b["month"] for b in batches]
    fig, ax = _figure()
    x = range(len(months))
    served = [np.nan if b["served_roc_auc"] is None else b["served_roc_auc"] for b in batches]
    baseline = [np.nan if b["baseline_roc_auc"] is None else b["baseline_roc_auc"] for b in batches]
    ax.plot(x, served, marker="o", label="served (champion and canary)")
    ax.plot(
        x, baseline, marker=".", linestyle="--", color="grey", label="first model, never updated"
    )
    ax.axhline(0.5, color="black", linewidth=0.6, linestyle=":")
    for i, b in enumerate(batches):
        if any(c.startswith("promote") for c in b["canary"]):
            ax.axvline(i, color="tab:green", alpha=0.3)
        if any(c.startswith("rollback") for c in b["canary"]):
            ax.axvline(i, color="tab:red", alpha=0.3)
    ax.set_ylabel("ROC AUC on the month")
    ax.set_title("Model quality per month (green: canary promoted, red: rolled back)")
    _month_axis(ax, months)
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def _plot_drift(batches: Sequence[dict[str, Any]], path: Path) -> None:
    months = [b["month"] for b in batches]
    fig, ax = _figure()
    shares = [np.nan if b["drift_share"] is None else b["drift_share"] for b in batches]
    colours = ["tab:red" if b["dataset_drift"] else "tab:blue" for b in batches]
    ax.bar(range(len(months)), shares, color=colours)
    ax.axhline(0.5, color="black", linestyle="--", linewidth=0.8, label="dataset drift at 0.5")
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of drifted features")
    ax.set_title("Drift per month against the champion's training data (red: dataset drift)")
    _month_axis(ax, months)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


DECISION_ROWS: tuple[tuple[str, str], ...] = (
    ("none", "no drift"),
    ("keep", "drift: champion kept"),
    ("postponed", "drift: postponed"),
    ("reuse", "drift: reused a stored model"),
    ("retrain", "drift: retrained"),
    ("invalid", "batch rejected"),
)


def _plot_decisions(batches: Sequence[dict[str, Any]], path: Path) -> None:
    months = [b["month"] for b in batches]
    fig, ax = _figure(height=3.8)
    rows = {key: i for i, (key, _) in enumerate(DECISION_ROWS)}
    canary_row = len(DECISION_ROWS)
    colours = {
        "none": "lightgrey",
        "keep": "tab:blue",
        "postponed": "tab:orange",
        "reuse": "tab:green",
        "retrain": "tab:purple",
        "invalid": "black",
    }
    for i, b in enumerate(batches):
        action = b["action"]
        marker = "x" if b["gate"] == "rejected" else "o"
        ax.scatter(
            [i], [rows.get(action, 0)], color=colours.get(action, "black"), marker=marker, s=60
        )
        for decision in b["canary"]:
            promoted = decision.startswith("promote")
            ax.scatter(
                [i],
                [canary_row],
                color="tab:green" if promoted else "tab:red",
                marker="^" if promoted else "v",
                s=70,
            )
    labels = [label for _, label in DECISION_ROWS] + ["canary (promote / rollback)"]
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_ylim(-0.5, len(labels) - 0.5)
    ax.set_title("Decision per month (x: the gate rejected the candidate)")
    _month_axis(ax, months)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def _plot_latency(batches: Sequence[dict[str, Any]], path: Path) -> None:
    months = [b["month"] for b in batches]
    fig, ax = _figure()
    x = range(len(months))
    ax.plot(x, [b["latency_p50_ms"] for b in batches], marker="o", label="p50")
    ax.plot(x, [b["latency_p95_ms"] for b in batches], marker="o", label="p95")
    ax.set_ylabel("milliseconds per request")
    ax.set_ylim(bottom=0)
    ax.set_title("Serving latency per month (router to scorer process over HTTP)")
    _month_axis(ax, months)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


FIGURES: tuple[tuple[str, str, Callable[[Sequence[dict[str, Any]], Path], None]], ...] = (
    ("quality.png", "Model quality per month", _plot_quality),
    ("drift.png", "Drift per month", _plot_drift),
    ("decisions.png", "Retrain-or-reuse decisions per month", _plot_decisions),
    ("latency.png", "Serving latency per month", _plot_latency),
)


def _fmt(value: Any, spec: str = ".3f", none: str = "n/a") -> str:
    if value is None:
        return none
    if isinstance(value, float) and not math.isfinite(value):
        return none
    return format(value, spec)


def _cell(text: str) -> str:
    return str(text).replace("|", "/").replace("\n", " ")


def write_report(workdir: Path, summary: dict[str, Any]) -> Path:
    """Write ``report.md`` and its figures into ``workdir``; returns the report's path."""
    batches = summary["batches"]
    for name, _, plot in FIGURES:
        plot(batches, workdir / name)
    latency = summary["serving_latency_ms"]
    lead = summary["lead_time_seconds"]
    lines = [
        "# MLOps roadmap run",
        "",
        f"{summary['data']['source']}: {summary['data']['days']} days in "
        f"{summary['data']['monthly_batches']} monthly batches. The first model learns "
        f"{summary['data']['first_training_months']} months; {summary['batches_streamed']} "
        "later months are then served and arrive one by one with their labels.",
        "",
        "## Key figures",
        "",
        "| figure | value |",
        "| --- | --- |",
        f"| total run time | {_duration(summary['total_seconds'])} |",
        f"| Kubeflow pipeline (first training, local runner) | "
        f"{_fmt(summary['kfp_pipeline_seconds'], '.1f')} s |",
        f"| models trained / reused | {summary['models_trained']} / {summary['models_reused']} |",
        f"| drift detections (champion kept on drift) | {summary['drift_detections']} "
        f"({summary['champion_kept_on_drift']}) |",
        f"| promotions / canary rollbacks / gate rejections | {summary['promotions']} / "
        f"{summary['rollbacks']} / {summary['gate_rejections']} |",
        f"| champion now | version {summary['champion_version']} |",
        f"| mean served ROC AUC (first model never updated) | "
        f"{_fmt(summary['champion_roc_auc'])} ({_fmt(summary['baseline_roc_auc'])}) |",
        f"| serving latency p50 / p95 / p99 | {_fmt(latency['p50'], '.1f')} / "
        f"{_fmt(latency['p95'], '.1f')} / {_fmt(latency['p99'], '.1f')} ms over "
        f"{summary['requests_served']} requests |",
        f"| lead time, arrival to new version answering (median / max) | "
        f"{_fmt(lead['median'], '.1f')} / {_fmt(lead['max'], '.1f')} s |",
        f"| training compute | {_fmt(summary['training_cpu_seconds'], '.1f')} CPU s = "
        f"${_fmt(summary['training_cost_usd'], '.5f')} |",
        f"| serving cost per 1,000 predictions | "
        f"${_fmt(summary['cost_per_1k_predictions_usd'], '.6f')} "
        f"(at ${summary['usd_per_vcpu_hour']} per vCPU-hour, CPU only) |",
        "",
        "## Phases",
        "",
        "1. **Tracking, versioning, pipeline.** The Kubeflow pipeline ran on the first window "
        f"(data version `{summary['data_version']}`), logged an MLflow run and registered "
        "version 1.",
        "2. **Gate, registry, features, packaging.** The gate made version 1 the champion. "
        f"Feast served a point-in-time training set of {summary['feast'].get('training_set_rows')} "
        "rows, identical to the versioned window. Bento: "
        f"`{summary['bento'].get('tag') or 'not built'}`.",
        "3. **Serving, canary, monitoring.** Models serve from scorer processes behind a "
        "canary router whose metrics Prometheus scrapes.",
        "4. **Drift, retrain or reuse, cost.** Each arrived month is validated and checked for "
        "drift; on drift a stored model with a matching training distribution is reused or a "
        "new one is trained, gated against the champion and released as a canary.",
        "",
        "## Figures",
        "",
    ]
    for name, title, _ in FIGURES:
        lines += [f"### {title}", "", f"![{title}]({name})", ""]
    lines += [
        "## Promotions",
        "",
        "| version | source | trained on | month | gate (candidate vs champion) | outcome | "
        "decided in | seconds to first live answer |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for d in summary["deployments"]:
        compared = (
            f"{_fmt(d['candidate_metric'])} vs {_fmt(d['champion_metric'])}"
            if d["champion_metric"] is not None
            else "no comparison"
        )
        lines.append(
            f"| v{d['version']} | {d['source']} | {d['trained_on']} | {d['month']} | {compared} | "
            f"{d['outcome']} | {d['decided_in'] or '-'} | "
            f"{_fmt(d['lead_time_seconds'], '.1f', '-')} |"
        )
    decided = [d for d in summary["deployments"] if d["outcome"] in ("promote", "rollback")]
    if decided:
        lines += ["", "Canary decisions:", ""]
        lines += [
            f"- v{d['version']} {d['outcome']} in {d['decided_in']}: {_cell(d['reason'])}"
            for d in decided
        ]
    lines += [
        "",
        "## Months",
        "",
        "| month | served ROC AUC | first model | p50 ms | p95 ms | drift share | decision |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for b in batches:
        record = BatchRecord(**b)
        decision = _describe_action(record)
        if record.canary:
            decision = "; ".join(f"canary {c}" for c in record.canary) + "; " + decision
        lines.append(
            f"| {b['month']} | {_fmt(b['served_roc_auc'])} | {_fmt(b['baseline_roc_auc'])} | "
            f"{_fmt(b['latency_p50_ms'], '.1f')} | {_fmt(b['latency_p95_ms'], '.1f')} | "
            f"{_fmt(b['drift_share'], '.2f')} | {_cell(decision)} |"
        )
    lines += [
        "",
        "Validation verdicts of every batch and candidate are in `gates/`; tool output is in "
        "`logs/`; the figures above are also in `summary.json`.",
        "",
    ]
    path = workdir / "report.md"
    path.write_text("\n".join(lines))
    return path


# -- entry point ---------------------------------------------------------------------------


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _print_summary(summary: dict[str, Any], report: Path, out: Callable[[str], None]) -> None:
    latency = summary["serving_latency_ms"]
    lead = summary["lead_time_seconds"]
    streamed = summary["batches_streamed"]
    trained = summary["models_trained"]
    out("")
    out("== Summary")
    out(
        f"  Data: {summary['data']['source']}, {summary['data']['monthly_batches']} monthly "
        f"batches; the first model learned {FIRST_TRAIN_MONTHS} months, then {streamed} months "
        "were served and arrived one by one."
    )
    out(
        f"  Models: {trained} trained (1 by the Kubeflow pipeline, {trained - 1} by the same "
        f"steps in process), {summary['models_reused']} reused from the model store; on "
        f"{_plural(summary['champion_kept_on_drift'], 'drifted month')} the best match was the "
        "champion itself."
    )
    out(
        f"  Drift: evidently flagged {summary['drift_detections']} of {streamed} months "
        "(half or more of the features drifted)."
    )
    out(
        f"  Promotions: {summary['promotions']} (the first by the gate, the others after a "
        f"canary); canary rollbacks: {summary['rollbacks']}; candidates rejected by the gate: "
        f"{summary['gate_rejections']}."
        + (
            f" The canary of v{summary['canary_pending']} was still running at the end."
            if summary["canary_pending"]
            else ""
        )
    )
    out(
        f"  Champion now: version {summary['champion_version']}. Mean ROC AUC of what was "
        f"served: {_fmt(summary['champion_roc_auc'])} (the first model, never updated: "
        f"{_fmt(summary['baseline_roc_auc'])})."
    )
    out(
        "  Serving latency (router to scorer process over HTTP): "
        f"p50 {_fmt(latency['p50'], '.1f')} ms, p95 {_fmt(latency['p95'], '.1f')} ms, "
        f"p99 {_fmt(latency['p99'], '.1f')} ms over "
        f"{summary['requests_served']} requests."
    )
    if lead["values"]:
        out(
            "  Lead time (batch arrival to the new version answering from its own process): "
            f"median {_fmt(lead['median'], '.1f')} s, max {_fmt(lead['max'], '.1f')} s over "
            f"{_plural(len(lead['values']), 'release')}."
        )
    else:
        out(
            "  Lead time: no streamed month released a new version (the phase 3 challenger "
            f"answered {_fmt(lead['phase3_release'], '.1f')} s after its training ended)."
        )
    out(
        f"  Kubeflow pipeline (first training, local runner): "
        f"{_fmt(summary['kfp_pipeline_seconds'], '.1f')} s."
    )
    out(
        f"  Cost: training {_fmt(summary['training_cpu_seconds'], '.1f')} CPU s = "
        f"${_fmt(summary['training_cost_usd'], '.5f')}; serving "
        f"${_fmt(summary['cost_per_1k_predictions_usd'], '.6f')} per 1,000 predictions "
        f"(CPU at ${summary['usd_per_vcpu_hour']} per vCPU-hour)."
    )
    prom = summary["prometheus"]
    if prom.get("available"):
        out(
            f"  Prometheus scraped {_fmt(prom.get('predictions_total'), '.0f')} predictions; p95 "
            f"from the histogram {_fmt(prom.get('p95_ms_from_histogram'), '.1f')} ms."
        )
    out(f"  Report: {report} (figures next to it); every figure as JSON in {SUMMARY_FILE}.")
    out(f"  Total time: {_duration(summary['total_seconds'])}.")


def run_roadmap(
    settings: AppSettings,
    *,
    fast: bool = False,
    batches: int | None = None,
    requests_per_day: int | None = None,
    embedded: bool = True,
    out: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the four phases, write the report and ``summary.json``; returns the summary."""
    for name, value in QUIET_ENV.items():
        os.environ.setdefault(name, value)
    began = time.perf_counter()
    per_day = REQUESTS_PER_DAY if requests_per_day is None else requests_per_day
    if per_day < 1:
        raise RoadmapError(f"requests_per_day={per_day} must be at least 1")
    if batches is not None and batches < 1:
        raise RoadmapError(f"batches={batches} must be at least 1")
    roadmap = _Roadmap(
        settings,
        fast=fast,
        batches=batches,
        requests_per_day=per_day,
        embedded=embedded,
        out=out,
    )
    out(
        f"MLOps roadmap on Seattle daily weather 2012-2015: {len(roadmap.weather)} days, "
        f"{len(roadmap.batches)} monthly batches{' (fast mode)' if fast else ''}"
    )
    out(
        f"workdir {settings.workdir}; MLflow {settings.tracking_uri}; "
        f"DVC remote {settings.dvc_remote}"
    )
    try:
        roadmap.phase1()
        roadmap.phase2()
        roadmap.phase3()
        roadmap.phase4()
        roadmap.finish_monitoring()
    finally:
        roadmap.shutdown()
    started = time.perf_counter()
    summary = roadmap.summary(time.perf_counter() - began)
    report = write_report(settings.workdir, summary)
    summary["phase_seconds"]["report"] = time.perf_counter() - started
    summary["total_seconds"] = time.perf_counter() - began
    (settings.workdir / SUMMARY_FILE).write_text(
        json.dumps(_jsonable(summary), indent=2, sort_keys=True) + "\n"
    )
    _print_summary(summary, report, out)
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mlops_reference_app",
        description="Run the 16-week MLOps roadmap end to end on Seattle weather data and "
        "write report.md and summary.json in the workdir.",
    )
    parser.add_argument(
        "workdir",
        nargs="?",
        default=str(DEFAULT_WORKDIR),
        help=f"where everything is kept (default: {DEFAULT_WORKDIR}, relative to the current "
        "directory); a previous roadmap run there is replaced",
    )
    parser.add_argument(
        "--fast",
        action="store_true",
        help=f"stream {FAST_BATCHES} months instead of all of them (for tests and a first look)",
    )
    parser.add_argument(
        "--batches", type=int, default=None, help="number of months to stream in phase 4"
    )
    parser.add_argument(
        "--requests-per-day",
        type=int,
        default=None,
        help=f"requests sent per day of data (default {REQUESTS_PER_DAY})",
    )
    parser.add_argument(
        "--from-env",
        action="store_true",
        help="use the platform's endpoints from the environment (MLFLOW_TRACKING_URI, "
        "REFERENCE_APP_DVC_REMOTE, ...) instead of embedded services under the workdir",
    )
    args = parser.parse_args(argv)
    # The roadmap's metrics live in this process; a multi-process directory inherited from
    # a parent (Feast sets one on import) would change how prometheus_client stores them.
    for name in PROMETHEUS_ENV:
        os.environ.pop(name, None)
    try:
        workdir = prepare_workdir(Path(args.workdir))
        if args.from_env:
            environ = {**os.environ, "REFERENCE_APP_WORKDIR": str(workdir)}
            settings = AppSettings.from_env(environ)
        else:
            settings = AppSettings.embedded(workdir)
        run_roadmap(
            settings,
            fast=args.fast,
            batches=args.batches,
            requests_per_day=args.requests_per_day,
            embedded=not args.from_env,
        )
    except RoadmapError as exc:
        print(f"roadmap: {exc}", file=sys.stderr)
        return 2
    return 0
