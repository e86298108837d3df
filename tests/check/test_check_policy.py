"""The ``policy`` check: policy results as findings, and the report's suppressions and matrix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mlops_blueprints.blueprints._spec import parse_policy_settings
from mlops_blueprints.policies import Rule, evaluate, load_resources
from mlops_blueprints.policies._rule import iter_list, prop
from pulumi_policy import ReportViolation, ResourceValidationArgs
from rich.console import Console

from mlops_blueprints.check import CheckReport, compliance_table, report_table, run_checks
from mlops_blueprints.check import _run as run_module
from mlops_blueprints.check._policy import policy_findings
from mlops_blueprints.check._rendered import load_rendered
from mlops_blueprints.render import write_config
from tests.check._render import RenderedDirBuilder, describe

DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def _no_limits(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for container in iter_list(prop(args.props, "spec", "template", "spec", "containers")):
        if not prop(container, "resources", "limits"):
            report(f"container {prop(container, 'name')} has no limits")


def _no_latest(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for container in iter_list(prop(args.props, "spec", "template", "spec", "containers")):
        if str(prop(container, "image", default="")).endswith(":latest"):
            report("image uses the latest tag")


LIMITS = Rule(
    name="containers-limit-memory",
    description="Containers limit memory.",
    remediation="Set memory_limit_mib.",
    severity="high",
    controls={"nist-800-53": ("SC-6",)},
    resource_types=(DEPLOYMENT,),
    validate_resource=_no_limits,
)
PINNED = Rule(
    name="images-not-latest",
    description="Images are pinned.",
    remediation="Pin the image in versions.IMAGES.",
    severity="low",
    controls={"nist-800-53": ("CM-2",)},
    resource_types=(DEPLOYMENT,),
    validate_resource=_no_latest,
)
RULES = (LIMITS, PINNED)


def _deployment(
    builder: RenderedDirBuilder, namespace: str, name: str, *, image: str, limits: bool
) -> str:
    labels = {"app": name}
    container: dict[str, Any] = {"name": "app", "image": image}
    if limits:
        container["resources"] = {"limits": {"memory": "128Mi"}}
    return builder.kube(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": "ml", "labels": labels},
            "spec": {
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
            },
        },
        dependencies=[namespace],
    )


def _render(builder: RenderedDirBuilder, *, level: int | None, policies: Any = None) -> Path:
    namespace = builder.namespace("ml")
    _deployment(builder, namespace, "trainer", image="trainer:latest", limits=False)
    _deployment(builder, namespace, "server", image="server:1.0", limits=True)
    root = builder.write()
    if level is not None:
        (root / "outputs.json").write_text(json.dumps({"level": level}))
    config: dict[str, Any] = {"mlops-platform:target": "kind"}
    if policies is not None:
        config["mlops-platform:policies"] = policies
    write_config(root, project="mlops-platform", stack="kind", config=config)
    return root


def _text(report: CheckReport) -> str:
    console = Console(record=True, width=220, color_system=None)
    console.print(report_table(report))
    return console.export_text()


@pytest.mark.schema
def test_mandatory_violations_are_errors_that_fail_the_check(
    builder: RenderedDirBuilder, upstream: Path
) -> None:
    render = _render(builder, level=4)

    report = run_checks(render, upstream=upstream, policies=True, policy_rules=RULES)

    policy = report.for_check("policy")
    assert {(f.severity, f.field, f.object) for f in policy} == {
        ("error", "containers-limit-memory", "Deployment ml/trainer (deployment-ml-trainer)"),
        ("error", "images-not-latest", "Deployment ml/trainer (deployment-ml-trainer)"),
    }, describe(policy)
    finding = next(f for f in policy if f.field == "containers-limit-memory")
    assert finding.message == (
        "mandatory, high: container app has no limits Fix: Set memory_limit_mib."
    )
    assert finding.file == "manifests/deployment-ml-trainer.yaml"
    assert not report.ok
    assert report.objects_examined["policy"] == 3
    assert report.policy is not None
    assert report.policy.level == 4


@pytest.mark.schema
def test_advisories_are_warnings_for_high_rules_and_advisories_otherwise(
    builder: RenderedDirBuilder, upstream: Path
) -> None:
    render = _render(builder, level=2)

    report = run_checks(render, upstream=upstream, policies=True, policy_rules=RULES)

    assert {(f.severity, f.field) for f in report.for_check("policy")} == {
        ("warning", "containers-limit-memory"),
        ("advisory", "images-not-latest"),
    }
    assert report.ok


@pytest.mark.schema
def test_suppressions_and_the_matrix_are_in_the_json_and_the_table(
    builder: RenderedDirBuilder, upstream: Path
) -> None:
    reason = "batch trainer sized by the scheduler, see runbook"
    render = _render(
        builder,
        level=4,
        policies={
            "suppressions": [
                {
                    "rule": "containers-limit-memory",
                    "resource": "deployment-ml-trainer",
                    "reason": reason,
                },
                {
                    "rule": "images-not-latest",
                    "resource": "deployment-ml-server",
                    "reason": "server image moves daily",
                },
            ]
        },
    )

    report = run_checks(render, upstream=upstream, policies=True, policy_rules=RULES)
    data = json.loads(json.dumps(report.to_json()))
    text = _text(report)

    assert [f.field for f in report.for_check("policy") if f.severity == "error"] == [
        "images-not-latest"
    ]
    stale = [f for f in report.for_check("policy") if f.severity == "warning"]
    assert [f.message for f in stale] == [
        "stale suppression: deployment-ml-server does not violate images-not-latest; remove it "
        "from the stack config"
    ]
    assert [(s["rule"], s["resource"], s["reason"]) for s in data["policy"]["suppressed"]] == [
        ("containers-limit-memory", "deployment-ml-trainer", reason)
    ]
    assert data["policy"]["compliance"]["nist-800-53"]["SC-6"]["status"] == "pass"
    assert data["policy"]["compliance"]["nist-800-53"]["CM-2"]["status"] == "fail"
    assert "Policy suppressions" in text
    assert reason in text
    assert "stale" in text
    assert "Compliance (Level 4, mandatory by default)" in text
    assert "Resource availability" in text


@pytest.mark.schema
def test_a_render_without_level_runs_rules_as_advisories_and_says_so(
    builder: RenderedDirBuilder, upstream: Path
) -> None:
    render = _render(builder, level=None)

    report = run_checks(render, upstream=upstream, policies=True, policy_rules=RULES)

    assert report.ok
    assert {f.severity for f in report.for_check("policy")} == {"warning", "advisory"}
    assert any(
        f.object == "outputs.json" and f.field == "level" for f in report.for_check("policy")
    )


@pytest.mark.schema
def test_without_policies_the_check_runs_no_rules(
    builder: RenderedDirBuilder, upstream: Path
) -> None:
    render = _render(builder, level=4)

    report = run_checks(render, upstream=upstream)

    assert report.for_check("policy") == ()
    assert report.policy is None
    assert report.to_json()["policy"] is None


@pytest.mark.schema
def test_a_missing_policy_sdk_is_a_warning_not_a_crash(
    builder: RenderedDirBuilder, upstream: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    render = _render(builder, level=4)
    monkeypatch.setattr(run_module, "policy_sdk_installed", lambda: False)

    report = run_checks(render, upstream=upstream, policies=True)

    (finding,) = report.for_check("policy")
    assert finding.severity == "warning"
    assert "pulumi-policy package is not installed" in finding.message
    assert report.policy is None


@pytest.mark.unit
def test_compliance_table_lists_each_control_with_title_and_status(
    builder: RenderedDirBuilder,
) -> None:
    render = _render(builder, level=4)
    report = evaluate(load_resources(render), level=4, rules=RULES)
    console = Console(record=True, width=200, color_system=None)

    console.print(compliance_table(report))
    text = console.export_text()

    assert "SC-6" in text
    assert "Resource availability" in text
    assert "fail" in text
    assert "containers-limit-memory" in text


@pytest.mark.unit
def test_stale_suppressions_become_warnings_on_the_config(builder: RenderedDirBuilder) -> None:
    render = _render(builder, level=4)
    settings = parse_policy_settings(
        {
            "suppressions": [
                {"rule": "images-not-latest", "resource": "gone", "reason": "removed last sprint"}
            ]
        },
        rule_names={r.name for r in RULES},
    )
    report = evaluate(load_resources(render), level=4, settings=settings, rules=RULES)

    findings = policy_findings(report, load_rendered(render))

    stale = [f for f in findings if f.object.startswith("suppression ")]
    assert [(f.severity, f.object, f.field, f.file) for f in stale] == [
        (
            "warning",
            "suppression images-not-latest on gone",
            "mlops-platform:policies.suppressions",
            "config.json",
        )
    ]


@pytest.mark.unit
def test_write_config_masks_secrets(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        project="mlops-platform",
        stack="aws",
        config={
            "mlops-platform:name": "acme",
            "mlops-platform:monitoring": {
                "criticalReceiver": {"slack": {"webhook": {"secure": "v1:abc"}}}
            },
            "mlops-platform:token": {"secure": "v1:xyz"},
        },
    )

    data = json.loads(path.read_text())
    assert data == {
        "project": "mlops-platform",
        "stack": "aws",
        "config": {
            "mlops-platform:monitoring": {"criticalReceiver": {"slack": {"webhook": "[secret]"}}},
            "mlops-platform:name": "acme",
            "mlops-platform:token": "[secret]",
        },
    }
