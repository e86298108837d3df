"""The GitHub Actions workflow templates under templates/github-workflows.

Each template must validate against the GitHub workflow schema that check-jsonschema
vendors (offline), and a broken copy must not, so the check is known to look. On top of the
schema: third-party actions pinned by commit SHA, minimal token permissions, an OIDC token
only where AWS is used, no expressions interpolated into shell scripts, and a gate command
line that the shipped gate accepts.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_blueprints.gate import build_parser

pytestmark = pytest.mark.unit

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "github-workflows"
NAMES = ("validate.yml", "build-push.yml", "promote.yml")
_PINNED = re.compile(r"^\s*(?:-\s+)?uses:\s+([\w.-]+/[\w./-]+)@([0-9a-f]{40}) # v\d+(\.\d+)*\s*$")


def _check_jsonschema(*paths: Path) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    if executable is None:
        pytest.skip("check-jsonschema is not installed in this environment (test group)")
    return subprocess.run(
        [executable, "--builtin-schema", "vendor.github-workflows", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((TEMPLATES / name).read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as a boolean.
    if True in document:
        document["on"] = document.pop(True)  # type: ignore[call-overload]
    return document


def _steps(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in document["jobs"].values() for step in job["steps"]]


def test_the_templates_are_the_three_shipped() -> None:
    assert sorted(p.name for p in TEMPLATES.glob("*.yml")) == sorted(NAMES)


def test_templates_validate_against_the_github_workflow_schema() -> None:
    result = _check_jsonschema(*(TEMPLATES / name for name in NAMES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "validation done" in result.stdout


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("    runs-on: ubuntu-latest", "    run-on: ubuntu-latest"),  # misspelt key
        ("      id-token: write", "      id-token: admin"),  # not a permission level
        ("  workflow_dispatch:", "  workflow_dispatched:"),  # not an event
        ("permissions: {}", "permissions: everything"),  # not a permission set
    ],
)
def test_a_broken_workflow_is_rejected(tmp_path: Path, old: str, new: str) -> None:
    source = (TEMPLATES / "build-push.yml").read_text(encoding="utf-8")
    assert old in source
    broken = tmp_path / "broken.yml"
    broken.write_text(source.replace(old, new, 1), encoding="utf-8")
    result = _check_jsonschema(broken)
    assert result.returncode == 1, result.stdout
    assert "Schema validation errors" in result.stdout


@pytest.mark.parametrize("name", NAMES)
def test_every_action_is_pinned_by_commit_sha(name: str) -> None:
    lines = [
        line
        for line in (TEMPLATES / name).read_text(encoding="utf-8").splitlines()
        if re.match(r"^\s*(?:-\s+)?uses:", line)
    ]
    assert lines
    for line in lines:
        assert _PINNED.match(line), f"not pinned to a SHA with a version comment: {line.strip()}"


@pytest.mark.parametrize("name", NAMES)
def test_no_expression_is_interpolated_into_a_script(name: str) -> None:
    """Values reach scripts through env, so an input can never become shell code."""
    for step in _steps(_load(name)):
        assert "${{" not in step.get("run", ""), step.get("name")


@pytest.mark.parametrize("name", NAMES)
def test_permissions_are_minimal(name: str) -> None:
    document = _load(name)
    assert "permissions" in document, "the workflow default must be explicit"
    allowed = {"contents": "read", "id-token": "write"}
    for job_name, job in document["jobs"].items():
        permissions = job.get("permissions", document["permissions"])
        assert isinstance(permissions, dict), job_name
        assert set(permissions.items()) <= set(allowed.items()), (job_name, permissions)


def test_only_build_push_asks_for_an_oidc_token() -> None:
    for name in NAMES:
        text = (TEMPLATES / name).read_text(encoding="utf-8")
        assert ("id-token: write" in text) == (name == "build-push.yml"), name
    document = _load("build-push.yml")
    assert document["permissions"] == {}
    assert document["jobs"]["build"]["permissions"] == {"contents": "read", "id-token": "write"}


def test_build_push_assumes_a_role_and_pushes_an_immutable_sha_tag() -> None:
    steps = _steps(_load("build-push.yml"))
    (credentials,) = [s for s in steps if "configure-aws-credentials" in s.get("uses", "")]
    assert set(credentials["with"]) == {
        "role-to-assume",
        "aws-region",
        "role-session-name",
        "role-duration-seconds",
    }
    assert credentials["with"]["role-duration-seconds"] == 3600
    assert not [s for s in steps if "aws-access-key-id" in str(s.get("with", {}))]
    (build,) = [s for s in steps if "build-push-action" in s.get("uses", "")]
    assert build["with"]["push"] is True
    (image,) = [s for s in steps if s.get("id") == "image"]
    assert image["run"].endswith(':${GITHUB_SHA}" >> "${GITHUB_OUTPUT}"')
    assert any(s.get("id") == "digest" for s in steps)


def test_promote_is_manual_and_environment_protected() -> None:
    document = _load("promote.yml")
    assert set(document["on"]) == {"workflow_dispatch"}
    (job,) = document["jobs"].values()
    assert job["environment"] == "production"
    names = [s.get("name", s.get("uses", "")) for s in job["steps"]]
    assert names.index("Commit to the GitOps repository") < names.index(
        "Point the champion alias at the version"
    )
    run = "\n".join(s.get("run", "") for s in job["steps"])
    assert 'kustomize edit set image "model-server=${IMAGE_REPOSITORY}@${DIGEST}"' in run
    assert 'set_registered_model_alias(name, "champion", version)' in run


def test_checkouts_keep_no_credentials_unless_they_push() -> None:
    for name in NAMES:
        for step in _steps(_load(name)):
            if "actions/checkout" not in step.get("uses", ""):
                continue
            pushes = step.get("with", {}).get("path") == "gitops"
            assert (step["with"].get("persist-credentials", True) is False) != pushes, name


def test_validate_runs_tests_data_checks_and_the_shipped_gate() -> None:
    document = _load("validate.yml")
    assert "pull_request" in document["on"]
    steps = _steps(document)
    runs = [s.get("run", "") for s in steps]
    assert "python -m pytest -q tests" in runs
    assert "python ci/check_data.py" in runs
    (gate,) = [r for r in runs if "mlops_blueprints.gate" in r]
    command = shlex.split(gate)
    assert command[:3] == ["python", "-m", "mlops_blueprints.gate"]
    args = build_parser().parse_args(command[3:])
    assert args.candidate == "candidate-metrics.json"
    assert args.thresholds == "gate.json"
    assert args.mlflow_model == "${MODEL_NAME}"
    assert args.alias == "champion"
