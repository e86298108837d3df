# Component bodies are shipped as standalone source into the compiled YAML and run in their
# own process, so they must import inside the function; KFP passes their arguments by name.
# ruff: noqa: PLR0917
"""The reproducible training pipeline, in Kubeflow Pipelines v2.

Four steps, each a lightweight Python component that imports this package:

1. ``prepare-data``: cut the training window ``[window_start, window_end)`` and the
   evaluation window ``[window_end, eval_end)`` from the weather data, version both with
   DVC (pushed to the remote) and hand them on as datasets.
2. ``train-model``: fit the classifier on the training window and log an MLflow run
   (params, training metrics, artifacts, environment, ``data_version`` tag).
3. ``evaluate-model``: score the model on the evaluation window (KFP metrics artifact).
4. ``register-candidate``: log the ``eval_*`` metrics to the MLflow run, then register the
   run's model as a new version and point the ``candidate`` alias at it, when its
   evaluation roc_auc reaches ``min_roc_auc``.

The same compiled YAML runs in two places:

- here, with the KFP local runner in this interpreter (:func:`run_pipeline_locally`);
- on the platform's Kubeflow Pipelines, where each step runs in a container started from
  ``base_image``. That image must already contain this package and its dependencies (the
  components install nothing at run time), e.g. the application image built by the
  packaging step. Pass it to :func:`compile_pipeline` (default :data:`DEFAULT_BASE_IMAGE`,
  overridable with ``REFERENCE_APP_BASE_IMAGE``). On the platform, leave ``settings_json``
  empty: each step then reads its endpoints from the environment
  (:meth:`AppSettings.from_env`).

Each step's logic is a plain function in :mod:`mlops_reference_app.pipeline_steps`
(``prepare_step``, ``train_step``, ...), which does not import KFP's authoring API (absent in
a component's runtime); the components only unpack artifacts and call them.
"""

import contextlib
import json
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, cast

import pandas as pd
import yaml
from kfp import compiler, dsl, local

from mlops_reference_app.pipeline_steps import (
    CANDIDATE_ALIAS,
    default_eval_end,
)
from mlops_reference_app.settings import AppSettings

PIPELINE_NAME = "rain-tomorrow-training"
DEFAULT_BASE_IMAGE = os.environ.get(
    "REFERENCE_APP_BASE_IMAGE", "ghcr.io/mlops-blueprints/reference-app:0.1.0"
)
COMPONENT_NAMES: tuple[str, ...] = (
    "prepare-data",
    "train-model",
    "evaluate-model",
    "register-candidate",
)
PIPELINE_PARAMETERS: tuple[str, ...] = (
    "settings_json",
    "window_start",
    "window_end",
    "eval_end",
    "seed",
    "min_roc_auc",
    "candidate_alias",
)


# --------------------------------------------------------------------------------------
# Components (thin wrappers; their source is shipped into the compiled YAML)
# --------------------------------------------------------------------------------------


@dsl.component(base_image=DEFAULT_BASE_IMAGE, install_kfp_package=False)
def prepare_data(
    settings_json: str,
    window_start: str,
    window_end: str,
    eval_end: str,
    train_data: dsl.Output[dsl.Dataset],
    eval_data: dsl.Output[dsl.Dataset],
) -> NamedTuple("PrepareOutputs", [("data_version", str), ("eval_data_version", str)]):  # type: ignore[valid-type]
    """Cut the training and evaluation windows and version them with DVC."""
    from collections import namedtuple
    from pathlib import Path

    from mlops_reference_app import pipeline_steps as steps

    prepared = steps.prepare_step(
        steps.resolve_settings(settings_json),
        window_start=window_start,
        window_end=window_end,
        eval_end=eval_end,
        train_path=Path(train_data.path),
        eval_path=Path(eval_data.path),
    )
    train_data.metadata.update({"data_version": prepared.data_version, "rows": prepared.train_rows})
    eval_data.metadata.update(
        {"data_version": prepared.eval_data_version, "rows": prepared.eval_rows}
    )
    # KFP reads the output names from the return annotation's fields; defined here because
    # a lightweight component cannot see module-level names.
    PrepareOutputs = namedtuple("PrepareOutputs", ["data_version", "eval_data_version"])
    return PrepareOutputs(prepared.data_version, prepared.eval_data_version)


