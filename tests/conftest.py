"""Shared fixtures: upstream data location and offline renders of the level stacks."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlops_blueprints.render import RenderResult, find_level_stack, render_project
from mlops_blueprints.upstream import UPSTREAM_ENV

REPO_ROOT = Path(__file__).resolve().parent.parent

# Keep every tool's telemetry off, whatever the caller's environment.
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("PULUMI_SKIP_UPDATE_CHECK", "true")


@pytest.fixture(scope="session")
def upstream() -> Path:
    """The upstream schema folder. Unset is a failure, not a skip: CI always sets it."""
    value = os.environ.get(UPSTREAM_ENV)
    if not value:
        pytest.fail(
            f"{UPSTREAM_ENV} is not set: point it at the upstream schema folder "
            "(scripts/fetch-upstream downloads it)"
        )
    return Path(value)


@pytest.fixture(autouse=True)
def _reset_mlflow_tracking_uri() -> Iterator[None]:
    """``mlflow.set_tracking_uri`` is process-wide (and exports MLFLOW_TRACKING_URI); undo it
    after each test so one test's server never receives another test's runs."""
    yield
    mlflow = sys.modules.get("mlflow")
    if mlflow is not None:
        mlflow.set_tracking_uri(None)


RenderFn = Callable[..., RenderResult]


@pytest.fixture(scope="session")
def render_level(tmp_path_factory: pytest.TempPathFactory) -> RenderFn:
    """Render a level stack once per (level, target, sets) for the whole session."""
    cache: dict[tuple[int, str, tuple[str, ...]], RenderResult] = {}

    def _render(level: int, target: str, sets: tuple[str, ...] = ()) -> RenderResult:
        key = (level, target, sets)
        if key not in cache:
            out = tmp_path_factory.mktemp(f"level{level}-{target}")
            cache[key] = render_project(
                find_level_stack(level), stack=target, sets=list(sets), out_dir=out
            )
        return cache[key]

    return _render
