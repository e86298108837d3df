"""Check Helm release values and chart versions against the upstream chart.

For each ``helm/<release>.yaml`` the chart's upstream ``values.yaml`` is the reference:

- a key the chart's defaults do not have is an error, except below a default of ``{}`` (the
  chart's way of saying "any keys"), below a key in the reasoned allowlist
  (``helm_values_allowlist.json``), or below a subchart's key (``global`` and dependencies, whose
  own defaults are not in the upstream data: a warning);
- a map where the default is not a map (or the reverse), or a list where the default is not a
  list, is an error; a different scalar type is a warning;
- when the chart ships ``values.schema.json``, the merged values (defaults deep-merged with the
  release's, as Helm does) must satisfy it;
- the release's pinned version must equal the upstream ``Chart.yaml`` version.

Templates are not rendered: no Helm binary and no chart templates are available offline.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import referencing.exceptions

from mlops_blueprints.check._findings import (
    Finding,
    Severity,
    findings_from_errors,
    format_field,
    short_repr,
)
from mlops_blueprints.check._rendered import HelmReleaseFile, load_yaml_documents

__all__ = [
    "ALLOWLIST_PATH",
    "AllowlistEntry",
    "chart_name",
    "check_helm_releases",
    "coalesce_values",
    "load_allowlist",
]

ALLOWLIST_PATH = Path(__file__).resolve().parent / "helm_values_allowlist.json"
# Chart sources that are versioned by their release tooling carry a placeholder in git.
_PLACEHOLDER_VERSION = re.compile(r"^v?0\.0\.0([-+].*)?$")


@dataclass(frozen=True)
class AllowlistEntry:
    chart: str
    path: tuple[str, ...]
    reason: str


@functools.cache
def load_allowlist(path: Path = ALLOWLIST_PATH) -> tuple[AllowlistEntry, ...]:
    data = json.loads(path.read_text(encoding="utf-8"))
    entries = tuple(
        AllowlistEntry(chart=raw["chart"], path=tuple(raw["path"]), reason=raw["reason"])
        for raw in data["entries"]
    )
    for entry in entries:
        if not entry.reason.strip():
            raise ValueError(f"{path}: allowlist entry {entry.chart} {entry.path} has no reason")
    return entries


def chart_name(chart: str) -> str:
    """``oci://ghcr.io/kserve/charts/kserve-crd`` or ``repo/name`` -> the chart's name."""
    return chart.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class _Chart:
    name: str
    version: str | None
    defaults: Mapping[str, Any]
    schema: Mapping[str, Any] | None
    subcharts: frozenset[str]


def _file_key(path: Path) -> tuple[str, int, int] | None:
    if not path.is_file():
        return None
    stat = path.stat()
    return str(path), stat.st_mtime_ns, stat.st_size


@functools.lru_cache(maxsize=64)
def _read_chart(
    name: str,
    chart_yaml: tuple[str, int, int],
    values_yaml: tuple[str, int, int] | None,
    schema_json: tuple[str, int, int] | None,
) -> _Chart:
    # Keyed by (path, mtime, size) so edits are seen; parsing large values files once per
    # process keeps repeated checks fast.
    meta_docs = load_yaml_documents(Path(chart_yaml[0]).read_text(encoding="utf-8"))
    meta = meta_docs[0] if meta_docs and isinstance(meta_docs[0], dict) else {}
    defaults: Mapping[str, Any] = {}
    if values_yaml is not None:
        docs = load_yaml_documents(Path(values_yaml[0]).read_text(encoding="utf-8"))
        defaults = docs[0] if docs and isinstance(docs[0], dict) else {}
    schema = None
    if schema_json is not None:
        schema = json.loads(Path(schema_json[0]).read_text(encoding="utf-8"))
    subcharts = frozenset(
        str(dependency.get("alias") or dependency.get("name"))
        for dependency in meta.get("dependencies") or ()
        if isinstance(dependency, dict)
    )
    version = meta.get("version")
    return _Chart(
        name=name,
        version=str(version) if version is not None else None,
        defaults=defaults,
        schema=schema,
        subcharts=subcharts,
    )


def _load_chart(upstream: Path, name: str) -> _Chart | None:
    directory = upstream / "charts" / name
    chart_yaml = _file_key(directory / "Chart.yaml")
    if chart_yaml is None:
        return None
    return _read_chart(
        name,
        chart_yaml,
        _file_key(directory / "values.yaml"),
        _file_key(directory / "values.schema.json"),
    )