@dsl.component(base_image=DEFAULT_BASE_IMAGE, install_kfp_package=False)
def train_model(
    settings_json: str,
    train_data: dsl.Input[dsl.Dataset],
    data_version: str,
    eval_data_version: str,
    window_start: str,
    window_end: str,
    seed: int,
    model: dsl.Output[dsl.Model],
) -> str:
    """Fit the classifier and log the MLflow run; returns the run id."""
    from pathlib import Path

    from mlops_reference_app import pipeline_steps as steps

    run_id = steps.train_step(
        steps.resolve_settings(settings_json),
        Path(train_data.path),
        Path(model.path),
        data_version=data_version,
        seed=seed,
        params={
            "window_start": window_start,
            "window_end": window_end,
            "eval_data_version": eval_data_version,
        },
    )
    model.metadata.update({"mlflow_run_id": run_id, "data_version": data_version})
    return run_id


@dsl.component(base_image=DEFAULT_BASE_IMAGE, install_kfp_package=False)
def evaluate_model(
    model: dsl.Input[dsl.Model],
    eval_data: dsl.Input[dsl.Dataset],
    metrics: dsl.Output[dsl.Metrics],
) -> str:
    """Score the model on the evaluation window; returns the metrics as JSON."""
    import json
    import math
    from pathlib import Path

    from mlops_reference_app import pipeline_steps as steps

    scores = steps.evaluate_step(Path(model.path), Path(eval_data.path))
    for name, value in scores.items():
        if math.isfinite(value):
            metrics.log_metric(name, value)
    return json.dumps(scores, sort_keys=True)


@dsl.component(base_image=DEFAULT_BASE_IMAGE, install_kfp_package=False)
def register_candidate(
    settings_json: str,
    run_id: str,
    eval_metrics_json: str,
    data_version: str,
    min_roc_auc: float,
    candidate_alias: str,
) -> str:
    """Register the model as a candidate version; returns a JSON summary of the run."""
    import json

    from mlops_reference_app import pipeline_steps as steps

    eval_metrics = json.loads(eval_metrics_json)
    outcome = steps.register_step(
        steps.resolve_settings(settings_json),
        run_id,
        eval_metrics,
        min_roc_auc=min_roc_auc,
        alias=candidate_alias,
    )
    outcome.update({"data_version": data_version, "eval_metrics": eval_metrics})
    return json.dumps(outcome, sort_keys=True)


@dsl.pipeline(
    name=PIPELINE_NAME,
    description="Version a training window, train, evaluate on the following months, "
    "register the candidate model.",
)
def training_pipeline(
    window_start: str,
    window_end: str,
    eval_end: str,
    settings_json: str = "",
    seed: int = 0,
    min_roc_auc: float = 0.0,
    candidate_alias: str = CANDIDATE_ALIAS,
) -> str:
    prepare = prepare_data(
        settings_json=settings_json,
        window_start=window_start,
        window_end=window_end,
        eval_end=eval_end,
    )
    prepare.set_display_name("prepare-data")
    trained = train_model(
        settings_json=settings_json,
        train_data=prepare.outputs["train_data"],
        data_version=prepare.outputs["data_version"],
        eval_data_version=prepare.outputs["eval_data_version"],
        window_start=window_start,
        window_end=window_end,
        seed=seed,
    )
    trained.set_display_name("train-model")
    evaluated = evaluate_model(
        model=trained.outputs["model"],
        eval_data=prepare.outputs["eval_data"],
    )
    evaluated.set_display_name("evaluate-model")
    registered = register_candidate(
        settings_json=settings_json,
        run_id=trained.outputs["Output"],
        eval_metrics_json=evaluated.outputs["Output"],
        data_version=prepare.outputs["data_version"],
        min_roc_auc=min_roc_auc,
        candidate_alias=candidate_alias,
    )
    registered.set_display_name("register-candidate")
    # A channel while KFP compiles the pipeline: ``str`` is the type it declares.
    return cast(str, registered.output)


# --------------------------------------------------------------------------------------
# Compile and run
# --------------------------------------------------------------------------------------


