"""Run the policy rules on a render: enforcement per level, suppressions, compliance matrix.

The engine is the offline half of the policy pack. It reads what ``mlops-bp render`` wrote
(``inventory.json``, the level from ``outputs.json``, the stack config from ``config.json``),
runs every rule of the level through the policy SDK's own analyzer (``analyze``), and returns a
``PolicyReport``: the violations with their enforcement, the suppressed ones with their
reasons, suppressions that matched nothing, and per framework the status of every control.

Enforcement: advisory below Level 4 and mandatory at Level 4 (``enable_mandatory_policies``),
unless the stack config ``mlops-platform:policies`` says otherwise for all rules
(``enforcement``) or per rule (``rules``).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from mlops_blueprints.blueprints._levels import LEVELS, features_for_level, parse_level
from mlops_blueprints.blueprints._spec import (
    CONFIG_NAMESPACE,
    PolicySettings,
    SuppressionSettings,
    parse_policy_settings,
)
from pulumi_policy import EnforcementLevel

from mlops_blueprints.errors import UsageError

from ._analyze import AnalyzedResource, analyze
from ._frameworks import CONTROLS
from ._rule import FRAMEWORKS, Framework, Rule, Severity

__all__ = [
    "CONFIG_FILE",
    "ControlResult",
    "ControlStatus",
    "Enforcement",
    "PolicyReport",
    "PolicyViolation",
    "RenderContext",
    "StaleSuppression",
    "SuppressedViolation",
    "default_enforcement",
    "evaluate",
    "evaluate_render",
    "load_render_context",
    "load_resources",
    "resolve_enforcement",
    "suppression_applies",
]

Enforcement = Literal["advisory", "mandatory", "disabled"]
ControlStatus = Literal["pass", "fail", "not applicable"]

# Written by ``mlops-bp render`` next to inventory.json: the stack config the program ran with.
CONFIG_FILE: Final = "config.json"
POLICIES_KEY: Final = f"{CONFIG_NAMESPACE}:policies"

_SDK_LEVELS: Final[Mapping[Enforcement, EnforcementLevel]] = {
    "advisory": EnforcementLevel.ADVISORY,
    "mandatory": EnforcementLevel.MANDATORY,
    "disabled": EnforcementLevel.DISABLED,
}


@dataclass(frozen=True)
class PolicyViolation:
    """One rule broken by one resource (``urn`` empty for a stack-wide finding)."""

    rule: str
    severity: Severity
    enforcement: Literal["advisory", "mandatory"]
    urn: str
    resource: str
    resource_type: str
    message: str
    remediation: str

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "enforcement": self.enforcement,
            "resource": self.resource,
            "type": self.resource_type,
            "urn": self.urn,
            "message": self.message,
            "remediation": self.remediation,
        }


@dataclass(frozen=True)
class SuppressedViolation:
    """A violation the stack config accepts, with the reason it gives."""

    violation: PolicyViolation
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {**self.violation.to_json(), "reason": self.reason}


@dataclass(frozen=True)
class StaleSuppression:
    """A suppression that matched no violation, and why (so it can be deleted or fixed)."""

    rule: str
    resource: str
    reason: str
    why: str

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "resource": self.resource,
            "reason": self.reason,
            "why": self.why,
        }


@dataclass(frozen=True)
class ControlResult:
    """One control of one framework: its status and the rules behind it."""

    framework: Framework
    control: str
    title: str
    status: ControlStatus
    rules: tuple[str, ...]
    failing_rules: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "status": self.status,
            "rules": list(self.rules),
            "failing_rules": list(self.failing_rules),
        }


@dataclass(frozen=True)
class PolicyReport:
    """Everything one policy run found.

    ``enforcement`` holds every rule in scope at ``level`` (``disabled`` ones did not run);
    ``violations`` are the unsuppressed ones. The report is ``ok`` when none is mandatory.
    """

    level: int | None
    default_enforcement: Literal["advisory", "mandatory"]
    enforcement: Mapping[str, Enforcement]
    resources_examined: int
    violations: tuple[PolicyViolation, ...]
    suppressed: tuple[SuppressedViolation, ...]
    stale_suppressions: tuple[StaleSuppression, ...]
    compliance: tuple[ControlResult, ...] = field(default=())

    @property
    def mandatory(self) -> tuple[PolicyViolation, ...]:
        return tuple(v for v in self.violations if v.enforcement == "mandatory")

    @property
    def advisory(self) -> tuple[PolicyViolation, ...]:
        return tuple(v for v in self.violations if v.enforcement == "advisory")

    @property
    def ok(self) -> bool:
        return not self.mandatory

    @property
    def rules_run(self) -> tuple[str, ...]:
        return tuple(name for name, level in self.enforcement.items() if level != "disabled")

    def matrix(self) -> dict[str, dict[str, ControlStatus]]:
        """framework -> control -> ``pass`` | ``fail`` | ``not applicable``."""
        table: dict[str, dict[str, ControlStatus]] = {}
        for result in self.compliance:
            table.setdefault(result.framework, {})[result.control] = result.status
        return table

    def to_json(self) -> dict[str, Any]:
        compliance: dict[str, dict[str, Any]] = {}
        for result in self.compliance:
            compliance.setdefault(result.framework, {})[result.control] = result.to_json()
        return {
            "level": self.level,
            "default_enforcement": self.default_enforcement,
            "rules_run": len(self.rules_run),
            "rules_disabled": sorted(n for n, e in self.enforcement.items() if e == "disabled"),
            "resources_examined": self.resources_examined,
            "mandatory": len(self.mandatory),
            "advisory": len(self.advisory),
            "violations": [v.to_json() for v in self.violations],
            "suppressed": [s.to_json() for s in self.suppressed],
            "stale_suppressions": [s.to_json() for s in self.stale_suppressions],
            "compliance": compliance,
        }


def default_enforcement(level: int | None) -> Literal["advisory", "mandatory"]:
    """Mandatory where the level turns on ``enable_mandatory_policies`` (Level 4)."""
    if level is None:
        return "advisory"
    features = features_for_level(parse_level(level))
    return "mandatory" if features.enable_mandatory_policies else "advisory"


def resolve_enforcement(
    rules: Sequence[Rule], *, level: int | None, settings: PolicySettings
) -> dict[str, Enforcement]:
    """Each rule in scope at ``level`` (every rule when unknown) -> its enforcement."""
    base: Enforcement = settings.enforcement or default_enforcement(level)
    return {
        rule.name: settings.rules.get(rule.name, base)
        for rule in rules
        if level is None or level in rule.levels
    }


def _all_rules() -> tuple[Rule, ...]:
    from mlops_blueprints.policies import ALL_RULES  # noqa: PLC0415 - the package aggregates

    return ALL_RULES


def suppression_applies(resource: str, *, urn: str, name: str) -> bool:
    """Whether a suppression's ``resource`` (a Pulumi resource name or URN) names this one."""
    return bool(resource) and resource in (urn, name)


