"""The ``mlops-bp`` command: usage errors are one actionable line, success paths write a render.

Exit codes are the contract: 0 success, 1 a check or the stack program failed, 2 bad usage with
exactly one ``error: ...`` line on stderr and no traceback.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
import yaml
from click.testing import Result
from typer.testing import CliRunner

from mlops_blueprints.cli import app
from mlops_blueprints.render import STACKS_ENV
from mlops_blueprints.upstream import UPSTREAM_ENV
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.unit

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _plain(text: str) -> str:
    return _ANSI.sub("", text)


def _invoke(args: Sequence[str], env: Mapping[str, str | None] | None = None) -> Result:
    """Run the CLI in-process; level stacks are found from the checkout, wherever pytest runs."""
    full_env: dict[str, str | None] = {STACKS_ENV: str(REPO_ROOT / "stacks")}
    full_env.update(env or {})
    return CliRunner().invoke(app, list(args), env=full_env)


def _error_line(result: Result, *, exit_code: int) -> str:
    """The single ``error:`` line of a failed command, after checking the failure contract."""
    stderr = _plain(result.stderr)
    assert result.exit_code == exit_code, (result.exit_code, result.stdout, stderr)
    # Only a deliberate exit: an exception escaping the command would be a crash.
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in stderr + result.stdout
    lines = stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {lines!r}"
    line = lines[0]
    assert line.startswith("error: "), line
    assert len(line) > len("error: ") + 10, line
    return line


def _usage_error(result: Result) -> str:
    line = _error_line(result, exit_code=2)
    assert result.stdout == "", "usage errors print nothing on stdout"
    return line


# --- usage errors -------------------------------------------------------------------------


@pytest.mark.parametrize("level", ["7", "x", "0", "L5"])
def test_unknown_level_is_a_usage_error(level: str, tmp_path: Path) -> None:
    line = _usage_error(_invoke(["render", "--level", level, "--out", str(tmp_path / "out")]))
    assert f"--level {level!r}" in line
    assert "use 1, 2, 3 or 4" in line
    assert not (tmp_path / "out").exists()


def test_usage_error_contract_holds_in_a_real_process(tmp_path: Path) -> None:
    # The same contract outside the test runner: real stderr, real exit status.
    completed = subprocess.run(
        [sys.executable, "-m", "mlops_blueprints.cli", "render", "--level", "x"],
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert completed.stderr == "error: --level 'x' is not a maturity level: use 1, 2, 3 or 4\n"


@pytest.mark.parametrize("command", ["render", "verify"])
def test_unknown_target_is_a_usage_error(command: str, tmp_path: Path) -> None:
    line = _usage_error(_invoke([command, "--target", "gcp", "--out", str(tmp_path / "out")]))
    assert "--target 'gcp'" in line
    assert "use one of aws, kind" in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("item", ["foo", "=x", "a..b=1", " =1", "kind.=x"])
def test_malformed_set_is_a_usage_error(item: str, tmp_path: Path) -> None:
    line = _usage_error(_invoke(["render", "--set", item, "--out", str(tmp_path / "out")]))
    assert f"--set {item!r} is not key=value" in line
    assert "--set target=aws" in line  # the fix: an example of the right form
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def kind_render(tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, Path]:
    out = tmp_path_factory.mktemp("cli") / "level1-kind"
    return _invoke(["render", "--level", "1", "--target", "kind", "--out", str(out)]), out


@pytest.fixture(scope="module")
def aws_render(tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, Path]:
    out = tmp_path_factory.mktemp("cli") / "level1-aws"
    return _invoke(["render", "--level", "1", "--target", "aws", "--out", str(out)]), out


@pytest.mark.parametrize("command", ["check", "verify"])
def test_unset_upstream_dir_is_a_usage_error(
    command: str, kind_render: tuple[Result, Path], tmp_path: Path
) -> None:
    args = (
        [command, str(kind_render[1])] if command == "check" else [command, "--out", str(tmp_path)]
    )
    line = _usage_error(_invoke(args, env={UPSTREAM_ENV: None}))
    assert f"{UPSTREAM_ENV} is not set" in line
    assert "mlops-bp upstream fetch" in line
    assert list(tmp_path.iterdir()) == [], "nothing is rendered before the upstream check"


@pytest.mark.parametrize("command", ["check", "verify"])
def test_missing_upstream_dir_is_a_usage_error(
    command: str, kind_render: tuple[Result, Path], tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-upstream"
    args = (
        [command, str(kind_render[1])]
        if command == "check"
        else [command, "--out", str(tmp_path / "out")]
    )
    line = _usage_error(_invoke(args, env={UPSTREAM_ENV: str(missing)}))
    assert f"{UPSTREAM_ENV}={missing} is not a directory" in line
    assert f"mlops-bp upstream fetch --dest {missing}" in line


def test_check_of_a_folder_that_is_not_a_render(tmp_path: Path, upstream: Path) -> None:
    (tmp_path / "manifests").mkdir()
    line = _usage_error(_invoke(["check", str(tmp_path)], env={UPSTREAM_ENV: str(upstream)}))
    assert f"{tmp_path} is not a rendered folder (no inventory.json)" in line
    assert "run `mlops-bp render` first" in line


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("target=gcp", ("mlops-platform:target", "'gcp'", "Use one of: aws, kind.")),
        (
            "kind.contxt=x",
            ("mlops-platform:kind.contxt", "'x'", "Remove this unknown setting"),
        ),
        ("name=Acme_ML", ("mlops-platform:name", "'Acme_ML'", "3-24 lowercase letters")),
        (
            "kind.storageSizeGib=lots",
            ("mlops-platform:kind.storageSizeGib", "'lots'", "valid integer"),
        ),
    ],
)
def test_configuration_errors_from_the_program_are_usage_errors(
    setting: str, expected: tuple[str, ...], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    line = _usage_error(_invoke(["render", "--set", setting, "--out", str(out)]))
    assert line.startswith("error: configuration: ")
    for fragment in expected:
        assert fragment in line
    assert not out.exists(), "a failed render writes nothing"


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("aws.natStrategy=several", "mlops-platform:aws.natStrategy"),
        ("aws.clusterVersion=1.35", "mlops-platform:aws.clusterVersion"),
    ],
)
def test_bad_aws_setting_is_a_usage_error(item: str, expected: str, tmp_path: Path) -> None:
    line = _usage_error(
        _invoke(["render", "--target", "aws", "--set", item, "--out", str(tmp_path)])
    )
    assert expected in line


def test_stack_folder_without_pulumi_yaml_is_a_usage_error(tmp_path: Path) -> None:
    line = _usage_error(_invoke(["render", "--stack", str(tmp_path), "--out", str(tmp_path / "o")]))
    assert f"{tmp_path} is not a Pulumi project (no Pulumi.yaml)" in line


def test_non_python_stack_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: web\nruntime: nodejs\n")
    line = _usage_error(_invoke(["render", "--stack", str(tmp_path), "--out", str(tmp_path / "o")]))
    assert "runtime is 'nodejs'; only Python programs render" in line


@pytest.mark.parametrize(
    "args",
    [["render", "--level", "[/x]"], ["render", "--set", "name=ml[/bold]"]],
    ids=["level", "set-value"],
)
def test_usage_errors_print_user_input_verbatim(args: list[str], tmp_path: Path) -> None:
    # User input is text, never Rich markup: '[/x]' must neither crash nor vanish.
    line = _usage_error(_invoke([*args, "--out", str(tmp_path / "out")]))
    value = args[-1].partition("=")[2] or args[-1]
    assert f"{value!r}" in line


def test_usage_errors_do_not_swallow_bracketed_input(tmp_path: Path) -> None:
    # '[red]' is a valid Rich tag: printed as markup it would silently disappear.
    line = _usage_error(_invoke(["render", "--set", "name=ml[red]x", "--out", str(tmp_path)]))
    assert "'ml[red]x'" in line


@pytest.mark.parametrize("item", ["name.first=x", "kind.storageSizeGib.max=1"])
def test_set_path_through_a_scalar_is_a_usage_error(item: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    line = _usage_error(_invoke(["render", "--set", item, "--out", str(out)]))
    key = item.partition("=")[0]
    scalar, _, field = key.rpartition(".")
    assert f"--set mlops-platform:{key}" in line
    assert f"mlops-platform:{scalar} is not an object" in line
    assert f"no field {field!r}" in line
    assert f"set mlops-platform:{scalar}=<value> instead" in line
    assert not out.exists()


def test_non_object_value_for_an_object_setting_is_a_usage_error(tmp_path: Path) -> None:
    line = _usage_error(_invoke(["render", "--set", "kind=abc", "--out", str(tmp_path / "out")]))
    assert line.startswith("error: configuration: ")
    assert "'mlops-platform:kind'" in line
    assert "'abc'" in line
    assert "JSON object" in line
    assert "--set key.field=value" in line


# --- success paths ------------------------------------------------------------------------


def test_render_writes_the_rendered_folder(kind_render: tuple[Result, Path]) -> None:
    result, out = kind_render
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    inventory = json.loads((out / "inventory.json").read_text())
    resources = sum(1 for entry in inventory if entry["custom"])
    assert resources > 0
    assert f"rendered {resources} resources" in _plain(result.stdout)
    outputs = json.loads((out / "outputs.json").read_text())
    assert outputs["namespace"] == "mlops"
    assert outputs["level"] == 1
    assert outputs["data_lake_raw"] == "s3://mlops-dev-lake-raw"
    manifests = sorted((out / "manifests").glob("*.yaml"))
    kinds = {yaml.safe_load(path.read_text())["kind"] for path in manifests}
    assert {"Namespace", "StatefulSet", "Job", "NetworkPolicy", "Secret"} <= kinds
    assert (out / "helm").is_dir()
    assert (out / "iam").is_dir()
    assert list((out / "iam").iterdir()) == [], "kind has no IAM documents"
    graph = (out / "graph.mmd").read_text()
    assert graph.startswith("graph TD\n")
    assert "data-lake" in graph


def test_aws_render_writes_trust_and_grant_documents(aws_render: tuple[Result, Path]) -> None:
    result, out = aws_render
    assert result.exit_code == 0, result.stderr
    documents = {
        path.name: json.loads(path.read_text()) for path in sorted((out / "iam").glob("*.json"))
    }
    trust = documents["experiment-tracking-identity-role.assumerolepolicy.json"]
    assert trust["type"] == "aws:iam/role:Role"
    statement = trust["document"]["Statement"][0]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert set(statement["Condition"]) == {"StringEquals"}
    grants = {
        name: doc
        for name, doc in documents.items()
        if doc["type"].endswith("RolePolicy") and name.startswith("data-lake-")
    }
    read = grants["data-lake-artifacts-read-mlflow-mlflow.policy.json"]["document"]
    write = grants["data-lake-artifacts-write-mlflow-mlflow.policy.json"]["document"]
    assert "s3:GetObject" in read["Statement"][0]["Action"]
    assert "s3:PutObject" in write["Statement"][0]["Action"]
    # One read and one write grant per zone and identity, each prefix-scoped.
    assert len(grants) == 6
    for doc in grants.values():
        assert doc["document"]["Statement"][0]["Resource"][0].endswith(("/mlflow/*", "/dvc/*"))


def test_check_passes_on_a_fresh_render(kind_render: tuple[Result, Path], upstream: Path) -> None:
    _, out = kind_render
    result = _invoke(["check", str(out)], env={UPSTREAM_ENV: str(upstream)})
    assert result.exit_code == 0, result.stdout + result.stderr
    as_json = _invoke(["check", "--json", str(out)], env={UPSTREAM_ENV: str(upstream)})
    assert as_json.exit_code == 0, as_json.stderr
    report = json.loads(as_json.stdout)
    assert report["ok"] is True
    assert report["summary"]["kubernetes"]["objects_examined"] > 0
    assert [f for f in report["findings"] if f["severity"] == "error"] == []


def test_check_exits_1_when_a_manifest_is_invalid(
    kind_render: tuple[Result, Path], upstream: Path, tmp_path: Path
) -> None:
    out = tmp_path / "tampered"
    shutil.copytree(kind_render[1], out)
    manifest = next(
        p for p in sorted((out / "manifests").glob("*.yaml")) if "statefulset" in p.name
    )
    body = yaml.safe_load(manifest.read_text())
    body["spec"]["replicaz"] = 2
    manifest.write_text(yaml.safe_dump(body))
    result = _invoke(["check", "--json", str(out)], env={UPSTREAM_ENV: str(upstream)})
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert any(
        f["severity"] == "error" and "replicaz" in f["message"] + str(f["field"])
        for f in report["findings"]
    ), report["findings"]


def test_verify_renders_and_checks_every_level(tmp_path: Path, upstream: Path) -> None:
    result = _invoke(
        ["verify", "--target", "kind", "--out", str(tmp_path)], env={UPSTREAM_ENV: str(upstream)}
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    stdout = _plain(result.stdout)
    rows = [line for line in stdout.splitlines() if "L1" in line]
    assert len(rows) == 1
    assert "kind" in rows[0]
    assert "pass" in rows[0]
    assert (tmp_path / "level1-kind" / "inventory.json").is_file()


# --- --stack: any Pulumi Python project ---------------------------------------------------

_TINY_PROGRAM = textwrap.dedent(
    """
    import pulumi
    import pulumi_kubernetes as k8s

    config = pulumi.Config()
    if config.get_bool("fail"):
        raise RuntimeError(config.get("message") or "database unreachable")
    labels = config.get_object("labels") or {}
    namespace = k8s.core.v1.Namespace(
        "team", metadata={"name": config.require("namespace"), "labels": labels}
    )
    pulumi.export("namespace", namespace.metadata["name"])
    pulumi.export("labels", labels)
    """
)


@pytest.fixture
def tiny_project(tmp_path: Path) -> Path:
    project = tmp_path / "tiny"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: tiny\nruntime: python\n")
    (project / "Pulumi.kind.yaml").write_text(
        "config:\n  tiny:namespace: from-file\n  tiny:labels:\n    team: data\n    tier: dev\n"
    )
    (project / "__main__.py").write_text(_TINY_PROGRAM)
    return project


def _namespace_manifest(out: Path) -> dict[str, object]:
    manifests = sorted((out / "manifests").glob("*.yaml"))
    assert len(manifests) == 1, manifests
    body = yaml.safe_load(manifests[0].read_text())
    assert body["kind"] == "Namespace"
    return dict(body["metadata"])


def test_render_stack_uses_the_stack_config_file(tiny_project: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _invoke(["render", "--stack", str(tiny_project), "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert "tiny / kind" in _plain(result.stdout)
    assert _namespace_manifest(out) == {
        "name": "from-file",
        "labels": {"team": "data", "tier": "dev"},
    }


def test_render_stack_set_overrides_reach_pulumi_config(tiny_project: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _invoke(
        [
            "render",
            "--stack",
            str(tiny_project),
            "--set",
            "namespace=team-b",
            "--set",
            "labels.team=ml",
            "--set",
            "tiny:labels.cost-center=42",
            "--out",
            str(out),
        ]
    )
    assert result.exit_code == 0, result.stderr
    labels = {"team": "ml", "tier": "dev", "cost-center": 42}
    assert _namespace_manifest(out) == {"name": "team-b", "labels": labels}
    assert json.loads((out / "outputs.json").read_text()) == {
        "namespace": "team-b",
        "labels": labels,
    }


def test_program_exception_exits_1_with_one_line(tiny_project: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _invoke(
        ["render", "--stack", str(tiny_project), "--set", "fail=true", "--out", str(out)]
    )
    line = _error_line(result, exit_code=1)
    assert line == (
        f"error: the stack program in {tiny_project} failed: RuntimeError: database unreachable"
    )
    assert result.stdout == ""
    assert not out.exists()


def test_program_exception_with_a_multiline_message_is_one_line(
    tiny_project: Path, tmp_path: Path
) -> None:
    result = _invoke(
        [
            "render",
            "--stack",
            str(tiny_project),
            "--set",
            "fail=true",
            "--set",
            'message="first\\nsecond"',
            "--out",
            str(tmp_path / "out"),
        ]
    )
    line = _error_line(result, exit_code=1)
    assert line.endswith("failed: RuntimeError: first second")
