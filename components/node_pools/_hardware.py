"""One hardware abstraction for CPU, NVIDIA GPU and AWS Neuron node pools.

Everything here is pure planning logic: a validated :class:`NodePoolSpec`, and the functions that
turn it into node labels, taints, tolerations, extended-resource names, Karpenter requirements
and a placed pod spec. Targets use the same functions, so a workload placed on a pool lands on
the same labels and taints whether the pool is a Karpenter NodePool on aws or a kind worker.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.targets._seam import HardwareClass, Target, validate_dns_label

__all__ = [
    "ACCELERATOR_RESOURCE_NAMES",
    "DEFAULT_DISK_SIZE_GIB",
    "DEFAULT_INSTANCE_CATEGORIES",
    "DEFAULT_INSTANCE_FAMILIES",
    "DEFAULT_PROVISIONING_SECONDS",
    "HARDWARE_CLASSES",
    "HARDWARE_CLASS_LABEL",
    "NEURON_INSTANCE_TYPES",
    "NODE_POOL_LABEL",
    "Architecture",
    "CapacityType",
    "ConsolidationPolicy",
    "HardwareClass",
    "NodePoolSpec",
    "ResourceUnit",
    "Taint",
    "TaintEffect",
    "extended_resource",
    "karpenter_requirements",
    "node_labels",
    "node_selector",
    "parse_hardware_class",
    "place_workload",
    "pool_tolerations",
    "supported_classes",
    "taints",
    "tolerates",
    "toleration_for",
    "tolerations",
    "validate_pools",
]

CapacityType = Literal["on-demand", "spot"]
ConsolidationPolicy = Literal["WhenEmpty", "WhenEmptyOrUnderutilized"]
Architecture = Literal["amd64", "arm64"]
ResourceUnit = Literal["device", "core"]
TaintEffect = Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]

HARDWARE_CLASSES: Final[tuple[HardwareClass, ...]] = ("cpu", "nvidia-gpu", "neuron")

# Every pool's nodes carry both labels; workloads select a pool (and its class) by them.
NODE_POOL_LABEL: Final = "mlops-blueprints.io/node-pool"
HARDWARE_CLASS_LABEL: Final = "mlops-blueprints.io/hardware-class"
_PLACEMENT_LABELS: Final = frozenset({NODE_POOL_LABEL, HARDWARE_CLASS_LABEL})

# Which hardware classes each target can run. A target class may declare its own
# ``hardware_classes`` attribute instead; this table covers the built-in targets.
_TARGET_CLASSES: Final[Mapping[str, tuple[HardwareClass, ...]]] = {
    "aws": ("cpu", "nvidia-gpu", "neuron"),
    # kind has no accelerators; see ``validate_pools`` for the simulated-node opt-in.
    "kind": ("cpu",),
}

# Karpenter's instance category is the leading letters of the family (c7i -> c, trn1n -> trn).
DEFAULT_INSTANCE_CATEGORIES: Final[Mapping[HardwareClass, tuple[str, ...]]] = {
    "cpu": ("c", "m", "r"),
    "nvidia-gpu": ("g", "p"),
    "neuron": ("inf", "trn"),
}
DEFAULT_INSTANCE_FAMILIES: Final[Mapping[HardwareClass, tuple[str, ...]]] = {
    # Any family of the categories, from generation 6 on (see _CPU_MIN_GENERATION).
    "cpu": (),
    "nvidia-gpu": ("g5", "g6", "g6e", "p4d", "p5"),
    "neuron": ("inf2", "trn1", "trn1n", "trn2"),
}
_ACCELERATOR_CATEGORIES: Final[Mapping[HardwareClass, frozenset[str]]] = {
    "nvidia-gpu": frozenset({"g", "p"}),
    "neuron": frozenset({"inf", "trn"}),
}
# CPU pools without explicit families skip generations 5 and older.
_CPU_MIN_GENERATION: Final = 6

# Exact instance types per Neuron family: the Neuron device plugin chart schedules its
# DaemonSet by instance type, so a Neuron pool's families must be listed here.
NEURON_INSTANCE_TYPES: Final[Mapping[str, tuple[str, ...]]] = {
    "inf1": ("inf1.xlarge", "inf1.2xlarge", "inf1.6xlarge", "inf1.24xlarge"),
    "inf2": ("inf2.xlarge", "inf2.8xlarge", "inf2.24xlarge", "inf2.48xlarge"),
    "trn1": ("trn1.2xlarge", "trn1.32xlarge"),
    "trn1n": ("trn1n.32xlarge",),
    "trn2": ("trn2.48xlarge",),
}

# Declared time from "pod pending" to "node ready", per class: accelerated AMIs are larger and
# their drivers and device plugins start later. Scale-to-zero timeouts are derived from it.
DEFAULT_PROVISIONING_SECONDS: Final[Mapping[HardwareClass, int]] = {
    "cpu": 90,
    "nvidia-gpu": 300,
    "neuron": 420,
}
# Root volume per class: accelerated images and model caches are large.
DEFAULT_DISK_SIZE_GIB: Final[Mapping[HardwareClass, int]] = {
    "cpu": 80,
    "nvidia-gpu": 200,
    "neuron": 200,
}

_EXTENDED_RESOURCES: Final[Mapping[HardwareClass, Mapping[ResourceUnit, str]]] = {
    "cpu": {},
    "nvidia-gpu": {"device": "nvidia.com/gpu"},
    "neuron": {"device": "aws.amazon.com/neuron", "core": "aws.amazon.com/neuroncore"},
}
ACCELERATOR_RESOURCE_NAMES: Final = frozenset(
    name for units in _EXTENDED_RESOURCES.values() for name in units.values()
)

_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_FAMILY = re.compile(r"^(?P<category>[a-z]+)[0-9]+[a-z0-9-]*$")
_CATEGORY = re.compile(r"^[a-z]+$")
# Label domains the kubelet, Karpenter or this project own.
_RESERVED_LABEL_DOMAINS: Final = ("kubernetes.io", "k8s.io", "karpenter.sh", "karpenter.k8s.aws")
_RESERVED_LABEL_PREFIX: Final = "mlops-blueprints.io"


def _qualified_name_problem(key: str) -> str | None:
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return "the prefix before '/' must be a DNS subdomain (e.g. 'example.com/team')"
    if not _LABEL_NAME.match(name):
        return (
            "the name must be 1-63 letters, digits, '-', '_' or '.', starting and ending with a "
            "letter or digit"
        )
    return None


@dataclass(frozen=True)
class Taint:
    """A node taint. ``value`` may be empty; ``effect`` is a Kubernetes taint effect."""

    key: str
    value: str = ""
    effect: TaintEffect = "NoSchedule"

    def __post_init__(self) -> None:
        problem = _qualified_name_problem(self.key)
        if problem:
            raise BlueprintConfigError("taint.key", self.key, f"Use a valid taint key: {problem}.")
        if not _LABEL_VALUE.match(self.value):
            raise BlueprintConfigError(
                "taint.value",
                self.value,
                "Use at most 63 letters, digits, '-', '_' or '.', starting and ending with a "
                "letter or digit (or an empty value).",
            )
        if self.effect not in get_args(TaintEffect):
            raise BlueprintConfigError(
                "taint.effect", self.effect, f"Use one of: {', '.join(get_args(TaintEffect))}."
            )

    def to_dict(self) -> dict[str, str]:
        """The taint as the Kubernetes API (and Karpenter, and kubeadm) spell it."""
        data = {"key": self.key}
        if self.value:
            data["value"] = self.value
        data["effect"] = self.effect
        return data


# Every accelerator node is tainted, so only pods that ask for the accelerator land there.
_CLASS_TAINTS: Final[Mapping[HardwareClass, Taint | None]] = {
    "cpu": None,
    "nvidia-gpu": Taint("nvidia.com/gpu", "true", "NoSchedule"),
    "neuron": Taint("aws.amazon.com/neuron", "true", "NoSchedule"),
}
_CLASS_TAINT_KEYS: Final = frozenset(t.key for t in _CLASS_TAINTS.values() if t is not None)


def parse_hardware_class(value: object, *, field: str = "hardware_class") -> HardwareClass:
    """Accept one of the hardware classes; anything else fails with the valid ones named."""
    for known in HARDWARE_CLASSES:
        if value == known:
            return known
    valid = ", ".join(HARDWARE_CLASSES)
    if isinstance(value, str) and value.strip().lower() == "tpu":
        raise BlueprintConfigError(
            field,
            value,
            "TPUs exist only on Google Cloud; use nvidia-gpu or neuron "
            f"(hardware classes: {valid}).",
        )
    raise BlueprintConfigError(field, value, f"Use one of the hardware classes: {valid}.")


def _category_of(family: str) -> str:
    match = _FAMILY.match(family)
    return match["category"] if match else family


@dataclass(frozen=True)
class NodePoolSpec:
    """A pool of nodes of one hardware class, independent of the target.

    - ``name``: the pool; nodes are labelled ``mlops-blueprints.io/node-pool=<name>``.
    - ``hardware_class`` (cpu): ``cpu``, ``nvidia-gpu`` or ``neuron``. Accelerator nodes are
      tainted so that only pods requesting the accelerator land there.
    - ``min_nodes`` (0): nodes kept at all times (kind: workers created; aws: must be 0, since
      Karpenter launches nodes for pending pods only).
    - ``max_nodes`` (10): upper bound on the pool's nodes.
    - ``enable_spot`` (False): also allow spot capacity (Karpenter prefers spot, falls back to
      on-demand). Off: on-demand only.
    - ``instance_categories`` (None): instance categories; ``None`` uses the class defaults
      (cpu: c, m, r; nvidia-gpu: g, p; neuron: inf, trn).
    - ``instance_families`` (None): instance families; ``None`` uses the class defaults
      (cpu: any of generation 6+; nvidia-gpu: g5, g6, g6e, p4d, p5; neuron: inf2, trn1, trn1n,
      trn2). Each family must belong to one of the categories.
    - ``architectures`` (("amd64",)): CPU architectures (Neuron instances are amd64 only).
    - ``cpu_limit_cores`` (256): the most vCPUs the pool may hold.
    - ``memory_limit_gib`` (1024): the most memory the pool may hold.
    - ``disk_size_gib`` (None): root volume size; ``None`` uses the class default (cpu 80,
      accelerators 200).
    - ``provisioning_seconds`` (None): declared time for a new node to become ready, used for
      scale-to-zero timeouts; ``None`` uses the class default (cpu 90, nvidia-gpu 300, neuron
      420).
    - ``labels`` ({}): extra node labels (no kubernetes.io, k8s.io, karpenter or
      mlops-blueprints.io keys).
    - ``extra_taints`` (()): taints on top of the class taint.
    - ``consolidation_policy`` (WhenEmptyOrUnderutilized): when nodes may be consolidated.
    - ``consolidate_after_seconds`` (300): how long a node stays empty or underutilized first.
    - ``expire_after_hours`` (720): nodes are replaced after this, so they pick up new images.
    """

    name: str
    hardware_class: HardwareClass = "cpu"
    min_nodes: int = 0
    max_nodes: int = 10
    enable_spot: bool = False
    instance_categories: tuple[str, ...] | None = None
    instance_families: tuple[str, ...] | None = None
    architectures: tuple[Architecture, ...] = ("amd64",)
    cpu_limit_cores: int = 256
    memory_limit_gib: int = 1024
    disk_size_gib: int | None = None
    provisioning_seconds: int | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    extra_taints: tuple[Taint, ...] = ()
    consolidation_policy: ConsolidationPolicy = "WhenEmptyOrUnderutilized"
    consolidate_after_seconds: int = 300
    expire_after_hours: int = 720

    def _field(self, attribute: str) -> str:
        return f"node_pool[{self.name}].{attribute}"

    def __post_init__(self) -> None:
        validate_dns_label(self.name, field="node_pool.name")
        parse_hardware_class(self.hardware_class, field=self._field("hardware_class"))
        self._validate_counts()
        self._validate_instances()
        self._validate_labels_and_taints()
        if self.consolidation_policy not in get_args(ConsolidationPolicy):
            raise BlueprintConfigError(
                self._field("consolidation_policy"),
                self.consolidation_policy,
                f"Use one of: {', '.join(get_args(ConsolidationPolicy))}.",
            )

    def _validate_counts(self) -> None:
        for attribute in ("min_nodes", "max_nodes"):
            value = getattr(self, attribute)
            if value < 0:
                raise BlueprintConfigError(
                    self._field(attribute), value, "Node counts cannot be negative; use 0 or more."
                )
        if self.max_nodes < 1:
            raise BlueprintConfigError(
                self._field("max_nodes"),
                self.max_nodes,
                "A pool needs room for at least one node; use max_nodes >= 1 (remove the pool "
                "to have none).",
            )
        if self.min_nodes > self.max_nodes:
            raise BlueprintConfigError(
                self._field("min_nodes"),
                self.min_nodes,
                f"min_nodes must not exceed max_nodes ({self.max_nodes}); lower min_nodes or "
                "raise max_nodes.",
            )
        positive = {
            "cpu_limit_cores": self.cpu_limit_cores,
            "memory_limit_gib": self.memory_limit_gib,
            "disk_size_gib": self.disk_size_gib,
            "provisioning_seconds": self.provisioning_seconds,
            "expire_after_hours": self.expire_after_hours,
        }
        for attribute, value in positive.items():
            if value is not None and value < 1:
                raise BlueprintConfigError(
                    self._field(attribute), value, f"Use a positive {attribute}."
                )
        if self.consolidate_after_seconds < 0:
            raise BlueprintConfigError(
                self._field("consolidate_after_seconds"),
                self.consolidate_after_seconds,
                "Use 0 seconds or more.",
            )

    def _validate_instances(self) -> None:
        categories = self.effective_instance_categories
        families = self.effective_instance_families
        if not categories:
            raise BlueprintConfigError(
                self._field("instance_categories"),
                self.instance_categories,
                "Name at least one instance category, or leave it unset for the class "
                f"defaults ({', '.join(DEFAULT_INSTANCE_CATEGORIES[self.hardware_class])}).",
            )
        for category in categories:
            if not _CATEGORY.match(category):
                raise BlueprintConfigError(
                    self._field("instance_categories"),
                    category,
                    "An instance category is the lowercase letters that start a family name "
                    "(e.g. 'm' for m7i, 'inf' for inf2).",
                )
        accelerator = _ACCELERATOR_CATEGORIES.get(self.hardware_class)
        if accelerator is None:
            clash = sorted(set(categories) & set().union(*_ACCELERATOR_CATEGORIES.values()))
            if clash:
                raise BlueprintConfigError(
                    self._field("instance_categories"),
                    clash,
                    "A cpu pool must not launch accelerator instances (they would be untainted "
                    "and unused); move them to an nvidia-gpu or neuron pool.",
                )
        elif not set(categories) <= accelerator:
            raise BlueprintConfigError(
                self._field("instance_categories"),
                sorted(set(categories) - accelerator),
                f"A {self.hardware_class} pool launches only {', '.join(sorted(accelerator))} "
                "instances; use those categories.",
            )
        for family in families:
            if not _FAMILY.match(family):
                raise BlueprintConfigError(
                    self._field("instance_families"),
                    family,
                    "Use an EC2 instance family name such as 'm7i', 'g6e' or 'trn1n'.",
                )
            if _category_of(family) not in categories:
                raise BlueprintConfigError(
                    self._field("instance_families"),
                    family,
                    f"Family {family!r} is not in the pool's categories "
                    f"({', '.join(categories)}); add its category or drop the family.",
                )
        if self.hardware_class == "neuron":
            unknown = [f for f in families if f not in NEURON_INSTANCE_TYPES]
            if not families or unknown:
                raise BlueprintConfigError(
                    self._field("instance_families"),
                    unknown or families,
                    "Neuron pools name their families, because the Neuron device plugin is "
                    "scheduled by exact instance type; use some of "
                    f"{', '.join(NEURON_INSTANCE_TYPES)}.",
                )
        if not self.architectures or len(set(self.architectures)) != len(self.architectures):
            raise BlueprintConfigError(
                self._field("architectures"),
                self.architectures,
                "Name each architecture once: ('amd64',), ('arm64',) or ('amd64', 'arm64').",
            )
        for architecture in self.architectures:
            if architecture not in get_args(Architecture):
                raise BlueprintConfigError(
                    self._field("architectures"),
                    architecture,
                    f"Use one of: {', '.join(get_args(Architecture))}.",
                )
        if self.hardware_class == "neuron" and self.architectures != ("amd64",):
            raise BlueprintConfigError(
                self._field("architectures"),
                self.architectures,
                "Inferentia and Trainium instances are amd64 only; use ('amd64',).",
            )

    def _validate_labels_and_taints(self) -> None:
        for key, value in self.labels.items():
            problem = _qualified_name_problem(key)
            if problem:
                raise BlueprintConfigError(
                    self._field("labels"), key, f"Use a valid label key: {problem}."
                )
            domain = key.rpartition("/")[0]
            if domain == _RESERVED_LABEL_PREFIX or any(
                domain == reserved or domain.endswith("." + reserved)
                for reserved in _RESERVED_LABEL_DOMAINS
            ):
                raise BlueprintConfigError(
                    self._field("labels"),
                    key,
                    "Label domains kubernetes.io, k8s.io, karpenter.sh, karpenter.k8s.aws and "
                    "mlops-blueprints.io are reserved; use your own domain (e.g. "
                    "'example.com/team').",
                )
            if not isinstance(value, str) or not _LABEL_VALUE.match(value):
                raise BlueprintConfigError(
                    self._field(f"labels[{key}]"),
                    value,
                    "Use at most 63 letters, digits, '-', '_' or '.', starting and ending with "
                    "a letter or digit.",
                )
        seen: set[tuple[str, str]] = set()
        for taint in self.extra_taints:
            if taint.key in _CLASS_TAINT_KEYS:
                raise BlueprintConfigError(
                    self._field("extra_taints"),
                    taint.key,
                    "Accelerator taints are set from the hardware class; choose another key.",
                )
            if (taint.key, taint.effect) in seen:
                raise BlueprintConfigError(
                    self._field("extra_taints"),
                    taint.key,
                    "Each (key, effect) pair may appear once.",
                )
            seen.add((taint.key, taint.effect))

    @property
    def pool_name(self) -> str:
        """The pool's name (the target seam's ``NodePool`` protocol)."""
        return self.name

    @property
    def capacity_types(self) -> tuple[CapacityType, ...]:
        """``("spot", "on-demand")`` with ``enable_spot``, else ``("on-demand",)``."""
        return ("spot", "on-demand") if self.enable_spot else ("on-demand",)

    @property
    def effective_instance_categories(self) -> tuple[str, ...]:
        if self.instance_categories is None:
            return DEFAULT_INSTANCE_CATEGORIES[self.hardware_class]
        return tuple(self.instance_categories)

    @property
    def effective_instance_families(self) -> tuple[str, ...]:
        if self.instance_families is None:
            return DEFAULT_INSTANCE_FAMILIES[self.hardware_class]
        return tuple(self.instance_families)

    @property
    def effective_provisioning_seconds(self) -> int:
        if self.provisioning_seconds is None:
            return DEFAULT_PROVISIONING_SECONDS[self.hardware_class]
        return self.provisioning_seconds

    @property
    def effective_disk_size_gib(self) -> int:
        if self.disk_size_gib is None:
            return DEFAULT_DISK_SIZE_GIB[self.hardware_class]
        return self.disk_size_gib


def _target_name(target: str | Target) -> str:
    return target if isinstance(target, str) else target.name


def supported_classes(target: str | Target) -> tuple[HardwareClass, ...]:
    """The hardware classes ``target`` can run: aws all three, kind cpu only.

    A target class can declare ``hardware_classes`` itself; the built-in targets are listed
    here.
    """
    declared = getattr(target, "hardware_classes", None)
    if declared is not None:
        return tuple(c for c in HARDWARE_CLASSES if c in declared)
    name = _target_name(target)
    if name not in _TARGET_CLASSES:
        raise BlueprintConfigError(
            "target", name, f"Use one of the targets: {', '.join(_TARGET_CLASSES)}."
        )
    return _TARGET_CLASSES[name]


def validate_pools(
    pools: Sequence[NodePoolSpec],
    target: str | Target,
    *,
    enable_simulated_accelerator_nodes: bool = False,
) -> tuple[NodePoolSpec, ...]:
    """Check pools together for one target: unique names, and classes the target can run.

    On kind, accelerator pools fail unless ``enable_simulated_accelerator_nodes`` is set: then
    they become workers with the pool's labels and taints but no devices, which is enough to
    test placement (a pod that requests ``nvidia.com/gpu`` still stays Pending there).
    """
    supported = supported_classes(target)
    name = _target_name(target)
    seen: set[str] = set()
    for index, pool in enumerate(pools):
        if pool.name in seen:
            raise BlueprintConfigError(
                f"node_pools[{index}].name",
                pool.name,
                "Pool names must be unique: they name the Karpenter NodePool and the node label.",
            )
        seen.add(pool.name)
        if pool.hardware_class in supported:
            continue
        simulated = name == "kind" and enable_simulated_accelerator_nodes
        if simulated:
            continue
        if name == "kind":
            fix = (
                "The kind target has no accelerators: use cpu, or set "
                "enable_simulated_accelerator_nodes=True for labelled and tainted workers "
                "without devices (placement tests only)."
            )
        else:
            fix = (
                f"The {name} target runs {', '.join(supported)} pools; use one of those or "
                "another target."
            )
        raise BlueprintConfigError(pool._field("hardware_class"), pool.hardware_class, fix)
    return tuple(pools)


def node_labels(pool: NodePoolSpec) -> dict[str, str]:
    """Labels every node of the pool carries: pool, hardware class, then the pool's extras."""
    return {
        NODE_POOL_LABEL: pool.name,
        HARDWARE_CLASS_LABEL: pool.hardware_class,
        **dict(pool.labels),
    }


