"""Kubeflow Pipelines v2 standalone, with its pipeline root on the platform's object store."""

from ._pipelines import Pipelines, PipelinesArgs
from ._plan import (
    compile_probe_pipeline,
    compiled_pipeline_root,
    launcher_config,
    pipeline_root,
    upstream_kustomize_url,
    verify_pipeline_root,
)

__all__ = [
    "Pipelines",
    "PipelinesArgs",
    "compile_probe_pipeline",
    "compiled_pipeline_root",
    "launcher_config",
    "pipeline_root",
    "upstream_kustomize_url",
    "verify_pipeline_root",
]