def _matches(suppression: SuppressionSettings, violation: PolicyViolation) -> bool:
    return suppression.rule == violation.rule and suppression_applies(
        suppression.resource, urn=violation.urn, name=violation.resource
    )


def _stale_reason(
    suppression: SuppressionSettings,
    *,
    enforcement: Mapping[str, Enforcement],
    level: int | None,
    names: Collection[str],
) -> str:
    if suppression.rule not in enforcement:
        return f"rule {suppression.rule} does not run at level {level}"
    if enforcement[suppression.rule] == "disabled":
        return f"rule {suppression.rule} is disabled"
    if suppression.resource not in names:
        return f"no resource named {suppression.resource!r} in the render"
    return f"{suppression.resource} does not violate {suppression.rule}"


def _compliance(
    rules: Sequence[Rule],
    *,
    ran: Collection[str],
    failing: Collection[str],
    present_types: Collection[str],
) -> tuple[ControlResult, ...]:
    cited: dict[tuple[Framework, str], list[Rule]] = {}
    for rule in rules:
        for framework, controls in rule.controls.items():
            for control in controls:
                cited.setdefault((framework, control), []).append(rule)
    results = []
    for framework in FRAMEWORKS:
        known = CONTROLS.get(framework, {})
        order = {control: index for index, control in enumerate(known)}
        keys = sorted(
            (control for fw, control in cited if fw == framework),
            key=lambda control: (order.get(control, len(order)), control),
        )
        for control in keys:
            mapped = [rule for rule in cited[(framework, control)] if rule.name in ran]
            failed = tuple(sorted(rule.name for rule in mapped if rule.name in failing))
            applicable = any(set(rule.resource_types) & set(present_types) for rule in mapped)
            status: ControlStatus = "fail" if failed else "pass" if applicable else "not applicable"
            results.append(
                ControlResult(
                    framework=framework,
                    control=control,
                    title=known.get(control, ""),
                    status=status,
                    rules=tuple(sorted(rule.name for rule in cited[(framework, control)])),
                    failing_rules=failed,
                )
            )
    return tuple(results)


