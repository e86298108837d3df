"""Phase 4: drift detection, model reuse on recurring distributions, cost tracking, and the
maintenance benchmark.

Drift runs real evidently reports on the weather data; reuse is tested as pure functions and
on the real seasons; cost measures a real child process and a real local Kubeflow pipeline
run; the benchmark runs end to end on a generated CSV.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlops_reference_app import data
from mlops_reference_app.cost import (
    DEFAULT_USD_PER_VCPU_HOUR,
    ComputeUsage,
    CostTracker,
    ServingCostMeter,
    compute_cost_usd,
    cost_per_1k_predictions,
    measure_compute,
)
from mlops_reference_app.drift import DriftError, DriftMonitor, detect_drift, drift_score
from mlops_reference_app.metrics import AppMetrics
from mlops_reference_app.reuse import (
    Fingerprint,
    ModelStore,
    distance,
    fingerprint,
    fingerprint_features,
    fit_edges,
    jensen_shannon,
    population_stability_index,
    reuse_or_retrain,
)
from mlops_reference_app.settings import AppSettings

pytestmark = pytest.mark.app

for _name in ("DO_NOT_TRACK", "MLFLOW_DISABLE_TELEMETRY", "BENTOML_DO_NOT_TRACK"):
    os.environ.setdefault(_name, "true")

APP_ROOT = Path(__file__).resolve().parents[1]
MODEL = "rain-tomorrow"


@pytest.fixture(scope="module")
def batches(weather: pd.DataFrame) -> list[data.Batch]:
    return data.monthly_batches(weather)


def _months(batches: list[data.Batch], first: str, count: int = 3) -> pd.DataFrame:
    """``count`` consecutive monthly batches starting at month ``first`` (YYYY-MM)."""
    start = next(i for i, b in enumerate(batches) if f"{b.start:%Y-%m}" == first)
    return pd.concat([b.frame for b in batches[start : start + count]], ignore_index=True)


# -- drift ---------------------------------------------------------------------------------


def test_drift_between_seasons_and_none_within_one(weather: pd.DataFrame) -> None:
    reference = data.window(weather, "2012-01-01", "2013-01-01")
    same = detect_drift(
        reference, data.window(weather, "2013-01-01", "2014-01-01"), features=data.FEATURES
    )
    assert not same.dataset_drift
    assert same.drift_share < 0.5
    assert set(same.methods.values()) == {"jensenshannon"}
    summer = detect_drift(
        data.window(weather, "2012-12-01", "2013-03-01"),
        data.window(weather, "2013-06-01", "2013-09-01"),
        features=data.FEATURES,
    )
    assert summer.dataset_drift
    assert {"temp_max", "temp_min"} <= set(summer.drifted)
    # The scores follow the seasons: temperature drifts far more between winter and summer.
    assert summer.scores["temp_max"] > 2 * same.scores["temp_max"]
    assert all(0.0 <= s <= 1.0 for s in (*same.scores.values(), *summer.scores.values()))
    assert summer.reference_rows == 90
    assert summer.current_rows == 92


def test_drift_score_direction_for_p_value_methods(weather: pd.DataFrame) -> None:
    winter = data.window(weather, "2013-01-01", "2013-03-01")
    summer = data.window(weather, "2013-07-01", "2013-09-01")
    report = detect_drift(winter, summer, features=["temp_max", "wind"], method="ks")
    # A tiny p-value is strong drift: its score is 1 - p, close to 1.
    assert report.statistics["temp_max"] < 0.001
    assert report.scores["temp_max"] > 0.999
    assert "temp_max" in report.drifted
    assert drift_score(0.2, "ks") == pytest.approx(0.8)
    assert drift_score(0.2, "jensenshannon") == pytest.approx(0.2)
    assert drift_score(1.7, "psi") == 1.0


def test_drift_monitor_exports_the_contract_gauges(weather: pd.DataFrame) -> None:
    metrics = AppMetrics()
    monitor = DriftMonitor(
        data.window(weather, "2012-01-01", "2012-04-01"),
        model_name=MODEL,
        features=data.FEATURES,
        metrics=metrics,
    )
    report = monitor.observe(data.window(weather, "2012-07-01", "2012-10-01"))
    for feature, score in report.scores.items():
        assert (
            metrics.sample("mlops_feature_drift_score", {"model": MODEL, "feature": feature})
            == score
        )
    assert metrics.sample("mlops_dataset_drift_share", {"model": MODEL}) == report.drift_share
    text = metrics.exposition().decode()
    assert 'mlops_feature_drift_score{feature="temp_max",model="rain-tomorrow"}' in text


def test_drift_rejects_unusable_inputs(weather: pd.DataFrame) -> None:
    frame = data.window(weather, "2012-01-01", "2012-02-01")
    with pytest.raises(DriftError, match=r"lacks feature columns \['nope'\]"):
        detect_drift(frame, frame, features=["temp_max", "nope"])
    with pytest.raises(DriftError, match="current data is empty"):
        detect_drift(frame, frame.iloc[:0], features=["temp_max"])


# -- reuse: pure functions -------------------------------------------------------------------


def test_identical_windows_are_at_distance_zero(batches: list[data.Batch]) -> None:
    window = _months(batches, "2013-01")
    edges = fit_edges(window, fingerprint_features(data.FEATURES))
    a, b = fingerprint(window, edges), fingerprint(window.sample(frac=1.0, random_state=1), edges)
    assert distance(a, b) == 0.0
    assert distance(a, b, metric="psi") == pytest.approx(0.0, abs=1e-12)
    for histogram in a.histograms:
        assert sum(histogram) == pytest.approx(1.0)


def test_same_season_windows_are_closer_than_opposite_seasons(batches: list[data.Batch]) -> None:
    store = ModelStore.from_reference(_months(batches, "2012-01", 12), data.FEATURES)
    fp = {
        m: store.fingerprint(_months(batches, m))
        for m in ("2012-12", "2013-06", "2013-12", "2014-06", "2014-12")
    }
    winters = distance(fp["2012-12"], fp["2013-12"])
    summers = distance(fp["2013-06"], fp["2014-06"])
    for winter in ("2012-12", "2013-12", "2014-12"):
        for summer in ("2013-06", "2014-06"):
            opposite = distance(fp[winter], fp[summer])
            assert opposite > winters, (winter, summer)
            assert opposite > summers, (winter, summer)
    assert distance(fp["2013-12"], fp["2014-12"]) < distance(fp["2013-12"], fp["2014-06"])


def test_calendar_features_are_left_out_of_the_fingerprint() -> None:
    chosen = fingerprint_features(data.FEATURES)
    assert "day_of_year_sin" not in chosen
    assert "day_of_year_cos" not in chosen
    assert "temp_max" in chosen
    assert len(chosen) == len(data.FEATURES) - 2


def test_distances_are_bounded_symmetric_and_grow_with_shift() -> None:
    p = [0.25, 0.25, 0.25, 0.25]
    assert jensen_shannon(p, p) == 0.0
    assert jensen_shannon([1, 0], [0, 1]) == pytest.approx(1.0)
    q, r = [0.4, 0.3, 0.2, 0.1], [0.7, 0.2, 0.1, 0.0]
    assert jensen_shannon(p, q) == pytest.approx(jensen_shannon(q, p))
    assert 0 < jensen_shannon(p, q) < jensen_shannon(p, r) <= 1.0
    assert 0 < population_stability_index(p, q) < population_stability_index(p, r)
    with pytest.raises(ValueError, match="differ in length"):
        jensen_shannon([0.5, 0.5], [1.0])


def test_edges_and_fingerprint_handle_flags_missing_values_and_outliers() -> None:
    reference = pd.DataFrame({"flag": [0.0, 1.0] * 10, "x": np.arange(20, dtype=float)})
    edges = fit_edges(reference, ["flag", "x"], bins=4)
    assert edges["flag"] == (0.5,)
    assert len(edges["x"]) == 3
    later = pd.DataFrame({"flag": [1.0, 1.0, np.nan, 0.0], "x": [-100.0, 5.0, 1000.0, np.nan]})
    fp = fingerprint(later, edges)
    flag, x = fp.histograms
    assert flag == (0.25, 0.5, 0.25)  # 0s, 1s, missing
    assert x[0] == 0.25
    assert x[-2] == 0.25
    assert x[-1] == 0.25
    assert Fingerprint.from_dict(fp.to_dict()) == fp


def _store_with(batches: list[data.Batch]) -> ModelStore:
    store = ModelStore.from_reference(_months(batches, "2012-01", 12), data.FEATURES)
    store.add(1, _months(batches, "2012-06"), label="summer 2012")
    store.add(2, _months(batches, "2012-12"), label="winter 2012")
    return store


def test_recurring_window_reuses_the_stored_model_after_the_gate(batches: list[data.Batch]) -> None:
    store = _store_with(batches)
    retrained: list[int] = []
    gated: list[int | str] = []
    promoted: list[int | str] = []
    decision = reuse_or_retrain(
        _months(batches, "2013-06"),
        store,
        retrain=lambda frame: retrained.append(len(frame)) or 99,
        gate=lambda version, frame: gated.append(version) or True,
        promote=promoted.append,
    )
    assert decision.action == "reuse"
    assert decision.version == 1
    assert gated == [1]
    assert promoted == [1]
    assert retrained == []
    assert decision.distance is not None
    assert decision.distance <= 0.2
    assert "matches stored version 1" in decision.reason
    assert len(store.entries) == 2


def test_gate_rejection_tries_the_next_candidate_then_retrains(batches: list[data.Batch]) -> None:
    store = _store_with(batches)
    store.add(3, _months(batches, "2013-06"), label="summer 2013")
    window = _months(batches, "2014-06")
    gated: list[int | str] = []
    # The gate turns the nearest candidate down and accepts the next one.
    decision = reuse_or_retrain(
        window, store, retrain=lambda f: 4, gate=lambda v, f: gated.append(v) or len(gated) > 1
    )
    assert decision.action == "reuse"
    assert set(gated) == {1, 3}  # both summers, never the winter
    assert decision.version == gated[1]
    assert decision.rejected == (gated[0],)
    assert decision.candidates[:2] == tuple(gated)
    everything_rejected = reuse_or_retrain(
        window, store, retrain=lambda f: 4, gate=lambda v, f: False
    )
    assert everything_rejected.action == "retrain"
    assert everything_rejected.version == 4
    assert "gate rejected" in everything_rejected.reason
    assert store.entries[-1].version == 4


def test_new_distribution_retrains_and_is_stored(batches: list[data.Batch]) -> None:
    store = ModelStore.from_reference(_months(batches, "2012-01", 12), data.FEATURES)
    store.add(1, _months(batches, "2012-12"))
    summer = _months(batches, "2013-06")
    decision = reuse_or_retrain(
        summer, store, retrain=lambda frame: 7, promote=lambda v: pytest.fail("promoted")
    )
    assert decision.action == "retrain"
    assert decision.version == 7
    assert decision.distance is not None
    assert decision.distance > 0.2
    assert "above the threshold" in decision.reason
    assert [e.version for e in store.entries] == [1, 7]
    # The next summer now finds it.
    again = reuse_or_retrain(_months(batches, "2014-06"), store, retrain=lambda frame: 8)
    assert again.action == "reuse"
    assert again.version == 7
    empty = ModelStore.from_reference(summer, data.FEATURES)
    assert reuse_or_retrain(summer, empty, retrain=lambda frame: 1).reason.startswith(
        "no stored model"
    )


def test_store_round_trips_through_json(batches: list[data.Batch]) -> None:
    store = _store_with(batches)
    restored = ModelStore.from_json(store.to_json())
    assert restored.edges == store.edges
    assert restored.entries == store.entries
    window = _months(batches, "2013-12")
    assert restored.nearest(restored.fingerprint(window)) == store.nearest(
        store.fingerprint(window)
    )


# -- cost ------------------------------------------------------------------------------------


def test_cost_arithmetic_follows_the_documented_assumption() -> None:
    assert DEFAULT_USD_PER_VCPU_HOUR == 0.048
    assert compute_cost_usd(3600.0) == pytest.approx(0.048)
    # 3.6 CPU seconds for 1,000 predictions: 0.001 vCPU-hours, 0.000048 USD.
    assert cost_per_1k_predictions(3.6, 1000) == pytest.approx(0.000048)
    assert cost_per_1k_predictions(3.6, 2000, usd_per_vcpu_hour=0.096) == pytest.approx(0.000048)
    assert math.isnan(cost_per_1k_predictions(1.0, 0))
    with pytest.raises(ValueError, match="usd_per_vcpu_hour"):
        compute_cost_usd(1.0, usd_per_vcpu_hour=0.0)
    with pytest.raises(ValueError, match="cpu_seconds"):
        compute_cost_usd(-1.0)


def test_serving_meter_and_tracker_export_cost_metrics() -> None:
    clock = iter([10.0, 13.6, 13.6]).__next__
    meter = ServingCostMeter(cpu_clock=clock)
    meter.add_predictions(400)
    meter.add_predictions(600)
    metrics = AppMetrics()
    tracker = CostTracker(model_name=MODEL, metrics=metrics)
    cost = tracker.export_serving(meter)
    assert cost == pytest.approx(0.000048)
    assert metrics.sample("mlops_cost_per_1k_predictions_usd", {"model": MODEL}) == pytest.approx(
        0.000048
    )
    assert metrics.sample("mlops_serving_cpu_seconds", {"model": MODEL}) == pytest.approx(3.6)
    tracker.record_pipeline("training", ComputeUsage(cpu_seconds=12.0, wall_seconds=8.0))
    labels = {"model": MODEL, "pipeline": "training"}
    assert metrics.sample("mlops_pipeline_compute_seconds", labels) == 12.0
    assert metrics.sample("mlops_pipeline_wall_seconds", labels) == 8.0
    assert metrics.sample("mlops_pipeline_runs_total", labels) == 1.0


def test_measure_compute_counts_child_processes() -> None:
    burn = "import time\nend = time.process_time() + 0.4\nwhile time.process_time() < end: pass\n"
    own = time.process_time()
    with measure_compute() as usage:
        subprocess.run([sys.executable, "-c", burn], check=True)
    own = time.process_time() - own
    assert usage.cpu_seconds >= 0.35  # the child's CPU, which this process never spent
    assert usage.cpu_seconds > own + 0.3
    assert usage.wall_seconds >= 0.35


def test_a_real_local_pipeline_run_is_measured_and_exported(tmp_path: Path) -> None:
    from mlops_reference_app.pipeline import run_pipeline_locally

    settings = AppSettings.embedded(tmp_path / "work")
    metrics = AppMetrics()
    tracker = CostTracker(model_name=settings.model_name, metrics=metrics)
    with tracker.pipeline_run("training") as usage:
        result = run_pipeline_locally(settings, "2012-01-01", "2012-07-01")
    assert result.model_version >= 1
    # The steps ran as subprocesses: their CPU is counted, and it exceeds the wall time the
    # parent merely waited for only if the children were counted at all.
    assert usage.wall_seconds == pytest.approx(result.seconds, rel=0.2)
    assert usage.cpu_seconds > 1.0
    labels = {"model": settings.model_name, "pipeline": "training"}
    assert metrics.sample("mlops_pipeline_compute_seconds", labels) == usage.cpu_seconds
    assert metrics.sample("mlops_pipeline_wall_seconds", labels) == usage.wall_seconds


# -- the maintenance benchmark ---------------------------------------------------------------


def _seasonal_csv(path: Path, months: int = 9, seed: int = 0) -> Path:
    """Daily rows with a yearly cycle and a label that depends on the inputs."""
    rng = np.random.default_rng(seed)
    days = pd.date_range("2020-01-01", periods=months * 30, freq="D")
    season = np.sin(2 * np.pi * days.dayofyear / 365.25)
    temperature = 12 + 8 * season + rng.normal(0, 2, len(days))
    humidity = 70 - 15 * season + rng.normal(0, 8, len(days))
    logit = 0.08 * (humidity - 70) - 0.15 * (temperature - 12) + rng.normal(0, 1, len(days))
    frame = pd.DataFrame(
        {
            "day": days.strftime("%Y-%m-%d"),
            "temperature": temperature.round(2),
            "humidity": humidity.round(2),
            "station": "north",
            "outcome": np.where(logit > 0, "wet", "dry"),
        }
    )
    frame.to_csv(path, index=False)
    return path


def test_maintenance_benchmark_runs_on_any_csv(tmp_path: Path) -> None:
    csv = _seasonal_csv(tmp_path / "series.csv")
    command = [
        sys.executable,
        str(APP_ROOT / "benchmarks" / "maintenance.py"),
        "--csv",
        str(csv),
        "--timestamp-column",
        "day",
        "--target-column",
        "outcome",
        "--train-months",
        "2",
        "--events",
        "--json",
        str(tmp_path / "maintenance.json"),
    ]
    done = subprocess.run(
        command, check=False, capture_output=True, text=True, timeout=600, cwd=APP_ROOT
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert f"data: {csv}: 269 rows, 9 monthly batches" in out
    table = out.split("reuse-on-recurrence relative to retrain-on-drift:")[0]
    for policy in ("retrain-on-drift", "periodic", "reuse-on-recurrence", "never-retrain"):
        row = next(line for line in table.splitlines() if line.startswith(policy))
        cells = row.split()
        assert int(cells[1]) >= 1  # every policy trains at least its first model
        assert 0.0 <= float(cells[-2]) <= 1.0  # mean roc_auc
    assert "retrains      " in out
    assert "mean roc_auc  " in out
    assert "goal (compute <= 20%" in out
    figures = json.loads((tmp_path / "maintenance.json").read_text())
    assert figures["batches"] == 9
    assert [p["policy"] for p in figures["policies"]] == [
        "retrain-on-drift",
        "periodic",
        "reuse-on-recurrence",
        "never-retrain",
    ]
    drift, _, reuse, _ = figures["policies"]
    assert figures["reuse_vs_retrain_on_drift"]["retrains"] == pytest.approx(
        reuse["retrains"] / drift["retrains"]
    )


def test_maintenance_benchmark_rejects_a_bad_csv(tmp_path: Path) -> None:
    csv = tmp_path / "short.csv"
    csv.write_text(
        textwrap.dedent("""\
        day,x,y
        2020-01-01,1,0
        2020-01-02,2,1
        2020-01-03,3,0
    """)
    )
    command = [
        sys.executable,
        str(APP_ROOT / "benchmarks" / "maintenance.py"),
        "--csv",
        str(csv),
        "--timestamp-column",
        "day",
        "--target-column",
        "y",
    ]
    done = subprocess.run(
        command, check=False, capture_output=True, text=True, timeout=300, cwd=APP_ROOT
    )
    assert done.returncode != 0
    assert "needs at least" in done.stderr
