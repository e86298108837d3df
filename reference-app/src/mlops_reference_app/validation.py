"""The validation gate: data-quality checks on a batch and a champion/challenger model check.

Every check returns a :class:`CheckResult` (name, passed, a one-line human-readable message,
machine-readable details). :func:`run_gate` collects them into a :class:`Verdict`, which
accepts only when every check passed, and writes the whole thing as JSON so that CI and the
pipeline can archive it. A rejected verdict must never move the ``champion`` alias; the
registry flow in :mod:`mlops_reference_app.registry` relies on that.

Data checks (:func:`validate_batch`):

- ``schema``: the expected columns are present with the expected kind of dtype.
- ``value_ranges``: numeric values are physically plausible (no 80 degC days, no negative
  rain, ``temp_min <= temp_max``).
- ``completeness``: the share of missing values per expected column is small.
- ``freshness``: the newest row is not older than ``max_age`` relative to ``now`` (and not in
  the future).
- ``duplicates``: no timestamp (per station, when a station column exists) appears twice.
- ``label_leakage``: no column is the target itself, predicts it almost perfectly on its own
  (|Pearson r| or single-feature ROC AUC above a threshold), or is a copy of the next day's
  value of another column.

Model check (:func:`validate_model`): ``no_regression``: the candidate's held-out metric is not
worse than the champion's by more than ``tolerance``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from mlops_reference_app.data import FEATURES, TARGET, TIMESTAMP
from mlops_reference_app.training import evaluate

DtypeKind = Literal["datetime", "numeric", "integer", "string"]
CheckKind = Literal["data", "model"]

# Physically plausible daily weather in degrees Celsius, millimetres and metres per second.
# Generous: a value outside these bounds is a unit or pipeline error, not weather.
PLAUSIBLE_RANGES: dict[str, tuple[float, float]] = {
    "precipitation": (0.0, 500.0),
    "temp_max": (-50.0, 55.0),
    "temp_min": (-60.0, 45.0),
    "wind": (0.0, 75.0),
    "temp_range": (0.0, 50.0),
    "rain_today": (0.0, 1.0),
    "precipitation_lag1": (0.0, 500.0),
    "precipitation_lag2": (0.0, 500.0),
    "precipitation_3d": (0.0, 1500.0),
    "temp_max_change": (-50.0, 50.0),
    "wind_lag1": (0.0, 75.0),
    "day_of_year_sin": (-1.0, 1.0),
    "day_of_year_cos": (-1.0, 1.0),
    TARGET: (0.0, 1.0),
}

WEATHER_SCHEMA: dict[str, DtypeKind] = {
    TIMESTAMP: "datetime",
    **dict.fromkeys(FEATURES, "numeric"),
    TARGET: "integer",
}

# Same-day observations: a column equal to one of these on the *next* day is future data.
RAW_OBSERVATIONS: tuple[str, ...] = ("precipitation", "temp_max", "temp_min", "wind")

DEFAULT_MAX_AGE = timedelta(days=3)
DEFAULT_MAX_MISSING_FRACTION = 0.05
DEFAULT_LEAKAGE_CORRELATION = 0.95
DEFAULT_LEAKAGE_AUC = 0.98
DEFAULT_NEXT_DAY_MATCH = 0.95
DEFAULT_TOLERANCE = 0.01
DEFAULT_METRIC = "roc_auc"
# Metrics where smaller is better; all others are "larger is better".
LOWER_IS_BETTER = frozenset({"log_loss"})
FALLBACK_METRIC = "log_loss"


@dataclass(frozen=True)
class GateConfig:
    """Thresholds of the gate.

    - ``schema``: expected column -> dtype kind (datetime, numeric, integer, string).
    - ``ranges``: column -> inclusive (low, high) plausible range.
    - ``max_age`` (3 days): the newest row may be at most this old relative to ``now``.
    - ``max_missing_fraction`` (0.05): share of missing values tolerated per expected column.
    - ``leakage_correlation`` (0.95): |Pearson r| with the target above this is leakage.
    - ``leakage_auc`` (0.98): a single column whose ROC AUC (either direction) exceeds this is
      leakage.
    - ``raw_columns``: same-day observations; a column equal to one of them shifted a day
      into the future is leakage.
    - ``next_day_match`` (0.95): the share of days on which that equality must hold.
    - ``metric`` ("roc_auc"): metric compared between candidate and champion.
    - ``tolerance`` (0.01): how much worse than the champion the candidate may be.
    - ``target`` / ``timestamp``: the label and time columns.
    """

    schema: Mapping[str, DtypeKind] = field(default_factory=lambda: dict(WEATHER_SCHEMA))
    ranges: Mapping[str, tuple[float, float]] = field(
        default_factory=lambda: dict(PLAUSIBLE_RANGES)
    )
    raw_columns: tuple[str, ...] = RAW_OBSERVATIONS
    max_age: timedelta = DEFAULT_MAX_AGE
    max_missing_fraction: float = DEFAULT_MAX_MISSING_FRACTION
    leakage_correlation: float = DEFAULT_LEAKAGE_CORRELATION
    leakage_auc: float = DEFAULT_LEAKAGE_AUC
    next_day_match: float = DEFAULT_NEXT_DAY_MATCH
    metric: str = DEFAULT_METRIC
    tolerance: float = DEFAULT_TOLERANCE
    target: str = TARGET
    timestamp: str = TIMESTAMP

    def __post_init__(self) -> None:
        if self.max_age <= timedelta(0):
            raise ValueError(f"max_age must be positive, got {self.max_age}")
        for name in ("max_missing_fraction", "leakage_correlation", "next_day_match"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value}")
        if not 0.5 < self.leakage_auc <= 1.0:
            raise ValueError(f"leakage_auc must be within (0.5, 1], got {self.leakage_auc}")
        if self.tolerance < 0:
            raise ValueError(f"tolerance must be >= 0, got {self.tolerance}")
        for column, (low, high) in self.ranges.items():
            if low > high:
                raise ValueError(f"range of {column!r} has low {low} > high {high}")


@dataclass(frozen=True)
class CheckResult:
    """One check: ``name``, ``passed``, a human-readable ``message`` and JSON ``details``."""

    name: str
    kind: CheckKind
    passed: bool
    message: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    """The gate's decision: accepted only if every check passed."""

    checks: tuple[CheckResult, ...]
    report_path: Path | None = None
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        return tuple(check for check in self.checks if not check.passed)

    def check(self, name: str) -> CheckResult:
        for result in self.checks:
            if result.name == name:
                return result
        raise KeyError(f"no check named {name!r}; ran {[c.name for c in self.checks]}")

    @property
    def message(self) -> str:
        """One paragraph for humans: what passed, or every reason for the rejection."""
        if self.accepted:
            return f"accepted: all {len(self.checks)} checks passed"
        reasons = "; ".join(f"[{c.name}] {c.message}" for c in self.failures)
        return f"rejected ({len(self.failures)} of {len(self.checks)} checks failed): {reasons}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "message": self.message,
            "context": self.context,
            "checks": [asdict(check) for check in self.checks],
        }

    def write(self, path: str | Path) -> Path:
        """Write the JSON report (every check with name, passed, message, details)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(_jsonable(self.to_dict()), indent=2, sort_keys=False) + "\n")
        return target


class GateRejectedError(RuntimeError):
    """Raised by callers that want an exception instead of a rejected verdict."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.message)
        self.verdict = verdict


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (pd.Timestamp, timedelta, Path)):
        return str(value)
    return value


