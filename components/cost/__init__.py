"""Cost: OpenCost allocation in the cluster, AWS budgets with alerts, cost-allocation labels."""

from ._budget import BudgetAlerts, BudgetAlertsArgs
from ._opencost import DEFAULT_PROMETHEUS_URL, CostAllocation, CostAllocationArgs
from ._plan import (
    BUDGET_TAG_KEY,
    LEVEL_LABEL,
    MODEL_LABEL,
    TEAM_LABEL,
    CustomPrices,
    PricingSource,
    budget_cost_filter,
    budget_notifications,
    cost_allocation_labels,
    opencost_values,
    validate_label_value,
)

__all__ = [
    "BUDGET_TAG_KEY",
    "DEFAULT_PROMETHEUS_URL",
    "LEVEL_LABEL",
    "MODEL_LABEL",
    "TEAM_LABEL",
    "BudgetAlerts",
    "BudgetAlertsArgs",
    "CostAllocation",
    "CostAllocationArgs",
    "CustomPrices",
    "PricingSource",
    "budget_cost_filter",
    "budget_notifications",
    "cost_allocation_labels",
    "opencost_values",
    "validate_label_value",
]
