"""Render wall time and peak memory per level stack and target.

For every level stack under ``stacks/`` and each target, runs ``mlops-bp render`` ``--runs``
times, each in a fresh Python process so interpreter start-up and imports count, and reports
the median wall time and the peak resident set size of those processes (from the child's
resource usage). It also reports the warm time of the same render repeated in this process,
which is what the test suite and ``mlops-bp verify`` pay after the first render.

Usage: ``uv run python benchmarks/render_levels.py [--runs N] [--targets kind aws]``
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from mlops_blueprints.errors import UsageError
from mlops_blueprints.render import find_level_stack, render_project

LEVELS = (1, 2, 3, 4)
TARGETS = ("kind", "aws")


@dataclass(frozen=True)
class ColdRun:
    seconds: float
    peak_rss_mib: float


@dataclass(frozen=True)
class Row:
    level: int
    target: str
    resources: int
    cold: list[ColdRun]
    warm_seconds: list[float]


def _max_rss_mib(max_rss: int) -> float:
    # Linux reports KiB; macOS reports bytes.
    divisor = 1024 * 1024 if platform.system() == "Darwin" else 1024
    return max_rss / divisor


def _cold_render(level: int, target: str, out: Path) -> ColdRun:
    """One ``mlops-bp render`` in a fresh interpreter; wall time and that child's peak RSS."""
    args = [sys.executable, "-m", "mlops_blueprints.cli", "render"]
    args += ["--level", str(level), "--target", target, "--out", str(out)]
    with tempfile.TemporaryFile() as log:
        started = time.perf_counter()
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        # wait4 gives this child's own resource usage (getrusage(RUSAGE_CHILDREN) would
        # report the maximum over every child so far).
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            log.seek(0)
            sys.exit(
                f"render of level {level} / {target} failed ({process.returncode}):\n"
                + log.read().decode(errors="replace")
            )
    return ColdRun(seconds=elapsed, peak_rss_mib=_max_rss_mib(usage.ru_maxrss))


def _warm_renders(level: int, target: str, out: Path, runs: int) -> tuple[int, list[float]]:
    stack_dir = find_level_stack(level)
    first = render_project(stack_dir, stack=target, sets=[], out_dir=out)  # imports, caches
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        render_project(stack_dir, stack=target, sets=[], out_dir=out)
        times.append(time.perf_counter() - started)
    return first.files.resources, times


def _existing_levels() -> list[int]:
    found = []
    for level in LEVELS:
        try:
            find_level_stack(level)
        except UsageError:
            continue
        found.append(level)
    return found


def _print_table(rows: list[Row], runs: int) -> None:
    headers = (
        "level",
        "target",
        "resources",
        f"cold median s (n={runs})",
        "cold min-max s",
        "warm median s",
        "peak RSS MiB",
    )
    table = [
        (
            f"L{row.level}",
            row.target,
            str(row.resources),
            f"{statistics.median(r.seconds for r in row.cold):.2f}",
            f"{min(r.seconds for r in row.cold):.2f}-{max(r.seconds for r in row.cold):.2f}",
            f"{statistics.median(row.warm_seconds):.3f}",
            f"{max(r.peak_rss_mib for r in row.cold):.0f}",
        )
        for row in rows
    ]
    widths = [max(len(h), *(len(line[i]) for line in table)) for i, h in enumerate(headers)]
    print("  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for line in table:
        print("  ".join(cell.rjust(w) for cell, w in zip(line, widths, strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="renders per level and target")
    parser.add_argument("--targets", nargs="+", choices=TARGETS, default=list(TARGETS))
    options = parser.parse_args()
    if options.runs < 1:
        parser.error("--runs must be at least 1")
    levels = _existing_levels()
    if not levels:
        sys.exit("no level stacks found: run from a checkout of the project")

    rows = []
    with tempfile.TemporaryDirectory(prefix="mlops-bp-bench-") as scratch:
        root = Path(scratch)
        for level in levels:
            for target in options.targets:
                cold = [
                    _cold_render(level, target, root / f"cold-{level}-{target}-{run}")
                    for run in range(options.runs)
                ]
                resources, warm = _warm_renders(
                    level, target, root / f"warm-{level}-{target}", options.runs
                )
                rows.append(Row(level, target, resources, cold, warm))
                print(f"measured L{level} {target}", file=sys.stderr)
    print(
        f"python {platform.python_version()} on {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs; cold = fresh `python -m mlops_blueprints.cli render` process, "
        "warm = render_project repeated in one process"
    )
    _print_table(rows, options.runs)


if __name__ == "__main__":
    main()
