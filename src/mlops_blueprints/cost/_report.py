"""Print an estimate: a table by component, the total, what was left out, the assumptions."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ._estimate import Estimate, LineItem

__all__ = ["Row", "print_estimate", "table_rows"]


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _quantity(value: Decimal) -> str:
    text = f"{value:,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True)
class Row:
    """Identical charges of one component merged into one printed row."""

    description: str
    count: int
    quantity: Decimal
    unit: str
    unit_price: Decimal
    monthly: Decimal
    assumed: bool


def table_rows(items: list[LineItem]) -> list[Row]:
    """Merge a component's identical charges (three NAT gateways -> one row), largest first."""
    merged: dict[tuple[str, str, Decimal, bool], list[LineItem]] = defaultdict(list)
    for item in items:
        merged[(item.description, item.unit, item.unit_price, item.assumed)].append(item)
    rows = [
        Row(
            description=description,
            count=len(group),
            quantity=sum((i.quantity for i in group), Decimal(0)),
            unit=unit,
            unit_price=price,
            monthly=sum((i.monthly for i in group), Decimal(0)),
            assumed=assumed,
        )
        for (description, unit, price, assumed), group in merged.items()
    ]
    return sorted(rows, key=lambda row: (-row.monthly, row.description))


def print_estimate(console: Console, estimate: Estimate, *, title: str) -> None:
    """Write the estimate to ``console``: the table, then what it leaves out and assumes."""
    currency = estimate.prices.currency
    table = Table(title=f"{title}: monthly estimate in {currency}, {estimate.region}")
    table.add_column("component")
    table.add_column("item")
    table.add_column("quantity", justify="right")
    table.add_column("unit price", justify="right")
    table.add_column("monthly", justify="right")
    for name, _kind, subtotal, items in estimate.by_component():
        for index, row in enumerate(table_rows(items)):
            label = row.description + (f" (x{row.count})" if row.count > 1 else "")
            table.add_row(
                escape(name) if index == 0 else "",
                escape(label) + (" *" if row.assumed else ""),
                f"{_quantity(row.quantity)} {row.unit}",
                str(row.unit_price),
                _money(row.monthly),
            )
        table.add_row(
            "",
            f"[bold]{escape(name)} subtotal[/]",
            "",
            "",
            f"[bold]{_money(subtotal)}[/]",
            end_section=True,
        )
    table.add_row("[bold]total[/]", "", "", "", f"[bold]{_money(estimate.total)}[/]")
    console.print(table)
    console.print(
        f"[bold]Monthly total: {currency} {_money(estimate.total)}[/] "
        f"({len(estimate.items)} line items; * = quantity from an assumption)"
    )

    console.print("\n[bold]Not priced[/] (left out of the total):")
    if not estimate.not_priced:
        console.print("  - nothing")
    for entry in estimate.not_priced:
        console.print(
            f"  - {escape(entry.component)}/{escape(entry.resource)} "
            f"({escape(entry.resource_type)}): {escape(entry.reason)}"
        )

    by_reason: dict[str, list[str]] = defaultdict(list)
    for rtype, count, reason in estimate.no_charge:
        by_reason[reason].append(f"{count} {rtype.rsplit(':', 1)[-1]}")
    console.print(
        f"\n[bold]No direct charge[/] "
        f"({sum(count for _t, count, _r in estimate.no_charge)} resources):"
    )
    for reason, kinds in sorted(by_reason.items()):
        console.print(f"  - {escape(reason)}: {escape(', '.join(kinds))}")

    console.print("\n[bold]Assumptions[/] (override with --assume key=value):")
    for key, value, meaning in estimate.assumptions.rows():
        console.print(f"  - {key} = {value}: {escape(meaning)}")
    pools = sorted(
        {i.description for i in estimate.items if i.resource_type.endswith(":NodePool")}
        - {i.description for i in estimate.items if i.unit != "instance-hour"}
    )
    for description in pools:
        console.print(
            f"  - {escape(description)} (--assume pool.<name>.nodes=N, "
            "pool.<name>.instance_type=TYPE)"
        )
    console.print()
    for note in estimate.notes:
        console.print(escape(note))