def node_selector(pool: NodePoolSpec) -> dict[str, str]:
    """The nodeSelector that places a pod on the pool."""
    return {NODE_POOL_LABEL: pool.name, HARDWARE_CLASS_LABEL: pool.hardware_class}


def taints(pool: NodePoolSpec) -> list[dict[str, str]]:
    """The pool's taints: the class taint (accelerators only), then ``extra_taints``."""
    class_taint = _CLASS_TAINTS[pool.hardware_class]
    found = [class_taint] if class_taint is not None else []
    return [t.to_dict() for t in (*found, *pool.extra_taints)]


def toleration_for(taint: Mapping[str, str]) -> dict[str, str]:
    """The narrowest toleration of one taint: same key, value and effect."""
    toleration = {"key": taint["key"], "operator": "Equal", "value": taint.get("value", "")}
    toleration["effect"] = taint["effect"]
    return toleration


def tolerations(hardware_class: HardwareClass) -> list[dict[str, str]]:
    """Tolerations a pod needs for a class's taint (none for cpu)."""
    class_taint = _CLASS_TAINTS[parse_hardware_class(hardware_class)]
    return [] if class_taint is None else [toleration_for(class_taint.to_dict())]


def pool_tolerations(pool: NodePoolSpec) -> list[dict[str, str]]:
    """Tolerations for every taint of the pool (class taint and extras)."""
    return [toleration_for(taint) for taint in taints(pool)]


