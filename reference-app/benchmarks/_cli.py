"""Command-line plumbing the benchmarks share: where they work and where their figures go."""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def add_workdir_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temp directory")


def add_json_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")


def in_workdir(workdir: Path | None, prefix: str, measure: Callable[[Path], T]) -> T:
    """``measure(directory)`` in ``workdir`` (created if needed) or in a temp directory."""
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
        return measure(workdir.resolve())
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        return measure(Path(tmp))


def write_figures(path: Path | None, figures: Mapping[str, Any]) -> None:
    """Write ``figures`` as JSON to ``path``, when one was given."""
    if path is not None:
        path.write_text(json.dumps(figures, indent=2) + "\n")
