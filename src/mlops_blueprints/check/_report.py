"""The result of ``mlops-bp check``: findings, per-check object counts, and their rendering."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from mlops_blueprints.check._findings import CHECK_NAMES, CheckName, Finding, Severity

if TYPE_CHECKING:
    from mlops_blueprints.policies import PolicyReport

__all__ = ["CheckReport", "add_policy_findings", "compliance_table", "report_table"]

_SEVERITIES: tuple[Severity, ...] = ("error", "warning", "advisory")
_SEVERITY_STYLE: Mapping[str, str] = {"error": "bold red", "warning": "yellow", "advisory": "cyan"}
_CONTROL_STYLE: Mapping[str, str] = {"pass": "green", "fail": "bold red", "not applicable": "dim"}


@dataclass(frozen=True)
class CheckReport:
    """Every finding of a check run, and how many objects each check examined.

    ``policy`` is the policy engine's full report (suppressions, compliance matrix) when the
    policy rules ran.
    """

    findings: tuple[Finding, ...]
    objects_examined: Mapping[CheckName, int] = field(default_factory=dict)
    render_dir: str | None = None
    upstream_dir: str | None = None
    kubernetes_versions: tuple[str, ...] = ()
    policy: PolicyReport | None = None

    @property
    def ok(self) -> bool:
        """True when no finding is an error (warnings and advisories do not fail a check)."""
        return not any(finding.severity == "error" for finding in self.findings)

    def count(self, *, check: CheckName | None = None, severity: Severity | None = None) -> int:
        return sum(
            1
            for finding in self.findings
            if (check is None or finding.check == check)
            and (severity is None or finding.severity == severity)
        )

    def for_check(self, check: CheckName) -> tuple[Finding, ...]:
        return tuple(finding for finding in self.findings if finding.check == check)

    def with_findings(
        self, findings: Iterable[Finding], *, check: CheckName, objects_examined: int
    ) -> CheckReport:
        """A copy with ``findings`` of one check added (and its examined count set)."""
        added = tuple(findings)
        stray = sorted({finding.check for finding in added if finding.check != check})
        if stray:
            raise ValueError(f"findings for {check!r} include other checks: {', '.join(stray)}")
        examined = dict(self.objects_examined)
        examined[check] = examined.get(check, 0) + objects_examined
        return CheckReport(
            findings=self.findings + added,
            objects_examined=examined,
            render_dir=self.render_dir,
            upstream_dir=self.upstream_dir,
            kubernetes_versions=self.kubernetes_versions,
            policy=self.policy,
        )

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data: verdict, per-check summary and every finding."""
        summary = {
            check: {
                "objects_examined": self.objects_examined.get(check, 0),
                **{
                    severity: self.count(check=check, severity=severity) for severity in _SEVERITIES
                },
            }
            for check in CHECK_NAMES
        }
        return {
            "ok": self.ok,
            "render_dir": self.render_dir,
            "upstream_dir": self.upstream_dir,
            "kubernetes_versions": list(self.kubernetes_versions),
            "summary": summary,
            "findings": [finding.to_dict() for finding in self.findings],
            "policy": self.policy.to_json() if self.policy is not None else None,
        }


def add_policy_findings(
    report: CheckReport, findings: Iterable[Finding], *, objects_examined: int
) -> CheckReport:
    """Extension point for policy results: merge them into a report as the "policy" check."""
    return report.with_findings(findings, check="policy", objects_examined=objects_examined)


def _findings_table(report: CheckReport) -> Table:
    table = Table(title="Findings", show_lines=False, expand=False)
    table.add_column("check", no_wrap=True)
    table.add_column("severity", no_wrap=True)
    table.add_column("object", overflow="fold")
    table.add_column("field", overflow="fold")
    table.add_column("message", overflow="fold", ratio=3)
    table.add_column("file", overflow="fold")
    order = {severity: index for index, severity in enumerate(_SEVERITIES)}
    for finding in sorted(
        report.findings,
        key=lambda item: (CHECK_NAMES.index(item.check), order[item.severity], item.object),
    ):
        table.add_row(
            finding.check,
            Text(finding.severity, style=_SEVERITY_STYLE[finding.severity]),
            finding.object,
            finding.field or "-",
            finding.message,
            finding.file or "-",
        )
    return table


def _summary_table(report: CheckReport) -> Table:
    table = Table(title="Summary")
    table.add_column("check", no_wrap=True)
    table.add_column("objects", justify="right")
    for heading in ("errors", "warnings", "advisories"):
        table.add_column(heading, justify="right")
    table.add_column("result", no_wrap=True)
    for check in CHECK_NAMES:
        errors = report.count(check=check, severity="error")
        examined = report.objects_examined.get(check, 0)
        if errors:
            result = Text("FAIL", style="bold red")
        elif examined or report.count(check=check):
            result = Text("pass", style="green")
        elif check == "policy":
            result = Text("not run", style="dim")
        else:
            result = Text("nothing to check", style="dim")
        table.add_row(
            check,
            str(examined),
            *(str(report.count(check=check, severity=severity)) for severity in _SEVERITIES),
            result,
        )
    return table


def _suppressions_table(policy: PolicyReport) -> Table:
    table = Table(title="Policy suppressions (mlops-platform:policies.suppressions)")
    table.add_column("rule", no_wrap=True)
    table.add_column("resource", overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column("reason", overflow="fold", ratio=2)
    table.add_column("violation", overflow="fold", ratio=2)
    for item in policy.suppressed:
        violation = item.violation
        table.add_row(
            violation.rule,
            violation.resource or "stack",
            Text(f"suppressed ({violation.enforcement})", style="cyan"),
            item.reason,
            violation.message,
        )
    for stale in policy.stale_suppressions:
        table.add_row(
            stale.rule, stale.resource, Text("stale", style="yellow"), stale.reason, stale.why
        )
    return table


def compliance_table(policy: PolicyReport) -> Table:
    """The compliance matrix: one row per framework control, with its status and rules."""
    level = f"Level {policy.level}" if policy.level is not None else "level unknown"
    table = Table(title=f"Compliance ({level}, {policy.default_enforcement} by default)")
    table.add_column("framework", no_wrap=True)
    table.add_column("control", no_wrap=True)
    table.add_column("title", overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column("failing rules", overflow="fold")
    previous = ""
    for result in policy.compliance:
        table.add_row(
            result.framework if result.framework != previous else "",
            result.control,
            result.title,
            Text(result.status, style=_CONTROL_STYLE[result.status]),
            ", ".join(result.failing_rules) or "-",
        )
        previous = result.framework
    return table


def report_table(report: CheckReport) -> RenderableType:
    """A readable rendering: one row per finding, then a summary row per check.

    When the policy rules ran: the suppressions (applied and stale) and the compliance matrix.
    """
    parts: list[RenderableType] = []
    if report.findings:
        parts.append(_findings_table(report))
    else:
        parts.append(Text("No findings.", style="green"))
    if report.policy is not None:
        if report.policy.suppressed or report.policy.stale_suppressions:
            parts.append(_suppressions_table(report.policy))
        parts.append(compliance_table(report.policy))
    parts.append(_summary_table(report))
    verdict = (
        Text("check passed", style="bold green")
        if report.ok
        else Text(f"check failed: {report.count(severity='error')} error(s)", style="bold red")
    )
    parts.append(verdict)
    return Group(*parts)
