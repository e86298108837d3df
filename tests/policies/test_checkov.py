"""checkov as a second opinion on the Level 4 Kubernetes manifests of both targets.

checkov runs as an isolated tool (``uvx --from checkov==<pin>``): installed into the project
environment it downgrades boto3 and others. Every failure it reports must be accepted, with a
reason, in ``policies/checkov_suppressions.yaml``; an entry that matches nothing fails too.
Without uv, or when checkov cannot be downloaded, the test skips, except where
MLOPS_BP_REQUIRE_SERVICES=1 (CI) promises the tool: there it fails.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT, RenderFn
from tests.services._require import unavailable

pytestmark = [pytest.mark.policy, pytest.mark.slow]

CHECKOV = "checkov==3.3.30"
TARGETS = ("kind", "aws")
SUPPRESSIONS = REPO_ROOT / "policies" / "checkov_suppressions.yaml"
MIN_REASON_CHARS = 10
_DOWNLOAD_FAILURE_HINTS = (
    "Failed to fetch",
    "failed to download",
    "dns error",
    "Could not connect",
    "No solution found",
)


@dataclass(frozen=True)
class Failure:
    check: str
    name: str
    resource: str
    target: str
    file: str


@dataclass(frozen=True)
class Accepted:
    checks: tuple[str, ...]
    resource: str
    targets: tuple[str, ...]
    reason: str

    def accepts(self, failure: Failure) -> bool:
        return (
            failure.check in self.checks
            and failure.target in self.targets
            and fnmatch.fnmatchcase(failure.resource, self.resource)
        )


def _accepted() -> list[Accepted]:
    data = yaml.safe_load(SUPPRESSIONS.read_text())
    entries = []
    for index, raw in enumerate(data["suppressions"]):
        where = f"{SUPPRESSIONS.name} suppressions[{index}]"
        assert set(raw) <= {"checks", "resource", "targets", "reason"}, f"{where}: unknown keys"
        checks = tuple(raw["checks"])
        assert checks, f"{where}: name the checks"
        assert all(c.startswith("CKV_") for c in checks), f"{where}: checks are CKV_ ids"
        targets = tuple(raw.get("targets", TARGETS))
        assert set(targets) <= set(TARGETS), f"{where}: targets must be within {TARGETS}"
        reason = " ".join(str(raw.get("reason", "")).split())
        assert len(reason) >= MIN_REASON_CHARS, f"{where}: give a reason"
        entries.append(Accepted(checks, str(raw["resource"]), targets, reason))
    return entries


def _command() -> list[str]:
    if shutil.which("uvx"):
        return ["uvx", "--from", CHECKOV, "checkov"]
    if shutil.which("uv"):
        return ["uv", "tool", "run", "--from", CHECKOV, "checkov"]
    unavailable("neither uvx nor uv is on PATH; checkov runs as an isolated uv tool")


def _run_checkov(directory: Path) -> tuple[dict[str, Any], float]:
    env = dict(os.environ, DO_NOT_TRACK="true", BC_SKIP_MAPPING="TRUE", LOG_LEVEL="ERROR")
    args = [
        *_command(),
        "-d",
        str(directory),
        "--framework",
        "kubernetes",
        "-o",
        "json",
        "--quiet",
        "--skip-download",
    ]
    started = time.perf_counter()
    try:
        done = subprocess.run(
            args, capture_output=True, text=True, timeout=900, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        unavailable(f"{CHECKOV} did not finish within 15 minutes (download or run)")
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1) or not done.stdout.strip().startswith(("{", "[")):
        tail = " ".join(done.stderr.strip().splitlines()[-3:])
        if any(hint.lower() in done.stderr.lower() for hint in _DOWNLOAD_FAILURE_HINTS):
            unavailable(f"could not install {CHECKOV} with uv: {tail}")
        pytest.fail(f"checkov exited {done.returncode}: {tail}")
    report = json.loads(done.stdout)
    if isinstance(report, list):  # one report per framework; only kubernetes is asked for
        (report,) = [item for item in report if item.get("check_type") == "kubernetes"]
    return report, elapsed


def _failures(report: dict[str, Any]) -> list[Failure]:
    failures = []
    for item in report["results"]["failed_checks"]:
        target = Path(item["file_path"]).parts[1]
        failures.append(
            Failure(
                item["check_id"], item["check_name"], item["resource"], target, item["file_path"]
            )
        )
    return failures


def _describe(failures: Sequence[Failure]) -> str:
    return "\n".join(f"  {f.check} {f.resource} ({f.target}): {f.name}" for f in failures)


def test_checkov_finds_nothing_unaccepted_in_level_four_manifests(
    render_level: RenderFn, tmp_path: Path, capsys: pytest.CaptureFixture[str], record_property: Any
) -> None:
    accepted = _accepted()
    scan = tmp_path / "manifests"
    for target in TARGETS:
        shutil.copytree(Path(render_level(4, target).files.out_dir) / "manifests", scan / target)

    report, elapsed = _run_checkov(scan)

    failures = _failures(report)
    unaccepted = [f for f in failures if not any(entry.accepts(f) for entry in accepted)]
    stale = [
        f"{check} on {entry.resource} ({', '.join(entry.targets)})"
        for entry in accepted
        for check in entry.checks
        if not any(entry.accepts(f) for f in failures if f.check == check)
    ]
    summary = report["summary"]
    figures = {
        "checkov": CHECKOV,
        "resources": summary["resource_count"],
        "passed": summary["passed"],
        "failed": summary["failed"],
        "suppressed": len(failures) - len(unaccepted),
        "unsuppressed": len(unaccepted),
        "seconds": round(elapsed, 1),
    }
    for key, value in figures.items():
        record_property(key, value)
    with capsys.disabled():
        print(f"\n{CHECKOV} on Level 4 manifests ({', '.join(TARGETS)}): {figures}")
    assert summary["parsing_errors"] == 0
    assert summary["passed"] > 0
    assert not unaccepted, (
        "checkov failures neither fixed nor accepted in policies/checkov_suppressions.yaml:\n"
        + _describe(unaccepted)
    )
    assert not stale, f"stale entries in {SUPPRESSIONS.name} (nothing fails them any more): {stale}"