def evaluate(
    resources: Sequence[AnalyzedResource],
    *,
    level: int | None,
    settings: PolicySettings | None = None,
    rules: Sequence[Rule] | None = None,
) -> PolicyReport:
    """Run ``rules`` (default: every rule) of ``level`` on ``resources``.

    ``settings`` must already be valid for ``rules`` (``parse_policy_settings``). A ``level``
    of None (a render that did not record one) runs every rule, advisory by default.
    """
    chosen = tuple(rules) if rules is not None else _all_rules()
    policy = settings or PolicySettings()
    enforcement = resolve_enforcement(chosen, level=level, settings=policy)
    to_run = [rule for rule in chosen if enforcement.get(rule.name, "disabled") != "disabled"]
    by_name = {rule.name: rule for rule in chosen}
    by_urn = {resource.urn: resource for resource in resources}
    found = analyze(
        resources,
        to_run,
        enforcement={rule.name: _SDK_LEVELS[enforcement[rule.name]] for rule in to_run},
    )
    violations: list[PolicyViolation] = []
    for item in found:
        rule = by_name[item.rule]
        subject = by_urn.get(item.urn)
        level_name = enforcement[rule.name]
        violations.append(
            PolicyViolation(
                rule=rule.name,
                severity=rule.severity,
                enforcement="mandatory" if level_name == "mandatory" else "advisory",
                urn=item.urn,
                resource=subject.name if subject else item.resource_name,
                resource_type=subject.type if subject else "",
                message=item.message,
                remediation=rule.remediation,
            )
        )
    kept: list[PolicyViolation] = []
    suppressed: list[SuppressedViolation] = []
    used: set[int] = set()
    for violation in violations:
        match = next((i for i, s in enumerate(policy.suppressions) if _matches(s, violation)), None)
        if match is None:
            kept.append(violation)
        else:
            used.add(match)
            suppressed.append(SuppressedViolation(violation, policy.suppressions[match].reason))
    names = {resource.name for resource in resources} | {resource.urn for resource in resources}
    stale = tuple(
        StaleSuppression(
            rule=suppression.rule,
            resource=suppression.resource,
            reason=suppression.reason,
            why=_stale_reason(suppression, enforcement=enforcement, level=level, names=names),
        )
        for index, suppression in enumerate(policy.suppressions)
        if index not in used
    )
    return PolicyReport(
        level=level,
        default_enforcement=policy.enforcement or default_enforcement(level),
        enforcement=enforcement,
        resources_examined=len(resources),
        violations=tuple(kept),
        suppressed=tuple(suppressed),
        stale_suppressions=stale,
        compliance=_compliance(
            chosen,
            ran={rule.name for rule in to_run},
            failing={violation.rule for violation in kept},
            present_types={resource.type for resource in resources},
        ),
    )


