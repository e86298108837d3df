"""Our own level stacks, rendered for AWS, break none of the AWS rules of their level."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from mlops_blueprints.policies import analyze
from mlops_blueprints.policies.aws import RULES
from pulumi_policy import EnforcementLevel

from mlops_blueprints.render import RenderResult

from ._helpers import analyzed

pytestmark = [pytest.mark.policy, pytest.mark.slow]


@pytest.mark.parametrize("level", [1, 2, 3, 4])
def test_aws_render_complies_with_its_level(
    render_level: Callable[..., RenderResult], level: int
) -> None:
    resources = analyzed(render_level(level, "aws"))
    rules = [rule for rule in RULES if level in rule.levels]
    found = analyze(
        resources, rules, enforcement={r.name: EnforcementLevel.MANDATORY for r in rules}
    )
    assert [(v.rule, v.resource_name, v.message) for v in found] == []
    # The render really holds what the rules examine (a vacuous pass proves nothing).
    types = {r.type for r in resources}
    assert {"aws:s3/bucket:Bucket", "aws:eks/cluster:Cluster", "aws:iam/role:Role"} <= types


def test_level4_render_needs_its_level4_settings(
    render_level: Callable[..., RenderResult],
) -> None:
    # The Level 4 rules are not met by Level 1: they check something Level 4 adds.
    resources = analyzed(render_level(1, "aws"))
    level4_only = [rule for rule in RULES if rule.levels == (4,)]
    found = analyze(resources, level4_only, enforcement={})
    assert {v.rule for v in found} == {
        "s3-bucket-encrypted-with-customer-managed-key",
        "s3-bucket-access-logged",
        "rds-storage-encrypted-with-customer-managed-key",
        "rds-instance-multi-az",
        "aws-stack-has-budget-with-subscribers",
    }
