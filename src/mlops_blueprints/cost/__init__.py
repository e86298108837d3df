"""Offline monthly cost estimates of a rendered stack, from dated list-price tables."""

from ._assumptions import (
    ASSUMPTION_MEANINGS,
    DEFAULT_POOLS,
    Assumptions,
    PoolAssumption,
    PoolOverride,
    parse_assumptions,
)
from ._estimate import Estimate, LineItem, NotPriced, estimate, load_inventory, region_of
from ._prices import CostEstimateError, PriceTable, available_regions, load_price_table
from ._report import Row, print_estimate, table_rows

__all__ = [
    "ASSUMPTION_MEANINGS",
    "DEFAULT_POOLS",
    "Assumptions",
    "CostEstimateError",
    "Estimate",
    "LineItem",
    "NotPriced",
    "PoolAssumption",
    "PoolOverride",
    "PriceTable",
    "Row",
    "available_regions",
    "estimate",
    "load_inventory",
    "load_price_table",
    "parse_assumptions",
    "print_estimate",
    "region_of",
    "table_rows",
]
