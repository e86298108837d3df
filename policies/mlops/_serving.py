"""Rules on model serving and accelerator placement.

The hardware constants mirror ``components/node_pools`` (node label, extended resources,
taints) and ``components/serving`` (the model-URI annotation); the policy pack keeps its own
copy so it loads without the components, and a test holds the two equal.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from pulumi_policy import ResourceValidationArgs

from .._rule import Report, Rule, iter_list, prop
from ._pods import (
    INFERENCE_SERVICE,
    POD_WORKLOAD_TYPES,
    containers,
    model_containers,
    pod_template,
)

__all__ = [
    "ACCELERATORS",
    "AGENT_DAEMONSET_NAMESPACES",
    "HARDWARE_CLASS_LABEL",
    "MODEL_URI_ANNOTATION",
    "RULES",
    "Accelerator",
]

MODEL_URI_ANNOTATION: Final = "mlops-blueprints.io/model-uri"
HARDWARE_CLASS_LABEL: Final = "mlops-blueprints.io/hardware-class"


@dataclass(frozen=True)
class Accelerator:
    """An accelerator hardware class: the extended resources that allocate it, its taint."""

    resources: tuple[str, ...]
    taint: Mapping[str, str]


ACCELERATORS: Final[Mapping[str, Accelerator]] = {
    "nvidia-gpu": Accelerator(
        resources=("nvidia.com/gpu",),
        taint={"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"},
    ),
    "neuron": Accelerator(
        resources=("aws.amazon.com/neuron", "aws.amazon.com/neuroncore"),
        taint={"key": "aws.amazon.com/neuron", "value": "true", "effect": "NoSchedule"},
    ),
}
_RESOURCE_CLASS: Final[Mapping[str, str]] = {
    resource: hardware_class
    for hardware_class, accelerator in ACCELERATORS.items()
    for resource in accelerator.resources
}

# Node agents: one pod per node that observes or advertises the devices (DCGM exporter,
# neuron-monitor, device plugins). A device request would take the device from the workloads
# (a device plugin cannot even request what it advertises), so DaemonSets in these namespaces
# need not request one. They still need the toleration, or they never start on the pool.
AGENT_DAEMONSET_NAMESPACES: Final = ("monitoring-agents", "kube-system")
_DAEMONSET: Final = "kubernetes:apps/v1:DaemonSet"

_MODEL_URI = re.compile(
    r"^models:/(?P<name>[A-Za-z0-9][A-Za-z0-9._-]{0,255})"
    r"(?:@(?P<alias>[A-Za-z][A-Za-z0-9_-]{0,254})|/(?P<version>[0-9]+))$"
)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _present(value: Any) -> bool:
    return value is not None and value != "" and not (isinstance(value, Mapping) and not value)


# --- InferenceService ------------------------------------------------------------------------


def _validate_model_resources(args: ResourceValidationArgs, report: Report) -> None:
    predictor = prop(args.props, "spec", "predictor")
    found = list(model_containers(predictor))
    if not found:
        report("spec.predictor has no model container (model, a framework key or containers)")
    for where, container in found:
        missing = [
            name
            for name, path in (
                ("requests.cpu", ("requests", "cpu")),
                ("requests.memory", ("requests", "memory")),
                ("limits.memory", ("limits", "memory")),
            )
            if not _present(prop(container, "resources", *path))
        ]
        if missing:
            report(f"{where}.resources lacks {', '.join(missing)}")


INFERENCE_RESOURCES = Rule(
    name="inference-service-sets-model-resources",
    description=(
        "Every InferenceService's model container requests CPU and memory and has a memory "
        "limit, so replicas are scheduled on capacity that exists and one model cannot "
        "starve its node."
    ),
    remediation=(
        "Deploy through InferenceEndpoint, which sets cpu_request, memory_request_mib and "
        "memory_limit_mib on the model container (or set resources.requests.cpu, "
        "resources.requests.memory and resources.limits.memory yourself)."
    ),
    severity="medium",
    controls={
        "nist-800-53": ("SC-5", "SC-6"),
        "eu-ai-act": ("Art. 15",),
    },
    resource_types=(INFERENCE_SERVICE,),
    validate_resource=_validate_model_resources,
)


def _validate_replicas(args: ResourceValidationArgs, report: Report) -> None:
    predictor = prop(args.props, "spec", "predictor")
    low = _number(prop(predictor, "minReplicas"))
    high = _number(prop(predictor, "maxReplicas"))
    if low is None or high is None:
        missing = [name for name, v in (("minReplicas", low), ("maxReplicas", high)) if v is None]
        report(f"spec.predictor does not set {' and '.join(missing)}")
        return
    if low < 0 or high < 1:
        report(f"spec.predictor replicas {low:g}..{high:g}: use minReplicas >= 0, maxReplicas >= 1")
    elif low > high:
        report(f"spec.predictor minReplicas {low:g} exceeds maxReplicas {high:g}")


INFERENCE_REPLICAS = Rule(
    name="inference-service-bounds-replicas",
    description=(
        "Every InferenceService sets minReplicas and maxReplicas with min <= max, so "
        "autoscaling has a floor for availability and a ceiling for cost."
    ),
    remediation=(
        "Set min_replicas and max_replicas on InferenceEndpoint (or spec.predictor."
        "minReplicas/maxReplicas), with max_replicas >= max(1, min_replicas)."
    ),
    severity="medium",
    controls={
        "nist-800-53": ("SC-5", "SC-6"),
        "eu-ai-act": ("Art. 15",),
    },
    resource_types=(INFERENCE_SERVICE,),
    validate_resource=_validate_replicas,
)


def _validate_registered_model(args: ResourceValidationArgs, report: Report) -> None:
    uri = prop(args.props, "metadata", "annotations", MODEL_URI_ANNOTATION)
    if not isinstance(uri, str) or not uri:
        report(f"metadata.annotations has no {MODEL_URI_ANNOTATION}: the served model is unknown")
        return
    match = _MODEL_URI.match(uri)
    if match is None or (match["version"] is not None and int(match["version"]) < 1):
        report(
            f"{MODEL_URI_ANNOTATION} {uri!r} is not a registered version "
            "('models:/<name>@<alias>' or 'models:/<name>/<version>')"
        )


INFERENCE_REGISTERED = Rule(
    name="inference-service-serves-registered-model-version",
    description=(
        "Every InferenceService records the registered model version it serves "
        "(mlops-blueprints.io/model-uri: models:/<name>@<alias> or models:/<name>/<version>), "
        "so what is in production traces back to the registry's lineage."
    ),
    remediation=(
        "Deploy through InferenceEndpoint with model_uri set to a registry alias or version; "
        "a bare model name or a storage path is refused."
    ),
    severity="high",
    controls={
        "nist-800-53": ("CM-8", "SI-7", "SR-3"),
        "eu-ai-act": ("Art. 12",),
    },
    resource_types=(INFERENCE_SERVICE,),
    validate_resource=_validate_registered_model,
)


# --- accelerators ----------------------------------------------------------------------------


def _tolerates(tolerations: Any, taint: Mapping[str, str]) -> bool:
    # The scheduler's matching: empty key with Exists tolerates everything; empty effect
    # matches every effect; Equal compares values.
    for toleration in iter_list(tolerations):
        if not isinstance(toleration, Mapping):
            continue
        effect = prop(toleration, "effect") or ""
        if effect and effect != taint["effect"]:
            continue
        key = prop(toleration, "key") or ""
        operator = prop(toleration, "operator") or "Equal"
        if key and key != taint["key"]:
            continue
        if operator == "Exists":
            return True
        if key and operator == "Equal" and (prop(toleration, "value") or "") == taint["value"]:
            return True
    return False


def _selected_classes(spec: Any) -> tuple[set[str], str | None]:
    """Accelerator classes the pod is confined to, and the nodeSelector's class if any."""
    selected = prop(spec, "nodeSelector", HARDWARE_CLASS_LABEL)
    classes = {selected} if selected in ACCELERATORS else set()
    terms = list(
        iter_list(
            prop(
                spec,
                "affinity",
                "nodeAffinity",
                "requiredDuringSchedulingIgnoredDuringExecution",
                "nodeSelectorTerms",
            )
        )
    )
    per_term: list[set[str]] = []
    for term in terms:
        values: set[str] = set()
        for expression in iter_list(prop(term, "matchExpressions")):
            if (
                prop(expression, "key") == HARDWARE_CLASS_LABEL
                and prop(expression, "operator") == "In"
            ):
                values |= {str(v) for v in iter_list(prop(expression, "values"))}
        per_term.append(values)
    # Terms are ORed: the pod is confined to accelerators only when every term says so.
    if per_term and all(v and v <= set(ACCELERATORS) for v in per_term):
        classes |= set().union(*per_term)
    return classes, selected if isinstance(selected, str) else None


