"""Reading Helm release values as the policy engine hands them: chart names, paths, walks.

Release values arrive as the SDK's read-only proxies, and during a preview some leaves are
unknown (an endpoint or an ARN computed by another resource). The walks here skip unknown
leaves rather than failing the whole rule: a security setting that is unknown at preview is
checked again, known, when the update runs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy.proxy import UnknownValueError

__all__ = ["chart_name", "dotted", "get_path", "is_local_chart", "walk"]

Path = tuple[str, ...]


def chart_name(chart: object) -> str:
    """The chart's own name: ``argo-cd``, ``repo/argo-cd`` and ``oci://host/x/argo-cd`` agree."""
    if not isinstance(chart, str):
        return ""
    name = chart.strip().rstrip("/").rsplit("/", 1)[-1]
    return name.removesuffix(".tgz")


def is_local_chart(chart: object) -> bool:
    """A chart read from a folder or archive on disk, versioned with the program itself."""
    return isinstance(chart, str) and chart.startswith(("./", "../", "/"))


def get_path(values: Any, path: Path) -> Any:
    """``values[a][b]...`` or ``None`` where a step is missing, not a mapping, or unknown."""
    current = values
    for step in path:
        if not isinstance(current, Mapping):
            return None
        try:
            if step not in current:
                return None
            current = current[step]
        except UnknownValueError:
            return None
    return current


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def _items(value: Any) -> Iterator[tuple[str | int, Any]]:
    if isinstance(value, Mapping):
        keys: list[str | int] = list(value)
    elif _is_list(value):
        keys = list(range(len(value)))
    else:
        return
    for key in keys:
        try:
            yield key, value[key]
        except UnknownValueError:
            continue


def walk(
    values: Any, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """Every known mapping in ``values`` with its path, depth first (the root included)."""
    if isinstance(values, Mapping):
        yield path, values
    for key, child in _items(values):
        if isinstance(child, Mapping) or _is_list(child):
            yield from walk(child, (*path, key))


def dotted(path: tuple[str | int, ...]) -> str:
    """``grafana.service`` / ``extraContainers[0].securityContext`` for messages."""
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text or "(values)"
