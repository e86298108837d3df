"""Kubeflow Pipelines v2 standalone, with its pipeline root on the platform's object store."""

from ._network import PIPELINE_TRAFFIC_POLICY, allow_pipeline_traffic, pipeline_traffic_spec
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
    "PIPELINE_TRAFFIC_POLICY",
    "Pipelines",
    "PipelinesArgs",
    "allow_pipeline_traffic",
    "compile_probe_pipeline",
    "compiled_pipeline_root",
    "launcher_config",
    "pipeline_root",
    "pipeline_traffic_spec",
    "upstream_kustomize_url",
    "verify_pipeline_root",
]