def compile_pipeline(path: str | Path, *, base_image: str = DEFAULT_BASE_IMAGE) -> Path:
    """Compile the pipeline to YAML at ``path``; every step runs from ``base_image``.

    Compilation is deterministic: the same code and base image give the same bytes.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(training_pipeline, package_path=str(target))
    if base_image != DEFAULT_BASE_IMAGE:
        # Swap the image line by line so the compiler's layout and header comment survive.
        text = target.read_text()
        line = f"image: {DEFAULT_BASE_IMAGE}\n"
        executors = yaml.safe_load(text)["deploymentSpec"]["executors"]
        if text.count(line) != len(executors):
            raise RuntimeError(f"expected one {line.strip()!r} per executor in {target}")
        target.write_text(text.replace(line, f"image: {base_image}\n"))
    return target


@dataclass(frozen=True)
class PipelineResult:
    """What a local pipeline run produced.

    - ``run_id``: the MLflow run of the training step.
    - ``model_version``: the registered version (0 when the candidate was rejected).
    - ``accepted``: whether the candidate passed ``min_roc_auc``.
    - ``data_version``: DVC md5 of the training window.
    - ``eval_metrics``: roc_auc, accuracy, log_loss, n_rows, positive_rate on the
      evaluation window.
    - ``seconds``: wall-clock duration of the local run.
    """

    run_id: str
    model_version: int
    accepted: bool
    data_version: str
    eval_metrics: dict[str, float]
    seconds: float


@contextlib.contextmanager
def _local_session(workdir: Path) -> Iterator[Path]:
    """Initialise the KFP local runner with its outputs and workspace under ``workdir``.

    Giving the runner an explicit workspace means it creates no ``kfp-workspace-*``
    directory in the system temp dir; the workspace is removed afterwards, and so is any
    ``kfp-workspace-*`` temp directory that appeared during the run.
    """
    temp_root = Path(tempfile.gettempdir())
    before = set(temp_root.glob("kfp-workspace-*"))
    outputs = workdir / "kfp-outputs"
    workspace = workdir / "kfp-workspace"
    outputs.mkdir(parents=True, exist_ok=True)
    workspace.mkdir(parents=True, exist_ok=True)
    local.init(
        runner=local.SubprocessRunner(use_venv=False),
        pipeline_root=str(outputs),
        workspace_root=str(workspace),
        raise_on_error=True,
    )
    try:
        yield outputs
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
        for leftover in set(temp_root.glob("kfp-workspace-*")) - before:
            shutil.rmtree(leftover, ignore_errors=True)


def run_pipeline_locally(
    settings: AppSettings,
    window_start: str | pd.Timestamp,
    window_end: str | pd.Timestamp,
    *,
    eval_end: str | pd.Timestamp | None = None,
    seed: int = 0,
    min_roc_auc: float = 0.0,
    candidate_alias: str = CANDIDATE_ALIAS,
) -> PipelineResult:
    """Run the pipeline with the KFP local runner (subprocesses of this interpreter)."""
    start = str(pd.Timestamp(window_start).date())
    end = str(pd.Timestamp(window_end).date())
    evaluation_end = (
        str(pd.Timestamp(eval_end).date()) if eval_end is not None else default_eval_end(end)
    )
    began = time.perf_counter()
    with _local_session(settings.workdir), warnings.catch_warnings():
        # The local runner warns that the components name a non-Python base image; here
        # they run in this interpreter, which has every dependency the image would have.
        warnings.filterwarnings("ignore", message=".*custom or non-Python base image.*")
        task = training_pipeline(
            window_start=start,
            window_end=end,
            eval_end=evaluation_end,
            settings_json=settings.to_json(),
            seed=seed,
            min_roc_auc=min_roc_auc,
            candidate_alias=candidate_alias,
        )
    summary = json.loads(task.output)
    return PipelineResult(
        run_id=summary["run_id"],
        model_version=int(summary["model_version"]),
        accepted=bool(summary["accepted"]),
        data_version=summary["data_version"],
        eval_metrics={k: float(v) for k, v in summary["eval_metrics"].items()},
        seconds=time.perf_counter() - began,
    )
