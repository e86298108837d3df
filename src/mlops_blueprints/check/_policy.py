"""The ``policy`` check: the policy rules of the render's level, as check findings.

Mandatory violations are errors (they fail the check, as they would block ``pulumi up``);
advisory ones are warnings for high and critical rules and advisories otherwise. A suppression
that matched nothing is a warning, so stale entries get noticed and removed.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_blueprints.check._findings import Finding, Severity, object_label
from mlops_blueprints.check._rendered import RenderedDir

if TYPE_CHECKING:
    from mlops_blueprints.policies import PolicyReport, PolicyViolation, Rule

__all__ = ["policy_findings", "policy_sdk_installed", "run_policy_check"]

_ADVISORY_AS_WARNING = frozenset({"high", "critical"})


def policy_sdk_installed() -> bool:
    """Whether the pulumi-policy SDK the rules run on is importable (not in the core install)."""
    return importlib.util.find_spec("pulumi_policy") is not None


def _labels(rendered: RenderedDir) -> tuple[dict[str, str], dict[str, str]]:
    """URN -> readable object label and URN -> manifest file, from the render."""
    labels: dict[str, str] = {}
    files: dict[str, str] = {}
    for manifest in rendered.manifests:
        if manifest.source_urn:
            labels[manifest.source_urn] = manifest.label
            files[manifest.source_urn] = manifest.file
    return labels, files


def _object(violation: PolicyViolation, labels: Mapping[str, str]) -> str:
    if not violation.urn:
        return "stack"
    label = labels.get(violation.urn)
    if label:
        return f"{label} ({violation.resource})"
    kind = violation.resource_type.rsplit(":", 1)[-1] or "resource"
    return object_label(kind, violation.resource)


def _severity(violation: PolicyViolation) -> Severity:
    if violation.enforcement == "mandatory":
        return "error"
    return "warning" if violation.severity in _ADVISORY_AS_WARNING else "advisory"


def policy_findings(report: PolicyReport, rendered: RenderedDir) -> list[Finding]:
    """Findings for every unsuppressed violation and every stale suppression."""
    labels, files = _labels(rendered)
    findings = [
        Finding(
            check="policy",
            severity=_severity(violation),
            object=_object(violation, labels),
            field=violation.rule,
            message=(
                f"{violation.enforcement}, {violation.severity}: {violation.message} "
                f"Fix: {violation.remediation}"
            ),
            file=files.get(violation.urn),
        )
        for violation in report.violations
    ]
    findings += [
        Finding(
            check="policy",
            severity="warning",
            object=f"suppression {stale.rule} on {stale.resource}",
            field="mlops-platform:policies.suppressions",
            message=f"stale suppression: {stale.why}; remove it from the stack config",
            file="config.json",
        )
        for stale in report.stale_suppressions
    ]
    if report.level is None:
        findings.append(
            Finding(
                check="policy",
                severity="advisory",
                object="outputs.json",
                field="level",
                message="the render records no level, so every rule ran as advisory; render "
                "the folder with `mlops-bp render` to apply the level's enforcement",
                file=None,
            )
        )
    return findings


def run_policy_check(
    render_dir: Path, rendered: RenderedDir, *, rules: Sequence[Rule] | None = None
) -> tuple[list[Finding], int, PolicyReport]:
    """Run the rules on ``render_dir``: findings, resources examined, and the full report.

    Raises ``BlueprintConfigError`` when the recorded ``policies`` settings are invalid.
    """
    from mlops_blueprints.policies import evaluate_render  # noqa: PLC0415 - needs pulumi-policy

    report = evaluate_render(render_dir, rules=rules)
    return policy_findings(report, rendered), report.resources_examined, report
