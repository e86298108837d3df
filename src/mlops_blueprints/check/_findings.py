"""The unit of a check result: one problem, on one field of one object."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import jsonschema
from jsonschema.exceptions import ValidationError

__all__ = [
    "CHECK_NAMES",
    "CheckName",
    "Finding",
    "Severity",
    "findings_from_errors",
    "format_field",
    "object_label",
    "short_repr",
]

CheckName = Literal["kubernetes", "crd", "helm", "ordering", "policy"]
Severity = Literal["error", "warning", "advisory"]
CHECK_NAMES: tuple[CheckName, ...] = ("kubernetes", "crd", "helm", "ordering", "policy")

# Keys that would be ambiguous in a dotted path (annotation keys, argocd-cm keys) get brackets.
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_\-]+$")


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found by a check.

    ``object`` names what is wrong ("Deployment ml/trainer", "helm release mlflow"), ``field`` is
    a dotted path into it ("spec.template.spec.containers[0].image"), ``file`` is the rendered
    file it came from, relative to the rendered directory, when there is one.
    """

    check: CheckName
    severity: Severity
    object: str
    field: str
    message: str
    file: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def format_field(parts: Iterable[str | int]) -> str:
    """Render a path as ``a.b[0].c``; keys with dots or spaces become ``a["x.y/z"]``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            text += f".{part}" if text else part
        else:
            text += f'["{part}"]'
    return text


def object_label(kind: str, name: str | None, namespace: str | None = None) -> str:
    """``Deployment ml/trainer`` for namespaced objects, ``Namespace ml`` for cluster ones."""
    shown = name or "<unnamed>"
    return f"{kind} {namespace}/{shown}" if namespace else f"{kind} {shown}"


def short_repr(value: Any, *, limit: int = 60) -> str:
    """A value for a message, cut so one bad blob does not flood the report."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _listed_types(schema_types: Any) -> list[str]:
    listed = schema_types if isinstance(schema_types, list) else [schema_types]
    return [str(item) for item in listed if item != "null"]


def _unknown_keys(error: ValidationError) -> list[str]:
    instance = error.instance if isinstance(error.instance, dict) else {}
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    known = set(schema.get("properties") or {})
    patterns = [re.compile(pattern) for pattern in schema.get("patternProperties") or {}]
    return sorted(
        key
        for key in instance
        if key not in known and not any(pattern.search(key) for pattern in patterns)
    )


def _only_type_alternatives(error: ValidationError) -> list[str] | None:
    """For ``oneOf: [{type: string}, {type: integer}]`` style unions, the allowed types."""
    context = error.context or []
    if not context or any(
        sub.validator != "type" or sub.absolute_path != error.absolute_path for sub in context
    ):
        return None
    types: list[str] = []
    for sub in context:
        for listed in _listed_types(sub.validator_value):
            if listed not in types:
                types.append(listed)
    return types


def _describe(error: ValidationError) -> list[tuple[list[str | int], str]]:
    """(field path, message) pairs for one jsonschema error, in the report's wording."""
    path: list[str | int] = list(error.absolute_path)
    validator = error.validator
    if validator == "additionalProperties" and error.validator_value is False:
        return [
            (
                [*path, key],
                f"unknown field {key!r}: not in the schema (strict field validation rejects it)",
            )
            for key in _unknown_keys(error)
        ]
    if validator == "required":
        missing = re.match(r"^'(.+)' is a required property$", error.message)
        name = missing.group(1) if missing else str(error.message)
        return [([*path, name], f"required field {name!r} is missing")]
    if validator == "type":
        expected = " or ".join(_listed_types(error.validator_value))
        got = f"{_json_type(error.instance)} {short_repr(error.instance)}"
        return [(path, f"expected {expected}, got {got}")]
    if validator == "enum":
        options = error.validator_value if isinstance(error.validator_value, list) else []
        allowed = ", ".join(short_repr(item, limit=30) for item in options)
        return [(path, f"{short_repr(error.instance)} is not one of: {allowed}")]
    if validator in {"oneOf", "anyOf"}:
        types = _only_type_alternatives(error)
        if types:
            got = _json_type(error.instance)
            return [
                (
                    path,
                    f"expected {' or '.join(types)}, got {got} {short_repr(error.instance)}",
                )
            ]
        best = jsonschema.exceptions.best_match(error.context or [])
        if best is not None and best is not error:
            return _describe(best)
    return [(path, str(error.message))]


def findings_from_errors(
    errors: Iterable[ValidationError],
    *,
    check: CheckName,
    object_name: str,
    file: str | None,
    field_prefix: Sequence[str | int] = (),
) -> list[Finding]:
    """Turn jsonschema errors into findings: one per field, unknown keys named individually."""
    findings: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    for error in errors:
        for path, message in _describe(error):
            field = format_field([*field_prefix, *path])
            if (field, message) in seen:
                continue
            seen.add((field, message))
            findings.append(Finding(check, "error", object_name, field, message, file))
    return findings
