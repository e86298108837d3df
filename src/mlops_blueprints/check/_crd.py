"""Check custom resources against the ``openAPIV3Schema`` of their CRD.

A CRD comes from the render itself (a ``CustomResourceDefinition`` manifest, which is what the
cluster would get) or else from the upstream data (``<upstream>/crds/**/*.yaml``). Its structural
schema is translated to JSON Schema so that validation matches the API server with strict field
validation:

- unknown fields are errors, except below ``x-kubernetes-preserve-unknown-fields: true``;
- ``x-kubernetes-int-or-string`` accepts an integer or a string;
- ``x-kubernetes-embedded-resource`` objects get ``apiVersion``/``kind``/``metadata``;
- ``nullable: true`` admits null; other nulls are pruned by the API server, so they are dropped;
- ``format`` is checked for int32, int64, byte, date-time, date, ipv4, ipv6, cidr, uuid, mac;
- root ``metadata`` is checked minimally: a name, string labels and annotations.

CEL rules (``x-kubernetes-validations``) are not evaluated: there is no CEL runtime here.
"""

from __future__ import annotations

import base64
import binascii
import functools
import ipaddress
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema import FormatChecker

from mlops_blueprints.check._findings import Finding, findings_from_errors
from mlops_blueprints.check._kube import is_builtin_group
from mlops_blueprints.check._rendered import Manifest, load_yaml_documents, strip_nulls

__all__ = [
    "FORMAT_CHECKER",
    "CrdDefinition",
    "CrdIndex",
    "CrdVersion",
    "check_custom_resources",
    "crd_from_body",
    "structural_to_json_schema",
]

