"""Data: the Seattle daily weather problem, monthly batches, and a generic CSV loader.

The prediction target is whether it rains tomorrow. Every feature of a row is computed from
that row's day or earlier days only, so a model trained on the frame never sees the future.
The last day of the series has no "tomorrow" and is dropped; the first days, whose lag
features would need days before the series starts, are dropped too.

Batches are half-open calendar months: ``start`` is the first day of the month (inclusive)
and ``end`` the first day of the next month (exclusive), so consecutive batches touch
(``batches[i].end == batches[i + 1].start``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from vega_datasets import local_data

TIMESTAMP = "timestamp"
TARGET = "rain_tomorrow"

RAW_COLUMNS: tuple[str, ...] = ("precipitation", "temp_max", "temp_min", "wind", "weather")

FEATURES: tuple[str, ...] = (
    "precipitation",
    "temp_max",
    "temp_min",
    "wind",
    "temp_range",
    "rain_today",
    "precipitation_lag1",
    "precipitation_lag2",
    "precipitation_3d",
    "temp_max_change",
    "wind_lag1",
    "day_of_year_sin",
    "day_of_year_cos",
)

# Days dropped at the start of the series because the deepest lag needs them.
MAX_LAG_DAYS = 2

_DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class Batch:
    """One month of rows, as it would arrive in production.

    - ``index``: position of the batch in time order, from 0.
    - ``start``: first day of the month (inclusive).
    - ``end``: first day of the next month (exclusive).
    - ``frame``: the rows whose timestamp lies in ``[start, end)``, in time order.
    """

    index: int
    start: pd.Timestamp
    end: pd.Timestamp
    frame: pd.DataFrame

    def __repr__(self) -> str:
        return (
            f"Batch(index={self.index}, start={self.start.date()}, end={self.end.date()}, "
            f"rows={len(self.frame)})"
        )


def seasonal_features(timestamps: pd.Series) -> pd.DataFrame:
    """Day-of-year on the unit circle, so 31 December and 1 January are neighbours."""
    angle = 2.0 * np.pi * timestamps.dt.dayofyear.astype(float) / _DAYS_PER_YEAR
    return pd.DataFrame(
        {"day_of_year_sin": np.sin(angle), "day_of_year_cos": np.cos(angle)},
        index=timestamps.index,
    )


def build_weather_frame(raw: pd.DataFrame) -> pd.DataFrame:
    """Turn raw daily weather (``date`` + RAW_COLUMNS) into the modelling frame.

    Public so tests can show that truncating the future leaves every feature unchanged.
    """
    missing = [c for c in ("date", *RAW_COLUMNS) if c not in raw.columns]
    if missing:
        raise ValueError(
            f"raw weather data lacks columns {missing}; expected date and {RAW_COLUMNS}"
        )
    daily = raw.sort_values("date").reset_index(drop=True)
    frame = pd.DataFrame({TIMESTAMP: pd.to_datetime(daily["date"])})
    for column in RAW_COLUMNS:
        frame[column] = daily[column]
    precipitation = frame["precipitation"].astype(float)
    frame["temp_range"] = frame["temp_max"] - frame["temp_min"]
    frame["rain_today"] = (precipitation > 0).astype(float)
    frame["precipitation_lag1"] = precipitation.shift(1)
    frame["precipitation_lag2"] = precipitation.shift(2)
    frame["precipitation_3d"] = precipitation.rolling(3, min_periods=3).sum()
    frame["temp_max_change"] = frame["temp_max"].diff(1)
    frame["wind_lag1"] = frame["wind"].shift(1)
    frame = pd.concat([frame, seasonal_features(frame[TIMESTAMP])], axis=1)
    # Target: does the next day have any precipitation?  NaN for the last day.
    frame[TARGET] = (precipitation.shift(-1) > 0).astype("Int64")
    frame.loc[frame.index[-1], TARGET] = pd.NA
    frame = frame.iloc[MAX_LAG_DAYS:-1].copy()
    frame[TARGET] = frame[TARGET].astype(int)
    return frame.reset_index(drop=True)


def load_raw_weather() -> pd.DataFrame:
    """Seattle daily weather 2012-2015, as shipped inside the ``vega_datasets`` package."""
    return local_data.seattle_weather()


def load_weather() -> pd.DataFrame:
    """The modelling frame: timestamp, raw columns, engineered FEATURES and TARGET."""
    return build_weather_frame(load_raw_weather())


def monthly_batches(frame: pd.DataFrame) -> list[Batch]:
    """Split a frame into calendar-month batches, ordered by time, empty months skipped."""
    if TIMESTAMP not in frame.columns:
        raise ValueError(f"frame has no {TIMESTAMP!r} column; columns are {list(frame.columns)}")
    ordered = frame.sort_values(TIMESTAMP, kind="stable").reset_index(drop=True)
    periods = ordered[TIMESTAMP].dt.to_period("M")
    batches: list[Batch] = []
    for period in sorted(periods.unique()):
        rows = ordered.loc[periods == period].reset_index(drop=True)
        start = period.start_time.normalize()
        end = (period + 1).start_time.normalize()
        batches.append(Batch(index=len(batches), start=start, end=end, frame=rows))
    return batches


def window(frame: pd.DataFrame, start: pd.Timestamp | str, end: pd.Timestamp | str) -> pd.DataFrame:
    """Rows with ``start <= timestamp < end`` (half-open, like batches)."""
    lo, hi = pd.Timestamp(start), pd.Timestamp(end)
    if hi <= lo:
        raise ValueError(f"window end {hi} must be after start {lo}")
    mask = (frame[TIMESTAMP] >= lo) & (frame[TIMESTAMP] < hi)
    return frame.loc[mask].reset_index(drop=True)


def feature_columns(frame: pd.DataFrame) -> tuple[str, ...]:
    """Feature names of a frame from :func:`load_csv` (or FEATURES for the weather frame)."""
    stored = frame.attrs.get("features")
    if stored:
        return tuple(stored)
    return tuple(c for c in frame.columns if c not in (TIMESTAMP, TARGET))


def load_csv(path: str | Path, timestamp_column: str, target_column: str) -> pd.DataFrame:
    """Load any time-stamped CSV with a binary target into the shape the trainer expects.

    The timestamp column becomes TIMESTAMP and the target column TARGET (mapped to 0/1: a
    boolean or 0/1 column keeps its meaning, otherwise the larger of the two sorted values
    is the positive class). Features are every other numeric column, a day-over-day change
    of each, and the seasonal day-of-year pair. Rows are sorted by time; the first row is
    dropped because its change features need a previous row. The feature names are stored in
    ``frame.attrs["features"]`` (see :func:`feature_columns`).
    """
    raw = pd.read_csv(path)
    for column in (timestamp_column, target_column):
        if column not in raw.columns:
            raise ValueError(f"{path}: no column {column!r}; columns are {list(raw.columns)}")
    timestamps = pd.to_datetime(raw[timestamp_column], errors="coerce")
    if timestamps.isna().any():
        bad = raw.loc[timestamps.isna(), timestamp_column].iloc[0]
        raise ValueError(
            f"{path}: column {timestamp_column!r} has an unparseable timestamp {bad!r}"
        )
    target = _binary_target(raw[target_column], f"{path}: column {target_column!r}")
    numeric = raw.drop(columns=[timestamp_column, target_column]).select_dtypes(include="number")
    frame = pd.DataFrame({TIMESTAMP: timestamps})
    for column in numeric.columns:
        frame[column] = numeric[column].astype(float)
    frame[TARGET] = target
    frame = frame.sort_values(TIMESTAMP, kind="stable").reset_index(drop=True)
    base = list(numeric.columns)
    for column in base:
        frame[f"{column}_change"] = frame[column].diff(1)
    frame = pd.concat([frame, seasonal_features(frame[TIMESTAMP])], axis=1)
    frame = frame.iloc[1:].reset_index(drop=True)
    features = [*base, *(f"{c}_change" for c in base), "day_of_year_sin", "day_of_year_cos"]
    ordered = frame[[TIMESTAMP, *features, TARGET]].copy()
    ordered.attrs["features"] = tuple(features)
    return ordered


def _binary_target(values: pd.Series, where: str) -> pd.Series:
    present = values.dropna()
    if len(present) != len(values):
        raise ValueError(f"{where} has {len(values) - len(present)} missing target values")
    distinct: Sequence[object] = sorted(present.unique(), key=str)
    if len(distinct) > 2:
        raise ValueError(
            f"{where} has {len(distinct)} distinct values; a binary target needs at most 2"
        )
    if values.dtype == bool or set(distinct) <= {0, 1}:
        return values.astype(int)
    with contextlib.suppress(TypeError):
        distinct = sorted(distinct)  # type: ignore[type-var]
    positive = distinct[-1]
    return (values == positive).astype(int)
