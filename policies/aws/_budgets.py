"""Budget rule: at Level 4, an AWS stack has a budget that alerts someone."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pulumi_policy import StackValidationArgs

from .._rule import Report, Rule, prop
from ._common import blocks, is_aws_resource_type, string_values

__all__ = ["BUDGET_RULES"]

BUDGET: Final = "aws:budgets/budget:Budget"
SUBSCRIBER_FIELDS: Final = ("subscriberEmailAddresses", "subscriberSnsTopicArns")
# The rule runs on any stack with AWS resources; for the compliance matrix it is about the
# budget and the resources that run up the bill.
COST_BEARING_TYPES: Final = (
    "aws:eks/cluster:Cluster",
    "aws:eks/nodeGroup:NodeGroup",
    "aws:ec2/instance:Instance",
    "aws:ec2/natGateway:NatGateway",
    "aws:rds/instance:Instance",
    "aws:rds/cluster:Cluster",
    "aws:elasticache/replicationGroup:ReplicationGroup",
    "aws:dynamodb/table:Table",
    "aws:s3/bucket:Bucket",
    "aws:ecr/repository:Repository",
)


def _has_subscriber(budget_props: Mapping[str, Any]) -> bool:
    return any(
        string_values(prop(notification, field))
        for notification in blocks(prop(budget_props, "notifications"))
        for field in SUBSCRIBER_FIELDS
    )


def _validate_budget(args: StackValidationArgs, report: Report) -> None:
    if not any(is_aws_resource_type(r.resource_type) for r in args.resources):
        return
    budgets = [r for r in args.resources if r.resource_type == BUDGET]
    if not budgets:
        report("the stack creates AWS resources but no AWS budget")
        return
    if not any(_has_subscriber(b.props) for b in budgets):
        for budget in budgets:
            report("the budget notifies no one (no email or SNS subscriber)", urn=budget.urn)


BUDGET_RULES: Final[tuple[Rule, ...]] = (
    Rule(
        name="aws-stack-has-budget-with-subscribers",
        description=(
            "A stack with AWS resources has an AWS budget with at least one notification "
            "that reaches an email or SNS subscriber."
        ),
        remediation=(
            "Add BudgetAlerts with email_addresses or sns_topic_arn (Level 4 creates it from "
            "the cost configuration)."
        ),
        severity="medium",
        controls={"nist-800-53": ("PM-3", "SI-4")},
        resource_types=(BUDGET, *COST_BEARING_TYPES),
        validate_stack=_validate_budget,
        levels=(4,),
    ),
)
