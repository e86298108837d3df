"""Where each workload kind keeps its pod template, read from recorded props.

KServe's InferenceService has no pod template: its ``spec.predictor`` carries the pod fields
(labels, nodeSelector, tolerations) and the model container (``model``, a framework key such
as ``sklearn``, or ``containers``), and KServe builds the predictor pods from it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from .._rule import iter_list, prop

__all__ = [
    "INFERENCE_SERVICE",
    "NAMESPACE",
    "POD_WORKLOAD_TYPES",
    "PodTemplate",
    "containers",
    "model_containers",
    "pod_template",
]

INFERENCE_SERVICE: Final = "kubernetes:serving.kserve.io/v1beta1:InferenceService"
NAMESPACE: Final = "kubernetes:core/v1:Namespace"

# Path to the pod template (``metadata`` + ``spec``) per workload kind; a Pod is its own.
_TEMPLATE_PATHS: Final[Mapping[str, tuple[str, ...]]] = {
    "kubernetes:apps/v1:Deployment": ("spec", "template"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template"),
    "kubernetes:batch/v1:Job": ("spec", "template"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template"),
    "kubernetes:core/v1:Pod": (),
}
POD_WORKLOAD_TYPES: Final = (*_TEMPLATE_PATHS, INFERENCE_SERVICE)

# Predictor keys that hold the model container in KServe's older per-framework form.
_FRAMEWORK_KEYS: Final = (
    "sklearn",
    "xgboost",
    "lightgbm",
    "tensorflow",
    "pytorch",
    "triton",
    "onnx",
    "pmml",
    "paddle",
    "huggingface",
)


@dataclass(frozen=True)
class PodTemplate:
    """The parts of a pod template the rules read (``spec`` is the pod spec or predictor)."""

    labels: Any
    spec: Any
    where: str  # the template's path, for messages


def pod_template(type_: str, props: Mapping[str, Any]) -> PodTemplate | None:
    """The workload's pod template, or ``None`` for other kinds (or a missing template)."""
    if type_ == INFERENCE_SERVICE:
        predictor = prop(props, "spec", "predictor")
        if not isinstance(predictor, Mapping):
            return None
        return PodTemplate(prop(predictor, "labels"), predictor, "spec.predictor")
    path = _TEMPLATE_PATHS.get(type_)
    if path is None:
        return None
    template = prop(props, *path) if path else props
    if not isinstance(template, Mapping):
        return None
    return PodTemplate(
        prop(template, "metadata", "labels"),
        prop(template, "spec"),
        ".".join(path) if path else "",
    )


def model_containers(predictor: Any) -> Iterator[tuple[str, Any]]:
    """An InferenceService predictor's model containers with their paths."""
    for key in ("model", *_FRAMEWORK_KEYS):
        container = prop(predictor, key)
        if isinstance(container, Mapping):
            yield f"spec.predictor.{key}", container
    for index, container in enumerate(iter_list(prop(predictor, "containers"))):
        if isinstance(container, Mapping):
            yield f"spec.predictor.containers[{index}]", container


def containers(type_: str, spec: Any) -> Iterator[tuple[str, Any]]:
    """Every container of a pod spec (init containers included), with a name for messages."""
    if type_ == INFERENCE_SERVICE:
        yield from model_containers(spec)
        return
    for section in ("initContainers", "containers"):
        for index, container in enumerate(iter_list(prop(spec, section))):
            if isinstance(container, Mapping):
                yield str(prop(container, "name", default=f"{section}[{index}]")), container
