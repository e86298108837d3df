"""Load a rendered directory (``mlops-bp render`` output, or one written by hand).

Layout: ``inventory.json`` (every registered resource), ``manifests/*.yaml`` (one Kubernetes
object per document, first line ``# source: <urn>`` when rendered), ``helm/<release>.yaml``.
Unreadable files become findings, not exceptions, so one bad file does not hide the others.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlops_blueprints.check._findings import Finding, object_label
from mlops_blueprints.errors import UsageError

try:
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

__all__ = [
    "HelmReleaseFile",
    "InventoryEntry",
    "Manifest",
    "RenderedDir",
    "load_rendered",
    "load_yaml_documents",
    "split_api_version",
    "strip_nulls",
]

_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


class _KubeYamlLoader(_BaseLoader):
    """Safe loader that reads YAML the way the API server sees it after JSON conversion.

    Timestamps stay strings (the API has no date type, and a ``datetime`` would fail every
    ``type: string`` check), and a bare ``=`` scalar loads as a string instead of failing.
    """


_KubeYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != _TIMESTAMP_TAG]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}
_KubeYamlLoader.add_constructor(
    "tag:yaml.org,2002:value",
    lambda loader, node: loader.construct_scalar(node),  # type: ignore[arg-type]
)


def load_yaml_documents(text: str) -> list[Any]:
    """Every non-empty document in ``text``."""
    return [doc for doc in yaml.load_all(text, Loader=_KubeYamlLoader) if doc is not None]


def split_api_version(api_version: str) -> tuple[str, str]:
    """``apps/v1`` -> ("apps", "v1"); the core group is "" (``v1`` -> ("", "v1"))."""
    group, _, version = api_version.rpartition("/")
    return group, version


def strip_nulls(value: Any) -> Any:
    """Drop null-valued mapping entries, recursively.

    The API server treats an explicit null like an absent field (and prunes it from CRs), while
    the published JSON schemas would reject null where a type union does not list it.
    """
    if isinstance(value, dict):
        return {key: strip_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [strip_nulls(item) for item in value]
    return value


@dataclass(frozen=True)
class InventoryEntry:
    """One registered Pulumi resource, as written to ``inventory.json``."""

    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    protect: bool
    inputs: Mapping[str, Any]
    dependencies: tuple[str, ...]
    provider: str | None


@dataclass(frozen=True)
class Manifest:
    """One Kubernetes object from ``manifests/``."""

    file: str
    body: Mapping[str, Any]
    source_urn: str | None

    @property
    def api_version(self) -> str:
        return str(self.body.get("apiVersion", ""))

    @property
    def kind(self) -> str:
        return str(self.body.get("kind", ""))

    @property
    def group(self) -> str:
        return split_api_version(self.api_version)[0]

    @property
    def version(self) -> str:
        return split_api_version(self.api_version)[1]

    @property
    def metadata(self) -> Mapping[str, Any]:
        metadata = self.body.get("metadata")
        return metadata if isinstance(metadata, Mapping) else {}

    @property
    def name(self) -> str | None:
        name = self.metadata.get("name")
        return str(name) if name is not None else None

    @property
    def namespace(self) -> str | None:
        namespace = self.metadata.get("namespace")
        return str(namespace) if namespace is not None else None

    @property
    def label(self) -> str:
        return object_label(self.kind, self.name, self.namespace)


@dataclass(frozen=True)
class HelmReleaseFile:
    """One Helm release from ``helm/<release>.yaml``."""

    file: str
    release: str
    namespace: str | None
    chart: str
    version: str | None
    repository: str | None
    urn: str | None
    values: Mapping[str, Any]

    @property
    def label(self) -> str:
        return f"helm release {self.release}"


@dataclass(frozen=True)
class RenderedDir:
    """Everything ``run_checks`` reads from a rendered directory."""

    root: Path
    inventory: tuple[InventoryEntry, ...] | None
    manifests: tuple[Manifest, ...]
    helm_releases: tuple[HelmReleaseFile, ...]
    problems: tuple[Finding, ...] = field(default=())


def _source_urn(text: str) -> str | None:
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("# source:"):
            return stripped.removeprefix("# source:").strip() or None
        return None
    return None


def _yaml_files(directory: Path) -> Iterator[Path]:
    if directory.is_dir():
        yield from sorted(path for path in directory.iterdir() if path.suffix in {".yaml", ".yml"})


def _load_manifests(root: Path, problems: list[Finding]) -> list[Manifest]:
    manifests: list[Manifest] = []
    for path in _yaml_files(root / "manifests"):
        relative = path.relative_to(root).as_posix()
        text = path.read_text(encoding="utf-8")
        try:
            documents = load_yaml_documents(text)
        except yaml.YAMLError as error:
            problems.append(
                Finding(
                    "kubernetes", "error", relative, "", f"cannot parse YAML: {error}", relative
                )
            )
            continue
        source = _source_urn(text)
        for index, document in enumerate(documents):
            where = relative if len(documents) == 1 else f"{relative} (document {index + 1})"
            if not isinstance(document, dict) or not document.get("apiVersion"):
                problems.append(
                    Finding(
                        "kubernetes",
                        "error",
                        where,
                        "apiVersion",
                        "not a Kubernetes object: apiVersion and kind are required",
                        relative,
                    )
                )
                continue
            if not document.get("kind"):
                problems.append(
                    Finding("kubernetes", "error", where, "kind", "kind is required", relative)
                )
                continue
            manifests.append(Manifest(file=relative, body=document, source_urn=source))
    return manifests


def _load_helm(root: Path, problems: list[Finding]) -> list[HelmReleaseFile]:
    releases: list[HelmReleaseFile] = []
    for path in _yaml_files(root / "helm"):
        relative = path.relative_to(root).as_posix()
        fallback_label = f"helm release {path.stem}"
        try:
            documents = load_yaml_documents(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            problems.append(
                Finding(
                    "helm", "error", fallback_label, "", f"cannot parse YAML: {error}", relative
                )
            )
            continue
        data = documents[0] if len(documents) == 1 else None
        if not isinstance(data, dict):
            problems.append(
                Finding("helm", "error", fallback_label, "", "expected one YAML mapping", relative)
            )
            continue
        chart = data.get("chart")
        if not isinstance(chart, str) or not chart:
            problems.append(
                Finding("helm", "error", fallback_label, "chart", "chart is required", relative)
            )
            continue
        values = data.get("values") or {}
        if not isinstance(values, dict):
            problems.append(
                Finding(
                    "helm", "error", fallback_label, "values", "values must be a mapping", relative
                )
            )
            continue
        version = data.get("version")
        releases.append(
            HelmReleaseFile(
                file=relative,
                release=str(data.get("release") or path.stem),
                namespace=str(data["namespace"]) if data.get("namespace") else None,
                chart=chart,
                version=str(version) if version is not None else None,
                repository=str(data["repository"]) if data.get("repository") else None,
                urn=str(data["urn"]) if data.get("urn") else None,
                values=values,
            )
        )
    return releases


def _inventory_entry(raw: Mapping[str, Any]) -> InventoryEntry:
    inputs = raw.get("inputs")
    return InventoryEntry(
        urn=str(raw["urn"]),
        type=str(raw.get("type", "")),
        name=str(raw.get("name", "")),
        parent=str(raw["parent"]) if raw.get("parent") else None,
        custom=bool(raw.get("custom", True)),
        protect=bool(raw.get("protect", False)),
        inputs=inputs if isinstance(inputs, Mapping) else {},
        dependencies=tuple(str(urn) for urn in raw.get("dependencies") or ()),
        provider=str(raw["provider"]) if raw.get("provider") else None,
    )


def _load_inventory(root: Path, problems: list[Finding]) -> tuple[InventoryEntry, ...] | None:
    path = root / "inventory.json"
    if not path.is_file():
        problems.append(
            Finding(
                "ordering",
                "error",
                "inventory.json",
                "",
                "inventory.json is missing, so dependency ordering cannot be checked; "
                "render the directory with `mlops-bp render`",
                "inventory.json",
            )
        )
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        problems.append(
            Finding(
                "ordering",
                "error",
                "inventory.json",
                "",
                f"invalid JSON: {error}",
                "inventory.json",
            )
        )
        return None
    if not isinstance(raw, list):
        problems.append(
            Finding(
                "ordering", "error", "inventory.json", "", "expected a JSON list", "inventory.json"
            )
        )
        return None
    entries: list[InventoryEntry] = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or not item.get("urn"):
            problems.append(
                Finding(
                    "ordering",
                    "error",
                    "inventory.json",
                    f"[{index}]",
                    "entry without a urn",
                    "inventory.json",
                )
            )
            continue
        entries.append(_inventory_entry(item))
    return tuple(entries)


def load_rendered(render_dir: Path) -> RenderedDir:
    """Read a rendered directory; unreadable parts are reported in ``problems``."""
    if not render_dir.is_dir():
        raise UsageError(
            f"{render_dir} is not a directory: pass the output directory of `mlops-bp render`"
        )
    problems: list[Finding] = []
    inventory = _load_inventory(render_dir, problems)
    manifests = _load_manifests(render_dir, problems)
    releases = _load_helm(render_dir, problems)
    return RenderedDir(
        root=render_dir,
        inventory=inventory,
        manifests=tuple(manifests),
        helm_releases=tuple(releases),
        problems=tuple(problems),
    )
