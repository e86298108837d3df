"""A monthly AWS cost budget for the platform's tagged resources, with alerts."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from mlops_blueprints.errors import BlueprintConfigError

from .._opts import child_opts
from ._plan import (
    BUDGET_EMAIL_LIMIT,
    BUDGET_NOTIFICATION_LIMIT,
    BUDGET_TAG_KEY,
    budget_cost_filter,
    budget_notifications,
    validate_budget_name,
    validate_email,
    validate_sns_topic_arn,
    validate_tag,
    validate_thresholds,
)

__all__ = ["BudgetAlerts", "BudgetAlertsArgs"]


@dataclass(frozen=True)
class BudgetAlertsArgs:
    """Arguments for :class:`BudgetAlerts`.

    - ``budget_name``: the budget's name, unique in the account (1-100 characters, no ':').
    - ``monthly_limit_usd``: the monthly budget in US dollars (above zero).
    - ``tag_values``: values of ``tag_key`` whose cost counts (any of them), e.g. ``['prod']``.
    - ``tag_key`` (mlops-blueprints.io/environment): the cost-allocation tag the budget filters
      on; it must be activated as a cost-allocation tag in the Billing console.
    - ``actual_thresholds_percent`` (80 and 100): alert when actual spend passes these
      percentages of the budget, each in (0, 1000] and listed once.
    - ``forecasted_thresholds_percent`` (100): alert when the month's forecast passes these;
      at most 10 thresholds in total.
    - ``email_addresses`` (none): up to 10 addresses alerted at every threshold.
    - ``sns_topic_arn`` (none): a topic alerted at every threshold; its access policy must let
      ``budgets.amazonaws.com`` publish.
    - ``tags``: tags on the budget itself.
    """

    budget_name: str
    monthly_limit_usd: float
    tag_values: Sequence[str]
    tag_key: str = BUDGET_TAG_KEY
    actual_thresholds_percent: Sequence[float] = (80.0, 100.0)
    forecasted_thresholds_percent: Sequence[float] = (100.0,)
    email_addresses: Sequence[str] = ()
    sns_topic_arn: pulumi.Input[str] | None = None
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_budget_name(self.budget_name)
        amount = self.monthly_limit_usd
        if (
            isinstance(amount, bool)
            or not isinstance(amount, int | float)
            or not math.isfinite(amount)
            or amount <= 0
        ):
            raise BlueprintConfigError(
                "monthly_limit_usd",
                amount,
                "Set a positive monthly amount in US dollars (e.g. 1500).",
            )
        validate_tag(self.tag_key, self.tag_values)
        actual = validate_thresholds(
            self.actual_thresholds_percent, field="actual_thresholds_percent"
        )
        forecasted = validate_thresholds(
            self.forecasted_thresholds_percent, field="forecasted_thresholds_percent"
        )
        if not actual and not forecasted:
            raise BlueprintConfigError(
                "actual_thresholds_percent",
                list(self.actual_thresholds_percent),
                "Give at least one threshold (actual or forecasted): a budget that never "
                "alerts is only a chart.",
            )
        if len(actual) + len(forecasted) > BUDGET_NOTIFICATION_LIMIT:
            raise BlueprintConfigError(
                "forecasted_thresholds_percent",
                list(self.forecasted_thresholds_percent),
                f"AWS allows {BUDGET_NOTIFICATION_LIMIT} notifications per budget: use at most "
                f"{BUDGET_NOTIFICATION_LIMIT} thresholds in total.",
            )
        if isinstance(self.email_addresses, str):
            raise BlueprintConfigError(
                "email_addresses",
                self.email_addresses,
                "Pass a list of addresses, e.g. ['finops@example.com'].",
            )
        for address in self.email_addresses:
            validate_email(address)
        if len(set(self.email_addresses)) != len(self.email_addresses):
            raise BlueprintConfigError(
                "email_addresses",
                list(self.email_addresses),
                "List each address once.",
            )
        if len(self.email_addresses) > BUDGET_EMAIL_LIMIT:
            raise BlueprintConfigError(
                "email_addresses",
                list(self.email_addresses),
                f"AWS allows {BUDGET_EMAIL_LIMIT} e-mail subscribers per notification: use a "
                "distribution list or sns_topic_arn for more.",
            )
        if isinstance(self.sns_topic_arn, str):
            validate_sns_topic_arn(self.sns_topic_arn)
        if not self.email_addresses and self.sns_topic_arn is None:
            raise BlueprintConfigError(
                "email_addresses",
                list(self.email_addresses),
                "Pass email_addresses, sns_topic_arn or both: a budget with no alert "
                "recipients warns nobody.",
            )


class BudgetAlerts(pulumi.ComponentResource):
    """A monthly AWS ``COST`` budget scoped to the platform's cost-allocation tag.

    The budget counts the cost of resources tagged ``tag_key`` with any of ``tag_values``
    (``TagKeyValue`` filter ``user:<key>$<value>``) and alerts every recipient when actual
    or forecasted spend passes a threshold. Children: ``{name}-budget``.
    """

    budget_name: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: BudgetAlertsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:cost:BudgetAlerts", name, None, opts)
        self.budget = aws.budgets.Budget(
            f"{name}-budget",
            name=args.budget_name,
            budget_type="COST",
            time_unit="MONTHLY",
            limit_amount=f"{args.monthly_limit_usd:.2f}",
            limit_unit="USD",
            cost_filters=[budget_cost_filter(args.tag_key, args.tag_values)],
            notifications=budget_notifications(
                actual_percent=args.actual_thresholds_percent,
                forecasted_percent=args.forecasted_thresholds_percent,
                email_addresses=args.email_addresses,
                sns_topic_arn=args.sns_topic_arn,
            ),
            tags=args.tags,
            opts=child_opts(self),
        )
        self.budget_name = self.budget.name
        self.arn = self.budget.arn
        self.register_outputs({"budget_name": self.budget_name, "arn": self.arn})