# -- data checks --------------------------------------------------------------------------


def _dtype_matches(series: pd.Series, kind: DtypeKind) -> bool:
    dtype = series.dtype
    if kind == "datetime":
        return bool(pd.api.types.is_datetime64_any_dtype(dtype))
    if pd.api.types.is_bool_dtype(dtype):
        return False
    if kind == "numeric":
        return bool(pd.api.types.is_numeric_dtype(dtype))
    if kind == "integer":
        return bool(pd.api.types.is_integer_dtype(dtype))
    return bool(pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype))


def check_schema(frame: pd.DataFrame, config: GateConfig) -> CheckResult:
    missing = [c for c in config.schema if c not in frame.columns]
    wrong = {
        c: {"expected": kind, "actual": str(frame[c].dtype)}
        for c, kind in config.schema.items()
        if c in frame.columns and not _dtype_matches(frame[c], kind)
    }
    problems = []
    if missing:
        problems.append(f"missing columns {missing}")
    if wrong:
        problems.append(
            "wrong dtypes "
            + ", ".join(
                f"{c} is {w['actual']} (expected {w['expected']})" for c, w in wrong.items()
            )
        )
    if frame.empty:
        problems.append("the batch has no rows")
    passed = not problems
    message = (
        f"{len(config.schema)} expected columns present with expected dtypes"
        if passed
        else "schema violation: " + "; ".join(problems)
    )
    return CheckResult(
        "schema",
        "data",
        passed,
        message,
        {"missing_columns": missing, "wrong_dtypes": wrong, "rows": len(frame)},
    )