def coalesce_values(defaults: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's merge: maps merge recursively, anything else replaces, null deletes the key."""
    merged = copy.deepcopy(dict(defaults))
    for key, value in overrides.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = coalesce_values(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _kind_of(value: Any) -> str:
    if isinstance(value, Mapping):
        return "map"
    if isinstance(value, list):
        return "list"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string"


@dataclass
class _ValuesWalk:
    release: HelmReleaseFile
    chart: _Chart
    allowed: frozenset[tuple[str, ...]]
    findings: list[Finding]

    def _add(self, severity: Severity, path: Sequence[str], message: str) -> None:
        self.findings.append(
            Finding(
                "helm",
                severity,
                self.release.label,
                format_field(["values", *path]),
                message,
                self.release.file,
            )
        )

    def walk(
        self,
        given: Mapping[str, Any],
        defaults: Mapping[str, Any],
        path: tuple[str, ...],
        subchart: str | None,
    ) -> None:
        for key, value in given.items():
            here = (*path, str(key))
            if here in self.allowed:
                continue
            owner = subchart
            if not path and (key in self.chart.subcharts or key == "global"):
                owner = str(key)
            if key not in defaults:
                self._unknown_key(here, owner)
                continue
            self._compare(value, defaults[key], here, owner)

    def _unknown_key(self, path: tuple[str, ...], owner: str | None) -> None:
        where = f"chart {self.chart.name} {self.chart.version or ''}".rstrip()
        if owner is not None:
            # Subchart and global values are defined by charts whose defaults are not here.
            self._add(
                "warning",
                path,
                f"key {path[-1]!r} is not in {where} values.yaml; it is passed to "
                f"{owner!r}, whose own values are not in the upstream data, so it is unchecked",
            )
            return
        self._add(
            "error",
            path,
            f"unknown key {path[-1]!r}: not in {where} values.yaml, so the chart ignores it "
            "(check the spelling, or the chart version it was written for)",
        )

    def _compare(self, value: Any, default: Any, path: tuple[str, ...], owner: str | None) -> None:
        if value is None or default is None:
            # null deletes a default; a null default leaves the type to the templates.
            return
        expected, got = _kind_of(default), _kind_of(value)
        if expected == "map":
            if got != "map":
                self._add(
                    "error",
                    path,
                    f"expected a map like the chart default, got {got} {short_repr(value)}",
                )
            elif default:
                self.walk(value, default, path, owner)
            # An empty default map means the chart accepts any keys there.
            return
        if expected == "list" or got in {"map", "list"}:
            if expected != got:
                self._add(
                    "error",
                    path,
                    f"expected a {expected} like the chart default {short_repr(default)}, "
                    f"got {got} {short_repr(value)}",
                )
            return
        if expected != got:
            self._add(
                "warning",
                path,
                f"chart default is a {expected} ({short_repr(default)}), got {got} "
                f"{short_repr(value)}; templates may treat it differently",
            )


def _schema_findings(
    release: HelmReleaseFile, chart: _Chart, already_reported: set[str]
) -> list[Finding]:
    if chart.schema is None:
        return []
    merged = coalesce_values(chart.defaults, release.values)
    validator_class = jsonschema.validators.validator_for(
        chart.schema, default=jsonschema.Draft7Validator
    )
    validator = validator_class(chart.schema)
    errors: list[jsonschema.ValidationError] = []
    problems: list[Finding] = []
    try:
        errors.extend(validator.iter_errors(merged))
    except referencing.exceptions.Unresolvable as error:
        problems.append(
            Finding(
                "helm",
                "warning",
                release.label,
                "values",
                f"values.schema.json refers to {error} which cannot be resolved offline; "
                "schema validation is incomplete",
                release.file,
            )
        )
    for finding in findings_from_errors(
        errors,
        check="helm",
        object_name=release.label,
        file=release.file,
        field_prefix=("values",),
    ):
        if finding.field in already_reported:
            continue
        problems.append(
            dataclasses.replace(finding, message=f"values.schema.json: {finding.message}")
        )
    return problems


def _version_findings(release: HelmReleaseFile, chart: _Chart) -> list[Finding]:
    def finding(severity: Severity, message: str) -> Finding:
        return Finding(
            "helm",
            severity,
            release.label,
            "version",
            message,
            release.file,
        )

    upstream_version = chart.version
    if upstream_version is None:
        return [finding("error", f"upstream Chart.yaml of {chart.name} has no version")]
    if release.version is None:
        return [finding("error", f"no chart version pinned; pin {upstream_version}")]
    if _PLACEHOLDER_VERSION.match(upstream_version):
        return [
            finding(
                "warning",
                f"upstream Chart.yaml of {chart.name} carries the placeholder version "
                f"{upstream_version} (set at release time), so the pinned {release.version} "
                "cannot be confirmed to match the upstream values used here",
            )
        ]
    if release.version != upstream_version:
        return [
            finding(
                "error",
                f"pinned chart version {release.version} differs from the upstream "
                f"{chart.name} Chart.yaml version {upstream_version}: values were checked "
                f"against {upstream_version}; pin it, or update the upstream lock",
            )
        ]
    return []


def check_helm_releases(
    releases: Iterable[HelmReleaseFile], *, upstream: Path
) -> tuple[list[Finding], int]:
    """Check every release's values and version; (findings, examined)."""
    allowlist = load_allowlist()
    findings: list[Finding] = []
    examined = 0
    for release in releases:
        examined += 1
        name = chart_name(release.chart)
        chart = _load_chart(upstream, name)
        if chart is None:
            findings.append(
                Finding(
                    "helm",
                    "error",
                    release.label,
                    "chart",
                    f"no upstream data for chart {name!r} (expected charts/{name}/Chart.yaml "
                    "in the upstream directory): its values cannot be checked; add the chart "
                    "to the upstream lock",
                    release.file,
                )
            )
            continue
        findings.extend(_version_findings(release, chart))
        walk = _ValuesWalk(
            release=release,
            chart=chart,
            allowed=frozenset(entry.path for entry in allowlist if entry.chart == name),
            findings=[],
        )
        walk.walk(release.values, chart.defaults, (), None)
        findings.extend(walk.findings)
        reported = {item.field for item in walk.findings if item.severity == "error"}
        findings.extend(_schema_findings(release, chart, reported))
    return findings, examined