def _requested(type_: str, spec: Any) -> dict[str, list[str]]:
    """Accelerator class -> ``container: resource`` entries that request it."""
    found: dict[str, list[str]] = {}
    for name, container in containers(type_, spec):
        for section in ("requests", "limits"):
            amounts = prop(container, "resources", section)
            if not isinstance(amounts, Mapping):
                continue
            for resource in amounts:
                hardware_class = _RESOURCE_CLASS.get(str(resource))
                if hardware_class is None:
                    continue
                quantity = _number(amounts[resource])
                if quantity is not None and quantity <= 0:
                    continue
                entry = f"{name}: {resource}"
                if entry not in found.setdefault(hardware_class, []):
                    found[hardware_class].append(entry)
    return found


def _is_node_agent(type_: str, props: Mapping[str, Any]) -> bool:
    return type_ == _DAEMONSET and prop(props, "metadata", "namespace") in (
        AGENT_DAEMONSET_NAMESPACES
    )


def _validate_accelerator_placement(args: ResourceValidationArgs, report: Report) -> None:
    template = pod_template(args.resource_type, args.props)
    if template is None or not isinstance(template.spec, Mapping):
        return
    spec = template.spec
    where = f"{template.where}: " if template.where else ""
    selected, selector_class = _selected_classes(spec)
    requested = _requested(args.resource_type, spec)
    tolerations = prop(spec, "tolerations")
    agent = _is_node_agent(args.resource_type, args.props)
    for hardware_class in sorted(selected):
        accelerator = ACCELERATORS[hardware_class]
        if hardware_class not in requested and not agent:
            report(
                f"{where}placed on {hardware_class} nodes but no container requests "
                f"{' or '.join(accelerator.resources)} (the pod would hold an accelerator "
                "node without using its device)"
            )
    for hardware_class in sorted(selected | set(requested)):
        taint = ACCELERATORS[hardware_class].taint
        if not _tolerates(tolerations, taint):
            reason = (
                f"requests {', '.join(requested[hardware_class])}"
                if hardware_class in requested
                else f"is placed on {hardware_class} nodes"
            )
            report(
                f"{where}{reason} but does not tolerate the pool taint "
                f"{taint['key']}={taint['value']}:{taint['effect']}"
            )
    for hardware_class in sorted(requested):
        if selector_class is not None and selector_class != hardware_class:
            report(
                f"{where}requests {', '.join(requested[hardware_class])} but its nodeSelector "
                f"places it on {selector_class} nodes, which have no such device"
            )