_STRING_MAP: dict[str, Any] = {"type": "object", "additionalProperties": {"type": "string"}}
# ObjectMeta fields a client may send. Only their basic types are checked ("minimal" metadata
# validation); the name requirement is checked separately for a clearer message.
_OBJECT_META: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "generateName": {"type": "string"},
        "namespace": {"type": "string"},
        "labels": _STRING_MAP,
        "annotations": _STRING_MAP,
        "finalizers": {"type": "array", "items": {"type": "string"}},
        "ownerReferences": {"type": "array", "items": {"type": "object"}},
        "uid": {"type": "string"},
        "resourceVersion": {"type": "string"},
        "generation": {"type": "integer"},
        "selfLink": {"type": "string"},
        "creationTimestamp": {"type": "string"},
        "deletionTimestamp": {"type": "string"},
        "deletionGracePeriodSeconds": {"type": "integer"},
        "managedFields": {"type": "array", "items": {"type": "object"}},
    },
    "additionalProperties": False,
}
# Keywords copied as they are: their meaning is the same in OpenAPI v3 and JSON Schema.
_PLAIN_KEYWORDS = (
    "required",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "multipleOf",
    "minimum",
    "maximum",
    "uniqueItems",
)
_INLINE_FLAGS = re.compile(r"\(\?([aiLmsux]+)\)")
_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})?$"
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MAC = re.compile(r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$")


def _int_in_range(bits: int) -> Callable[[object], bool]:
    high: int = (1 << (bits - 1)) - 1
    low: int = -high - 1

    def check(instance: object) -> bool:
        if isinstance(instance, bool) or not isinstance(instance, int | float):
            return True
        return low <= instance <= high

    return check


def _string_check(predicate: Callable[[str], object]) -> Callable[[object], bool]:
    def check(instance: object) -> bool:
        if not isinstance(instance, str):
            return True
        try:
            result = predicate(instance)
        except ValueError:
            return False
        return result is not None and result is not False

    return check


def _base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except binascii.Error:
        return False
    return True


def _build_format_checker() -> FormatChecker:
    # Only formats the API server checks (plus int32/int64 ranges, which its Go clients need);
    # jsonschema's defaults differ (its "duration" is ISO 8601, Kubernetes' is Go syntax).
    checker = FormatChecker(formats=())
    checks: dict[str, Callable[[object], bool]] = {
        "int32": _int_in_range(32),
        "int64": _int_in_range(64),
        "byte": _string_check(_base64),
        "date-time": _string_check(_DATE_TIME.match),
        "date": _string_check(_DATE.match),
        "ipv4": _string_check(ipaddress.IPv4Address),
        "ipv6": _string_check(ipaddress.IPv6Address),
        "cidr": _string_check(lambda text: ipaddress.ip_network(text, strict=False)),
        "uuid": _string_check(uuid.UUID),
        "mac": _string_check(_MAC.match),
    }
    for name, function in checks.items():
        checker.checks(name)(function)
    return checker


FORMAT_CHECKER = _build_format_checker()


def _python_pattern(pattern: str) -> str | None:
    """An ECMA/RE2 ``pattern`` as a Python regex, or None when Python cannot express it."""
    try:
        re.compile(pattern)
        return pattern
    except re.error:
        pass
    # RE2 allows inline flags anywhere (e.g. "^(?i)(abort|warn)?$"); Python wants them first.
    flags = "".join(_INLINE_FLAGS.findall(pattern))
    candidate = f"(?{flags}){_INLINE_FLAGS.sub('', pattern)}" if flags else pattern
    try:
        re.compile(candidate)
    except re.error:
        return None
    return candidate


def _is_object(node: Mapping[str, Any]) -> bool:
    return node.get("type") == "object" or ("type" not in node and "properties" in node)


def _convert(node: Mapping[str, Any], *, structural: bool) -> dict[str, Any]:
    """One schema node. ``structural`` is False inside allOf/anyOf/oneOf/not, where Kubernetes
    only allows value checks, so no unknown-field rule may be added there."""
    out: dict[str, Any] = {}
    nullable = node.get("nullable") is True
    preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
    if node.get("x-kubernetes-int-or-string") is True:
        out["type"] = ["integer", "string"]
    elif isinstance(node.get("type"), str):
        out["type"] = [node["type"]]
    if nullable and "type" in out:
        out["type"].append("null")
    for keyword in _PLAIN_KEYWORDS:
        if keyword in node:
            out[keyword] = node[keyword]
    # OpenAPI v3 exclusive bounds are booleans qualifying minimum/maximum.
    for bound, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        if node.get(exclusive) is True and bound in node:
            out[exclusive] = out.pop(bound)
    if "enum" in node:
        out["enum"] = [*node["enum"], None] if nullable else list(node["enum"])
    if isinstance(node.get("pattern"), str):
        pattern = _python_pattern(node["pattern"])
        if pattern is not None:
            out["pattern"] = pattern
    if isinstance(node.get("format"), str) and node["format"] in FORMAT_CHECKER.checkers:
        out["format"] = node["format"]
    properties = node.get("properties")
    if isinstance(properties, Mapping):
        out["properties"] = {
            name: _convert(child, structural=structural) for name, child in properties.items()
        }
    additional = node.get("additionalProperties")
    if isinstance(additional, Mapping):
        out["additionalProperties"] = _convert(additional, structural=structural)
    elif isinstance(additional, bool):
        out["additionalProperties"] = additional
    elif structural and _is_object(node) and not preserve:
        out["additionalProperties"] = False
    if isinstance(node.get("items"), Mapping):
        out["items"] = _convert(node["items"], structural=structural)
    if structural and node.get("x-kubernetes-list-type") == "set":
        out["uniqueItems"] = True
    for junctor in ("allOf", "anyOf", "oneOf"):
        if isinstance(node.get(junctor), list):
            out[junctor] = [_convert(child, structural=False) for child in node[junctor]]
    if isinstance(node.get("not"), Mapping):
        out["not"] = _convert(node["not"], structural=False)
    if structural and node.get("x-kubernetes-embedded-resource") is True:
        embedded = out.setdefault("properties", {})
        embedded.setdefault("apiVersion", {"type": "string"})
        embedded.setdefault("kind", {"type": "string"})
        embedded["metadata"] = _OBJECT_META
        # A non-empty embedded object must say what it is.
        out["if"] = {"type": "object", "minProperties": 1}
        out["then"] = {"required": ["apiVersion", "kind"]}
    return out


def structural_to_json_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A CRD version's ``openAPIV3Schema`` as a JSON Schema (2020-12) for a whole object."""
    root = _convert(schema, structural=True)
    root.setdefault("type", ["object"])
    properties = root.setdefault("properties", {})
    properties["apiVersion"] = {"type": "string"}
    properties["kind"] = {"type": "string"}
    properties["metadata"] = _OBJECT_META
    if schema.get("x-kubernetes-preserve-unknown-fields") is not True:
        root.setdefault("additionalProperties", False)
    return root


@dataclass(frozen=True)
class CrdVersion:
    name: str
    served: bool
    schema: Mapping[str, Any] | None


@dataclass(frozen=True)
class CrdDefinition:
    """The parts of a CustomResourceDefinition the checks use."""

    group: str
    kind: str
    plural: str
    scope: str
    versions: Mapping[str, CrdVersion]
    source: str
    # Identifies an upstream file's content (path, mtime, size) so translated schemas can be
    # shared across runs; None for CRDs read from a render.
    upstream_key: tuple[str, int, int] | None = None

    @property
    def name(self) -> str:
        return f"{self.plural}.{self.group}"

    @property
    def served_versions(self) -> list[str]:
        return [name for name, version in self.versions.items() if version.served]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def crd_from_body(body: Mapping[str, Any], *, source: str) -> CrdDefinition | None:
    """Read a CustomResourceDefinition object; None when it lacks group or kind."""
    spec = body.get("spec")
    if not isinstance(spec, Mapping):
        return None
    names = _mapping(spec.get("names"))
    group, kind = spec.get("group"), names.get("kind")
    if not isinstance(group, str) or not isinstance(kind, str):
        return None
    versions: dict[str, CrdVersion] = {}
    for raw in spec.get("versions") or ():
        if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
            continue
        schema = _mapping(raw.get("schema")).get("openAPIV3Schema")
        versions[raw["name"]] = CrdVersion(
            name=raw["name"],
            served=raw.get("served", True) is not False,
            schema=schema if isinstance(schema, Mapping) else None,
        )
    return CrdDefinition(
        group=group,
        kind=kind,
        plural=str(names.get("plural") or kind.lower() + "s"),
        scope=str(spec.get("scope") or "Namespaced"),
        versions=versions,
        source=source,
    )


@functools.lru_cache(maxsize=128)
def _read_crd_file(path: str, _mtime_ns: int, _size: int) -> tuple[CrdDefinition, ...]:
    # Keyed by mtime and size so an edited file is re-read; parsing the large KServe CRD takes
    # about a second, so each file is parsed at most once per process.
    text = Path(path).read_text(encoding="utf-8")
    found: list[CrdDefinition] = []
    for document in load_yaml_documents(text):
        if isinstance(document, Mapping) and document.get("kind") == "CustomResourceDefinition":
            crd = crd_from_body(document, source=path)
            if crd is not None:
                found.append(crd)
    return tuple(found)


@functools.lru_cache(maxsize=128)
def _file_text(path: str, _mtime_ns: int, _size: int) -> str:
    return Path(path).read_text(encoding="utf-8")


class CrdIndex:
    """CRDs by (group, kind): the render's own first, then every CRD in the upstream data.

    Upstream files are found by a text search for the group and kind and parsed on first use,
    so a check run only pays for the CRDs its objects use.
    """

    def __init__(self, *, upstream: Path | None, rendered: Iterable[CrdDefinition] = ()) -> None:
        self._rendered = {(crd.group, crd.kind): crd for crd in rendered}
        self._upstream_root = upstream
        self._upstream_files: list[Path] = []
        if upstream is not None and (upstream / "crds").is_dir():
            self._upstream_files = sorted(
                path
                for path in (upstream / "crds").rglob("*")
                if path.suffix in {".yaml", ".yml"} and path.is_file()
            )
        self._found: dict[tuple[str, str], CrdDefinition | None] = {}
        self._rendered_validators: dict[tuple[str, str, str], jsonschema.protocols.Validator] = {}

    def _display_source(self, path: Path) -> str:
        if self._upstream_root is not None:
            return f"upstream {path.relative_to(self._upstream_root).as_posix()}"
        return str(path)

    def _search_upstream(self, group: str, kind: str) -> CrdDefinition | None:
        plural_hint = kind.lower()
        candidates: list[Path] = []
        for path in self._upstream_files:
            stat = path.stat()
            text = _file_text(str(path), stat.st_mtime_ns, stat.st_size)
            if group in text and kind in text:
                candidates.append(path)
        # Files named after the kind first, so a big file that merely mentions it is not parsed.
        candidates.sort(key=lambda path: plural_hint not in path.name.lower())
        for path in candidates:
            stat = path.stat()
            for crd in _read_crd_file(str(path), stat.st_mtime_ns, stat.st_size):
                if crd.group == group and crd.kind == kind:
                    return CrdDefinition(
                        group=crd.group,
                        kind=crd.kind,
                        plural=crd.plural,
                        scope=crd.scope,
                        versions=crd.versions,
                        source=self._display_source(path),
                        upstream_key=(str(path), stat.st_mtime_ns, stat.st_size),
                    )
        return None

    def lookup(self, group: str, kind: str) -> CrdDefinition | None:
        key = (group, kind)
        if key in self._rendered:
            return self._rendered[key]
        if key not in self._found:
            self._found[key] = self._search_upstream(group, kind)
        return self._found[key]

    def validator(self, crd: CrdDefinition, version: str) -> jsonschema.protocols.Validator | None:
        schema = crd.versions[version].schema
        if schema is None:
            return None
        if crd.upstream_key is not None:
            return _upstream_validator(crd.upstream_key, crd.group, crd.kind, version)
        key = (crd.group, crd.kind, version)
        if key not in self._rendered_validators:
            self._rendered_validators[key] = _make_validator(schema)
        return self._rendered_validators[key]


def _make_validator(schema: Mapping[str, Any]) -> jsonschema.protocols.Validator:
    validator: jsonschema.protocols.Validator = jsonschema.Draft202012Validator(
        structural_to_json_schema(schema), format_checker=FORMAT_CHECKER
    )
    return validator


@functools.lru_cache(maxsize=128)
def _upstream_validator(
    upstream_key: tuple[str, int, int], group: str, kind: str, version: str
) -> jsonschema.protocols.Validator:
    # Translating the KServe schema takes a while; do it once per file content and version.
    for crd in _read_crd_file(*upstream_key):
        if crd.group == group and crd.kind == kind:
            schema = crd.versions[version].schema
            if schema is not None:
                return _make_validator(schema)
    raise KeyError((upstream_key, group, kind, version))


def _metadata_findings(manifest: Manifest) -> list[Finding]:
    metadata = manifest.metadata
    if metadata.get("name") or metadata.get("generateName"):
        return []
    return [
        Finding(
            "crd",
            "error",
            manifest.label,
            "metadata.name",
            "required field 'name' is missing",
            manifest.file,
        )
    ]


def check_custom_resources(
    manifests: Iterable[Manifest], *, index: CrdIndex
) -> tuple[list[Finding], int]:
    """Validate every non-built-in object against its CRD; (findings, examined)."""
    findings: list[Finding] = []
    examined = 0
    for manifest in manifests:
        if is_builtin_group(manifest.group):
            continue
        examined += 1
        crd = index.lookup(manifest.group, manifest.kind)
        if crd is None:
            findings.append(
                Finding(
                    "crd",
                    "error",
                    manifest.label,
                    "kind",
                    f"no CRD defines {manifest.kind} in group {manifest.group!r}: neither the "
                    "upstream data nor the render has it, so the object cannot be validated "
                    "(and the API server would reject it); add the CRD to the render or its "
                    "upstream file to the lock",
                    manifest.file,
                )
            )
            continue
        version = crd.versions.get(manifest.version)
        if version is None or not version.served:
            served = ", ".join(crd.served_versions) or "none"
            findings.append(
                Finding(
                    "crd",
                    "error",
                    manifest.label,
                    "apiVersion",
                    f"CRD {crd.name} ({crd.source}) does not serve {manifest.version}; "
                    f"served versions: {served}",
                    manifest.file,
                )
            )
            continue
        findings.extend(_metadata_findings(manifest))
        validator = index.validator(crd, manifest.version)
        if validator is None:
            continue
        findings.extend(
            findings_from_errors(
                validator.iter_errors(strip_nulls(dict(manifest.body))),
                check="crd",
                object_name=manifest.label,
                file=manifest.file,
            )
        )
    return findings, examined
