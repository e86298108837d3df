"""The policy pack the Pulumi CLI runs: nothing importable starts it, its entry point serves every
rule, and the pack config a stack's settings become gives the same verdict as the offline check."""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from google.protobuf import struct_pb2
from mlops_blueprints.blueprints._spec import parse_policy_settings
from mlops_blueprints.policies import ALL_RULES, evaluate, load_resources
from mlops_blueprints.policies._analyze import _struct
from mlops_blueprints.policies.pack import (
    PACK_DEFAULT_ENFORCEMENT,
    PACK_NAME,
    pack_config,
    pack_policies,
)
from pulumi.runtime import proto
from pulumi_policy import EnforcementLevel
from pulumi_policy.policy import _PolicyAnalyzerServicer
from typer.testing import CliRunner

from mlops_blueprints.cli import app
from mlops_blueprints.render import STACKS_ENV
from tests.conftest import REPO_ROOT, RenderFn
from tests.policies._inject import copy_render, edit

pytestmark = pytest.mark.policy

PACK_DIR = REPO_ROOT / "policies" / "pack"
NAMES = {rule.name for rule in ALL_RULES}
REASON = "vendor scanner needs mutable tags until its next release"


def test_importing_the_rules_the_pack_helpers_and_the_cli_constructs_no_policy_pack() -> None:
    probe = textwrap.dedent(
        """
        import pulumi_policy, pulumi_policy.policy

        def refuse(*args, **kwargs):
            raise SystemExit("a PolicyPack was constructed on import")

        pulumi_policy.PolicyPack = refuse
        pulumi_policy.policy.PolicyPack = refuse
        import mlops_blueprints.policies
        import mlops_blueprints.policies.pack
        import mlops_blueprints.policies.pack._pack
        import mlops_blueprints.policies._catalogue
        import mlops_blueprints.check
        import mlops_blueprints.cli
        mlops_blueprints.policies.pack.pack_policies()
        print("no pack", len(mlops_blueprints.policies.ALL_RULES))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"no pack {len(ALL_RULES)}"


def test_the_entry_point_constructs_exactly_one_pack_serving_every_rule() -> None:
    with mock.patch("pulumi_policy.PolicyPack") as pack:
        runpy.run_path(str(PACK_DIR / "__main__.py"), run_name="__main__")

    pack.assert_called_once()
    kwargs = pack.call_args.kwargs
    assert kwargs["name"] == PACK_NAME
    assert kwargs["enforcement_level"] == EnforcementLevel.ADVISORY == PACK_DEFAULT_ENFORCEMENT
    assert [policy.name for policy in kwargs["policies"]] == [rule.name for rule in ALL_RULES]


def test_no_module_but_the_entry_point_constructs_a_pack() -> None:
    root = REPO_ROOT
    offenders = [
        path.relative_to(root).as_posix()
        for folder in ("policies", "src", "components", "blueprints")
        for path in (root / folder).rglob("*.py")
        if "PolicyPack(" in path.read_text()
    ]

    assert offenders == ["policies/pack/__main__.py"]


def test_the_pack_project_file_runs_python_from_the_checkout_environment() -> None:
    project = yaml.safe_load((PACK_DIR / "PulumiPolicy.yaml").read_text())

    assert project["runtime"]["name"] == "python"
    assert project["runtime"]["options"]["toolchain"] == "uv"
    assert project["description"]


# --- pack config ---------------------------------------------------------------------------------


def test_pack_config_gives_every_rule_its_level_enforcement() -> None:
    at_four = pack_config(level=4, settings=parse_policy_settings(None, rule_names=NAMES))
    at_two = pack_config(level=2, settings=parse_policy_settings(None, rule_names=NAMES))

    assert at_four["all"] == "mandatory"
    assert at_two["all"] == "advisory"
    assert set(at_four) == NAMES | {"all"}
    assert {entry["enforcementLevel"] for name, entry in at_four.items() if name != "all"} == {
        "mandatory"
    }
    for rule in ALL_RULES:
        expected = "advisory" if 2 in rule.levels else "disabled"
        assert at_two[rule.name] == {"enforcementLevel": expected}, rule.name
    assert json.loads(json.dumps(at_four)) == at_four


def test_pack_config_carries_overrides_and_suppressions_with_reasons() -> None:
    settings = parse_policy_settings(
        {
            "enforcement": "advisory",
            "rules": {
                "ecr-repository-tags-immutable": "mandatory",
                "rds-instance-multi-az": "disabled",
            },
            "suppressions": [
                {
                    "rule": "ecr-repository-tags-immutable",
                    "resource": "model-images-repository",
                    "reason": REASON,
                }
            ],
        },
        rule_names=NAMES,
    )

    config = pack_config(level=4, settings=settings)

    assert config["all"] == "advisory"
    assert config["ecr-repository-tags-immutable"] == {
        "enforcementLevel": "mandatory",
        "suppressions": [{"resource": "model-images-repository", "reason": REASON}],
    }
    assert config["rds-instance-multi-az"] == {"enforcementLevel": "disabled"}
    assert config["rds-storage-encrypted"] == {"enforcementLevel": "advisory"}


_LEVELS = {
    "advisory": proto.analyzer_pb2.ADVISORY,
    "mandatory": proto.analyzer_pb2.MANDATORY,
    "disabled": proto.analyzer_pb2.DISABLED,
}


def _configure(servicer: _PolicyAnalyzerServicer, config: dict[str, Any]) -> None:
    """Hand the pack its config the way the CLI does: per policy, ``all`` as the fallback."""
    policy_config = {}
    for rule in ALL_RULES:
        entry = config.get(rule.name, config["all"])
        if isinstance(entry, str):
            entry = {"enforcementLevel": entry}
        properties = struct_pb2.Struct()
        properties.update({k: v for k, v in entry.items() if k != "enforcementLevel"})
        policy_config[rule.name] = proto.analyzer_pb2.PolicyConfig(
            enforcementLevel=_LEVELS[entry.get("enforcementLevel", config["all"])],
            properties=properties,
        )
    servicer.Configure(
        proto.analyzer_pb2.ConfigureAnalyzerRequest(policyConfig=policy_config), None
    )  # type: ignore[no-untyped-call]


def _pack_verdict(render: Path, config: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(rule, urn, enforcement) of every violation the pack reports, through its gRPC methods."""
    servicer = _PolicyAnalyzerServicer(
        PACK_NAME, "0.1.0", pack_policies(), PACK_DEFAULT_ENFORCEMENT
    )
    _configure(servicer, config)
    resources = load_resources(render)
    names = {v: k for k, v in _LEVELS.items()}
    found: set[tuple[str, str, str]] = set()
    for resource in resources:
        response = servicer.Analyze(  # type: ignore[no-untyped-call]
            proto.analyzer_pb2.AnalyzeRequest(
                type=resource.type,
                properties=_struct(resource.props),
                urn=resource.urn,
                name=resource.name,
            ),
            None,
        )
        found |= {
            (d.policyName, d.urn or resource.urn, names[d.enforcementLevel])
            for d in response.diagnostics
        }
    stack = servicer.AnalyzeStack(  # type: ignore[no-untyped-call]
        proto.analyzer_pb2.AnalyzeStackRequest(
            resources=[
                proto.analyzer_pb2.AnalyzerResource(
                    type=r.type,
                    properties=_struct(r.props),
                    urn=r.urn,
                    name=r.name,
                    parent=r.parent,
                    dependencies=list(r.dependencies),
                )
                for r in resources
            ]
        ),
        None,
    )
    found |= {(d.policyName, d.urn, names[d.enforcementLevel]) for d in stack.diagnostics}
    return found


@pytest.mark.slow
def test_the_pack_and_the_offline_check_agree_on_a_level_four_render(
    render_level: RenderFn, tmp_path: Path
) -> None:
    render = copy_render(Path(render_level(4, "aws").files.out_dir), tmp_path / "render")
    edit(
        render,
        "model-images-repository",
        lambda inputs: inputs.update(imageTagMutability="MUTABLE"),
    )
    edit(
        render,
        "experiment-tracking-database-instance",
        lambda inputs: inputs.update(storageEncrypted=False),
    )
    settings = parse_policy_settings(
        {
            "suppressions": [
                {
                    "rule": "ecr-repository-tags-immutable",
                    "resource": "model-images-repository",
                    "reason": REASON,
                }
            ]
        },
        rule_names=NAMES,
    )

    pack = _pack_verdict(render, pack_config(level=4, settings=settings))
    offline = evaluate(load_resources(render), level=4, settings=settings)

    assert pack == {(v.rule, v.urn, v.enforcement) for v in offline.violations}
    assert ("rds-storage-encrypted", "mandatory") in {(rule, level) for rule, _, level in pack}
    assert "ecr-repository-tags-immutable" not in {rule for rule, _, _ in pack}
    assert [s.violation.rule for s in offline.suppressed] == ["ecr-repository-tags-immutable"]


# --- mlops-bp policy-config -----------------------------------------------------------------------


def _invoke(args: list[str]) -> Any:
    return CliRunner().invoke(app, args, env={STACKS_ENV: str(REPO_ROOT / "stacks")})


def test_policy_config_writes_the_level_config_from_the_stack_config(tmp_path: Path) -> None:
    out = tmp_path / "policy-config.json"

    result = _invoke(["policy-config", "--level", "4", "--target", "aws", "--out", str(out)])

    assert result.exit_code == 0, result.stderr
    written = json.loads(out.read_text())
    assert written["all"] == "mandatory"
    assert set(written) == NAMES | {"all"}
    assert f"--policy-pack-config {out}" in result.stderr


def test_policy_config_reads_suppressions_from_a_stack_file(tmp_path: Path) -> None:
    stack_file = tmp_path / "Pulumi.prod.yaml"
    stack_file.write_text(
        yaml.safe_dump(
            {
                "config": {
                    "mlops-platform:policies": {
                        "suppressions": [
                            {
                                "rule": "ecr-repository-tags-immutable",
                                "resource": "model-images-repository",
                                "reason": REASON,
                            }
                        ]
                    }
                }
            }
        )
    )

    result = _invoke(["policy-config", "--level", "2", "--stack-config", str(stack_file)])

    assert result.exit_code == 0, result.stderr
    config = json.loads(result.stdout)
    assert config["all"] == "advisory"
    assert config["ecr-repository-tags-immutable"]["suppressions"] == [
        {"resource": "model-images-repository", "reason": REASON}
    ]


def test_policy_config_rejects_a_suppression_without_reason(tmp_path: Path) -> None:
    stack_file = tmp_path / "Pulumi.prod.yaml"
    stack_file.write_text(
        yaml.safe_dump(
            {
                "config": {
                    "mlops-platform:policies": {
                        "suppressions": [{"rule": "ecr-repository-tags-immutable", "resource": "x"}]
                    }
                }
            }
        )
    )

    result = _invoke(["policy-config", "--level", "4", "--stack-config", str(stack_file)])

    assert result.exit_code == 2
    assert result.stdout == ""
    assert "mlops-platform:policies.suppressions[0].reason: invalid value ''" in result.stderr
