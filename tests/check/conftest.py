"""Fixtures for the check tests.

The upstream data location comes from the shared ``upstream`` fixture (tests/conftest.py), which
fails, never skips, when MLOPS_BP_UPSTREAM_DIR is unset.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mlops_blueprints.check import CheckReport, run_checks
from tests.check._render import RenderedDirBuilder

CheckFn = Callable[[RenderedDirBuilder], CheckReport]


@pytest.fixture
def builder(tmp_path: Path) -> RenderedDirBuilder:
    return RenderedDirBuilder(tmp_path / "render")


@pytest.fixture
def check(upstream: Path) -> CheckFn:
    """Write the builder's directory and run every check on it."""

    def _check(render: RenderedDirBuilder) -> CheckReport:
        return run_checks(render.write(), upstream=upstream)

    return _check