ACCELERATOR_PLACEMENT = Rule(
    name="accelerator-workload-requests-and-tolerates-device",
    description=(
        "A workload placed on accelerator nodes (nodeSelector or required node affinity on "
        "mlops-blueprints.io/hardware-class nvidia-gpu or neuron) requests the device "
        "(nvidia.com/gpu, aws.amazon.com/neuron or aws.amazon.com/neuroncore) and tolerates "
        "the pool's taint, and a container requesting a device carries that toleration and "
        "is not pinned to another class; node-agent DaemonSets in monitoring-agents or "
        "kube-system need the toleration but not a device."
    ),
    remediation=(
        "Place workloads with node_pools.place_workload (or InferenceEndpoint's "
        "hardware_class and accelerators), which sets the nodeSelector, the toleration and "
        "the device request together; run node agents as DaemonSets in monitoring-agents."
    ),
    severity="medium",
    controls={
        "nist-800-53": ("SC-6", "CM-6"),
        "eu-ai-act": ("Art. 15",),
    },
    resource_types=POD_WORKLOAD_TYPES,
    validate_resource=_validate_accelerator_placement,
)

RULES: Final[tuple[Rule, ...]] = (
    INFERENCE_RESOURCES,
    INFERENCE_REPLICAS,
    INFERENCE_REGISTERED,
    ACCELERATOR_PLACEMENT,
)
