"""The wheel installs into a fresh virtualenv as one import root and works there.

Builds the wheel from a copy of the sources (so the checkout is left untouched), installs it
with the ``cli`` extra into a new virtualenv (and, separately, without it), and checks from
outside the checkout: every sub-package imports, typing markers and package data are installed,
no bare top-level ``components``/``blueprints``/``policies`` leaks, and the installed
``mlops-bp`` renders and checks Level 1.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from mlops_blueprints.upstream import UPSTREAM_ENV
from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.unit]

SUBPACKAGES = (
    "mlops_blueprints.components",
    "mlops_blueprints.blueprints",
    "mlops_blueprints.targets",
    "mlops_blueprints.render",
    "mlops_blueprints.check",
)
# What the core install (no `cli` extra) must import without the tooling dependencies.
CORE_SUBPACKAGES = (
    "mlops_blueprints.components",
    "mlops_blueprints.blueprints",
    "mlops_blueprints.targets",
)
BARE_NAMES = ("components", "blueprints", "policies", "targets", "render", "check")
_SOURCE_IGNORES = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    ".hypothesis",
    ".cache",
    "rendered",
    "reference-app",
    "tests",
    "stacks",
    "docs",
)

_PROBE = textwrap.dedent(
    """
    import importlib, importlib.util, json, pathlib, sys

    modules = json.loads(sys.argv[1])
    for name in modules:
        importlib.import_module(name)
    import mlops_blueprints

    root = pathlib.Path(mlops_blueprints.__file__).resolve().parent
    report = {
        "root": str(root),
        "prefix": sys.prefix,
        "py_typed": sorted(str(p.relative_to(root)) for p in root.rglob("py.typed")),
        "bare": {n: importlib.util.find_spec(n) is not None for n in json.loads(sys.argv[2])},
        "typer": importlib.util.find_spec("typer") is not None,
    }
    if "mlops_blueprints.check" in modules:
        from mlops_blueprints import upstream

        report["lock_path"] = str(upstream.LOCK_PATH)
        report["locked_files"] = len(upstream.locked_files())
        report["allowlist"] = (root / "check" / "helm_values_allowlist.json").is_file()
    print(json.dumps(report))
    """
)


def _uv() -> str:
    found = os.environ.get("UV") or shutil.which("uv")
    if not found:
        pytest.skip("uv is not installed: the packaging test builds and installs with uv")
    return found


def _clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without anything that points Python at the checkout."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "UV_PROJECT_ENVIRONMENT")
    }
    env.update(extra)
    return env


def _run(args: Sequence[str], *, cwd: Path, env: dict[str, str] | None = None) -> str:
    completed = subprocess.run(
        list(args),
        cwd=cwd,
        env=env or _clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, (
        f"{' '.join(args)} exited {completed.returncode}\n{completed.stdout}\n{completed.stderr}"
    )
    return completed.stdout


def _venv(uv: str, root: Path, name: str, requirement: str, constraints: Path) -> Path:
    venv = root / name
    _run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], cwd=root)
    python = venv / "bin" / "python"
    _run(
        [
            *(uv, "pip", "install", "--quiet", "--python", str(python)),
            *("--constraint", str(constraints), requirement),
        ],
        cwd=root,
    )
    return python


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    uv = _uv()
    root = tmp_path_factory.mktemp("packaging")
    source = root / "source"
    shutil.copytree(REPO_ROOT, source, ignore=_SOURCE_IGNORES)
    _run(
        [uv, "build", "--quiet", "--wheel", "--out-dir", str(root / "dist"), str(source)], cwd=root
    )
    wheels = sorted((root / "dist").glob("*.whl"))
    assert len(wheels) == 1, wheels
    # Pin the venvs to the locked versions, so the install is reproducible and comes from cache.
    constraints = root / "constraints.txt"
    _run(
        [
            *(uv, "export", "--quiet", "--frozen", "--no-hashes", "--no-emit-project"),
            *("--no-default-groups", "--extra", "cli", "--output-file", str(constraints)),
        ],
        cwd=REPO_ROOT,
    )
    scratch = root / "scratch"  # neither the checkout nor the source copy
    scratch.mkdir()
    return {
        "uv": uv,
        "root": root,
        "scratch": scratch,
        "wheel": wheels[0],
        "constraints": constraints,
        "cli_python": _venv(uv, root, "venv-cli", f"{wheels[0]}[cli]", constraints),
    }


def _probe(python: Path, modules: Sequence[str], cwd: Path) -> dict[str, Any]:
    # -I: no PYTHONPATH, no user site, and not the current directory on sys.path.
    out = _run(
        [str(python), "-I", "-c", _PROBE, json.dumps(list(modules)), json.dumps(BARE_NAMES)],
        cwd=cwd,
    )
    report: dict[str, Any] = json.loads(out)
    return report


def test_wheel_installs_one_import_root_with_typing_and_data(installed: dict[str, Any]) -> None:
    python: Path = installed["cli_python"]
    report = _probe(python, SUBPACKAGES, installed["scratch"])
    root = Path(report["root"])
    # Imported from the new virtualenv, never from the checkout.
    assert root.is_relative_to(Path(report["prefix"]))
    assert root.is_relative_to(python.parent.parent)
    assert not root.is_relative_to(REPO_ROOT)
    assert set(report["py_typed"]) >= {
        "py.typed",
        "components/py.typed",
        "blueprints/py.typed",
        "policies/py.typed",
    }
    assert report["bare"] == dict.fromkeys(BARE_NAMES, False)
    assert Path(report["lock_path"]) == root / "check" / "upstream.lock.json"
    assert report["locked_files"] > 0
    assert report["allowlist"] is True


def test_core_install_needs_no_cli_dependencies(installed: dict[str, Any]) -> None:
    python = _venv(
        installed["uv"],
        installed["root"],
        "venv-core",
        str(installed["wheel"]),
        installed["constraints"],
    )
    report = _probe(python, CORE_SUBPACKAGES, installed["scratch"])
    assert report["typer"] is False, "the core install must not pull in the cli extra"
    assert report["bare"] == dict.fromkeys(BARE_NAMES, False)
    assert not Path(report["root"]).is_relative_to(REPO_ROOT)


def test_installed_cli_renders_and_checks_level1(installed: dict[str, Any], upstream: Path) -> None:
    bin_dir = Path(installed["cli_python"]).parent
    out = installed["scratch"] / "level1-aws"
    env = _clean_env(
        MLOPS_BP_STACKS_DIR=str(REPO_ROOT / "stacks"),
        **{UPSTREAM_ENV: str(upstream)},
    )
    cli = str(bin_dir / "mlops-bp")
    stdout = _run(
        [cli, "render", "--level", "1", "--target", "aws", "--out", str(out)],
        cwd=installed["scratch"],
        env=env,
    )
    assert "rendered" in stdout
    assert (out / "iam" / "experiment-tracking-identity-role.assumerolepolicy.json").is_file()
    report = json.loads(_run([cli, "check", "--json", str(out)], cwd=installed["scratch"], env=env))
    assert report["ok"] is True
    assert report["upstream_dir"] == str(upstream)
