"""Edit a copy of a rendered folder the way a bad change to a component would, and check it."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from mlops_blueprints.cli import app
from mlops_blueprints.upstream import UPSTREAM_ENV

Inputs = dict[str, Any]


def copy_render(source: Path, dest: Path) -> Path:
    shutil.copytree(source, dest)
    return dest


def _inventory(render: Path) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads((render / "inventory.json").read_text())
    return data


def _manifest_file(render: Path, urn: str) -> Path | None:
    for path in sorted((render / "manifests").glob("*.yaml")):
        if path.read_text().startswith(f"# source: {urn}\n"):
            return path
    return None


def entry(render: Path, name: str) -> dict[str, Any]:
    """The inventory entry of the resource named ``name`` (exactly one)."""
    found = [item for item in _inventory(render) if item["name"] == name]
    assert len(found) == 1, f"{name}: {len(found)} resources with that name"
    return found[0]


def edit(render: Path, name: str, change: Callable[[Inputs], None]) -> str:
    """Apply ``change`` to the inputs of resource ``name`` (inventory and manifest); its URN."""
    inventory = _inventory(render)
    (item,) = [item for item in inventory if item["name"] == name]
    inputs = copy.deepcopy(item["inputs"])
    change(inputs)
    item["inputs"] = inputs
    (render / "inventory.json").write_text(json.dumps(inventory, indent=2, sort_keys=True))
    manifest = _manifest_file(render, item["urn"])
    if manifest is not None:
        head = {k: inputs[k] for k in ("apiVersion", "kind", "metadata") if k in inputs}
        body = head | {k: v for k, v in inputs.items() if k not in head}
        manifest.write_text(f"# source: {item['urn']}\n" + yaml.safe_dump(body, sort_keys=False))
    return str(item["urn"])


def remove(render: Path, name: str) -> str:
    """Drop resource ``name`` from the render (inventory, manifest, dependencies on it)."""
    inventory = _inventory(render)
    (item,) = [item for item in inventory if item["name"] == name]
    urn = str(item["urn"])
    kept = [other for other in inventory if other["urn"] != urn]
    for other in kept:
        other["dependencies"] = [dep for dep in other.get("dependencies") or [] if dep != urn]
    (render / "inventory.json").write_text(json.dumps(kept, indent=2, sort_keys=True))
    manifest = _manifest_file(render, urn)
    if manifest is not None:
        manifest.unlink()
    return urn


def set_policies(render: Path, policies: Mapping[str, Any] | None) -> None:
    """Record ``mlops-platform:policies`` in the render's config.json (None removes it)."""
    path = render / "config.json"
    data = json.loads(path.read_text())
    if policies is None:
        data["config"].pop("mlops-platform:policies", None)
    else:
        data["config"]["mlops-platform:policies"] = dict(policies)
    path.write_text(json.dumps(data, indent=2, sort_keys=True))


@dataclass(frozen=True)
class CheckRun:
    exit_code: int
    report: dict[str, Any] | None
    stdout: str
    stderr: str

    def policy_errors(self) -> list[dict[str, Any]]:
        assert self.report is not None, self.stderr
        return [
            f
            for f in self.report["findings"]
            if f["check"] == "policy" and f["severity"] == "error"
        ]


def run_check(render: Path, upstream: Path, *, as_json: bool = True) -> CheckRun:
    """``mlops-bp check`` on ``render``, in-process."""
    args = ["check", str(render), *(["--json"] if as_json else [])]
    result = CliRunner().invoke(app, args, env={UPSTREAM_ENV: str(upstream), "COLUMNS": "250"})
    report = None
    if as_json and result.exit_code in (0, 1) and result.stdout.strip().startswith("{"):
        report = json.loads(result.stdout)
    return CheckRun(result.exit_code, report, result.stdout, result.stderr)