def check_value_ranges(frame: pd.DataFrame, config: GateConfig) -> CheckResult:
    violations: dict[str, dict[str, Any]] = {}
    for column, (low, high) in config.ranges.items():
        if column not in frame.columns or not pd.api.types.is_numeric_dtype(frame[column]):
            continue
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values[(values < low) | (values > high)]
        if len(bad):
            violations[column] = {
                "range": [low, high],
                "count": len(bad),
                "min": float(values.min()),
                "max": float(values.max()),
                "examples": [float(v) for v in bad.head(3)],
            }
    if {"temp_min", "temp_max"} <= set(frame.columns) and all(
        pd.api.types.is_numeric_dtype(frame[c]) for c in ("temp_min", "temp_max")
    ):
        inverted = int((frame["temp_min"] > frame["temp_max"]).sum())
        if inverted:
            violations["temp_min<=temp_max"] = {"count": inverted}
    passed = not violations
    if passed:
        message = "every value lies within its physically plausible range"
    else:
        parts = []
        for column, v in violations.items():
            if "range" in v:
                parts.append(
                    f"{column} has {v['count']} value(s) outside [{v['range'][0]:g}, "
                    f"{v['range'][1]:g}] (e.g. {v['examples'][0]:g})"
                )
            else:
                parts.append(f"temp_min exceeds temp_max on {v['count']} day(s)")
        message = "implausible values: " + "; ".join(parts)
    return CheckResult("value_ranges", "data", passed, message, {"violations": violations})


def check_completeness(frame: pd.DataFrame, config: GateConfig) -> CheckResult:
    fractions = {
        c: float(frame[c].isna().mean()) for c in config.schema if c in frame.columns and len(frame)
    }
    over = {c: f for c, f in fractions.items() if f > config.max_missing_fraction}
    passed = not over
    message = (
        f"missing values at most {config.max_missing_fraction:.0%} per column"
        if passed
        else "too many missing values: "
        + ", ".join(f"{c} {f:.0%}" for c, f in over.items())
        + f" (limit {config.max_missing_fraction:.0%})"
    )
    return CheckResult(
        "completeness",
        "data",
        passed,
        message,
        {"missing_fraction": fractions, "limit": config.max_missing_fraction},
    )