def tolerates(pod_tolerations: Sequence[Mapping[str, Any]], taint: Mapping[str, str]) -> bool:
    """Whether any toleration tolerates ``taint``, with the Kubernetes scheduler's rules."""
    for toleration in pod_tolerations:
        effect = toleration.get("effect") or ""
        if effect and effect != taint["effect"]:
            continue
        key = toleration.get("key") or ""
        operator = toleration.get("operator") or "Equal"
        if key and key != taint["key"]:
            continue
        if operator == "Exists":
            return True
        if key and operator == "Equal" and toleration.get("value", "") == taint.get("value", ""):
            return True
    return False


def extended_resource(hardware_class: HardwareClass, unit: ResourceUnit = "device") -> str | None:
    """The extended resource a pod requests for the class: ``None`` for cpu.

    nvidia-gpu: ``nvidia.com/gpu`` (whole devices only); neuron: ``aws.amazon.com/neuron``
    (devices) or ``aws.amazon.com/neuroncore`` (cores).
    """
    hardware_class = parse_hardware_class(hardware_class)
    if unit not in get_args(ResourceUnit):
        raise BlueprintConfigError("unit", unit, "Use 'device' or 'core'.")
    if hardware_class == "cpu":
        return None
    resource = _EXTENDED_RESOURCES[hardware_class].get(unit)
    if resource is None:
        raise BlueprintConfigError(
            "unit",
            unit,
            f"{hardware_class} accelerators are scheduled as whole devices "
            f"({_EXTENDED_RESOURCES[hardware_class]['device']}); use unit='device'.",
        )
    return resource


