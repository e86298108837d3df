"""Cost allocation: every workload says which team, level, model and environment it serves.

The platform's allocation transformation puts all four labels on object metadata, and only
``team`` and ``model`` on pod templates: a ``level`` label there would change every pod template
on a level upgrade (restarting every workload, replacing every Job), and the environment never
differs between a workload's pods. Namespaces are checked too: pods a Helm chart renders are
not reached by the transformation and are attributed through their namespace's labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pulumi_policy import ResourceValidationArgs

from .._rule import Report, Rule, prop
from ._pods import NAMESPACE, POD_WORKLOAD_TYPES, pod_template

__all__ = [
    "ENVIRONMENT_LABEL",
    "LEVEL_LABEL",
    "METADATA_LABELS",
    "MODEL_LABEL",
    "POD_TEMPLATE_LABELS",
    "RULES",
    "TEAM_LABEL",
]

TEAM_LABEL: Final = "mlops-blueprints.io/team"
LEVEL_LABEL: Final = "mlops-blueprints.io/level"
MODEL_LABEL: Final = "mlops-blueprints.io/model"
ENVIRONMENT_LABEL: Final = "mlops-blueprints.io/environment"

METADATA_LABELS: Final = (TEAM_LABEL, LEVEL_LABEL, MODEL_LABEL, ENVIRONMENT_LABEL)
POD_TEMPLATE_LABELS: Final = (TEAM_LABEL, MODEL_LABEL)


def _missing(labels: Any, keys: tuple[str, ...]) -> list[str]:
    labels = labels if isinstance(labels, Mapping) else {}
    return [key for key in keys if not isinstance(labels.get(key), str) or not labels.get(key)]


def _validate_allocation_labels(args: ResourceValidationArgs, report: Report) -> None:
    missing = _missing(prop(args.props, "metadata", "labels"), METADATA_LABELS)
    if missing:
        report(f"metadata.labels lacks {', '.join(missing)}")
    if args.resource_type == NAMESPACE:
        return
    template = pod_template(args.resource_type, args.props)
    if template is None:
        return
    missing = _missing(template.labels, POD_TEMPLATE_LABELS)
    if missing:
        where = (
            "spec.predictor.labels"
            if template.where == "spec.predictor"
            else (f"{template.where}.metadata.labels" if template.where else "metadata.labels")
        )
        report(f"{where} lacks {', '.join(missing)}")


ALLOCATION_LABELS = Rule(
    name="workload-carries-cost-allocation-labels",
    description=(
        "Every workload and namespace carries mlops-blueprints.io/team, level, model and "
        "environment labels on its metadata, and every pod template (KServe predictors "
        "included) carries team and model, so spend is allocated to a team and a model."
    ),
    remediation=(
        "Create workloads under the Platform component, whose allocation transformation adds "
        "the labels (blueprints/_allocation.py); for objects outside it, add the labels "
        "yourself (allocation_labels() gives them)."
    ),
    severity="low",
    controls={
        "nist-800-53": ("CM-8", "PM-3"),
    },
    resource_types=(*POD_WORKLOAD_TYPES, NAMESPACE),
    validate_resource=_validate_allocation_labels,
)

RULES: Final[tuple[Rule, ...]] = (ALLOCATION_LABELS,)
