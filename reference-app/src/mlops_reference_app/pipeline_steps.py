"""The logic of each training-pipeline step, as plain functions.

These run inside the pipeline's component containers, where the KFP SDK is only present in
its runtime form (no component decorator), so this module must not import ``kfp``. They are
also usable directly, without KFP. MLflow is imported only by the steps that talk to it,
which keeps the evaluation step's start-up short.
"""

from __future__ import annotations

import math
import pickle
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from mlops_reference_app.data import load_weather, window
from mlops_reference_app.settings import AppSettings
from mlops_reference_app.training import evaluate, train
from mlops_reference_app.versioning import read_window, save_window, write_window_csv

CANDIDATE_ALIAS = "candidate"
DEFAULT_EVAL_MONTHS = 3


def resolve_settings(settings_json: str) -> AppSettings:
    """Settings passed to a step: explicit JSON, or the environment when empty."""
    return AppSettings.from_json(settings_json) if settings_json else AppSettings.from_env()


def default_eval_end(window_end: str) -> str:
    """The end of the evaluation window: DEFAULT_EVAL_MONTHS after the training window."""
    return str((pd.Timestamp(window_end) + pd.DateOffset(months=DEFAULT_EVAL_MONTHS)).date())


def _window_name(kind: str, start: str, end: str) -> str:
    return f"{kind}-{pd.Timestamp(start).date()}-{pd.Timestamp(end).date()}"


class PreparedData(NamedTuple):
    data_version: str
    eval_data_version: str
    train_rows: int
    eval_rows: int


def prepare_step(
    settings: AppSettings,
    *,
    window_start: str,
    window_end: str,
    eval_end: str,
    train_path: Path,
    eval_path: Path,
) -> PreparedData:
    """Cut, version (DVC add + push) and write the training and evaluation windows.

    ``eval_end`` empty means DEFAULT_EVAL_MONTHS after ``window_end``.
    """
    frame = load_weather()
    train = window(frame, window_start, window_end)
    if train.empty:
        raise ValueError(f"training window [{window_start}, {window_end}) holds no rows")
    evaluation_end = eval_end or default_eval_end(window_end)
    evaluation = window(frame, window_end, evaluation_end)
    train_version = save_window(settings, train, _window_name("train", window_start, window_end))
    eval_version = save_window(
        settings, evaluation, _window_name("eval", window_end, evaluation_end)
    )
    write_window_csv(train, train_path)
    write_window_csv(evaluation, eval_path)
    return PreparedData(train_version.md5, eval_version.md5, len(train), len(evaluation))


def train_step(
    settings: AppSettings,
    train_path: Path,
    model_path: Path,
    *,
    data_version: str,
    seed: int,
    params: dict[str, Any],
) -> str:
    """Train on the window file, pickle the model to ``model_path``, log the MLflow run."""
    from mlops_reference_app.tracking import log_training_run

    frame = read_window(train_path)
    trained = train(frame, seed=seed)
    model_path.parent.mkdir(parents=True, exist_ok=True)
    with model_path.open("wb") as handle:
        pickle.dump(trained, handle)
    return log_training_run(
        settings,
        trained,
        data_version=data_version,
        params=params,
        frame=frame,
        run_name=f"train-{params.get('window_start', '')}-{params.get('window_end', '')}",
    )


def evaluate_step(model_path: Path, eval_path: Path) -> dict[str, float]:
    """Score the pickled model on the evaluation window (no MLflow: the step stays light)."""
    with model_path.open("rb") as handle:
        trained = pickle.load(handle)  # the pipeline's own train step wrote it
    return evaluate(trained, read_window(eval_path))


def register_step(
    settings: AppSettings,
    run_id: str,
    eval_metrics: dict[str, float],
    *,
    min_roc_auc: float,
    alias: str,
) -> dict[str, Any]:
    """Log ``eval_*`` metrics to the run; register and alias the model if it is good enough.

    The candidate is accepted when ``min_roc_auc <= 0`` or its held-out roc_auc is finite and
    at least ``min_roc_auc``. A rejected candidate is tagged on the run and not registered.
    """
    from mlops_reference_app import tracking

    tracking.log_run_metrics(settings, run_id, eval_metrics, prefix="eval_")
    roc_auc = float(eval_metrics.get("roc_auc", math.nan))
    accepted = min_roc_auc <= 0.0 or (math.isfinite(roc_auc) and roc_auc >= min_roc_auc)
    tracking.tag_run(settings, run_id, {"candidate": "accepted" if accepted else "rejected"})
    version = 0
    if accepted:
        version = tracking.register(settings, run_id, version_tags={"stage": "candidate"})
        if alias:
            tracking.set_alias(settings, version, alias)
    return {"run_id": run_id, "model_version": version, "accepted": accepted}
