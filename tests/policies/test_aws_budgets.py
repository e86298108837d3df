"""Budget stack rule: a Level 4 AWS stack has a budget that notifies someone."""

from __future__ import annotations

from typing import Any

import pytest
from mlops_blueprints.policies.aws import BUDGET_RULES

from tests.policies._helpers import assert_complies, assert_violates, resource, violations

pytestmark = pytest.mark.policy

(BUDGET,) = BUDGET_RULES
CLUSTER = resource("aws:eks/cluster:Cluster", "cluster", {"name": "acme-eks"})


def budget(notifications: list[dict[str, Any]] | None) -> Any:
    props: dict[str, Any] = {"budgetType": "COST", "limitAmount": "3000.00", "timeUnit": "MONTHLY"}
    if notifications is not None:
        props["notifications"] = notifications
    return resource("aws:budgets/budget:Budget", "budget", props)


def notification(**subscribers: list[str]) -> dict[str, Any]:
    return {
        "comparisonOperator": "GREATER_THAN",
        "notificationType": "ACTUAL",
        "threshold": 80.0,
        "thresholdType": "PERCENTAGE",
        **subscribers,
    }


def test_runs_at_level_4_only() -> None:
    assert BUDGET.levels == (4,)
    assert BUDGET.is_stack_rule


@pytest.mark.parametrize(
    "subscribers",
    [
        {"subscriberEmailAddresses": ["platform-team@example.com"]},
        {"subscriberSnsTopicArns": ["arn:aws:sns:us-east-1:123456789012:budget"]},
    ],
    ids=["email", "sns"],
)
def test_budget_with_a_subscriber_complies(subscribers: dict[str, list[str]]) -> None:
    assert_complies(BUDGET, CLUSTER, budget([notification(), notification(**subscribers)]))


@pytest.mark.parametrize(
    "notifications",
    [None, [], [notification()], [notification(subscriberEmailAddresses=[])]],
    ids=["unset", "none", "no-subscriber", "empty-list"],
)
def test_budget_without_subscribers_violates(notifications: list[dict[str, Any]] | None) -> None:
    found = assert_violates(BUDGET, budget(notifications), CLUSTER)
    assert "notifies no one" in found.message


def test_aws_stack_without_a_budget_violates_stack_wide() -> None:
    found = violations(BUDGET, CLUSTER)
    assert [(v.rule, v.urn) for v in found] == [(BUDGET.name, "")]
    assert "no AWS budget" in found[0].message


def test_stack_without_aws_resources_is_not_held_to_it() -> None:
    namespace = resource("kubernetes:core/v1:Namespace", "ns", {"metadata": {"name": "mlops"}})
    assert_complies(BUDGET, namespace)