def karpenter_requirements(pool: NodePoolSpec) -> list[dict[str, Any]]:
    """Karpenter NodeSelectorRequirements for the pool (never empty)."""
    requirements: list[dict[str, Any]] = [
        {
            "key": "karpenter.k8s.aws/instance-category",
            "operator": "In",
            "values": list(pool.effective_instance_categories),
        }
    ]
    families = pool.effective_instance_families
    if families:
        requirements.append(
            {"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": list(families)}
        )
    elif pool.hardware_class == "cpu":
        requirements.append(
            {
                "key": "karpenter.k8s.aws/instance-generation",
                "operator": "Gt",
                "values": [str(_CPU_MIN_GENERATION - 1)],
            }
        )
    requirements += [
        {
            "key": "karpenter.sh/capacity-type",
            "operator": "In",
            "values": list(pool.capacity_types),
        },
        {"key": "kubernetes.io/arch", "operator": "In", "values": list(pool.architectures)},
        {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
    ]
    return requirements


def _strip_accelerators(resources: dict[str, Any]) -> None:
    # Empty maps are dropped too, so a placement never depends on how "no resources" was spelt.
    for section in ("requests", "limits"):
        amounts = resources.get(section)
        if not isinstance(amounts, dict):
            continue
        for name in ACCELERATOR_RESOURCE_NAMES:
            amounts.pop(name, None)
        if not amounts:
            del resources[section]


def place_workload(
    pod_spec: Mapping[str, Any],
    pool: NodePoolSpec,
    *,
    accelerators: int = 1,
    unit: ResourceUnit = "device",
    container: str | None = None,
) -> dict[str, Any]:
    """A copy of ``pod_spec`` placed on ``pool``.

    Placement owns three things and changes nothing else: the pool's ``nodeSelector`` keys, the
    tolerations for accelerator taints and the pool's taints, and the accelerator entries of
    container resources. ``accelerators`` devices (or cores, with ``unit="core"``) are requested
    and limited on ``container`` (default: the first container); cpu pools request none.
    Placing an already placed spec again, on any pool, replaces the earlier placement. Empty
    ``resources`` maps are dropped.
    """
    resource = extended_resource(pool.hardware_class, unit)
    if resource is not None and accelerators < 1:
        raise BlueprintConfigError(
            "accelerators",
            accelerators,
            f"A {pool.hardware_class} pool runs pods that request at least one {resource}; use "
            "accelerators >= 1, or place the workload on a cpu pool.",
        )
    spec: dict[str, Any] = copy.deepcopy(dict(pod_spec))
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        raise BlueprintConfigError(
            "pod_spec.containers",
            containers,
            "Pass a pod spec (a Deployment's spec.template.spec) with at least one container.",
        )
    names = [c.get("name") for c in containers]
    if container is None:
        target_index = 0
    elif container in names:
        target_index = names.index(container)
    else:
        raise BlueprintConfigError(
            "container",
            container,
            f"Use one of the pod's containers: {', '.join(map(str, names))}.",
        )

    selector = {
        k: v for k, v in (spec.get("nodeSelector") or {}).items() if k not in _PLACEMENT_LABELS
    }
    spec["nodeSelector"] = selector | node_selector(pool)

    wanted = pool_tolerations(pool)
    kept = [
        t
        for t in spec.get("tolerations") or []
        if t.get("key") not in _CLASS_TAINT_KEYS and t not in wanted
    ]
    if kept or wanted:
        spec["tolerations"] = kept + wanted
    else:
        spec.pop("tolerations", None)

    for index, item in enumerate(containers):
        resources = item.get("resources")
        if isinstance(resources, dict):
            _strip_accelerators(resources)
            if not resources:
                del item["resources"]
        if index == target_index and resource is not None:
            resources = item.setdefault("resources", {})
            resources.setdefault("requests", {})[resource] = accelerators
            resources.setdefault("limits", {})[resource] = accelerators
    return spec
