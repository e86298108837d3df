"""Phase 2: the validation gate and champion/challenger promotion on a real MLflow registry."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlops_reference_app import data, tracking, training
from mlops_reference_app.registry import (
    MESSAGE_TAG,
    STATUS_TAG,
    promote_challenger_if_better,
)
from mlops_reference_app.settings import AppSettings
from mlops_reference_app.validation import GateConfig, run_gate, validate_batch

pytestmark = pytest.mark.app

for _name in ("DO_NOT_TRACK", "MLFLOW_DISABLE_TELEMETRY", "BENTOML_DO_NOT_TRACK"):
    os.environ.setdefault(_name, "true")


@pytest.fixture(scope="module")
def batches(weather: pd.DataFrame) -> list[data.Batch]:
    return data.monthly_batches(weather)


def _batch(batches: list[data.Batch], month: str) -> data.Batch:
    for batch in batches:
        if str(batch.start.date()).startswith(month):
            return batch
    raise AssertionError(f"no batch for {month}")


# -- data checks -----------------------------------------------------------------------------


def test_every_real_monthly_batch_passes_the_data_checks(batches: list[data.Batch]) -> None:
    rejected = {}
    for batch in batches:
        verdict = run_gate(batch.frame, now=batch.end)
        if not verdict.accepted:
            rejected[str(batch.start.date())] = verdict.message
    assert len(batches) == 48
    assert rejected == {}


def test_schema_violations_are_named(batches: list[data.Batch]) -> None:
    batch = _batch(batches, "2014-03")
    broken = batch.frame.drop(columns=["wind"]).assign(temp_max=lambda f: f["temp_max"].astype(str))
    verdict = run_gate(broken, now=batch.end)
    assert not verdict.accepted
    schema = verdict.check("schema")
    assert not schema.passed
    assert schema.details["missing_columns"] == ["wind"]
    assert schema.details["wrong_dtypes"] == {
        "temp_max": {"expected": "numeric", "actual": "object"}
    }
    assert "missing columns ['wind']" in verdict.message
    assert "temp_max is object (expected numeric)" in verdict.message


def test_implausible_values_stale_and_duplicated_batches(batches: list[data.Batch]) -> None:
    batch = _batch(batches, "2014-03")
    frame = batch.frame.copy()
    frame.loc[3, "temp_max"] = 80.0  # Fahrenheit slipped in
    frame.loc[4, "precipitation"] = -1.0
    frame = pd.concat([frame, frame.iloc[[10]]], ignore_index=True)
    checks = {c.name: c for c in validate_batch(frame, now=batch.end + pd.Timedelta(days=10))}
    assert not checks["value_ranges"].passed
    assert set(checks["value_ranges"].details["violations"]) == {"temp_max", "precipitation"}
    assert "temp_max has 1 value(s) outside [-50, 55] (e.g. 80)" in checks["value_ranges"].message
    assert not checks["freshness"].passed
    assert "stale batch" in checks["freshness"].message
    assert checks["freshness"].details["age_hours"] == pytest.approx(11 * 24)
    assert not checks["duplicates"].passed
    assert checks["duplicates"].details["timestamps"] == [str(frame.loc[10, "timestamp"])]
    # The same batch, clean and judged on arrival, passes every one of these checks.
    clean = {c.name: c.passed for c in validate_batch(batch.frame, now=batch.end)}
    assert clean == dict.fromkeys(clean, True)
    future = {c.name: c for c in validate_batch(batch.frame, now=batch.start)}
    assert "from the future" in future["freshness"].message


def test_label_leakage_is_detected(batches: list[data.Batch]) -> None:
    batch = _batch(batches, "2013-11")
    frame = batch.frame.copy()
    frame["precipitation_tomorrow"] = frame["precipitation"].shift(-1)  # next day's value
    frame["rain_flag"] = frame[data.TARGET].astype(float)  # the target itself
    rng = np.random.default_rng(0)
    frame["almost_target"] = frame[data.TARGET] * 5.0 + rng.normal(0, 0.3, len(frame))
    verdict = run_gate(frame, now=batch.end)
    leakage = verdict.check("label_leakage")
    assert not leakage.passed
    leaking = leakage.details["leaking_columns"]
    assert set(leaking) == {"precipitation_tomorrow", "rain_flag", "almost_target"}
    assert "identical to the target" in leaking["rain_flag"]["reasons"]
    assert any(
        "next day's precipitation" in r for r in leaking["precipitation_tomorrow"]["reasons"]
    )
    assert leaking["almost_target"]["correlation"] > 0.95
    assert "label leakage" in verdict.message
    assert "not known at prediction time" in verdict.message
    # Only the leakage check failed: the rest of the batch is fine.
    assert [c.name for c in verdict.failures] == ["label_leakage"]


def test_gate_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="leakage_auc"):
        GateConfig(leakage_auc=0.4)
    with pytest.raises(ValueError, match="tolerance"):
        GateConfig(tolerance=-0.1)
    with pytest.raises(ValueError, match="low 5 > high 1"):
        GateConfig(ranges={"wind": (5, 1)})


# -- registry flow -------------------------------------------------------------------------


@dataclass
class Registry:
    settings: AppSettings
    good: int
    weak: int
    holdout: pd.DataFrame
    train_batch: pd.DataFrame


def _register(settings: AppSettings, model: training.TrainedModel, frame: pd.DataFrame) -> int:
    run_id = tracking.log_training_run(
        settings, model, data_version="test", params={"purpose": "gate-test"}, frame=frame
    )
    return tracking.register(settings, run_id)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory, weather: pd.DataFrame) -> Registry:
    settings = AppSettings.embedded(tmp_path_factory.mktemp("registry"))
    train_frame = data.window(weather, "2012-01-01", "2015-01-01")
    holdout = data.window(weather, "2015-01-01", "2016-01-01")
    good = training.train(train_frame, seed=0)
    # Same data, labels shuffled: a model that learnt nothing about tomorrow's rain.
    shuffled = train_frame.assign(
        **{data.TARGET: train_frame[data.TARGET].sample(frac=1.0, random_state=1).to_numpy()}
    )
    weak = training.train(shuffled, seed=0)
    good_auc = training.evaluate(good, holdout)["roc_auc"]
    weak_auc = training.evaluate(weak, holdout)["roc_auc"]
    assert good_auc > weak_auc + 0.1, (good_auc, weak_auc)
    last_month = data.monthly_batches(train_frame)[-1].frame
    return Registry(
        settings,
        good=_register(settings, good, train_frame),
        weak=_register(settings, weak, shuffled),
        holdout=holdout,
        train_batch=last_month,
    )


def _make_champion(registry: Registry, version: int) -> None:
    tracking.set_alias(registry.settings, version, tracking.CHAMPION)


def _version_tags(settings: AppSettings, version: int) -> dict[str, str]:
    client = MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.registry_uri)
    return dict(client.get_model_version(settings.model_name, str(version)).tags)


def test_worse_challenger_is_not_promoted(registry: Registry, tmp_path: Path) -> None:
    _make_champion(registry, registry.good)
    report = tmp_path / "gate.json"
    decision = promote_challenger_if_better(
        registry.settings, registry.weak, holdout=registry.holdout, report_path=report
    )
    assert not decision.promoted
    assert tracking.champion_version(registry.settings) == registry.good
    assert tracking.alias_version(registry.settings, tracking.CHALLENGER) == registry.weak
    assert decision.previous_champion == decision.champion_version == registry.good
    check = decision.verdict.check("no_regression")
    assert not check.passed
    assert "candidate regresses against the champion: roc_auc" in check.message
    assert f"champion stays at version {registry.good}" in decision.message
    body = json.loads(report.read_text())
    assert body["accepted"] is False
    assert {c["name"] for c in body["checks"]} == {
        "challenger_loadable",
        "champion_loadable",
        "no_regression",
    }
    assert all({"name", "passed", "details", "message"} <= set(c) for c in body["checks"])
    tags = _version_tags(registry.settings, registry.weak)
    assert tags[STATUS_TAG] == "rejected"
    assert "regresses" in tags[MESSAGE_TAG]


def test_better_challenger_is_promoted(registry: Registry) -> None:
    _make_champion(registry, registry.weak)
    decision = promote_challenger_if_better(
        registry.settings,
        registry.good,
        holdout=registry.holdout,
        batch=registry.train_batch,
        now=pd.Timestamp("2015-01-01"),
    )
    assert decision.promoted, decision.verdict.message
    assert tracking.champion_version(registry.settings) == registry.good
    assert tracking.alias_version(registry.settings, tracking.CHALLENGER) is None
    assert decision.previous_champion == registry.weak
    names = [c.name for c in decision.verdict.checks]
    assert names[:2] == ["challenger_loadable", "champion_loadable"]
    assert {"schema", "label_leakage", "freshness", "no_regression"} <= set(names)
    assert "candidate beats the champion" in decision.verdict.check("no_regression").message
    assert _version_tags(registry.settings, registry.good)[STATUS_TAG] == "accepted"


def test_first_model_becomes_champion(tmp_path: Path, registry: Registry) -> None:
    client = MlflowClient(registry.settings.tracking_uri, registry.settings.registry_uri)
    client.delete_registered_model_alias(registry.settings.model_name, tracking.CHAMPION)
    decision = promote_challenger_if_better(
        registry.settings, registry.weak, holdout=registry.holdout
    )
    assert decision.promoted
    assert decision.previous_champion is None
    assert "no champion yet" in decision.verdict.check("no_regression").message
    assert tracking.champion_version(registry.settings) == registry.weak


@pytest.mark.parametrize("problem", ["schema", "leakage"])
def test_rejected_batch_keeps_the_champion(registry: Registry, problem: str) -> None:
    _make_champion(registry, registry.weak)
    batch = registry.train_batch.copy()
    if problem == "schema":
        batch = batch.drop(columns=["temp_min"])
        expected = "schema violation: missing columns ['temp_min']"
    else:
        batch["tomorrow_rain"] = batch[data.TARGET]
        expected = "label leakage: tomorrow_rain (identical to the target"
    # The good model would beat the champion, but the data it came with is unacceptable.
    decision = promote_challenger_if_better(
        registry.settings,
        registry.good,
        holdout=registry.holdout,
        batch=batch,
        now=pd.Timestamp("2015-01-01"),
    )
    assert not decision.promoted
    assert expected in decision.verdict.message
    assert decision.verdict.check("no_regression").passed
    assert tracking.champion_version(registry.settings) == registry.weak


def test_unloadable_champion_fails_closed(registry: Registry) -> None:
    # A second registered model in the same store, so the shared models stay intact.
    settings = dataclasses.replace(registry.settings, model_name="rain-tomorrow-broken")
    train_frame = registry.holdout.iloc[:200]
    version = _register(settings, training.train(train_frame), train_frame)
    tracking.set_alias(settings, version, tracking.CHAMPION)
    other = _register(settings, training.train(registry.holdout.iloc[100:]), registry.holdout)
    # Remove the champion's serialized model from the artifact store.
    source = (
        MlflowClient(settings.tracking_uri, settings.registry_uri)
        .get_model_version(settings.model_name, str(version))
        .source
    )
    model_id = source.rsplit("/", 1)[-1]
    files = list((settings.workdir / "mlflow-artifacts" / "models" / model_id).rglob("model.*"))
    assert files, "expected the serialized model under the artifact store"
    for file in files:
        file.unlink()
    decision = promote_challenger_if_better(settings, other, holdout=registry.holdout)
    assert not decision.promoted
    failed = decision.verdict.check("champion_loadable")
    assert not failed.passed
    assert "the champion could not be loaded" in failed.message
    assert f"alias 'champion' (version {version})" in failed.message
    assert tracking.champion_version(settings) == version
