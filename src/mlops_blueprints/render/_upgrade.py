"""In-place upgrades: can a stack move from one render to another by only adding resources?

A stack moves up a maturity level in place (same project, same stack). That is safe only when
every resource the lower level created is still there at the higher level under the same URN,
with the same type, the same parent and the same ``protect`` flag: otherwise Pulumi deletes it,
replaces it, or refuses the update. Inputs may change (an update in place) and new resources
may appear.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["upgrade_breaks"]

InventoryEntry = Mapping[str, Any]


def _index(inventory: Iterable[InventoryEntry]) -> dict[str, InventoryEntry]:
    return {str(entry["urn"]): entry for entry in inventory}


def upgrade_breaks(
    lower_inventory: Iterable[InventoryEntry], higher_inventory: Iterable[InventoryEntry]
) -> list[str]:
    """Every way the higher render is not an in-place, add-only successor of the lower one.

    Both arguments are inventories as ``mlops-bp render`` writes them (``inventory.json``: one
    mapping per resource with ``urn``, ``type``, ``parent``, ``protect`` and ``aliases``). Each
    problem is one line that starts with the lower level's URN:

    - the URN is missing from the higher render (Pulumi would delete the resource), unless a
      higher resource declares it as an alias (Pulumi moves it instead);
    - the resource at that URN has another type, another parent or another ``protect`` flag.

    Aliases are matched by URN only; an alias given as a name/type/parent spec is not resolved,
    so a resource renamed that way is still reported. The result is in the lower render's
    registration order; an empty list means the upgrade only adds or updates resources.
    """
    higher = _index(higher_inventory)
    aliased: dict[str, InventoryEntry] = {}
    for entry in higher.values():
        for alias in entry.get("aliases") or ():
            aliased.setdefault(str(alias), entry)

    breaks: list[str] = []
    for urn, old in _index(lower_inventory).items():
        new = higher.get(urn)
        if new is None:
            moved = aliased.get(urn)
            if moved is None:
                breaks.append(f"{urn}: missing from the higher render (it would be deleted)")
            elif bool(moved.get("protect")) != bool(old.get("protect")):
                breaks.append(
                    f"{urn}: protect changed from {bool(old.get('protect'))} to "
                    f"{bool(moved.get('protect'))} (moved to {moved['urn']})"
                )
            continue
        if new.get("type") != old.get("type"):
            breaks.append(f"{urn}: type changed from {old.get('type')} to {new.get('type')}")
        if new.get("parent") != old.get("parent"):
            breaks.append(f"{urn}: parent changed from {old.get('parent')} to {new.get('parent')}")
        if bool(new.get("protect")) != bool(old.get("protect")):
            breaks.append(
                f"{urn}: protect changed from {bool(old.get('protect'))} to "
                f"{bool(new.get('protect'))}"
            )
    return breaks
