"""Find a Pulumi Python project, read its stack config, and render it under mocks."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlops_blueprints.errors import UsageError

from ._capture import RenderCapture, run_program
from ._writers import RenderedFiles, write_config, write_rendered

__all__ = [
    "STACKS_ENV",
    "ProgramError",
    "RenderResult",
    "find_level_stack",
    "load_stack_config",
    "parse_set_options",
    "render_project",
]

STACKS_ENV = "MLOPS_BP_STACKS_DIR"


class ProgramError(RuntimeError):
    """The stack program itself raised; ``cause`` is the original exception."""

    def __init__(self, project_dir: Path, cause: BaseException) -> None:
        self.project_dir = project_dir
        self.cause = cause
        super().__init__(f"{project_dir}: {type(cause).__name__}: {cause}")


@dataclass(frozen=True)
class RenderResult:
    project: str
    stack: str
    project_dir: Path
    capture: RenderCapture
    files: RenderedFiles
    elapsed_seconds: float


def _stacks_root() -> Path:
    override = os.environ.get(STACKS_ENV)
    if override:
        return Path(override)
    for folder in (Path.cwd(), *Path.cwd().parents):
        if (folder / "stacks").is_dir() and (folder / "pyproject.toml").is_file():
            return folder / "stacks"
    raise UsageError(
        "no stacks/ folder found above the current directory: run from a checkout of the "
        f"project, set {STACKS_ENV}, or pass --stack DIR"
    )


def find_level_stack(level: int) -> Path:
    root = _stacks_root()
    stack_dir = root / f"level{level}"
    if not (stack_dir / "Pulumi.yaml").is_file():
        available = sorted(p.name for p in root.glob("level*") if (p / "Pulumi.yaml").is_file())
        raise UsageError(
            f"level {level} has no stack program at {stack_dir}; available: "
            f"{', '.join(available) or 'none'}"
        )
    return stack_dir


def _project_name(project_dir: Path) -> str:
    pulumi_yaml = project_dir / "Pulumi.yaml"
    if not pulumi_yaml.is_file():
        raise UsageError(
            f"{project_dir} is not a Pulumi project (no Pulumi.yaml): pass a project folder"
        )
    data = yaml.safe_load(pulumi_yaml.read_text()) or {}
    runtime = data.get("runtime")
    runtime_name = runtime.get("name") if isinstance(runtime, dict) else runtime
    if runtime_name != "python":
        raise UsageError(f"{pulumi_yaml}: runtime is {runtime_name!r}; only Python programs render")
    return str(data["name"])


def _qualify(key: str, project: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def _encode(value: Any) -> str:
    # The engine hands structured config to programs as JSON text.
    if isinstance(value, str):
        return value
    return json.dumps(value)


def load_stack_config(project_dir: Path, stack: str, project: str) -> dict[str, Any]:
    """Config values from ``Pulumi.<stack>.yaml`` (missing file: empty), qualified keys."""
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text()) or {}
    config = data.get("config") or {}
    return {_qualify(str(k), project): v for k, v in config.items()}


def parse_set_options(sets: list[str], project: str) -> list[tuple[str, list[str], Any]]:
    """Parse ``key=value`` / ``key.path.to.field=value`` overrides; values are YAML scalars."""
    parsed = []
    for item in sets:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip() or any(not part for part in key.split(".")):
            raise UsageError(
                f"--set {item!r} is not key=value: use e.g. --set target=aws or "
                "--set kind.context=kind-dev"
            )
        head, *path = key.strip().split(".")
        try:
            value = yaml.safe_load(raw) if raw else ""
        except yaml.YAMLError:
            value = raw
        parsed.append((_qualify(head, project), path, value))
    return parsed


def _apply_sets(config: dict[str, Any], sets: list[tuple[str, list[str], Any]]) -> None:
    for key, path, value in sets:
        if not path:
            config[key] = value
            continue
        node = config.setdefault(key, {})
        if isinstance(node, str):
            try:
                node = config[key] = json.loads(node)
            except json.JSONDecodeError:
                node = None
        for depth, part in enumerate(path):
            if not isinstance(node, dict):
                walked = ".".join([key, *path[:depth]])
                raise UsageError(
                    f"--set {key}.{'.'.join(path)}: {walked} is not an object, so it has no "
                    f"field {part!r}; set {walked}=<value> instead"
                )
            if depth == len(path) - 1:
                node[part] = value
            else:
                node = node.setdefault(part, {})


def render_project(
    project_dir: Path, *, stack: str, sets: list[str], out_dir: Path
) -> RenderResult:
    """Render one stack of a Pulumi Python project into ``out_dir``."""
    started = time.perf_counter()
    project = _project_name(project_dir)
    config = load_stack_config(project_dir, stack, project)
    _apply_sets(config, parse_set_options(sets, project))
    main = project_dir / "__main__.py"
    if not main.is_file():
        raise UsageError(f"{project_dir} has no __main__.py: only Python programs render")
    try:
        capture = run_program(
            main, project=project, stack=stack, config={k: _encode(v) for k, v in config.items()}
        )
    except Exception as error:  # the program's own failure, reported as one message
        raise ProgramError(project_dir, error) from error
    out_dir.mkdir(parents=True, exist_ok=True)
    files = write_rendered(capture, out_dir)
    write_config(out_dir, project=project, stack=stack, config=config)
    return RenderResult(
        project=project,
        stack=stack,
        project_dir=project_dir,
        capture=capture,
        files=files,
        elapsed_seconds=time.perf_counter() - started,
    )
