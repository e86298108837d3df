"""Dated price tables shipped with the package (``prices/<provider>-<region>.json``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

from mlops_blueprints.errors import UsageError

__all__ = ["CostEstimateError", "PriceTable", "available_regions", "load_price_table"]

_REQUIRED = ("provider", "region", "currency", "as_of", "source")


class CostEstimateError(UsageError):
    """The estimate cannot be made as asked; the message says what to change."""


def _tables_dir() -> Path:
    return Path(str(resources.files("mlops_blueprints.cost.prices")))


@dataclass(frozen=True)
class PriceTable:
    """One provider and region's list prices, with the date and pages they come from."""

    provider: str
    region: str
    currency: str
    as_of: str
    source: str
    sections: Mapping[str, Mapping[str, Any]]
    path: Path

    def price(self, section: str, key: str, item: str | None = None) -> Decimal | None:
        """The price at ``section.key`` (or ``section.key[item]``), or None if not listed."""
        value: Any = self.sections.get(section, {}).get(key)
        if item is not None:
            value = value.get(item) if isinstance(value, Mapping) else None
        if value is None:
            return None
        try:
            return Decimal(str(value))
        except InvalidOperation:
            raise CostEstimateError(
                f"{self.path.name}: {section}.{key}{f'[{item}]' if item else ''} is not a "
                f"number ({value!r}); fix the price table"
            ) from None

    def source_of(self, section: str) -> str:
        return str(self.sections.get(section, {}).get("source", self.source))


def available_regions(provider: str = "aws", *, directory: Path | None = None) -> list[str]:
    """Regions that have a price table for ``provider``."""
    folder = directory or _tables_dir()
    prefix = f"{provider}-"
    return sorted(p.stem[len(prefix) :] for p in folder.glob(f"{prefix}*.json"))


def load_price_table(
    region: str, provider: str = "aws", *, directory: Path | None = None
) -> PriceTable:
    """The table for ``provider`` in ``region``; a clear error when there is none."""
    folder = directory or _tables_dir()
    path = folder / f"{provider}-{region}.json"
    if not path.is_file():
        known = ", ".join(available_regions(provider, directory=folder)) or "none"
        raise CostEstimateError(
            f"no {provider} price table for region {region!r} (tables exist for: {known}); "
            f"add {provider}-{region}.json beside the others in mlops_blueprints/cost/prices "
            "(docs/cost.md says how) or pass --region with a listed region"
        )
    data = json.loads(path.read_text(encoding="utf-8"))
    missing = [key for key in _REQUIRED if not data.get(key)]
    if missing:
        raise CostEstimateError(f"{path.name}: the price table lacks {', '.join(missing)}")
    if data["region"] != region or data["provider"] != provider:
        raise CostEstimateError(
            f"{path.name} says it is for {data['provider']} {data['region']}, not "
            f"{provider} {region}; fix the file name or its contents"
        )
    sections = {k: v for k, v in data.items() if isinstance(v, dict)}
    return PriceTable(
        provider=provider,
        region=region,
        currency=str(data["currency"]),
        as_of=str(data["as_of"]),
        source=str(data["source"]),
        sections=sections,
        path=path,
    )
