"""Lead-time benchmark: seconds from a batch arriving to a validated model serving as champion.

A first model is trained on six months before ``--first-batch`` (the month just before is
held out to evaluate it), made champion and
served by the BentoML service (or, with ``--server scorer``, by a scorer process). Then
monthly batches arrive in turn until ``--releases`` of them have released a new champion
(or the data ends). For each, the clock starts when the labelled batch arrives and runs
through:

1. **validate**: the data checks of the validation gate on the batch;
2. **drift**: evidently compares the batch with the champion's training data (reported;
   the update runs whatever it says, so that every batch measures the whole path);
3. **retrain or reuse**: a stored model whose training window matches the last six months
   is offered first; otherwise the training pipeline's steps retrain on those months;
4. **gate and promote**: the candidate must not regress against the champion on the
   arrived batch; an accepted one takes the registry's ``champion`` alias;
5. **serve**: a new serving process resolves the ``champion`` alias, and the clock stops
   when it answers a prediction with the new version; the old process is then stopped
   (blue/green). When the champion did not change (the best match was the champion, or
   the gate rejected the candidate), the clock stops when the running process answers
   with it; those batches are listed but not in the median.

Usage::

    uv run python benchmarks/lead_time.py                     # 5 releases from 2013-01
    uv run python benchmarks/lead_time.py --releases 2 --server scorer

The goal here is a median lead time of at most 60 seconds for batches that release a new
version. Starting the BentoML server (10-20 s) is most of it; on the platform the same path
is a pipeline run plus a rolling update.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
from _cli import add_json_argument, add_workdir_argument, in_workdir, write_figures
from _servers import Server, bentoml_server, free_port, quiet_environment
from mlops_reference_app import data, reuse, tracking
from mlops_reference_app.canary import rows_from_frame
from mlops_reference_app.drift import detect_drift
from mlops_reference_app.registry import promote_challenger_if_better
from mlops_reference_app.roadmap import RETRAIN_MONTHS, retrain_in_process
from mlops_reference_app.scorer import ScorerProcess, start_scorer
from mlops_reference_app.settings import AppSettings
from mlops_reference_app.validation import run_gate

DEFAULT_RELEASES = 5
DEFAULT_FIRST_BATCH = 12
GOAL_SECONDS = 60.0
SERVERS = ("bentoml", "scorer")


@dataclass
class Measurement:
    """One batch: what happened and how long each step took (seconds)."""

    month: str
    outcome: str
    champion_before: int
    champion_after: int
    released: bool
    lead_time_seconds: float
    answered_version: int | None
    steps: dict[str, float] = field(default_factory=dict)
    note: str = ""


class Serving:
    """The process that serves the champion, replaced blue/green on every release."""

    def __init__(self, kind: str, settings: AppSettings, logs: Path) -> None:
        self.kind = kind
        self.settings = settings
        self.logs = logs
        self.current: Server | ScorerProcess | None = None
        self.releases = 0
        self.row = rows_from_frame(data.load_weather().head(1))

    def _start(self, version: int) -> Server | ScorerProcess:
        self.releases += 1
        log = self.logs / f"{self.kind}-{self.releases}-v{version}.log"
        if self.kind == "scorer":
            return start_scorer(
                tracking_uri=self.settings.tracking_uri,
                model_name=self.settings.model_name,
                version=version,
                port=free_port(),
                log_path=log,
            )
        server = bentoml_server(
            tracking_uri=self.settings.tracking_uri,
            model_name=self.settings.model_name,
            log_path=log,
            bentoml_home=self.logs.parent / "bentoml",
        )
        server.start()
        server.wait_ready()
        return server

    def answered_version(self, process: Server | ScorerProcess | None = None) -> int:
        """Ask the (given or current) process for one prediction; the version it used."""
        target = process or self.current
        assert target is not None
        body = httpx.post(f"{target.url}/predict", json={"rows": self.row}, timeout=30).json()
        return int(body["model_version"] if self.kind == "bentoml" else body["version"])

    def release(self, version: int) -> int:
        """Start a process for ``version``, wait for its answer, then stop the old one."""
        process = self._start(version)
        answered = self.answered_version(process)
        if answered != version:
            process.stop()
            raise RuntimeError(
                f"the new serving process answered version {answered}, not {version}"
            )
        old, self.current = self.current, process
        if old is not None:
            old.stop()
        return answered

    def stop(self) -> None:
        if self.current is not None:
            self.current.stop()
            self.current = None


def _window(weather: pd.DataFrame, batches: list[data.Batch], first: int, end: int) -> pd.DataFrame:
    return data.window(weather, batches[first].start, batches[end].start)


def measure(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    quiet_environment()
    settings = AppSettings.embedded(workdir)
    weather = data.load_weather()
    batches = data.monthly_batches(weather)
    first = args.first_batch
    if not RETRAIN_MONTHS < first < len(batches):
        raise SystemExit(
            f"--first-batch {first} must lie between {RETRAIN_MONTHS + 1} and "
            f"{len(batches) - 1} (the data has {len(batches)} monthly batches)"
        )
    start = max(0, first - 1 - RETRAIN_MONTHS)
    print(
        f"first model: {batches[start].start:%Y-%m}..{batches[first - 2].start:%Y-%m} "
        f"(evaluated on {batches[first - 1].start:%Y-%m}), "
        f"served by {args.server}",
        flush=True,
    )
    # The month before the first measured one is held out to evaluate the first model.
    initial = retrain_in_process(
        settings,
        window_start=batches[start].start,
        window_end=batches[first - 1].start,
        eval_end=batches[first].start,
    )
    train_frames = {initial.model_version: _window(weather, batches, start, first - 1)}
    decision = promote_challenger_if_better(
        settings,
        initial.model_version,
        holdout=batches[first - 1].frame,
        batch=train_frames[initial.model_version],
    )
    if not decision.promoted:
        raise RuntimeError(f"the first model was not promoted: {decision.message}")
    store = reuse.ModelStore.from_reference(train_frames[initial.model_version], data.FEATURES)
    store.add(initial.model_version, train_frames[initial.model_version])
    serving = Serving(args.server, settings, workdir / "logs")
    measurements: list[Measurement] = []
    try:
        began = time.perf_counter()
        serving.release(initial.model_version)
        print(
            f"champion v{initial.model_version} serving after {time.perf_counter() - began:.1f} s"
        )
        print("")
        for index in range(first, len(batches)):
            if sum(m.released for m in measurements) >= args.releases:
                break
            measurements.append(
                _one_batch(
                    index,
                    batches=batches,
                    weather=weather,
                    settings=settings,
                    store=store,
                    train_frames=train_frames,
                    serving=serving,
                )
            )
            m = measurements[-1]
            print(
                f"{m.month}: {m.lead_time_seconds:5.1f} s  {m.outcome}  ("
                + ", ".join(f"{k} {v:.1f}" for k, v in m.steps.items())
                + ")",
                flush=True,
            )
    finally:
        serving.stop()
    released = [m.lead_time_seconds for m in measurements if m.released]
    every = [m.lead_time_seconds for m in measurements]
    return {
        "server": args.server,
        "batches": [asdict(m) for m in measurements],
        "releases": len(released),
        "median_release_seconds": float(np.median(released)) if released else math.nan,
        "median_all_seconds": float(np.median(every)) if every else math.nan,
        "max_release_seconds": float(max(released)) if released else math.nan,
        "goal_seconds": GOAL_SECONDS,
    }


def _one_batch(
    index: int,
    *,
    batches: list[data.Batch],
    weather: pd.DataFrame,
    settings: AppSettings,
    store: reuse.ModelStore,
    train_frames: dict[int, pd.DataFrame],
    serving: Serving,
) -> Measurement:
    batch = batches[index]
    month = f"{batch.start:%Y-%m}"
    champion = tracking.champion_version(settings)
    assert champion is not None
    steps: dict[str, float] = {}
    arrival = time.perf_counter()

    verdict = run_gate(batch.frame)
    steps["validate"] = time.perf_counter() - arrival
    if not verdict.accepted:
        return Measurement(
            month=month,
            outcome="batch rejected",
            champion_before=champion,
            champion_after=champion,
            released=False,
            lead_time_seconds=time.perf_counter() - arrival,
            answered_version=None,
            steps=steps,
            note=verdict.message,
        )

    clock = time.perf_counter()
    drift = detect_drift(train_frames[champion], batch.frame, features=data.FEATURES, method=None)
    steps["drift"] = time.perf_counter() - clock

    gate_seconds = 0.0
    outcomes: dict[int, bool] = {}
    lo = max(0, index - RETRAIN_MONTHS)
    window = _window(weather, batches, lo, index)

    def promote(version: int, training_window: pd.DataFrame | None) -> bool:
        nonlocal gate_seconds
        started = time.perf_counter()
        result = promote_challenger_if_better(
            settings, version, holdout=batch.frame, batch=training_window
        )
        gate_seconds += time.perf_counter() - started
        outcomes[version] = result.promoted
        return result.promoted

    def gate(version: int | str, _frame: pd.DataFrame) -> bool:
        if int(version) == champion:
            return True
        return promote(int(version), None)

    def retrain(frame: pd.DataFrame) -> int:
        result = retrain_in_process(
            settings,
            window_start=batches[lo].start,
            window_end=batch.start,
            eval_end=batch.end,
        )
        train_frames[result.model_version] = frame
        promote(result.model_version, frame)
        return result.model_version

    clock = time.perf_counter()
    decision = reuse.reuse_or_retrain(window, store, retrain=retrain, gate=gate)
    steps[decision.action] = time.perf_counter() - clock - gate_seconds
    steps["gate+promote"] = gate_seconds
    version = int(decision.version)
    after = tracking.champion_version(settings)
    assert after is not None
    drifted = f"drift share {drift.drift_share:.2f}{' (drift)' if drift.dataset_drift else ''}"

    clock = time.perf_counter()
    if after != champion:
        answered = serving.release(after)
        steps["serve"] = time.perf_counter() - clock
        outcome = f"released v{after} ({decision.action})"
        released = True
    else:
        answered = serving.answered_version()
        steps["serve"] = time.perf_counter() - clock
        released = False
        if version == champion:
            outcome = f"kept v{champion} (best match is the champion)"
        else:
            outcome = f"kept v{champion} (gate rejected v{version})"
    lead = time.perf_counter() - arrival
    if answered != after:
        raise RuntimeError(f"serving answers version {answered}; the champion is v{after}")
    return Measurement(
        month=month,
        outcome=outcome,
        champion_before=champion,
        champion_after=after,
        released=released,
        lead_time_seconds=lead,
        answered_version=answered,
        steps=steps,
        note=f"{drifted}; {decision.reason}",
    )


def report(summary: dict[str, Any]) -> None:
    print("")
    print(f"lead time, batch arrival to the champion answering from {summary['server']}:")
    for m in summary["batches"]:
        print(f"  {m['month']}  {m['lead_time_seconds']:6.1f} s  {m['outcome']}")
    median = summary["median_release_seconds"]
    print(
        f"median over {summary['releases']} releases: "
        + ("n/a" if math.isnan(median) else f"{median:.1f} s")
        + f" (goal <= {summary['goal_seconds']:.0f} s: "
        + ("n/a" if math.isnan(median) else "met" if median <= GOAL_SECONDS else "not met")
        + f"); median over every batch: {summary['median_all_seconds']:.1f} s"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--releases",
        type=int,
        default=DEFAULT_RELEASES,
        help="stop after this many batches released a new champion",
    )
    parser.add_argument(
        "--first-batch",
        type=int,
        default=DEFAULT_FIRST_BATCH,
        help=f"index of the first measured month (default {DEFAULT_FIRST_BATCH}: 2013-01)",
    )
    parser.add_argument("--server", choices=SERVERS, default="bentoml")
    add_workdir_argument(parser)
    add_json_argument(parser)
    args = parser.parse_args(argv)
    if args.releases < 1:
        parser.error("--releases must be at least 1")
    summary = in_workdir(
        args.workdir, "lead-time-benchmark-", lambda workdir: measure(args, workdir)
    )
    report(summary)
    write_figures(args.json, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
