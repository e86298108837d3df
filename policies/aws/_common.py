"""Reading what AWS resources record: policy documents, list-or-object blocks, flags.

Everything here reads the SDK's read-only proxies without copying them into mutable
structures that rules could change, and tolerates the shapes both an input render and the
engine's recorded outputs use (a nested block as one object or as a one-item list).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from fnmatch import fnmatchcase
from typing import Any, Final

from .._rule import Framework, iter_list

__all__ = [
    "ANY_PRINCIPAL",
    "AT_REST_CONTROLS",
    "KEY_MANAGEMENT_CONTROLS",
    "DocumentError",
    "actions_match",
    "blocks",
    "condition_values",
    "is_aws_resource_type",
    "is_true",
    "parse_document",
    "statements",
    "string_values",
]

ANY_PRINCIPAL: Final = "*"


def is_true(value: Any) -> bool:
    """A flag that is on: ``True`` (or the string ``"true"`` some providers record)."""
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return value is True


def blocks(value: Any) -> Iterator[Mapping[str, Any]]:
    """The objects of a nested block recorded either as one object or as a list of them."""
    if isinstance(value, Mapping):
        yield value
        return
    for item in iter_list(value):
        if isinstance(item, Mapping):
            yield item


def string_values(value: Any) -> list[str]:
    """A policy field that may hold one string or a list of them, as a list of strings."""
    if isinstance(value, str):
        return [value]
    return [item for item in iter_list(value) if isinstance(item, str)]


class DocumentError(ValueError):
    """A policy document that is not a JSON object (so nothing in it can be verified)."""


def parse_document(value: Any) -> Mapping[str, Any] | None:
    """An IAM-style policy document from a JSON string or an object; ``None`` when unset."""
    if value is None or value == "":
        return None
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as error:
            raise DocumentError(f"not valid JSON ({error.msg})") from error
        if isinstance(parsed, dict):
            return parsed
    raise DocumentError("not a JSON object")


def statements(document: Mapping[str, Any] | None) -> Iterator[Mapping[str, Any]]:
    """The statements of a policy document (``Statement`` may be one object or a list)."""
    if document is None:
        return
    yield from blocks(document.get("Statement"))


def actions_match(patterns: list[str], action: str) -> bool:
    """Whether any IAM action pattern (``s3:*``, ``sts:Assume*``) covers ``action``.

    IAM matches action names case-insensitively, with ``*`` and ``?`` wildcards.
    """
    wanted = action.lower()
    return any(fnmatchcase(wanted, pattern.lower()) for pattern in patterns)


def condition_values(statement: Mapping[str, Any]) -> Iterator[tuple[str, str, list[str]]]:
    """``(operator, key, values)`` for every condition of a statement.

    Condition keys are case-insensitive in IAM, so keys come back lower-cased; operators keep
    their spelling. Non-string values (``true``, numbers) are rendered as JSON text.
    """
    conditions = statement.get("Condition")
    if not isinstance(conditions, Mapping):
        return
    for operator, entries in conditions.items():
        if not isinstance(entries, Mapping):
            continue
        for key, raw in entries.items():
            items = [raw] if not _is_list(raw) else list(iter_list(raw))
            values = [item if isinstance(item, str) else json.dumps(item) for item in items]
            yield str(operator), str(key).lower(), values


def _is_list(value: Any) -> bool:
    return not isinstance(value, str | bytes | Mapping) and hasattr(value, "__iter__")


def is_aws_resource_type(resource_type: str) -> bool:
    """An AWS provider resource (not the provider itself, not a component)."""
    return resource_type.startswith("aws:")


# Controls every encryption-at-rest rule serves.
AT_REST_CONTROLS: Final[Mapping[Framework, tuple[str, ...]]] = {
    "nist-800-53": ("SC-13", "SC-28"),
    "hipaa": ("164.312(a)(2)(iv)",),
    "gdpr": ("Art. 32",),
    "dpdp": ("Sec. 8(5)",),
    "eu-ai-act": ("Art. 15",),
}
# Encryption under a key the platform manages (rotation, key policy): key management too.
KEY_MANAGEMENT_CONTROLS: Final[Mapping[Framework, tuple[str, ...]]] = {
    **AT_REST_CONTROLS,
    "nist-800-53": ("SC-12", "SC-28"),
}