# --- reading a render ---------------------------------------------------------------------


@dataclass(frozen=True)
class RenderContext:
    """What a render recorded about how it was made: the level and the stack config."""

    level: int | None
    config: Mapping[str, Any]

    @property
    def raw_policies(self) -> Any:
        """The ``mlops-platform:policies`` value (structured config may be JSON text)."""
        raw = self.config.get(POLICIES_KEY)
        if isinstance(raw, str):
            try:
                return json.loads(raw)
            except json.JSONDecodeError:
                return raw
        return raw


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise UsageError(f"{path} is not valid JSON ({error}): render the folder again") from None


def load_render_context(render_dir: Path) -> RenderContext:
    """The level (``outputs.json`` ``level``) and stack config (``config.json``) of a render.

    Either file may be missing (a hand-written folder): the level is then unknown and the
    config empty.
    """
    level: int | None = None
    outputs_path = render_dir / "outputs.json"
    if outputs_path.is_file():
        outputs = _read_json(outputs_path)
        raw_level = outputs.get("level") if isinstance(outputs, Mapping) else None
        if raw_level is not None:
            text = str(raw_level).strip().upper().removeprefix("L")
            if not (text.isascii() and text.isdecimal() and int(text) in LEVELS):
                raise UsageError(
                    f"{outputs_path}: level {raw_level!r} is not a maturity level 1-4: render "
                    "the folder again with `mlops-bp render`"
                )
            level = int(text)
    config: Mapping[str, Any] = {}
    config_path = render_dir / CONFIG_FILE
    if config_path.is_file():
        data = _read_json(config_path)
        recorded = data.get("config") if isinstance(data, Mapping) else None
        config = recorded if isinstance(recorded, Mapping) else {}
    return RenderContext(level=level, config=config)


def load_resources(render_dir: Path) -> list[AnalyzedResource]:
    """Every resource of ``inventory.json``, as the analyzer receives it."""
    path = render_dir / "inventory.json"
    if not path.is_file():
        raise UsageError(
            f"{render_dir} has no inventory.json: pass a folder written by `mlops-bp render`"
        )
    raw = _read_json(path)
    if not isinstance(raw, list):
        raise UsageError(f"{path}: expected a JSON list of resources")
    return [_resource(item) for item in raw if isinstance(item, Mapping) and item.get("urn")]


def _resource(item: Mapping[str, Any]) -> AnalyzedResource:
    inputs = item.get("inputs")
    return AnalyzedResource(
        type=str(item.get("type", "")),
        name=str(item.get("name", "")),
        urn=str(item["urn"]),
        props=inputs if isinstance(inputs, Mapping) else {},
        parent=str(item.get("parent") or ""),
        dependencies=tuple(str(urn) for urn in _iterable(item.get("dependencies"))),
        protect=bool(item.get("protect", False)),
    )


def _iterable(value: Any) -> Iterable[Any]:
    return value if isinstance(value, list) else ()


def evaluate_render(render_dir: Path, *, rules: Sequence[Rule] | None = None) -> PolicyReport:
    """Run the policy rules on a rendered folder, with its level and recorded policy settings.

    Raises ``BlueprintConfigError`` for invalid ``mlops-platform:policies`` settings (a
    suppression without a reason, an unknown rule) and ``UsageError`` for an unreadable folder.
    """
    chosen = tuple(rules) if rules is not None else _all_rules()
    context = load_render_context(render_dir)
    settings = parse_policy_settings(
        context.raw_policies, rule_names={rule.name for rule in chosen}
    )
    return evaluate(
        load_resources(render_dir), level=context.level, settings=settings, rules=chosen
    )
