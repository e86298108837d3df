"""The validation gate against a real MLflow registry: the champion is the alias's run.

A SQLite tracking store in a temporary directory stands in for the tracking server; the
gate reads it through ``MLFLOW_TRACKING_URI`` exactly as the workflow template sets it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow import MlflowClient

from mlops_blueprints.gate import champion_metrics_from_mlflow, main

pytestmark = [
    pytest.mark.slow,
    # MLflow's SQL store maps a relationship with a loader SQLAlchemy 2.1 deprecates.
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated"),
]

RULES = {"metrics": {"roc_auc": {"direction": "higher", "min": 0.8, "max_regression": 0.01}}}


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MlflowClient:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    client = MlflowClient()
    experiment = client.create_experiment("churn", artifact_location=str(tmp_path / "artifacts"))
    client.create_registered_model("churn")
    for roc_auc in (0.88, 0.80):
        run = client.create_run(experiment)
        client.log_metric(run.info.run_id, "roc_auc", roc_auc)
        client.set_terminated(run.info.run_id)
        client.create_model_version(
            "churn", source=f"runs:/{run.info.run_id}/model", run_id=run.info.run_id
        )
    client.set_registered_model_alias("churn", "champion", "1")
    return client


def test_champion_metrics_come_from_the_aliased_versions_run(registry: MlflowClient) -> None:
    assert champion_metrics_from_mlflow("churn", "champion") == {"roc_auc": 0.88}
    registry.set_registered_model_alias("churn", "champion", "2")
    assert champion_metrics_from_mlflow("churn", "champion") == {"roc_auc": 0.80}


def test_no_champion_yet_is_none_not_an_error(registry: MlflowClient) -> None:
    assert champion_metrics_from_mlflow("churn", "challenger") is None
    assert champion_metrics_from_mlflow("fraud", "champion") is None


def test_the_gate_command_compares_with_the_registry(
    registry: MlflowClient, tmp_path: Path
) -> None:
    thresholds = tmp_path / "gate.json"
    thresholds.write_text(json.dumps(RULES), encoding="utf-8")
    candidate = tmp_path / "candidate.json"

    def gate(roc_auc: float) -> int:
        candidate.write_text(json.dumps({"roc_auc": roc_auc}), encoding="utf-8")
        return main(
            [
                "--candidate",
                str(candidate),
                "--thresholds",
                str(thresholds),
                "--mlflow-model",
                "churn",
            ]
        )

    assert gate(0.875) == 0  # within the allowed regression of the 0.88 champion
    assert gate(0.86) == 1
    assert str(registry.get_model_version_by_alias("churn", "champion").version) == "1"