def check_freshness(frame: pd.DataFrame, config: GateConfig, now: pd.Timestamp) -> CheckResult:
    if config.timestamp not in frame.columns or frame.empty:
        return CheckResult(
            "freshness", "data", False, f"no {config.timestamp!r} values to date the batch", {}
        )
    stamps = pd.to_datetime(frame[config.timestamp], errors="coerce")
    newest = stamps.max()
    if pd.isna(newest):
        return CheckResult("freshness", "data", False, "the batch has no valid timestamp", {})
    now_ts = pd.Timestamp(now)
    if newest.tzinfo is not None and now_ts.tzinfo is None:
        now_ts = now_ts.tz_localize(newest.tzinfo)
    elif newest.tzinfo is None and now_ts.tzinfo is not None:
        now_ts = now_ts.tz_convert("UTC").tz_localize(None)
    age = now_ts - newest
    details = {
        "newest": str(newest),
        "now": str(now_ts),
        "age_hours": age.total_seconds() / 3600,
        "max_age_hours": config.max_age.total_seconds() / 3600,
    }
    if age < timedelta(0):
        return CheckResult(
            "freshness",
            "data",
            False,
            f"the newest row ({newest}) is after now ({now_ts}): timestamps from the future",
            details,
        )
    passed = age <= config.max_age
    message = (
        f"newest row {newest} is {_human(age)} old (limit {_human(config.max_age)})"
        if passed
        else f"stale batch: newest row {newest} is {_human(age)} old, "
        f"more than the {_human(config.max_age)} allowed"
    )
    return CheckResult("freshness", "data", passed, message, details)


def _human(delta: timedelta | pd.Timedelta) -> str:
    seconds = pd.Timedelta(delta).total_seconds()
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} days"
    return f"{seconds / 3600:.1f} hours"


def check_duplicates(frame: pd.DataFrame, config: GateConfig) -> CheckResult:
    if config.timestamp not in frame.columns:
        return CheckResult("duplicates", "data", False, f"no {config.timestamp!r} column", {})
    keys = [c for c in ("station_id",) if c in frame.columns] + [config.timestamp]
    dup = frame.duplicated(subset=keys, keep=False)
    repeated = sorted({str(v) for v in frame.loc[dup, config.timestamp]})
    passed = not repeated
    message = (
        f"every {'/'.join(keys)} is unique"
        if passed
        else f"{len(repeated)} timestamp(s) appear more than once, e.g. {repeated[:3]}"
    )
    return CheckResult(
        "duplicates",
        "data",
        passed,
        message,
        {"keys": keys, "duplicated_rows": int(dup.sum()), "timestamps": repeated[:20]},
    )


