"""Shared fixture: render a component program and require `mlops-bp check` to pass on it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mlops_blueprints.check import run_checks
from mlops_blueprints.render import RenderCapture, run_program, write_rendered


@pytest.fixture
def render(upstream: Path, tmp_path: Path) -> Callable[..., RenderCapture]:
    """Run a program under the render mocks, write it, and require `mlops-bp check` to pass."""

    def _render(program: Callable[[], object]) -> RenderCapture:
        capture = run_program(program, project="mlops-platform", stack="test", config={})
        write_rendered(capture, tmp_path)
        report = run_checks(tmp_path, upstream=upstream)
        assert report.ok, [f.message for f in report.findings]
        return capture

    return _render
