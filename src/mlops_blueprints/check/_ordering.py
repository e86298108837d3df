"""Check creation order from ``inventory.json``: what must exist before each object.

- A custom resource must depend, at least transitively, on what installs its CRD: a
  CustomResourceDefinition object for its group and kind, a Helm release of a chart that installs
  its API group (``CRD_INSTALLING_CHARTS``), or a manifest group carrying the CRD.
- A namespaced object, and a Helm release without ``createNamespace``, must depend, at least
  transitively, on what creates its namespace; only the well-known system namespaces may be
  absent from the render.

"Transitively" follows ``dependencies``; a dependency on a component (``custom: false``) counts
as a dependency on all of its descendants, which is what Pulumi waits for.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from mlops_blueprints.check._crd import CrdDefinition, CrdIndex, crd_from_body
from mlops_blueprints.check._findings import Finding, object_label
from mlops_blueprints.check._helm import chart_name
from mlops_blueprints.check._kube import CLUSTER_SCOPED_BUILTIN_KINDS, is_builtin_group
from mlops_blueprints.check._rendered import (
    InventoryEntry,
    load_yaml_documents,
    split_api_version,
)

__all__ = [
    "CRD_INSTALLING_CHARTS",
    "CRD_MANIFEST_FILES",
    "SYSTEM_NAMESPACES",
    "ChartCrds",
    "DependencyGraph",
    "check_ordering",
    "inventory_crds",
]

SYSTEM_NAMESPACES: frozenset[str] = frozenset(
    {"default", "kube-system", "kube-public", "kube-node-lease"}
)


@dataclass(frozen=True)
class ChartCrds:
    """The API groups whose CRDs a chart installs, and the values that switch them off.

    ``toggles``: (values path, chart default); the CRDs are installed when any toggle is true.
    ``in_crds_dir``: shipped in the chart's ``crds/`` folder, which ``skipCrds`` suppresses.
    """

    groups: frozenset[str]
    toggles: tuple[tuple[tuple[str, ...], bool], ...] = ()
    in_crds_dir: bool = False


# The one place that says which chart installs which CRDs.
CRD_INSTALLING_CHARTS: Mapping[str, ChartCrds] = {
    "karpenter": ChartCrds(frozenset({"karpenter.sh", "karpenter.k8s.aws"}), in_crds_dir=True),
    "kserve-crd": ChartCrds(frozenset({"serving.kserve.io"})),
    "kube-prometheus-stack": ChartCrds(
        frozenset({"monitoring.coreos.com"}),
        toggles=((("crds", "enabled"), True),),
        in_crds_dir=True,
    ),
    "argo-cd": ChartCrds(frozenset({"argoproj.io"}), toggles=((("crds", "install"), True),)),
    "cert-manager": ChartCrds(
        frozenset({"cert-manager.io", "acme.cert-manager.io"}),
        toggles=((("crds", "enabled"), False), (("installCRDs",), False)),
    ),
    "aws-load-balancer-controller": ChartCrds(frozenset({"elbv2.k8s.aws"}), in_crds_dir=True),
}

# Manifest files applied by URL (ConfigFile/ConfigGroup ``files``), by file name.
CRD_MANIFEST_FILES: Mapping[str, frozenset[str]] = {
    "serving-crds.yaml": frozenset(
        {
            "serving.knative.dev",
            "autoscaling.internal.knative.dev",
            "networking.internal.knative.dev",
            "caching.internal.knative.dev",
        }
    ),
}

_RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"
_CHART_TYPES = frozenset({"kubernetes:helm.sh/v4:Chart", "kubernetes:helm.sh/v3:Chart"})
_NOT_OBJECT_PREFIXES = ("helm.sh/", "yaml", "kustomize")


@dataclass(frozen=True)
class _KubeObject:
    entry: InventoryEntry
    group: str
    kind: str
    name: str
    namespace: str | None
    is_patch: bool

    @property
    def label(self) -> str:
        return object_label(self.kind, self.name, self.namespace)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _kube_object(entry: InventoryEntry) -> _KubeObject | None:
    parts = entry.type.split(":")
    if len(parts) != 3 or parts[0] != "kubernetes" or not entry.custom:
        return None
    type_group_version, type_kind = parts[1], parts[2]
    if type_group_version.startswith(_NOT_OBJECT_PREFIXES):
        return None
    api_version = entry.inputs.get("apiVersion") or type_group_version.removeprefix("core/")
    kind = str(entry.inputs.get("kind") or type_kind.removesuffix("Patch"))
    metadata = _mapping(entry.inputs.get("metadata"))
    namespace = metadata.get("namespace")
    return _KubeObject(
        entry=entry,
        group=split_api_version(str(api_version))[0],
        kind=kind,
        name=str(metadata.get("name") or entry.name),
        namespace=str(namespace) if namespace else None,
        is_patch=type_kind.endswith("Patch"),
    )


def _value_at(values: Mapping[str, Any], path: Sequence[str]) -> Any:
    current: Any = values
    for key in path:
        if not isinstance(current, Mapping) or key not in current:
            return None
        current = current[key]
    return current


def _chart_installs(entry: InventoryEntry) -> frozenset[str]:
    chart = entry.inputs.get("chart")
    spec = CRD_INSTALLING_CHARTS.get(chart_name(str(chart))) if chart else None
    if spec is None:
        return frozenset()
    if spec.in_crds_dir and entry.inputs.get("skipCrds") is True:
        return frozenset()
    values = _mapping(entry.inputs.get("values"))
    if spec.toggles:
        enabled = False
        for path, default in spec.toggles:
            value = _value_at(values, path)
            enabled = enabled or bool(default if value is None else value)
        if not enabled:
            return frozenset()
    return spec.groups


def _manifest_group_crds(entry: InventoryEntry) -> tuple[set[tuple[str, str]], set[str]]:
    """CRDs (group, kind) carried inline by a ConfigGroup/ConfigFile, and groups by file name."""
    inline: set[tuple[str, str]] = set()
    groups: set[str] = set()
    documents: list[Any] = []
    yaml_input = entry.inputs.get("yaml")
    for text in [yaml_input] if isinstance(yaml_input, str) else yaml_input or ():
        if isinstance(text, str):
            try:
                documents.extend(load_yaml_documents(text))
            except yaml.YAMLError:  # unparsable inline YAML installs nothing we can see
                continue
    documents.extend(entry.inputs.get("objs") or ())
    for document in documents:
        if isinstance(document, Mapping) and document.get("kind") == "CustomResourceDefinition":
            crd = crd_from_body(document, source=entry.urn)
            if crd is not None:
                inline.add((crd.group, crd.kind))
    files = entry.inputs.get("files") or ()
    if isinstance(entry.inputs.get("file"), str):
        files = [entry.inputs["file"], *files]
    for file in files if isinstance(files, list | tuple) else ():
        groups |= CRD_MANIFEST_FILES.get(str(file).rstrip("/").rsplit("/", 1)[-1], frozenset())
    return inline, groups


def inventory_crds(entries: Iterable[InventoryEntry]) -> list[CrdDefinition]:
    """CustomResourceDefinition objects registered in the inventory (for scope lookups)."""
    found: list[CrdDefinition] = []
    for entry in entries:
        obj = _kube_object(entry)
        if obj is not None and obj.kind == "CustomResourceDefinition" and not obj.is_patch:
            crd = crd_from_body(entry.inputs, source=entry.urn)
            if crd is not None:
                found.append(crd)
    return found


class DependencyGraph:
    """Reachability over ``dependencies``, where depending on a component means depending on
    every descendant of it."""

    def __init__(self, entries: Iterable[InventoryEntry]) -> None:
        self._dependencies: dict[str, tuple[str, ...]] = {}
        self._children: dict[str, list[str]] = defaultdict(list)
        self._components: set[str] = set()
        for entry in entries:
            self._dependencies[entry.urn] = entry.dependencies
            if entry.parent:
                self._children[entry.parent].append(entry.urn)
            if not entry.custom:
                self._components.add(entry.urn)
        self._closures: dict[str, frozenset[str]] = {}

    def _descendants(self, urn: str) -> list[str]:
        found: list[str] = []
        stack = list(self._children.get(urn, ()))
        seen: set[str] = set()
        while stack:
            child = stack.pop()
            if child in seen:
                continue
            seen.add(child)
            found.append(child)
            stack.extend(self._children.get(child, ()))
        return found

    def _direct(self, urn: str) -> Iterable[str]:
        for dependency in self._dependencies.get(urn, ()):
            yield dependency
            if dependency in self._components:
                yield from self._descendants(dependency)

    def depends_on(self, urn: str) -> frozenset[str]:
        """Everything ``urn`` waits for, directly or transitively."""
        if urn not in self._closures:
            seen: set[str] = set()
            stack = list(self._direct(urn))
            while stack:
                current = stack.pop()
                if current in seen:
                    continue
                seen.add(current)
                stack.extend(self._direct(current))
            self._closures[urn] = frozenset(seen)
        return self._closures[urn]


@dataclass(frozen=True)
class _Installer:
    urn: str
    description: str


class _Ordering:
    def __init__(self, entries: Sequence[InventoryEntry], crds: CrdIndex) -> None:
        self.entries = entries
        self.crds = crds
        self.graph = DependencyGraph(entries)
        self.objects = [obj for entry in entries if (obj := _kube_object(entry)) is not None]
        self.namespace_creators: dict[str, list[_Installer]] = defaultdict(list)
        self.crd_objects: dict[tuple[str, str], list[_Installer]] = defaultdict(list)
        self.group_installers: dict[str, list[_Installer]] = defaultdict(list)
        for obj in self.objects:
            if obj.is_patch:
                continue
            if obj.group == "" and obj.kind == "Namespace":
                self.namespace_creators[obj.name].append(
                    _Installer(obj.entry.urn, f"Namespace {obj.name}")
                )
            if obj.group == "apiextensions.k8s.io" and obj.kind == "CustomResourceDefinition":
                crd = crd_from_body(obj.entry.inputs, source=obj.entry.urn)
                if crd is not None:
                    self.crd_objects[(crd.group, crd.kind)].append(
                        _Installer(obj.entry.urn, f"CustomResourceDefinition {crd.name}")
                    )
        for entry in entries:
            if entry.type == _RELEASE_TYPE or entry.type in _CHART_TYPES:
                release = self._release_label(entry)
                if entry.inputs.get("createNamespace") is True and entry.inputs.get("namespace"):
                    self.namespace_creators[str(entry.inputs["namespace"])].append(
                        _Installer(entry.urn, f"{release} (createNamespace)")
                    )
                for group in _chart_installs(entry):
                    self.group_installers[group].append(_Installer(entry.urn, release))
            elif entry.type.startswith(("kubernetes:yaml", "kubernetes:kustomize")):
                inline, groups = _manifest_group_crds(entry)
                description = f"{entry.type.rsplit(':', 1)[-1]} {entry.name}"
                for key in inline:
                    self.crd_objects[key].append(_Installer(entry.urn, description))
                for group in groups:
                    self.group_installers[group].append(_Installer(entry.urn, description))

    @staticmethod
    def _release_label(entry: InventoryEntry) -> str:
        chart = chart_name(str(entry.inputs.get("chart") or "?"))
        return f"helm release {entry.inputs.get('name') or entry.name} (chart {chart})"

    def _namespaced(self, obj: _KubeObject) -> bool:
        if is_builtin_group(obj.group):
            return (obj.group, obj.kind) not in CLUSTER_SCOPED_BUILTIN_KINDS
        crd = self.crds.lookup(obj.group, obj.kind)
        if crd is not None:
            return crd.scope == "Namespaced"
        # Unknown CRD (reported by the crd check): trust the object itself.
        return obj.namespace is not None

    def _needs(
        self, *, urn: str, label: str, what: str, candidates: list[_Installer], missing_hint: str
    ) -> Finding | None:
        others = [candidate for candidate in candidates if candidate.urn != urn]
        if not others:
            return Finding(
                "ordering",
                "error",
                label,
                "dependencies",
                f"{label} ({urn}) needs {what}, but nothing in the render provides it: "
                f"{missing_hint}",
                "inventory.json",
            )
        reachable = self.graph.depends_on(urn)
        if any(candidate.urn in reachable for candidate in others):
            return None
        options = "; or ".join(f"{item.description} ({item.urn})" for item in others)
        return Finding(
            "ordering",
            "error",
            label,
            "dependencies",
            f"{label} ({urn}) does not depend, directly or transitively, on {what}: add a "
            f"dependency on {options}",
            "inventory.json",
        )

    def check(self) -> tuple[list[Finding], int]:
        findings: list[Finding] = []
        examined = 0
        for obj in self.objects:
            examined += 1
            urn = obj.entry.urn
            if not is_builtin_group(obj.group):
                key = (obj.group, obj.kind)
                candidates = [
                    *self.crd_objects.get(key, ()),
                    *self.group_installers.get(obj.group, ()),
                ]
                finding = self._needs(
                    urn=urn,
                    label=obj.label,
                    what=f"the CRD for {obj.kind}.{obj.group}",
                    candidates=candidates,
                    missing_hint=(
                        "add the CustomResourceDefinition, or the Helm release whose chart "
                        f"installs {obj.group}, and depend on it"
                    ),
                )
                if finding is not None:
                    findings.append(finding)
            if self._namespaced(obj):
                namespace = obj.namespace or "default"
                finding = self._namespace_finding(urn, obj.label, namespace)
                if finding is not None:
                    findings.append(finding)
        for entry in self.entries:
            if entry.type != _RELEASE_TYPE and entry.type not in _CHART_TYPES:
                continue
            examined += 1
            if entry.inputs.get("createNamespace") is True:
                continue
            namespace = str(entry.inputs.get("namespace") or "default")
            label = f"helm release {entry.inputs.get('name') or entry.name}"
            finding = self._namespace_finding(entry.urn, label, namespace)
            if finding is not None:
                findings.append(finding)
        return findings, examined

    def _namespace_finding(self, urn: str, label: str, namespace: str) -> Finding | None:
        if namespace in SYSTEM_NAMESPACES:
            return None
        return self._needs(
            urn=urn,
            label=label,
            what=f"Namespace {namespace}",
            candidates=self.namespace_creators.get(namespace, []),
            missing_hint=(
                f"namespace {namespace!r} is not a system namespace; add a Namespace "
                f"{namespace} (or a Helm release with createNamespace) and depend on it"
            ),
        )


def check_ordering(
    entries: Sequence[InventoryEntry], *, crds: CrdIndex
) -> tuple[list[Finding], int]:
    """Check CRD and namespace ordering for every inventory entry; (findings, examined)."""
    return _Ordering(entries, crds).check()
