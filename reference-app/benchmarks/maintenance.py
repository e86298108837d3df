"""Maintenance benchmark: what keeping a model current costs under three policies.

Monthly batches arrive in time order. Each batch is first scored by the model in force
(before its labels are known); that is the quality figure. Then its labels arrive and the
policy may change the model for the next month:

- ``retrain-on-drift``: evidently compares the batch with the data the model in force was
  deployed on; on dataset drift it retrains on the trailing window.
- ``periodic``: retrains on the trailing window every ``--period-months`` months, whatever
  the data says.
- ``reuse-on-recurrence``: the same drift trigger, but first fingerprints the trailing
  window and, if a stored model was trained on a window within ``--match-threshold``
  (mean Jensen-Shannon distance), offers it to the validation gate (no regression against
  the model in force on the batch just labelled); only without an accepted match does it
  retrain (and store the new model's fingerprint).

Every policy starts from the same model trained on the first ``--train-months`` months
(counted as its first retrain). Retraining compute is the CPU and wall time of the training
calls; the evidently drift checks (``drift s``) and the fingerprint lookups with their gate
runs (``reuse s``) are reported apart. Quality is the mean ROC AUC over the scored batches
(batches with a single class, whose ROC AUC is undefined, are skipped; ``scored`` counts the
others). A fourth row, ``never-retrain``, keeps the first model throughout: not a policy to
adopt but the floor that says whether retraining pays at all on this data.

Usage::

    uv run python benchmarks/maintenance.py                       # Seattle weather 2012-2015
    uv run python benchmarks/maintenance.py --csv data.csv --timestamp-column date \
        --target-column label

Here a retrain fits a small logistic regression in milliseconds, so seconds are noisy and
the retrain count is the steadier figure; in the platform a retrain is a training pipeline
run of seconds to hours, and the count ratio is what carries over.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from _cli import add_json_argument, write_figures
from mlops_reference_app import data, training
from mlops_reference_app.drift import detect_drift
from mlops_reference_app.reuse import (
    DEFAULT_BINS,
    DEFAULT_MATCH_THRESHOLD,
    DEFAULT_MAX_CANDIDATES,
    ModelStore,
    reuse_or_retrain,
)
from mlops_reference_app.validation import GateConfig, validate_model

POLICIES = ("retrain-on-drift", "periodic", "reuse-on-recurrence")
# Not a policy to compare but the floor: how good the first model stays with no maintenance.
BASELINE = "never-retrain"
DEFAULT_TRAIN_MONTHS = 3
DEFAULT_PERIOD_MONTHS = 3
# Quality may drop at most this much (ROC AUC, 0.01 = one point) for reuse to meet its goal.
QUALITY_TOLERANCE = 0.01
COMPUTE_GOAL = 0.20


@dataclass
class Outcome:
    """What one policy did over the series."""

    policy: str
    retrains: int = 0
    retrain_cpu_seconds: float = 0.0
    retrain_wall_seconds: float = 0.0
    drift_seconds: float = 0.0
    reuse_seconds: float = 0.0
    drift_checks: int = 0
    drifts: int = 0
    reuses: int = 0
    gate_rejections: int = 0
    scores: list[float] = field(default_factory=list)
    events: list[str] = field(default_factory=list)

    @property
    def mean_roc_auc(self) -> float:
        finite = [s for s in self.scores if math.isfinite(s)]
        return float(np.mean(finite)) if finite else math.nan

    @property
    def scored(self) -> int:
        return sum(1 for s in self.scores if math.isfinite(s))


@dataclass
class Setup:
    batches: list[data.Batch]
    features: tuple[str, ...]
    train_months: int
    period_months: int
    match_threshold: float
    max_candidates: int
    bins: int
    drift_method: str | None
    drift_share: float
    gate: GateConfig
    drift_cache: dict[tuple[int, int, int], tuple[bool, float]] = field(default_factory=dict)

    def window(self, last: int) -> pd.DataFrame:
        """The trailing training window ending with batch ``last`` (inclusive)."""
        first = max(0, last - self.train_months + 1)
        return pd.concat([b.frame for b in self.batches[first : last + 1]], ignore_index=True)

    def drifted(self, reference: tuple[int, int], t: int) -> tuple[bool, float]:
        """Dataset drift of batch ``t`` against batches ``reference`` (cached across policies)."""
        key = (*reference, t)
        if key not in self.drift_cache:
            ref = pd.concat(
                [b.frame for b in self.batches[reference[0] : reference[1] + 1]], ignore_index=True
            )
            started = time.perf_counter()
            report = detect_drift(
                ref,
                self.batches[t].frame,
                features=self.features,
                method=self.drift_method,
                dataset_drift_share=self.drift_share,
            )
            self.drift_cache[key] = (report.dataset_drift, time.perf_counter() - started)
        return self.drift_cache[key]


class Trainer:
    """Counts and times every training call of one policy."""

    def __init__(self, setup: Setup, outcome: Outcome) -> None:
        self.setup, self.outcome = setup, outcome

    def __call__(self, frame: pd.DataFrame) -> training.TrainedModel:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        model = training.train(frame, features=self.setup.features)
        self.outcome.retrain_cpu_seconds += time.process_time() - cpu0
        self.outcome.retrain_wall_seconds += time.perf_counter() - wall0
        self.outcome.retrains += 1
        return model


def _score(model: training.TrainedModel, frame: pd.DataFrame) -> float:
    return float(training.evaluate(model, frame)["roc_auc"])


def run_policy(policy: str, setup: Setup) -> Outcome:
    outcome = Outcome(policy)
    train = Trainer(setup, outcome)
    first = setup.train_months - 1
    model = train(setup.window(first))
    deployed_on = (max(0, first - setup.train_months + 1), first)
    store: ModelStore | None = None
    models: dict[int, training.TrainedModel] = {}
    if policy == "reuse-on-recurrence":
        started = time.perf_counter()
        store = ModelStore.from_reference(setup.window(first), setup.features, bins=setup.bins)
        store.add(0, setup.window(first), label=str(setup.batches[first].start.date()))
        outcome.reuse_seconds += time.perf_counter() - started
        models[0] = model

    for t in range(first + 1, len(setup.batches)):
        batch = setup.batches[t]
        outcome.scores.append(_score(model, batch.frame))  # before its labels are known
        trailing = (max(0, t - setup.train_months + 1), t)
        if policy == BASELINE:
            continue
        if policy == "periodic":
            if (t - first) % setup.period_months == 0:
                model = train(setup.window(t))
                outcome.events.append(f"{batch.start:%Y-%m} retrain (period)")
            continue
        drifted, seconds = setup.drifted(deployed_on, t)
        outcome.drift_checks += 1
        outcome.drift_seconds += seconds
        if not drifted:
            continue
        outcome.drifts += 1
        window = setup.window(t)
        if policy == "retrain-on-drift":
            model = train(window)
            deployed_on = trailing
            outcome.events.append(f"{batch.start:%Y-%m} retrain (drift)")
            continue
        assert store is not None
        current = model

        def retrain(frame: pd.DataFrame) -> int:
            fitted = train(frame)
            version = len(models)
            models[version] = fitted
            return version

        def gate(
            version: int | str,
            frame: pd.DataFrame,
            current: training.TrainedModel = current,
            holdout: pd.DataFrame = batch.frame,
        ) -> bool:
            candidate = models[int(version)]
            if candidate is current:
                return True
            check = validate_model(
                candidate, current, holdout, config=setup.gate, features=setup.features
            )[0]
            return bool(check.passed)

        started = time.perf_counter()
        training_before = outcome.retrain_wall_seconds
        decision = reuse_or_retrain(
            window,
            store,
            retrain=retrain,
            gate=gate,
            threshold=setup.match_threshold,
            max_candidates=setup.max_candidates,
            label=f"{batch.start:%Y-%m}",
        )
        # The lookup and the gate, not the training the decision may have triggered.
        outcome.reuse_seconds += (time.perf_counter() - started) - (
            outcome.retrain_wall_seconds - training_before
        )
        outcome.gate_rejections += len(decision.rejected)
        model = models[int(decision.version)]
        deployed_on = trailing
        if decision.action == "reuse":
            outcome.reuses += 1
        outcome.events.append(f"{batch.start:%Y-%m} {decision.action}: {decision.reason}")
    return outcome


def _ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


def report(outcomes: Sequence[Outcome], *, out: Callable[[str], None] = print) -> dict[str, float]:
    header = (
        f"{'policy':<21} {'retrains':>8} {'retrain cpu s':>13} {'retrain wall s':>14} "
        f"{'drift s':>8} {'reuse s':>8} {'drifts':>6} {'reuses':>6} {'mean roc_auc':>12} "
        f"{'scored':>6}"
    )
    out(header)
    out("-" * len(header))
    for o in outcomes:
        out(
            f"{o.policy:<21} {o.retrains:>8d} {o.retrain_cpu_seconds:>13.3f} "
            f"{o.retrain_wall_seconds:>14.3f} "
            f"{o.drift_seconds:>8.2f} {o.reuse_seconds:>8.3f} {o.drifts:>6d} {o.reuses:>6d} "
            f"{o.mean_roc_auc:>12.4f} {o.scored:>6d}"
        )
    by = {o.policy: o for o in outcomes}
    drift, reuse = by["retrain-on-drift"], by["reuse-on-recurrence"]
    ratios = {
        "retrains": _ratio(reuse.retrains, drift.retrains),
        "cpu_seconds": _ratio(reuse.retrain_cpu_seconds, drift.retrain_cpu_seconds),
        "wall_seconds": _ratio(reuse.retrain_wall_seconds, drift.retrain_wall_seconds),
        "quality_delta_points": (reuse.mean_roc_auc - drift.mean_roc_auc) * 100.0,
    }
    out("")
    out("reuse-on-recurrence relative to retrain-on-drift:")
    out(f"  retrains      {ratios['retrains']:.1%}")
    out(f"  retrain CPU   {ratios['cpu_seconds']:.1%}")
    out(f"  retrain wall  {ratios['wall_seconds']:.1%}")
    out(f"  mean roc_auc  {ratios['quality_delta_points']:+.2f} points")
    compute_ok = ratios["retrains"] <= COMPUTE_GOAL and ratios["cpu_seconds"] <= COMPUTE_GOAL
    quality_ok = ratios["quality_delta_points"] >= -QUALITY_TOLERANCE * 100.0
    out(
        f"goal (compute <= {COMPUTE_GOAL:.0%} by count and CPU, quality within "
        f"{QUALITY_TOLERANCE * 100:.0f} point): {'met' if compute_ok and quality_ok else 'not met'}"
        f" (compute {'ok' if compute_ok else 'over'}, quality {'ok' if quality_ok else 'below'})"
    )
    return ratios


def summary(
    source: str, batches: int, outcomes: Sequence[Outcome], ratios: dict[str, float]
) -> dict[str, Any]:
    """The printed figures as one JSON-ready document."""
    return {
        "data": source,
        "batches": batches,
        "policies": [
            {
                "policy": o.policy,
                "retrains": o.retrains,
                "retrain_cpu_seconds": o.retrain_cpu_seconds,
                "retrain_wall_seconds": o.retrain_wall_seconds,
                "drift_seconds": o.drift_seconds,
                "reuse_seconds": o.reuse_seconds,
                "drifts": o.drifts,
                "reuses": o.reuses,
                "gate_rejections": o.gate_rejections,
                "mean_roc_auc": o.mean_roc_auc,
                "scored": o.scored,
            }
            for o in outcomes
        ],
        "reuse_vs_retrain_on_drift": ratios,
    }


def load(args: argparse.Namespace) -> tuple[pd.DataFrame, tuple[str, ...], str]:
    if args.csv is None:
        return (
            data.load_weather(),
            tuple(data.FEATURES),
            "Seattle weather 2012-2015 (vega_datasets)",
        )
    if not (args.timestamp_column and args.target_column):
        raise SystemExit("--csv needs --timestamp-column and --target-column")
    frame = data.load_csv(args.csv, args.timestamp_column, args.target_column)
    return frame, data.feature_columns(frame), args.csv


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv", default=None, help="any CSV with a timestamp and a binary target")
    parser.add_argument("--timestamp-column", default=None)
    parser.add_argument("--target-column", default=None)
    parser.add_argument("--train-months", type=int, default=DEFAULT_TRAIN_MONTHS)
    parser.add_argument("--period-months", type=int, default=DEFAULT_PERIOD_MONTHS)
    parser.add_argument("--match-threshold", type=float, default=DEFAULT_MATCH_THRESHOLD)
    parser.add_argument("--max-candidates", type=int, default=DEFAULT_MAX_CANDIDATES)
    parser.add_argument("--bins", type=int, default=DEFAULT_BINS)
    parser.add_argument(
        "--drift-method",
        default="auto",
        help="evidently method for the drift trigger; 'auto' lets evidently choose per column",
    )
    parser.add_argument("--drift-share", type=float, default=0.5)
    parser.add_argument(
        "--gate-tolerance", type=float, default=0.05, help="ROC AUC a reused model may lose"
    )
    parser.add_argument("--events", action="store_true", help="print every policy decision")
    add_json_argument(parser)
    args = parser.parse_args(argv)

    frame, features, source = load(args)
    batches = data.monthly_batches(frame)
    if len(batches) < args.train_months + 2:
        raise SystemExit(
            f"{source} has {len(batches)} monthly batches; the benchmark needs at least "
            f"{args.train_months + 2} (--train-months plus two)"
        )
    setup = Setup(
        batches=batches,
        features=tuple(features),
        train_months=args.train_months,
        period_months=args.period_months,
        match_threshold=args.match_threshold,
        max_candidates=args.max_candidates,
        bins=args.bins,
        drift_method=None if args.drift_method == "auto" else args.drift_method,
        drift_share=args.drift_share,
        gate=GateConfig(tolerance=args.gate_tolerance),
    )
    print(
        f"data: {source}: {len(frame)} rows, {len(batches)} monthly batches "
        f"({batches[0].start:%Y-%m} to {batches[-1].start:%Y-%m}), {len(features)} features"
    )
    print(
        f"settings: train window {args.train_months} months, period {args.period_months} months, "
        f"drift method {args.drift_method}, drift share {args.drift_share}, match threshold "
        f"{args.match_threshold} ({args.max_candidates} candidates), {args.bins} bins, gate "
        f"tolerance {args.gate_tolerance}"
    )
    # One untimed fit first, so the first policy does not pay for warming up the trainer.
    training.train(setup.window(args.train_months - 1), features=setup.features)
    started = time.perf_counter()
    outcomes = [run_policy(policy, setup) for policy in (*POLICIES, BASELINE)]
    elapsed = time.perf_counter() - started
    print(f"simulated in {elapsed:.1f} s ({len(setup.drift_cache)} evidently reports)")
    print("")
    ratios = report(outcomes)
    write_figures(args.json, summary(source, len(batches), outcomes, ratios))
    if args.events:
        for o in outcomes:
            print(f"\n{o.policy}:")
            for event in o.events:
                print(f"  {event}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
