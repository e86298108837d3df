"""What the policy pack serves, and the pack config a stack's settings translate to.

The Pulumi CLI cannot see a stack's ``mlops-platform:policies`` settings or its level, so they
reach the pack as a pack config file (``--policy-pack-config``), one entry per rule::

    {"all": "mandatory",
     "eks-cluster-endpoint-private": {"enforcementLevel": "mandatory",
                                      "suppressions": [{"resource": "...", "reason": "..."}]},
     "some-level-4-rule": "disabled"}

``pack_config`` writes it (``mlops-bp policy-config``); ``pack_policies`` wraps every rule so
that a violation on a suppressed resource is not reported, exactly as the offline engine does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from mlops_blueprints.blueprints._spec import PolicySettings
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy import Severity as SdkSeverity

from .._engine import default_enforcement, resolve_enforcement, suppression_applies
from .._rule import Rule, adapt_report, iter_list, prop

__all__ = [
    "PACK_DEFAULT_ENFORCEMENT",
    "PACK_DESCRIPTION",
    "PACK_NAME",
    "pack_config",
    "pack_policies",
    "suppression_applies",
]

PACK_NAME: Final = "mlops-blueprints"
PACK_DESCRIPTION: Final = (
    "MLOps Blueprints policy rules, mapped to CIS EKS, NIST 800-53, HIPAA, GDPR, DPDP and the "
    "EU AI Act (catalogue: docs/policies.md)."
)
# Without a pack config every rule is advisory, the Level 1-3 posture; Level 4 stacks pass the
# config ``mlops-bp policy-config --level 4`` writes, which makes them mandatory.
PACK_DEFAULT_ENFORCEMENT: Final = EnforcementLevel.ADVISORY

_SUPPRESSIONS_SCHEMA: Final[dict[str, dict[str, Any]]] = {
    "suppressions": {
        "type": "array",
        "description": "Accepted violations of this rule: the resource (name or URN) and why.",
        "items": {
            "type": "object",
            "properties": {"resource": {"type": "string"}, "reason": {"type": "string"}},
            "required": ["resource", "reason"],
        },
        "default": [],
    }
}

_SEVERITY: Final[Mapping[str, SdkSeverity]] = {
    "low": SdkSeverity.LOW,
    "medium": SdkSeverity.MEDIUM,
    "high": SdkSeverity.HIGH,
    "critical": SdkSeverity.CRITICAL,
}


def _suppressed(config: Mapping[str, Any], urn: str, name: str) -> bool:
    return any(
        suppression_applies(str(prop(item, "resource", default="")), urn=urn, name=name)
        for item in iter_list(prop(config, "suppressions"))
    )


def _tags(rule: Rule) -> list[str]:
    return [f"{framework} {control}" for framework, ids in rule.controls.items() for control in ids]


def _resource_policy(rule: Rule) -> ResourceValidationPolicy:
    types = frozenset(rule.resource_types)
    validate = rule.validate_resource
    assert validate is not None

    def only_its_types_unless_suppressed(
        args: ResourceValidationArgs, report: ReportViolation
    ) -> None:
        if args.resource_type in types and not _suppressed(args.get_config(), args.urn, args.name):
            validate(args, adapt_report(report))

    return ResourceValidationPolicy(
        name=rule.name,
        description=f"{rule.description} Remediation: {rule.remediation}",
        validate=only_its_types_unless_suppressed,
        config_schema=PolicyConfigSchema(properties=dict(_SUPPRESSIONS_SCHEMA)),
        severity=_SEVERITY[rule.severity],
        tags=_tags(rule),
        remediation_steps=rule.remediation,
    )


def _stack_policy(rule: Rule) -> StackValidationPolicy:
    validate = rule.validate_stack
    assert validate is not None

    def unless_suppressed(args: StackValidationArgs, report: ReportViolation) -> None:
        config = args.get_config()
        names = {resource.urn: resource.name for resource in args.resources}

        def report_unless_suppressed(message: str, urn: str | None = None) -> None:
            if urn and _suppressed(config, urn, names.get(urn, "")):
                return
            report(message, urn)

        validate(args, report_unless_suppressed)

    return StackValidationPolicy(
        name=rule.name,
        description=f"{rule.description} Remediation: {rule.remediation}",
        validate=unless_suppressed,
        config_schema=PolicyConfigSchema(properties=dict(_SUPPRESSIONS_SCHEMA)),
        severity=_SEVERITY[rule.severity],
        tags=_tags(rule),
        remediation_steps=rule.remediation,
    )


def pack_policies(rules: Sequence[Rule] | None = None) -> list[Policy]:
    """One SDK policy per rule (default: every rule), honouring suppressions in its config.

    Enforcement is left to the pack default and the pack config (``pack_config``).
    """
    chosen = rules if rules is not None else _all_rules()
    return [
        _stack_policy(rule) if rule.is_stack_rule else _resource_policy(rule) for rule in chosen
    ]


def pack_config(
    *, level: int, settings: PolicySettings, rules: Sequence[Rule] | None = None
) -> dict[str, Any]:
    """The ``--policy-pack-config`` document for a stack at ``level`` with ``settings``.

    Every rule gets an entry: its enforcement (``disabled`` when it does not apply at the
    level) and the suppressions that name it, reasons included.
    """
    chosen = rules if rules is not None else _all_rules()
    enforcement = resolve_enforcement(chosen, level=level, settings=settings)
    config: dict[str, Any] = {"all": settings.enforcement or default_enforcement(level)}
    for rule in chosen:
        level_name = enforcement.get(rule.name, "disabled")
        suppressions = [
            {"resource": item.resource, "reason": item.reason}
            for item in settings.suppressions
            if item.rule == rule.name
        ]
        entry: dict[str, Any] = {"enforcementLevel": level_name}
        if suppressions:
            entry["suppressions"] = suppressions
        config[rule.name] = entry
    return config


def _all_rules() -> tuple[Rule, ...]:
    from mlops_blueprints.policies import ALL_RULES  # noqa: PLC0415 - the package aggregates

    return ALL_RULES
