"""One bad change injected into a Level 4 render fails ``mlops-bp check``, naming the rule and
the resource; suppressions with a reason turn it into a reported suppression; invalid ones are
rejected by the check and by the stack program."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mlops_blueprints.policies import ALL_RULES, evaluate_render

from tests.conftest import RenderFn
from tests.policies._inject import Inputs, copy_render, edit, entry, remove, run_check, set_policies
from tests.unit._config import config_error

pytestmark = [pytest.mark.policy, pytest.mark.slow]


def _containers(inputs: Inputs) -> list[dict[str, Any]]:
    containers: list[dict[str, Any]] = inputs["spec"]["template"]["spec"]["containers"]
    return containers


def _public_access_allowed(inputs: Inputs) -> None:
    for flag in (
        "blockPublicAcls",
        "blockPublicPolicy",
        "ignorePublicAcls",
        "restrictPublicBuckets",
    ):
        inputs[flag] = False


def _public_endpoint(inputs: Inputs) -> None:
    inputs["vpcConfig"]["endpointPublicAccess"] = True


def _privileged(inputs: Inputs) -> None:
    context = _containers(inputs)[0].setdefault("securityContext", {})
    context["privileged"] = True
    context["allowPrivilegeEscalation"] = True


def _admin_policy(inputs: Inputs) -> None:
    inputs["policy"] = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }
    )


def _unencrypted(inputs: Inputs) -> None:
    inputs["storageEncrypted"] = False
    inputs.pop("kmsKeyId", None)


def _mutable_tags(inputs: Inputs) -> None:
    inputs["imageTagMutability"] = "MUTABLE"


def _no_limits(inputs: Inputs) -> None:
    for container in _containers(inputs):
        container.pop("resources", None)


def _public_load_balancer(inputs: Inputs) -> None:
    inputs["spec"]["type"] = "LoadBalancer"
    inputs["metadata"].pop("annotations", None)


def _trust_without_subject(inputs: Inputs) -> None:
    document = inputs["assumeRolePolicy"]
    trust = json.loads(document) if isinstance(document, str) else document
    for statement in trust["Statement"]:
        for operator in statement.get("Condition", {}).values():
            for key in [k for k in operator if k.endswith(":sub")]:
                del operator[key]
    inputs["assumeRolePolicy"] = json.dumps(trust)


@dataclass(frozen=True)
class Injection:
    """``change`` applied to resource ``name`` (None: the resource is removed) breaks ``rule``
    on the resource named ``culprit``."""

    id: str
    target: str
    name: str
    change: Callable[[Inputs], None] | None
    rule: str
    culprit: str


INJECTIONS = (
    Injection(
        "public-bucket",
        "aws",
        "data-lake-raw-public-access-block",
        _public_access_allowed,
        "s3-bucket-blocks-public-access",
        "data-lake-raw",
    ),
    Injection(
        "public-eks-endpoint",
        "aws",
        "cluster-cluster",
        _public_endpoint,
        "eks-cluster-endpoint-private",
        "cluster-cluster",
    ),
    Injection(
        "privileged-pod",
        "kind",
        "feature-store-deployment",
        _privileged,
        "pss-baseline-containers-not-privileged",
        "feature-store-deployment",
    ),
    Injection(
        "wildcard-iam-policy",
        "aws",
        "experiment-tracking-database-connect-mlflow",
        _admin_policy,
        "iam-policy-grants-no-full-admin",
        "experiment-tracking-database-connect-mlflow",
    ),
    Injection(
        "unencrypted-rds",
        "aws",
        "experiment-tracking-database-instance",
        _unencrypted,
        "rds-storage-encrypted",
        "experiment-tracking-database-instance",
    ),
    Injection(
        "mutable-ecr-tags",
        "aws",
        "model-images-repository",
        _mutable_tags,
        "ecr-repository-tags-immutable",
        "model-images-repository",
    ),
    Injection(
        "container-without-limits",
        "aws",
        "feature-store-deployment",
        _no_limits,
        "k8s-containers-request-resources-and-limit-memory",
        "feature-store-deployment",
    ),
    Injection(
        "public-load-balancer",
        "kind",
        "feature-store-service",
        _public_load_balancer,
        "k8s-load-balancers-internal",
        "feature-store-service",
    ),
    Injection(
        "oidc-trust-without-sub",
        "aws",
        "ci-build-role",
        _trust_without_subject,
        "iam-web-identity-trust-restricts-subject",
        "ci-build-role",
    ),
    Injection(
        "no-default-deny",
        "kind",
        "platform-namespace-default-deny",
        None,
        "k8s-namespaces-deny-traffic-by-default",
        "platform-namespace-namespace",
    ),
)


def _inject(render: Path, injection: Injection) -> None:
    if injection.change is None:
        remove(render, injection.name)
    else:
        edit(render, injection.name, injection.change)


def _level4(render_level: RenderFn, target: str) -> Path:
    return Path(render_level(4, target).files.out_dir)


def _baseline_pairs(render: Path) -> set[tuple[str, str]]:
    return {(v.rule, v.resource) for v in evaluate_render(render).violations}


def _matching(findings: list[dict[str, Any]], injection: Injection) -> list[dict[str, Any]]:
    return [
        f for f in findings if f["field"] == injection.rule and injection.culprit in f["object"]
    ]


@pytest.mark.parametrize("injection", INJECTIONS, ids=[i.id for i in INJECTIONS])
def test_an_injected_violation_fails_check_naming_rule_and_resource(
    injection: Injection, render_level: RenderFn, upstream: Path, tmp_path: Path
) -> None:
    pristine = _level4(render_level, injection.target)
    assert not any(
        rule == injection.rule and injection.culprit in resource
        for rule, resource in _baseline_pairs(pristine)
    ), "the pristine Level 4 render must not already break the rule on this resource"
    render = copy_render(pristine, tmp_path / "render")
    _inject(render, injection)

    run = run_check(render, upstream)

    assert run.exit_code == 1, run.stderr
    found = _matching(run.policy_errors(), injection)
    assert found, [f"{f['field']}: {f['object']}" for f in run.policy_errors()]
    assert found[0]["message"].startswith("mandatory, "), found[0]
    assert "Fix: " in found[0]["message"]
    assert run.report is not None
    failing = {
        rule
        for framework in run.report["policy"]["compliance"].values()
        for control in framework.values()
        for rule in control["failing_rules"]
    }
    assert injection.rule in failing


def test_the_table_report_names_rule_and_resource_too(
    render_level: RenderFn, upstream: Path, tmp_path: Path
) -> None:
    render = copy_render(_level4(render_level, "aws"), tmp_path / "render")
    edit(render, "model-images-repository", _mutable_tags)

    run = run_check(render, upstream, as_json=False)

    assert run.exit_code == 1
    assert "ecr-repository-tags-immutable" in run.stdout
    assert "model-images-repository" in run.stdout
    assert "Compliance (Level 4, mandatory by default)" in run.stdout


def test_below_level_four_the_same_violation_is_advisory(
    render_level: RenderFn, upstream: Path, tmp_path: Path
) -> None:
    render = copy_render(Path(render_level(2, "aws").files.out_dir), tmp_path / "render")
    edit(render, "model-images-repository", _mutable_tags)

    run = run_check(render, upstream)

    assert run.report is not None
    assert run.policy_errors() == []
    found = [
        f
        for f in run.report["findings"]
        if f["check"] == "policy" and f["field"] == "ecr-repository-tags-immutable"
    ]
    severity = next(r.severity for r in ALL_RULES if r.name == "ecr-repository-tags-immutable")
    # Advisory findings of high and critical rules are warnings, the others advisories.
    expected = "warning" if severity in ("high", "critical") else "advisory"
    assert [f["severity"] for f in found] == [expected]
    assert found[0]["message"].startswith(f"advisory, {severity}: ")
    assert run.report["policy"]["level"] == 2
    assert run.report["policy"]["mandatory"] == 0


# --- suppressions through the check ------------------------------------------------------------

REASON = "vendor scanner needs mutable tags until its next release"


def test_a_suppression_with_a_reason_turns_the_violation_into_a_reported_suppression(
    render_level: RenderFn, upstream: Path, tmp_path: Path
) -> None:
    render = copy_render(_level4(render_level, "aws"), tmp_path / "render")
    edit(render, "model-images-repository", _mutable_tags)
    set_policies(
        render,
        {
            "suppressions": [
                {
                    "rule": "ecr-repository-tags-immutable",
                    "resource": "model-images-repository",
                    "reason": REASON,
                }
            ]
        },
    )

    run = run_check(render, upstream)
    table = run_check(render, upstream, as_json=False)

    assert run.report is not None
    assert _matching(run.policy_errors(), INJECTIONS[5]) == []
    assert run.exit_code == 0, [f"{f['field']}: {f['object']}" for f in run.policy_errors()]
    suppressed = run.report["policy"]["suppressed"]
    assert [(s["rule"], s["resource"], s["reason"], s["enforcement"]) for s in suppressed] == [
        ("ecr-repository-tags-immutable", "model-images-repository", REASON, "mandatory")
    ]
    assert run.report["policy"]["stale_suppressions"] == []
    assert "Policy suppressions" in table.stdout
    assert (
        REASON in table.stdout.replace("\n", " ").replace("│", "")
        or "vendor scanner" in table.stdout
    )


def test_a_suppression_by_urn_works_too(
    render_level: RenderFn, upstream: Path, tmp_path: Path
) -> None:
    render = copy_render(_level4(render_level, "aws"), tmp_path / "render")
    urn = edit(render, "model-images-repository", _mutable_tags)
    set_policies(
        render,
        {
            "suppressions": [
                {"rule": "ecr-repository-tags-immutable", "resource": urn, "reason": REASON}
            ]
        },
    )

    run = run_check(render, upstream)

    assert run.report is not None
    assert [s["urn"] for s in run.report["policy"]["suppressed"]] == [urn]


def test_a_stale_suppression_is_a_warning(
    render_level: RenderFn, upstream: Path, tmp_path: Path
) -> None:
    render = copy_render(_level4(render_level, "aws"), tmp_path / "render")
    set_policies(
        render,
        {
            "suppressions": [
                {
                    "rule": "ecr-repository-tags-immutable",
                    "resource": "model-images-repository",
                    "reason": REASON,
                }
            ]
        },
    )

    run = run_check(render, upstream)

    assert run.report is not None
    stale = [
        f
        for f in run.report["findings"]
        if f["check"] == "policy" and "stale suppression" in f["message"]
    ]
    assert [(f["severity"], f["object"]) for f in stale] == [
        ("warning", "suppression ecr-repository-tags-immutable on model-images-repository")
    ]
    assert run.report["policy"]["stale_suppressions"][0]["why"] == (
        "model-images-repository does not violate ecr-repository-tags-immutable"
    )


@pytest.mark.parametrize(
    ("suppression", "expected"),
    [
        (
            {"rule": "ecr-repository-tags-immutable", "resource": "model-images-repository"},
            ("mlops-platform:policies.suppressions[0].reason", "''"),
        ),
        (
            {
                "rule": "ecr-repository-tags-immutable",
                "resource": "model-images-repository",
                "reason": " too short ",
            },
            ("mlops-platform:policies.suppressions[0].reason", "' too short '"),
        ),
        (
            {"rule": "ecr-tags-immutable", "resource": "model-images-repository", "reason": REASON},
            ("mlops-platform:policies.suppressions[0].rule", "'ecr-tags-immutable'"),
        ),
    ],
    ids=["missing-reason", "short-reason", "unknown-rule"],
)
def test_check_rejects_an_invalid_recorded_suppression(
    suppression: dict[str, str],
    expected: tuple[str, str],
    render_level: RenderFn,
    upstream: Path,
    tmp_path: Path,
) -> None:
    render = copy_render(_level4(render_level, "kind"), tmp_path / "render")
    set_policies(render, {"suppressions": [suppression]})

    run = run_check(render, upstream)

    assert run.exit_code == 2, run.stdout
    assert run.stdout == ""
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith("error: configuration recorded in ")
    field, value = expected
    assert f"{field}: invalid value {value}." in line
    assert "Say why this violation is accepted" in line or "Name a policy rule" in line


# --- suppressions through the stack program ----------------------------------------------------


@pytest.mark.parametrize(
    ("policies", "field", "value", "fix"),
    [
        (
            {
                "suppressions": [
                    {"rule": "eks-cluster-endpoint-private", "resource": "cluster-cluster"}
                ]
            },
            "mlops-platform:policies.suppressions[0].reason",
            "",
            "Say why this violation is accepted, in at least 10 characters",
        ),
        (
            {
                "suppressions": [
                    {
                        "rule": "eks-endpoint-private",
                        "resource": "cluster-cluster",
                        "reason": REASON,
                    }
                ]
            },
            "mlops-platform:policies.suppressions[0].rule",
            "eks-endpoint-private",
            "(closest: 'eks-cluster-endpoint-private')",
        ),
        (
            {"rules": {"eks-endpoint-private": "advisory"}},
            "mlops-platform:policies.rules",
            "eks-endpoint-private",
            "Name a policy rule listed in docs/policies.md",
        ),
        (
            {"enforcement": "sometimes"},
            "mlops-platform:policies.enforcement",
            "sometimes",
            "'advisory' or 'mandatory'",
        ),
    ],
    ids=["missing-reason", "unknown-rule", "unknown-rule-override", "bad-enforcement"],
)
def test_the_stack_program_rejects_invalid_policy_settings_before_registering(
    policies: dict[str, Any], field: str, value: Any, fix: str
) -> None:
    error = config_error(4, "aws", policies=policies)

    assert error.field == field
    assert error.value == value
    assert fix in error.fix


def test_valid_policy_settings_reach_the_render_and_the_check(
    render_level: RenderFn, upstream: Path
) -> None:
    suppression = f"{{rule: k8s-load-balancers-internal, resource: feature-store-service, reason: '{REASON}'}}"
    result = render_level(
        4, "kind", (f"policies={{enforcement: mandatory, suppressions: [{suppression}]}}",)
    )
    render = Path(result.files.out_dir)

    recorded = json.loads((render / "config.json").read_text())["config"]["mlops-platform:policies"]
    run = run_check(render, upstream)

    assert recorded == {
        "enforcement": "mandatory",
        "suppressions": [
            {
                "rule": "k8s-load-balancers-internal",
                "resource": "feature-store-service",
                "reason": REASON,
            }
        ],
    }
    assert run.report is not None
    assert [s["resource"] for s in run.report["policy"]["stale_suppressions"]] == [
        "feature-store-service"
    ]
    assert (
        entry(render, "feature-store-service")["inputs"]["spec"].get("type", "ClusterIP")
        == "ClusterIP"
    )
