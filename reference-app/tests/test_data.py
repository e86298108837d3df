"""The weather frame, its monthly batches and the generic CSV loader."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlops_reference_app import data, training

pytestmark = pytest.mark.app


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return data.load_raw_weather()


@pytest.fixture(scope="module")
def weather(raw: pd.DataFrame) -> pd.DataFrame:
    return data.build_weather_frame(raw)


def test_weather_frame_shape_columns_and_days(raw: pd.DataFrame, weather: pd.DataFrame) -> None:
    assert len(raw) == 1461  # 2012-01-01 .. 2015-12-31
    # The first MAX_LAG_DAYS days lack lags; the last day lacks a tomorrow.
    assert len(weather) == len(raw) - data.MAX_LAG_DAYS - 1
    assert weather.equals(data.load_weather())
    expected = {data.TIMESTAMP, data.TARGET, *data.FEATURES, *data.RAW_COLUMNS}
    assert expected <= set(weather.columns)
    assert data.TARGET not in data.FEATURES
    assert weather[data.TIMESTAMP].iloc[0] == pd.Timestamp("2012-01-03")
    assert weather[data.TIMESTAMP].iloc[-1] == pd.Timestamp("2015-12-30")
    steps = weather[data.TIMESTAMP].diff().dropna().unique()
    assert list(steps) == [pd.Timedelta(days=1)]
    assert not weather[list(data.FEATURES)].isna().any().any()
    assert set(weather[data.TARGET].unique()) == {0, 1}
    assert 0.3 < weather[data.TARGET].mean() < 0.6  # Seattle: rain on a bit under half the days


def test_target_is_the_next_days_precipitation(raw: pd.DataFrame, weather: pd.DataFrame) -> None:
    by_day = raw.set_index("date")["precipitation"]
    tomorrow = weather[data.TIMESTAMP] + pd.Timedelta(days=1)
    expected = (by_day.loc[tomorrow].to_numpy() > 0).astype(int)
    assert np.array_equal(weather[data.TARGET].to_numpy(), expected)
    # Today's rain is a feature, and it is not the target.
    assert not np.array_equal(weather["rain_today"].to_numpy(), expected)


@pytest.mark.parametrize("cutoff", ["2012-03-15", "2013-07-01", "2015-11-30"])
def test_features_never_read_the_future(raw: pd.DataFrame, cutoff: str) -> None:
    """Scrambling every day after ``cutoff`` leaves every feature up to ``cutoff`` unchanged."""
    rng = np.random.default_rng(7)
    scrambled = raw.copy()
    future = scrambled["date"] > pd.Timestamp(cutoff)
    for column in ("precipitation", "temp_max", "temp_min", "wind"):
        scrambled.loc[future, column] = rng.uniform(0, 40, int(future.sum()))
    original = data.build_weather_frame(raw)
    changed = data.build_weather_frame(scrambled)
    past = original[data.TIMESTAMP] <= pd.Timestamp(cutoff)
    features = list(data.FEATURES)
    pd.testing.assert_frame_equal(
        original.loc[past, features].reset_index(drop=True),
        changed.loc[past, features].reset_index(drop=True),
    )
    # The scrambling did reach the future rows (so the comparison above could have failed).
    later = original[data.TIMESTAMP] > pd.Timestamp(cutoff) + pd.Timedelta(days=3)
    assert not original.loc[later, features].equals(changed.loc[later, features])


def test_monthly_batches_are_48_ordered_contiguous_months(weather: pd.DataFrame) -> None:
    batches = data.monthly_batches(weather.sample(frac=1.0, random_state=3))  # order restored
    assert len(batches) == 48
    assert [b.index for b in batches] == list(range(48))
    assert batches[0].start == pd.Timestamp("2012-01-01")
    assert batches[-1].end == pd.Timestamp("2016-01-01")
    for before, after in itertools.pairwise(batches):
        assert before.end == after.start
        assert before.start < after.start
    for batch in batches:
        stamps = batch.frame[data.TIMESTAMP]
        assert stamps.is_monotonic_increasing
        assert (stamps >= batch.start).all()
        assert (stamps < batch.end).all()
        assert 27 <= len(batch.frame) <= 31
    assert sum(len(b.frame) for b in batches) == len(weather)
    rejoined = pd.concat([b.frame for b in batches], ignore_index=True)
    pd.testing.assert_frame_equal(rejoined, weather)
    with pytest.raises(AttributeError):
        batches[0].index = 5  # type: ignore[misc]  # frozen


def test_monthly_batches_need_a_timestamp_column(weather: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="no 'timestamp' column"):
        data.monthly_batches(weather.drop(columns=[data.TIMESTAMP]))


def test_window_is_half_open(weather: pd.DataFrame) -> None:
    january = data.window(weather, "2013-01-01", "2013-02-01")
    assert january[data.TIMESTAMP].min() == pd.Timestamp("2013-01-01")
    assert january[data.TIMESTAMP].max() == pd.Timestamp("2013-01-31")
    assert len(january) == 31
    with pytest.raises(ValueError, match="must be after start"):
        data.window(weather, "2013-02-01", "2013-01-01")


def _sensor_csv(path: Path, rows: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    stamps = pd.date_range("2021-03-01", periods=rows, freq="D")
    vibration = rng.normal(1.0, 0.3, rows)
    temperature = 60 + 5 * np.sin(np.arange(rows) / 9) + rng.normal(0, 1, rows)
    failure = np.where(vibration + rng.normal(0, 0.1, rows) > 1.2, "yes", "no")
    frame = pd.DataFrame(
        {
            "reading_time": stamps.strftime("%Y-%m-%d %H:%M"),
            "machine": "press-7",  # text: not a feature
            "vibration": vibration,
            "temperature": temperature,
            "failure_next_shift": failure,
        }
    )
    frame.sample(frac=1.0, random_state=5).to_csv(path, index=False)  # rows out of order
    return frame


def test_load_csv_derives_numeric_features_and_a_binary_target(tmp_path: Path) -> None:
    source = _sensor_csv(tmp_path / "sensors.csv")
    frame = data.load_csv(tmp_path / "sensors.csv", "reading_time", "failure_next_shift")
    features = data.feature_columns(frame)
    assert features == (
        "vibration",
        "temperature",
        "vibration_change",
        "temperature_change",
        "day_of_year_sin",
        "day_of_year_cos",
    )
    assert list(frame.columns) == [data.TIMESTAMP, *features, data.TARGET]
    assert len(frame) == len(source) - 1  # first row has no change features
    assert frame[data.TIMESTAMP].is_monotonic_increasing
    assert frame[data.TIMESTAMP].iloc[0] == pd.Timestamp("2021-03-02")
    expected_target = (source["failure_next_shift"].iloc[1:] == "yes").astype(int).to_numpy()
    assert np.array_equal(frame[data.TARGET].to_numpy(), expected_target)
    expected_change = np.diff(source["vibration"].to_numpy())
    assert np.allclose(frame["vibration_change"].to_numpy(), expected_change)
    assert not frame[list(features)].isna().any().any()
    # The trainer takes the loaded frame as it is.
    model = training.train(frame, features=features)
    assert model.metrics["roc_auc"] > 0.8


def test_load_csv_errors_name_the_problem(tmp_path: Path) -> None:
    _sensor_csv(tmp_path / "sensors.csv")
    with pytest.raises(ValueError, match="no column 'when'"):
        data.load_csv(tmp_path / "sensors.csv", "when", "failure_next_shift")
    three = tmp_path / "three.csv"
    pd.DataFrame({"t": ["2021-01-01", "2021-01-02", "2021-01-03"], "y": ["a", "b", "c"]}).to_csv(
        three, index=False
    )
    with pytest.raises(ValueError, match="3 distinct values"):
        data.load_csv(three, "t", "y")
    bad_time = tmp_path / "bad_time.csv"
    pd.DataFrame({"t": ["2021-01-01", "yesterday"], "y": [0, 1], "x": [1.0, 2.0]}).to_csv(
        bad_time, index=False
    )
    with pytest.raises(ValueError, match="unparseable timestamp 'yesterday'"):
        data.load_csv(bad_time, "t", "y")
