"""Cost-allocation labels on every workload a platform creates, applied in one place.

A Pulumi transformation on the Platform component reaches every child at registration: it adds
``mlops-blueprints.io/team``, ``environment``, ``level`` and ``model`` to Kubernetes object
metadata (namespaces
included) and the same keys, plus ``environment``, as tags to every AWS resource that takes
tags (so a budget filtered on them sees the platform's whole spend). Pod templates (Deployments,
StatefulSets, DaemonSets, Jobs, CronJobs, KServe predictors) get ``team`` and ``model`` only:
a level label there would change every pod template on a level upgrade, restarting every
workload and replacing every Job, whose templates are immutable. A label a component already
set wins, so an endpoint keeps its own model name. OpenCost allocates spend by these labels,
which kube-state-metrics exports as ``kube_pod_labels`` and ``kube_namespace_labels``.

Helm-managed pods are not reached by a transformation (the chart renders them in the cluster);
their namespaces carry the labels instead.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any, Final

import pulumi
from mlops_blueprints.components.cost import (
    BUDGET_TAG_KEY,
    LEVEL_LABEL,
    MODEL_LABEL,
    TEAM_LABEL,
    cost_allocation_labels,
    validate_label_value,
)

__all__ = [
    "ENVIRONMENT_LABEL",
    "LEVEL_LABEL",
    "MODEL_LABEL",
    "SHARED_MODEL",
    "TEAM_LABEL",
    "allocation_labels",
    "allocation_transformation",
    "label_props",
    "takes_tags",
    "validate_label_value",
]

ENVIRONMENT_LABEL: Final = BUDGET_TAG_KEY
# Platform services serve every model; their cost is shared rather than charged to one.
SHARED_MODEL: Final = "shared"

# Where each workload kind keeps the pod template's metadata.
_POD_TEMPLATE_PATHS: Final[Mapping[str, tuple[str, ...]]] = {
    "kubernetes:apps/v1:Deployment": ("spec", "template", "metadata"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "metadata"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "metadata"),
    "kubernetes:batch/v1:Job": ("spec", "template", "metadata"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "metadata"),
    # KServe copies predictor labels onto the predictor pods.
    "kubernetes:serving.kserve.io/v1beta1:InferenceService": ("spec", "predictor"),
}


def allocation_labels(
    *, team: str, level: int, environment: str, model: str = SHARED_MODEL
) -> dict[str, str]:
    """The allocation labels (``cost_allocation_labels`` plus the environment)."""
    return {
        **cost_allocation_labels(team, level, model),
        ENVIRONMENT_LABEL: validate_label_value(environment, field="environment"),
    }


# Pod templates carry only labels that never change between levels.
_POD_LABELS: Final = (TEAM_LABEL, MODEL_LABEL)


def takes_tags(resource: object) -> bool:
    """Whether an AWS resource class accepts ``tags`` (policies and attachments do not)."""
    init = getattr(type(resource), "_internal_init", None)
    return init is not None and "tags" in inspect.signature(init).parameters


def _with_defaults(labels: Any, defaults: Mapping[str, str]) -> Any:
    if labels is None:
        return dict(defaults)
    if isinstance(labels, Mapping):
        return {**defaults, **labels}
    return pulumi.Output.from_input(labels).apply(lambda known: {**defaults, **(known or {})})


def _label_metadata(holder: Any, defaults: Mapping[str, str]) -> Any:
    """A copy of a metadata-like dict (``metadata`` or a predictor) with the labels added."""
    if not isinstance(holder, Mapping):
        return holder
    return {**holder, "labels": _with_defaults(holder.get("labels"), defaults)}


def _set_path(props: Mapping[str, Any], path: tuple[str, ...], defaults: Mapping[str, str]) -> Any:
    head, *rest = path
    current = props.get(head)
    if not isinstance(current, Mapping):
        # Output-valued specs are left alone; every workload here passes plain dicts.
        return props
    updated = (
        _label_metadata(current, defaults)
        if not rest
        else _set_path(current, tuple(rest), defaults)
    )
    return {**props, head: updated}


def label_props(
    type_: str, props: Mapping[str, Any], labels: Mapping[str, str], *, tags: bool = False
) -> Any:
    """``props`` of one resource with the allocation labels (or tags) added."""
    if type_.startswith("kubernetes:") and type_ != "kubernetes:helm.sh/v3:Release":
        updated: Any = dict(props)
        if "metadata" in props:
            updated["metadata"] = _label_metadata(props["metadata"], labels)
        path = _POD_TEMPLATE_PATHS.get(type_)
        if path is not None:
            pod_labels = {k: v for k, v in labels.items() if k in _POD_LABELS}
            updated = _set_path(updated, path, pod_labels)
        return updated
    if type_.startswith("aws:") and (tags or "tags" in props):
        return {**props, "tags": _with_defaults(props.get("tags"), labels)}
    return props


def allocation_transformation(
    labels: Mapping[str, str],
) -> pulumi.ResourceTransformation:
    """A transformation adding ``labels`` to every descendant of the resource it is set on."""

    def transform(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult:
        return pulumi.ResourceTransformationResult(
            props=label_props(args.type_, args.props, labels, tags=takes_tags(args.resource)),
            opts=args.opts,
        )

    return transform
