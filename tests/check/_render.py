"""Build small rendered directories on disk, the way ``mlops-bp render`` lays them out."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from mlops_blueprints.check import CheckReport, Finding

_STACK = "urn:pulumi:test::blueprints"


class RenderedDirBuilder:
    """Collects resources like the render engine does, then writes the rendered directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.inventory: list[dict[str, Any]] = []
        self.manifests: dict[str, str] = {}
        self.helm: dict[str, dict[str, Any]] = {}

    def _register(
        self,
        *,
        type_: str,
        name: str,
        custom: bool,
        inputs: Mapping[str, Any],
        parent: str | None,
        dependencies: Iterable[str],
    ) -> str:
        urn = f"{_STACK}::{type_}::{name}"
        assert all(entry["urn"] != urn for entry in self.inventory), f"duplicate {urn}"
        self.inventory.append(
            {
                "urn": urn,
                "type": type_,
                "name": name,
                "parent": parent,
                "custom": custom,
                "protect": False,
                "inputs": dict(inputs),
                "dependencies": list(dependencies),
                "provider": None,
            }
        )
        return urn

    def component(
        self,
        name: str,
        *,
        type_: str = "mlops:test:Group",
        parent: str | None = None,
        dependencies: Iterable[str] = (),
    ) -> str:
        return self._register(
            type_=type_,
            name=name,
            custom=False,
            inputs={},
            parent=parent,
            dependencies=dependencies,
        )

    def resource(
        self,
        type_: str,
        name: str,
        *,
        inputs: Mapping[str, Any],
        custom: bool = True,
        parent: str | None = None,
        dependencies: Iterable[str] = (),
    ) -> str:
        """Register any other resource (no manifest), e.g. a yaml ConfigGroup."""
        return self._register(
            type_=type_,
            name=name,
            custom=custom,
            inputs=inputs,
            parent=parent,
            dependencies=dependencies,
        )

    def kube(
        self,
        body: Mapping[str, Any],
        *,
        parent: str | None = None,
        dependencies: Iterable[str] = (),
        resource_name: str | None = None,
        source_comment: bool = True,
    ) -> str:
        """Register a Kubernetes object and write its manifest."""
        api_version, kind = str(body["apiVersion"]), str(body["kind"])
        type_group_version = api_version if "/" in api_version else f"core/{api_version}"
        metadata = body.get("metadata") or {}
        name = resource_name or "-".join(
            part for part in (kind.lower(), metadata.get("namespace"), metadata.get("name")) if part
        )
        urn = self._register(
            type_=f"kubernetes:{type_group_version}:{kind}",
            name=name,
            custom=True,
            inputs=body,
            parent=parent,
            dependencies=dependencies,
        )
        header = f"# source: {urn}\n" if source_comment else ""
        self.manifests[f"{name}.yaml"] = header + yaml.safe_dump(dict(body), sort_keys=False)
        return urn

    def namespace(self, name: str, **options: Any) -> str:
        return self.kube(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}, **options
        )

    def release(
        self,
        release: str,
        *,
        chart: str,
        version: str,
        namespace: str,
        values: Mapping[str, Any] | None = None,
        create_namespace: bool = False,
        repository: str = "https://charts.example.com",
        parent: str | None = None,
        dependencies: Iterable[str] = (),
        extra_inputs: Mapping[str, Any] | None = None,
    ) -> str:
        """Register a Helm release and write ``helm/<release>.yaml``."""
        inputs: dict[str, Any] = {
            "name": release,
            "namespace": namespace,
            "chart": chart,
            "version": version,
            "repositoryOpts": {"repo": repository},
            "values": dict(values or {}),
            "createNamespace": create_namespace,
            **(extra_inputs or {}),
        }
        urn = self._register(
            type_="kubernetes:helm.sh/v3:Release",
            name=release,
            custom=True,
            inputs=inputs,
            parent=parent,
            dependencies=dependencies,
        )
        self.helm[release] = {
            "release": release,
            "namespace": namespace,
            "chart": chart,
            "version": version,
            "repository": repository,
            "urn": urn,
            "values": dict(values or {}),
        }
        return urn

    def write(self) -> Path:
        (self.root / "manifests").mkdir(parents=True, exist_ok=True)
        (self.root / "helm").mkdir(parents=True, exist_ok=True)
        (self.root / "inventory.json").write_text(json.dumps(self.inventory, indent=2))
        for file_name, text in self.manifests.items():
            (self.root / "manifests" / file_name).write_text(text)
        for release, data in self.helm.items():
            (self.root / "helm" / f"{release}.yaml").write_text(yaml.safe_dump(data))
        return self.root


def errors(report: CheckReport, check: str | None = None) -> list[Finding]:
    return [
        finding
        for finding in report.findings
        if finding.severity == "error" and (check is None or finding.check == check)
    ]


def describe(findings: Iterable[Finding]) -> str:
    """Findings as text, for assertion messages."""
    return (
        "\n".join(f"{f.check}/{f.severity}: {f.object} | {f.field} | {f.message}" for f in findings)
        or "(no findings)"
    )