def _single_feature_auc(values: np.ndarray, y: np.ndarray) -> float:
    """ROC AUC of one column used alone as a score, in its better direction (ties count half)."""
    ranks = pd.Series(values).rank(method="average").to_numpy()
    positives = y == 1
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    auc = (ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return float(max(auc, 1.0 - auc))


def check_label_leakage(frame: pd.DataFrame, config: GateConfig) -> CheckResult:
    target = config.target
    if target not in frame.columns:
        return CheckResult("label_leakage", "data", False, f"no target column {target!r}", {})
    y_all = pd.to_numeric(frame[target], errors="coerce")
    candidates = [
        c
        for c in frame.columns
        if c not in (target, config.timestamp)
        and pd.api.types.is_numeric_dtype(frame[c])
        and not pd.api.types.is_bool_dtype(frame[c])
    ]
    ordered = (
        frame.sort_values(config.timestamp, kind="stable")
        if config.timestamp in frame.columns
        else frame
    )
    leaks: dict[str, dict[str, Any]] = {}
    scores: dict[str, dict[str, float | None]] = {}
    two_classes = y_all.dropna().nunique() == 2
    for column in candidates:
        x = pd.to_numeric(frame[column], errors="coerce")
        mask = x.notna() & y_all.notna()
        xv, yv = x[mask].to_numpy(dtype=float), y_all[mask].to_numpy(dtype=float)
        reasons = []
        if two_classes and len(xv) and np.array_equal(xv, yv):
            reasons.append("identical to the target")
        corr = auc = None
        if two_classes and len(np.unique(yv)) == 2 and len(np.unique(xv)) > 1:
            corr = float(np.corrcoef(xv, yv)[0, 1])
            auc = _single_feature_auc(xv, yv.astype(int))
            if abs(corr) > config.leakage_correlation:
                reasons.append(f"|correlation| with the target is {abs(corr):.3f}")
            if auc > config.leakage_auc:
                reasons.append(f"alone it predicts the target with ROC AUC {auc:.3f}")
        scores[column] = {"correlation": corr, "auc": auc}
        for source in config.raw_columns:
            if source == column or source not in candidates:
                continue
            current = ordered[column].to_numpy(dtype=float)[:-1]
            nxt = ordered[source].to_numpy(dtype=float)[1:]
            valid = ~(np.isnan(current) | np.isnan(nxt))
            if valid.sum() >= 3 and np.unique(nxt[valid]).size > 1:
                share = float(np.isclose(current[valid], nxt[valid]).mean())
                if share >= config.next_day_match:
                    reasons.append(f"equals the next day's {source} on {share:.0%} of days")
                    break
        if reasons:
            leaks[column] = {"reasons": reasons, **scores[column]}
    passed = not leaks
    message = (
        f"no column among {len(candidates)} leaks the target"
        if passed
        else "label leakage: "
        + "; ".join(f"{c} ({', '.join(v['reasons'])})" for c, v in leaks.items())
        + ". Drop these columns: they are not known at prediction time"
    )
    return CheckResult(
        "label_leakage",
        "data",
        passed,
        message,
        {
            "leaking_columns": leaks,
            "scores": scores,
            "thresholds": {
                "correlation": config.leakage_correlation,
                "auc": config.leakage_auc,
                "next_day_match": config.next_day_match,
            },
            "target_has_two_classes": bool(two_classes),
        },
    )


def validate_batch(
    frame: pd.DataFrame, *, now: pd.Timestamp | str, config: GateConfig | None = None
) -> list[CheckResult]:
    """Run every data check on ``frame`` (``now`` is the clock used for freshness)."""
    config = config or GateConfig()
    clock = pd.Timestamp(now)
    checks: list[tuple[str, Callable[[], CheckResult]]] = [
        ("schema", lambda: check_schema(frame, config)),
        ("value_ranges", lambda: check_value_ranges(frame, config)),
        ("completeness", lambda: check_completeness(frame, config)),
        ("freshness", lambda: check_freshness(frame, config, clock)),
        ("duplicates", lambda: check_duplicates(frame, config)),
        ("label_leakage", lambda: check_label_leakage(frame, config)),
    ]
    return [_guarded(name, run) for name, run in checks]


def _guarded(name: str, run: Callable[[], CheckResult]) -> CheckResult:
    """A check that cannot run on this batch fails; it never crashes the gate."""
    try:
        return run()
    except Exception as exc:
        return CheckResult(
            name,
            "data",
            False,
            f"the check could not run on this batch ({type(exc).__name__}: {exc})",
            {"error": type(exc).__name__},
        )


# -- model check --------------------------------------------------------------------------


def _better(metric: str, candidate: float, champion: float, tolerance: float) -> bool:
    if metric in LOWER_IS_BETTER:
        return candidate <= champion + tolerance
    return candidate >= champion - tolerance


def validate_model(
    candidate: Any,
    champion: Any | None,
    holdout: pd.DataFrame,
    *,
    config: GateConfig | None = None,
    features: Sequence[str] | None = None,
) -> list[CheckResult]:
    """Compare the candidate with the champion on the held-out window (``training.evaluate``).

    Both models are a ``TrainedModel`` or a fitted classifier (e.g. the registry's pipeline).
    With no champion the check passes (the first model has nothing to regress against). If the
    configured metric is undefined on the window (one class only), log loss decides.
    """
    config = config or GateConfig()
    if holdout.empty:
        return [
            CheckResult(
                "no_regression",
                "model",
                False,
                "the held-out window is empty; choose a window with rows to compare models",
                {"rows": 0},
            )
        ]
    cand = evaluate(candidate, holdout, features=features, target=config.target)
    details: dict[str, Any] = {
        "metric": config.metric,
        "tolerance": config.tolerance,
        "candidate": cand,
        "holdout_rows": len(holdout),
    }
    if holdout is not None and config.timestamp in holdout.columns:
        details["holdout_window"] = [
            str(holdout[config.timestamp].min()),
            str(holdout[config.timestamp].max()),
        ]
    if champion is None:
        return [
            CheckResult(
                "no_regression",
                "model",
                True,
                "no champion yet: the candidate becomes the first champion",
                details | {"champion": None},
            )
        ]
    champ = evaluate(champion, holdout, features=features, target=config.target)
    details["champion"] = champ
    metric = config.metric
    if not (
        math.isfinite(cand.get(metric, math.nan)) and math.isfinite(champ.get(metric, math.nan))
    ):
        metric = FALLBACK_METRIC
        details["metric_used"] = metric
        details["fallback_reason"] = f"{config.metric} is undefined on the held-out window"
    else:
        details["metric_used"] = metric
    c, h = float(cand[metric]), float(champ[metric])
    if not math.isfinite(c):
        return [
            CheckResult(
                "no_regression",
                "model",
                False,
                f"the candidate's {metric} on the held-out window is not a number",
                details,
            )
        ]
    passed = _better(metric, c, h, config.tolerance)
    delta = c - h
    details["delta"] = delta
    direction = "lower" if metric in LOWER_IS_BETTER else "higher"
    if passed:
        verb = "beats" if (delta < 0 if metric in LOWER_IS_BETTER else delta > 0) else "matches"
        message = (
            f"candidate {verb} the champion: {metric} {c:.4f} vs {h:.4f} "
            f"({direction} is better, tolerance {config.tolerance:g})"
        )
    else:
        message = (
            f"candidate regresses against the champion: {metric} {c:.4f} vs {h:.4f} "
            f"on {len(holdout)} held-out rows, worse by {abs(delta):.4f} > tolerance "
            f"{config.tolerance:g} ({direction} is better); the champion stays"
        )
    return [CheckResult("no_regression", "model", passed, message, details)]


# -- the gate -----------------------------------------------------------------------------


def run_gate(
    batch: pd.DataFrame | None = None,
    *,
    now: pd.Timestamp | str | None = None,
    candidate: Any | None = None,
    champion: Any | None = None,
    holdout: pd.DataFrame | None = None,
    config: GateConfig | None = None,
    report_path: str | Path | None = None,
    context: Mapping[str, Any] | None = None,
) -> Verdict:
    """Run the data checks on ``batch`` (if given) and the model check (if a candidate is given).

    ``now`` defaults to the batch's newest timestamp plus one day, i.e. the batch is judged
    as it arrives. The verdict is written to ``report_path`` as JSON when a path is given.
    """
    config = config or GateConfig()
    checks: list[CheckResult] = []
    if batch is None and candidate is None:
        raise ValueError("run_gate needs a batch, a candidate model, or both")
    info: dict[str, Any] = dict(context or {})
    if batch is not None:
        if now is None:
            if config.timestamp in batch.columns and len(batch):
                now = pd.Timestamp(batch[config.timestamp].max()) + pd.Timedelta(days=1)
            else:
                now = pd.Timestamp.now()
        info.setdefault("now", str(pd.Timestamp(now)))
        info.setdefault("batch_rows", len(batch))
        checks.extend(validate_batch(batch, now=now, config=config))
    if candidate is not None:
        if holdout is None:
            raise ValueError("a model check needs the held-out window (holdout=...)")
        checks.extend(validate_model(candidate, champion, holdout, config=config))
    verdict = Verdict(checks=tuple(checks), context=info)
    if report_path is not None:
        path = Path(report_path)
        verdict = Verdict(checks=verdict.checks, report_path=path, context=info)
        verdict.write(path)
    return verdict


__all__ = [
    "PLAUSIBLE_RANGES",
    "WEATHER_SCHEMA",
    "CheckResult",
    "GateConfig",
    "GateRejectedError",
    "Verdict",
    "check_completeness",
    "check_duplicates",
    "check_freshness",
    "check_label_leakage",
    "check_schema",
    "check_value_ranges",
    "run_gate",
    "validate_batch",
    "validate_model",
]
