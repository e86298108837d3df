"""Pod templates as the MLOps rules read them: labels, placement and model containers.

The Kubernetes rules' ``pod_specs`` flattens every pod a workload would run; these rules need
less (one template per workload, and its path for messages), from the same tables.

KServe's InferenceService has no pod template: its ``spec.predictor`` carries the pod fields
(labels, nodeSelector, tolerations) and the model container (``model``, a framework key such
as ``sklearn``, or ``containers``), and KServe builds the predictor pods from it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from .._rule import iter_list, prop
from ..kubernetes._workloads import (
    INFERENCE_SERVICE,
    INFERENCE_SERVICE_MODEL_KEYS,
    NAMESPACE,
    POD,
    POD_TEMPLATE_PATHS,
)

__all__ = [
    "INFERENCE_SERVICE",
    "NAMESPACE",
    "POD_WORKLOAD_TYPES",
    "PodTemplate",
    "containers",
    "model_containers",
    "pod_template",
]

# A Pod is its own template; other workload kinds keep it where the Kubernetes rules read it.
_TEMPLATE_PATHS: Final[Mapping[str, tuple[str, ...]]] = {**POD_TEMPLATE_PATHS, POD: ()}
POD_WORKLOAD_TYPES: Final = (*_TEMPLATE_PATHS, INFERENCE_SERVICE)


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
    for key in INFERENCE_SERVICE_MODEL_KEYS:
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
