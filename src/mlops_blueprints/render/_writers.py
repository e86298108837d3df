"""Turn a capture into the rendered directory that ``mlops-bp check`` reads.

Layout (a contract shared with the check engine and documented in docs/render.md):
``inventory.json``, ``outputs.json``, ``config.json`` (the stack config, secrets masked),
``manifests/*.yaml``, ``helm/*.yaml``, ``iam/*.json`` and ``graph.mmd``.
"""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from ._capture import SECRET_PLACEHOLDER, Registration, RenderCapture

__all__ = ["CONFIG_FILE", "RenderedFiles", "write_config", "write_rendered"]

# The stack config a render ran with; the policy check reads its ``policies`` settings.
CONFIG_FILE = "config.json"

HELM_RELEASE_TYPES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart")
# Kubernetes types that are Pulumi constructs rather than API objects.
_NON_OBJECT_KUBERNETES_PREFIXES = (
    "kubernetes:helm.sh/",
    "kubernetes:yaml/",
    "kubernetes:kustomize/",
)
# Input properties that hold an IAM-style policy document, by resource type prefix.
_POLICY_PROPERTIES = ("assumeRolePolicy", "policy")


@dataclass(frozen=True)
class RenderedFiles:
    """What was written, for the summary."""

    out_dir: Path
    resources: int
    components: int
    manifests: int
    helm_releases: int
    policy_documents: int
    by_component: dict[str, Counter[str]]


def _slug(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]+", "_", text).strip("_").lower() or "unnamed"


def _is_kubernetes_object(reg: Registration) -> bool:
    return (
        reg.custom
        and reg.type.startswith("kubernetes:")
        and not reg.type.startswith(_NON_OBJECT_KUBERNETES_PREFIXES)
        and "apiVersion" in reg.inputs
        and "kind" in reg.inputs
    )


def _manifest_filename(index: int, doc: dict[str, Any]) -> str:
    metadata = doc.get("metadata") or {}
    namespace = metadata.get("namespace") or "_cluster"
    name = str(metadata.get("name", "unnamed"))
    return f"{index:04d}-{_slug(str(doc['kind']))}-{_slug(namespace)}-{_slug(name)}.yaml"


def _manifest(inputs: dict[str, Any]) -> dict[str, Any]:
    """The Kubernetes object, with the conventional key order for readability."""
    head = {k: inputs[k] for k in ("apiVersion", "kind", "metadata") if k in inputs}
    return head | {k: v for k, v in inputs.items() if k not in head}


def _dump_yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)


def _helm_release(reg: Registration) -> dict[str, Any]:
    inputs = reg.inputs
    repository = (inputs.get("repositoryOpts") or {}).get("repo")
    return {
        "release": inputs.get("name", reg.name),
        "namespace": inputs.get("namespace"),
        "chart": inputs.get("chart"),
        "version": inputs.get("version"),
        "repository": repository,
        "urn": reg.urn,
        "values": inputs.get("values") or {},
    }


def _policy_documents(reg: Registration) -> list[tuple[str, Any]]:
    if not reg.type.startswith("aws:"):
        return []
    found: list[tuple[str, Any]] = []
    for prop in _POLICY_PROPERTIES:
        raw = reg.inputs.get(prop)
        if raw in (None, "", {}):
            continue
        try:
            document = json.loads(raw) if isinstance(raw, str) else raw
        except json.JSONDecodeError:
            document = raw
        found.append((prop, document))
    return found


def _component_of(reg: Registration, by_urn: dict[str, Registration]) -> Registration | None:
    """The nearest component (non-custom resource) at or above ``reg``."""
    current: Registration | None = reg
    while current is not None and current.custom:
        current = by_urn.get(current.parent) if current.parent else None
    return current


def _mermaid(capture: RenderCapture) -> str:
    by_urn = {r.urn: r for r in capture.registrations}
    components = [r for r in capture.registrations if not r.custom]
    ids = {r.urn: f"c{i}" for i, r in enumerate(components)}
    lines = ["graph TD"]
    for reg in components:
        short_type = reg.type.split(":")[-1]
        lines.append(f'    {ids[reg.urn]}["{reg.name}<br/><i>{short_type}</i>"]')
    for reg in components:
        if reg.parent in ids:
            lines.append(f"    {ids[reg.parent]} --> {ids[reg.urn]}")
    edges: set[tuple[str, str]] = set()
    for reg in capture.registrations:
        source = _component_of(reg, by_urn)
        if source is None:
            continue
        for dep in reg.dependencies:
            dep_reg = by_urn.get(dep)
            target = _component_of(dep_reg, by_urn) if dep_reg else None
            if target is None or target.urn == source.urn:
                continue
            edges.add((ids[source.urn], ids[target.urn]))
    lines.extend(f"    {a} -.->|depends on| {b}" for a, b in sorted(edges))
    return "\n".join(lines) + "\n"


