"""The policy engine on hand-made rules: enforcement per level and per setting, suppressions
(applied, stale), the compliance matrix, and reading a render's level and recorded config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mlops_blueprints.blueprints._spec import PolicySettings, parse_policy_settings
from mlops_blueprints.policies import (
    Rule,
    default_enforcement,
    evaluate,
    evaluate_render,
    load_render_context,
    resolve_enforcement,
)
from mlops_blueprints.policies._rule import iter_list, prop
from pulumi_policy import ReportViolation, ResourceValidationArgs, StackValidationArgs

from mlops_blueprints.errors import BlueprintConfigError, UsageError
from tests.conftest import RenderFn
from tests.policies._helpers import resource

pytestmark = pytest.mark.policy

BUCKET = "aws:s3/bucket:Bucket"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"


def _bucket_keeps_objects(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if prop(args.props, "forceDestroy"):
        report("forceDestroy deletes every object with the bucket")


def _deployment_has_limits(args: ResourceValidationArgs, report: ReportViolation) -> None:
    containers = prop(args.props, "spec", "template", "spec", "containers")
    for container in iter_list(containers):
        if not prop(container, "resources", "limits"):
            report(f"container {prop(container, 'name')} has no limits")


def _vpcs_have_flow_logs(args: StackValidationArgs, report: ReportViolation) -> None:
    logged = {prop(r.props, "vpcId") for r in args.resources if r.resource_type == FLOW_LOG}
    for vpc in args.resources:
        if vpc.resource_type == VPC and vpc.name not in logged:
            report(f"VPC {vpc.name} has no flow log", urn=vpc.urn)


KEEPS = Rule(
    name="bucket-keeps-objects",
    description="Buckets keep their objects when deleted.",
    remediation="Leave force_destroy off.",
    severity="high",
    controls={"nist-800-53": ("CP-9",), "gdpr": ("Art. 32",)},
    resource_types=(BUCKET,),
    validate_resource=_bucket_keeps_objects,
)
LIMITS = Rule(
    name="deployment-has-limits",
    description="Every container has limits.",
    remediation="Set resources.limits.",
    severity="medium",
    controls={"nist-800-53": ("SC-6",)},
    resource_types=(DEPLOYMENT,),
    validate_resource=_deployment_has_limits,
    levels=(4,),
)
FLOW_LOGS = Rule(
    name="vpc-has-flow-logs",
    description="Every VPC logs its flows.",
    remediation="Keep enable_flow_logs on.",
    severity="low",
    controls={"nist-800-53": ("AU-12",), "hipaa": ("164.312(b)",)},
    resource_types=(VPC,),
    validate_stack=_vpcs_have_flow_logs,
)
RULES = (KEEPS, LIMITS, FLOW_LOGS)
NAMES = frozenset(rule.name for rule in RULES)


def _deployment(name: str, *, limits: bool) -> Any:
    container: dict[str, Any] = {"name": "app", "image": "app:1.0"}
    if limits:
        container["resources"] = {"limits": {"memory": "1Gi"}}
    return resource(
        DEPLOYMENT,
        name,
        {"spec": {"template": {"spec": {"containers": [container]}}}},
    )


def _settings(**raw: Any) -> PolicySettings:
    return parse_policy_settings(raw, rule_names=NAMES)


BAD_BUCKET = resource(BUCKET, "lake-raw", {"forceDestroy": True})
GOOD_BUCKET = resource(BUCKET, "lake-curated", {"forceDestroy": False})
BAD_DEPLOYMENT = _deployment("trainer", limits=False)
GOOD_DEPLOYMENT = _deployment("server", limits=True)
LONELY_VPC = resource(VPC, "vpc", {"cidrBlock": "10.0.0.0/16"})
STACK = [BAD_BUCKET, GOOD_BUCKET, BAD_DEPLOYMENT, GOOD_DEPLOYMENT, LONELY_VPC]


# --- enforcement -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "expected"),
    [(1, "advisory"), (2, "advisory"), (3, "advisory"), (4, "mandatory"), (None, "advisory")],
)
def test_level_four_is_mandatory_and_lower_levels_advisory(
    level: int | None, expected: str
) -> None:
    assert default_enforcement(level) == expected


def test_rules_outside_their_levels_are_not_in_scope() -> None:
    at_two = resolve_enforcement(RULES, level=2, settings=PolicySettings())
    at_four = resolve_enforcement(RULES, level=4, settings=PolicySettings())

    assert at_two == {"bucket-keeps-objects": "advisory", "vpc-has-flow-logs": "advisory"}
    assert at_four == {
        "bucket-keeps-objects": "mandatory",
        "deployment-has-limits": "mandatory",
        "vpc-has-flow-logs": "mandatory",
    }


def test_stack_settings_override_the_level_and_per_rule_settings_override_both() -> None:
    settings = _settings(enforcement="mandatory", rules={"vpc-has-flow-logs": "disabled"})

    enforcement = resolve_enforcement(RULES, level=2, settings=settings)
    report = evaluate(STACK, level=2, settings=settings, rules=RULES)

    assert enforcement == {"bucket-keeps-objects": "mandatory", "vpc-has-flow-logs": "disabled"}
    assert [(v.rule, v.enforcement) for v in report.violations] == [
        ("bucket-keeps-objects", "mandatory")
    ]
    assert report.rules_run == ("bucket-keeps-objects",)
    relaxed = evaluate(
        STACK, level=4, settings=_settings(rules={"bucket-keeps-objects": "advisory"}), rules=RULES
    )
    assert {(v.rule, v.enforcement) for v in relaxed.violations} == {
        ("bucket-keeps-objects", "advisory"),
        ("deployment-has-limits", "mandatory"),
        ("vpc-has-flow-logs", "mandatory"),
    }


def test_violations_name_rule_resource_enforcement_and_remediation() -> None:
    report = evaluate(STACK, level=4, rules=RULES)

    by_rule = {v.rule: v for v in report.violations}
    assert set(by_rule) == NAMES
    bucket = by_rule["bucket-keeps-objects"]
    assert (bucket.urn, bucket.resource, bucket.resource_type) == (
        BAD_BUCKET.urn,
        "lake-raw",
        BUCKET,
    )
    assert bucket.enforcement == "mandatory"
    assert bucket.severity == "high"
    assert bucket.message == "forceDestroy deletes every object with the bucket"
    assert bucket.remediation == "Leave force_destroy off."
    assert by_rule["deployment-has-limits"].resource == "trainer"
    assert by_rule["vpc-has-flow-logs"].urn == LONELY_VPC.urn
    assert not report.ok
    assert len(report.mandatory) == 3
    assert report.advisory == ()
    assert report.resources_examined == len(STACK)


def test_lower_levels_report_the_same_findings_as_advisories() -> None:
    report = evaluate(STACK, level=3, rules=RULES)

    assert {v.rule for v in report.violations} == {"bucket-keeps-objects", "vpc-has-flow-logs"}
    assert report.mandatory == ()
    assert report.ok


def test_unknown_level_runs_every_rule_as_advisory() -> None:
    report = evaluate(STACK, level=None, rules=RULES)

    assert {v.rule for v in report.violations} == NAMES
    assert {v.enforcement for v in report.violations} == {"advisory"}


# --- suppressions ----------------------------------------------------------------------------


def test_suppression_by_name_or_urn_turns_a_violation_into_a_reported_suppression() -> None:
    settings = _settings(
        suppressions=[
            {
                "rule": "bucket-keeps-objects",
                "resource": "lake-raw",
                "reason": "scratch bucket, rebuilt nightly",
            },
            {
                "rule": "vpc-has-flow-logs",
                "resource": LONELY_VPC.urn,
                "reason": "flow logs go to the SIEM agent",
            },
        ]
    )

    report = evaluate(STACK, level=4, settings=settings, rules=RULES)

    assert [v.rule for v in report.violations] == ["deployment-has-limits"]
    suppressed = {(s.violation.rule, s.violation.resource, s.reason) for s in report.suppressed}
    assert suppressed == {
        ("bucket-keeps-objects", "lake-raw", "scratch bucket, rebuilt nightly"),
        ("vpc-has-flow-logs", "vpc", "flow logs go to the SIEM agent"),
    }
    assert report.stale_suppressions == ()
    data = json.loads(json.dumps(report.to_json()))
    assert {item["reason"] for item in data["suppressed"]} == {
        "scratch bucket, rebuilt nightly",
        "flow logs go to the SIEM agent",
    }
    assert data["mandatory"] == 1


def test_a_suppression_covers_only_its_rule_and_resource() -> None:
    settings = _settings(
        suppressions=[
            {
                "rule": "bucket-keeps-objects",
                "resource": "trainer",
                "reason": "wrong resource on purpose",
            }
        ]
    )

    report = evaluate(STACK, level=4, settings=settings, rules=RULES)

    assert "bucket-keeps-objects" in {v.rule for v in report.violations}
    assert report.suppressed == ()


@pytest.mark.parametrize(
    ("suppression", "level", "why"),
    [
        (
            {"rule": "bucket-keeps-objects", "resource": "lake-curated"},
            4,
            "lake-curated does not violate bucket-keeps-objects",
        ),
        (
            {"rule": "bucket-keeps-objects", "resource": "gone"},
            4,
            "no resource named 'gone' in the render",
        ),
        (
            {"rule": "deployment-has-limits", "resource": "trainer"},
            2,
            "rule deployment-has-limits does not run at level 2",
        ),
    ],
)
def test_a_suppression_that_matches_nothing_is_reported_stale(
    suppression: dict[str, str], level: int, why: str
) -> None:
    settings = _settings(suppressions=[{**suppression, "reason": "accepted for the pilot"}])

    report = evaluate(STACK, level=level, settings=settings, rules=RULES)

    assert [(s.rule, s.resource, s.why) for s in report.stale_suppressions] == [
        (suppression["rule"], suppression["resource"], why)
    ]
    assert report.to_json()["stale_suppressions"][0]["reason"] == "accepted for the pilot"


def test_a_suppression_of_a_disabled_rule_is_stale() -> None:
    settings = _settings(
        rules={"bucket-keeps-objects": "disabled"},
        suppressions=[
            {
                "rule": "bucket-keeps-objects",
                "resource": "lake-raw",
                "reason": "scratch bucket, rebuilt nightly",
            }
        ],
    )

    report = evaluate(STACK, level=4, settings=settings, rules=RULES)

    assert [s.why for s in report.stale_suppressions] == ["rule bucket-keeps-objects is disabled"]


# --- compliance matrix -------------------------------------------------------------------------


def test_compliance_matrix_fails_passes_or_is_not_applicable_per_control() -> None:
    report = evaluate([GOOD_BUCKET, BAD_DEPLOYMENT], level=4, rules=RULES)

    assert report.matrix() == {
        "nist-800-53": {"CP-9": "pass", "SC-6": "fail", "AU-12": "not applicable"},
        "hipaa": {"164.312(b)": "not applicable"},
        "gdpr": {"Art. 32": "pass"},
    }
    sc6 = next(c for c in report.compliance if c.control == "SC-6")
    assert sc6.title == "Resource availability"
    assert sc6.failing_rules == ("deployment-has-limits",)
    as_json = report.to_json()["compliance"]["nist-800-53"]["SC-6"]
    assert as_json == {
        "title": "Resource availability",
        "status": "fail",
        "rules": ["deployment-has-limits"],
        "failing_rules": ["deployment-has-limits"],
    }


def test_a_suppressed_violation_does_not_fail_its_controls() -> None:
    settings = _settings(
        suppressions=[
            {
                "rule": "bucket-keeps-objects",
                "resource": "lake-raw",
                "reason": "scratch bucket, rebuilt nightly",
            }
        ]
    )

    report = evaluate([BAD_BUCKET], level=4, settings=settings, rules=RULES)

    assert report.matrix()["nist-800-53"]["CP-9"] == "pass"
    assert report.matrix()["gdpr"]["Art. 32"] == "pass"


def test_rules_that_do_not_run_make_their_controls_not_applicable() -> None:
    report = evaluate(STACK, level=2, rules=RULES)

    assert report.matrix()["nist-800-53"]["SC-6"] == "not applicable"
    assert report.matrix()["nist-800-53"]["CP-9"] == "fail"


# --- settings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "field", "value", "fix"),
    [
        (
            {"suppressions": [{"rule": "bucket-keeps-objects", "resource": "lake-raw"}]},
            "mlops-platform:policies.suppressions[0].reason",
            "",
            "Say why this violation is accepted, in at least 10 characters",
        ),
        (
            {
                "suppressions": [
                    {"rule": "bucket-keeps-objects", "resource": "lake-raw", "reason": "ok"}
                ]
            },
            "mlops-platform:policies.suppressions[0].reason",
            "ok",
            "at least 10 characters",
        ),
        (
            {
                "suppressions": [
                    {
                        "rule": "bucket-keeps-objects",
                        "resource": "a",
                        "reason": "accepted for the pilot",
                    },
                    {
                        "rule": "bucket-keep-object",
                        "resource": "lake-raw",
                        "reason": "accepted for the pilot",
                    },
                ]
            },
            "mlops-platform:policies.suppressions[1].rule",
            "bucket-keep-object",
            "(closest: 'bucket-keeps-objects')",
        ),
        (
            {
                "suppressions": [
                    {"rule": "bucket-keeps-objects", "reason": "accepted for the pilot"}
                ]
            },
            "mlops-platform:policies.suppressions[0].resource",
            {"rule": "bucket-keeps-objects", "reason": "accepted for the pilot"},
            "pulumi config set --path 'policies.suppressions[0].resource'",
        ),
        (
            {"rules": {"vpc-has-flowlogs": "advisory"}},
            "mlops-platform:policies.rules",
            "vpc-has-flowlogs",
            "(closest: 'vpc-has-flow-logs')",
        ),
        (
            {"rules": {"vpc-has-flow-logs": "warn"}},
            "mlops-platform:policies.rules.vpc-has-flow-logs",
            "warn",
            "'advisory', 'mandatory' or 'disabled'",
        ),
        (
            {"enforcement": "strict"},
            "mlops-platform:policies.enforcement",
            "strict",
            "'advisory' or 'mandatory'",
        ),
        (
            {"suppression": []},
            "mlops-platform:policies.suppression",
            [],
            "Remove this unknown setting",
        ),
        (
            {"suppressions": {"rule": "x"}},
            "mlops-platform:policies.suppressions",
            {"rule": "x"},
            "Give a list",
        ),
        ("mandatory", "mlops-platform:policies", "mandatory", "Give an object"),
    ],
)
def test_invalid_policy_settings_name_the_key_value_and_fix(
    raw: Any, field: str, value: Any, fix: str
) -> None:
    with pytest.raises(BlueprintConfigError) as caught:
        parse_policy_settings(raw, rule_names=NAMES)

    assert caught.value.field == field
    assert caught.value.value == value
    assert fix in caught.value.fix


def test_valid_settings_parse_in_camel_case() -> None:
    settings = parse_policy_settings(
        {
            "enforcement": "advisory",
            "rules": {"vpc-has-flow-logs": "disabled"},
            "suppressions": [
                {"rule": "bucket-keeps-objects", "resource": "lake-raw", "reason": "scratch bucket"}
            ],
        },
        rule_names=NAMES,
    )

    assert settings.enforcement == "advisory"
    assert settings.rules == {"vpc-has-flow-logs": "disabled"}
    assert settings.suppressions[0].reason == "scratch bucket"
    assert parse_policy_settings(None, rule_names=NAMES) == PolicySettings()


# --- reading a render --------------------------------------------------------------------------


def _write_render(root: Path, *, level: Any, policies: Any = None) -> Path:
    root.mkdir(parents=True)
    inventory = [
        {
            "urn": r.urn,
            "type": r.type,
            "name": r.name,
            "inputs": dict(r.props),
            "parent": None,
            "dependencies": [],
        }
        for r in STACK
    ]
    (root / "inventory.json").write_text(json.dumps(inventory))
    if level is not None:
        (root / "outputs.json").write_text(json.dumps({"level": level}))
    config: dict[str, Any] = {"mlops-platform:target": "kind"}
    if policies is not None:
        config["mlops-platform:policies"] = policies
    (root / "config.json").write_text(json.dumps({"project": "p", "stack": "s", "config": config}))
    return root


def test_evaluate_render_reads_level_and_recorded_settings(tmp_path: Path) -> None:
    policies = {
        "suppressions": [
            {
                "rule": "bucket-keeps-objects",
                "resource": "lake-raw",
                "reason": "scratch bucket, rebuilt nightly",
            }
        ]
    }
    render = _write_render(tmp_path / "r", level=4, policies=json.dumps(policies))

    report = evaluate_render(render, rules=RULES)

    assert report.level == 4
    assert {v.rule for v in report.mandatory} == {"deployment-has-limits", "vpc-has-flow-logs"}
    assert [s.violation.rule for s in report.suppressed] == ["bucket-keeps-objects"]


def test_evaluate_render_rejects_recorded_settings_like_the_stack_program(tmp_path: Path) -> None:
    policies = {"suppressions": [{"rule": "bucket-keeps-objects", "resource": "lake-raw"}]}
    render = _write_render(tmp_path / "r", level=4, policies=policies)

    with pytest.raises(BlueprintConfigError) as caught:
        evaluate_render(render, rules=RULES)

    assert caught.value.field == "mlops-platform:policies.suppressions[0].reason"


def test_a_render_without_level_or_config_runs_every_rule_advisory(tmp_path: Path) -> None:
    render = _write_render(tmp_path / "r", level=None)
    (render / "config.json").unlink()

    context = load_render_context(render)
    report = evaluate_render(render, rules=RULES)

    assert (context.level, dict(context.config)) == (None, {})
    assert {v.enforcement for v in report.violations} == {"advisory"}
    assert {v.rule for v in report.violations} == NAMES


def test_a_recorded_level_outside_one_to_four_is_a_usage_error(tmp_path: Path) -> None:
    render = _write_render(tmp_path / "r", level=7)

    with pytest.raises(UsageError, match="level 7 is not a maturity level"):
        load_render_context(render)


# --- the platform's own renders ----------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("target", ["kind", "aws"])
def test_level_four_renders_have_no_mandatory_violations(
    target: str, render_level: RenderFn, record_property: Any
) -> None:
    report = evaluate_render(Path(render_level(4, target).files.out_dir))

    record_property("violations", len(report.violations))
    assert report.level == 4
    assert report.default_enforcement == "mandatory"
    assert len(report.rules_run) >= 40
    assert [f"{v.rule}: {v.resource}: {v.message}" for v in report.mandatory] == []
    assert report.advisory == ()
    assert "fail" not in {c.status for c in report.compliance}


@pytest.mark.slow
@pytest.mark.parametrize("target", ["kind", "aws"])
@pytest.mark.parametrize("level", [1, 2, 3])
def test_lower_levels_report_advisories_only(
    level: int, target: str, render_level: RenderFn, record_property: Any
) -> None:
    report = evaluate_render(Path(render_level(level, target).files.out_dir))

    record_property("advisories", len(report.advisory))
    assert report.level == level
    assert report.default_enforcement == "advisory"
    assert report.mandatory == ()
    assert all(v.enforcement == "advisory" for v in report.violations)
    assert report.ok
