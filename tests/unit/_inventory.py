"""Helpers to look resources up in a render by name."""

from __future__ import annotations

from mlops_blueprints.render import Registration, RenderResult


def by_name(result: RenderResult) -> dict[str, Registration]:
    registrations = result.capture.registrations
    names = [r.name for r in registrations]
    duplicates = {n for n in names if names.count(n) > 1}
    assert not duplicates, f"resource names must be unique in a stack: {duplicates}"
    return {r.name: r for r in registrations}


def children(result: RenderResult, parent_name: str) -> dict[str, str]:
    """``{child name: type}`` of one component."""
    resources = by_name(result)
    parent_urn = resources[parent_name].urn
    return {r.name: r.type for r in result.capture.registrations if r.parent == parent_urn}