def write_rendered(capture: RenderCapture, out_dir: Path) -> RenderedFiles:
    """Write the rendered directory, replacing whatever a previous render left there."""
    for sub in ("manifests", "helm", "iam"):
        shutil.rmtree(out_dir / sub, ignore_errors=True)
        (out_dir / sub).mkdir(parents=True, exist_ok=True)

    inventory = [
        {
            "urn": r.urn,
            "type": r.type,
            "name": r.name,
            "parent": r.parent,
            "custom": r.custom,
            "protect": r.protect,
            "retainOnDelete": r.retain_on_delete,
            "inputs": r.inputs,
            "dependencies": list(r.dependencies),
            "provider": r.provider,
            "aliases": list(r.aliases),
        }
        for r in capture.registrations
    ]
    (out_dir / "inventory.json").write_text(json.dumps(inventory, indent=2, sort_keys=True) + "\n")
    (out_dir / "outputs.json").write_text(
        json.dumps(capture.stack_outputs, indent=2, sort_keys=True) + "\n"
    )

    manifests = helm = policies = 0
    used_policy_names: Counter[str] = Counter()
    for reg in capture.registrations:
        if _is_kubernetes_object(reg):
            manifests += 1
            path = out_dir / "manifests" / _manifest_filename(manifests, reg.inputs)
            path.write_text(f"# source: {reg.urn}\n" + _dump_yaml(_manifest(reg.inputs)))
        elif reg.type in HELM_RELEASE_TYPES:
            helm += 1
            release = _helm_release(reg)
            (out_dir / "helm" / f"{_slug(str(release['release']))}.yaml").write_text(
                f"# source: {reg.urn}\n" + _dump_yaml(release)
            )
        for prop, document in _policy_documents(reg):
            policies += 1
            stem = f"{_slug(reg.name)}.{_slug(prop)}"
            used_policy_names[stem] += 1
            if used_policy_names[stem] > 1:
                stem = f"{stem}.{used_policy_names[stem]}"
            (out_dir / "iam" / f"{stem}.json").write_text(
                json.dumps({"source": reg.urn, "type": reg.type, "document": document}, indent=2)
                + "\n"
            )
    (out_dir / "graph.mmd").write_text(_mermaid(capture))

    by_urn = {r.urn: r for r in capture.registrations}
    by_component: dict[str, Counter[str]] = defaultdict(Counter)
    for reg in capture.registrations:
        if not reg.custom:
            continue
        owner = _component_of(reg, by_urn)
        key = f"{owner.name} ({owner.type})" if owner else "(stack)"
        by_component[key][reg.type] += 1
    return RenderedFiles(
        out_dir=out_dir,
        resources=sum(1 for r in capture.registrations if r.custom),
        components=sum(1 for r in capture.registrations if not r.custom),
        manifests=manifests,
        helm_releases=helm,
        policy_documents=policies,
        by_component=dict(by_component),
    )


def _without_secrets(value: Any) -> Any:
    # Pulumi.<stack>.yaml keeps an encrypted value as {secure: <ciphertext>}, nested or not.
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return SECRET_PLACEHOLDER
        return {str(k): _without_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_secrets(v) for v in value]
    return value


def write_config(out_dir: Path, *, project: str, stack: str, config: dict[str, Any]) -> Path:
    """Record the stack config the program ran with (``config.json``); secrets are masked."""
    path = out_dir / CONFIG_FILE
    data = {
        "project": project,
        "stack": stack,
        "config": {key: _without_secrets(config[key]) for key in sorted(config)},
    }
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path


def summary_dict(files: RenderedFiles) -> dict[str, Any]:
    data = asdict(files)
    data["out_dir"] = str(files.out_dir)
    data["by_component"] = {k: dict(v) for k, v in files.by_component.items()}
    return data
