"""What a policy rule is: its compliant state, why it matters, how to fix it, what it maps to.

A ``Rule`` is plain data plus a validate function written against the pulumi-policy SDK's
arguments, so the same rule runs in ``pulumi up --policy-pack`` and offline in
``mlops-bp check`` (through the SDK's own analyzer). Nothing here starts a policy server.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

__all__ = [
    "ALL_LEVELS",
    "FRAMEWORKS",
    "SEVERITIES",
    "Framework",
    "Report",
    "ResourceValidate",
    "Rule",
    "Severity",
    "StackValidate",
    "adapt_report",
    "prop",
]

Severity = Literal["low", "medium", "high", "critical"]
SEVERITIES: Final[tuple[Severity, ...]] = ("low", "medium", "high", "critical")

# Compliance frameworks every rule is mapped to (controls as the framework numbers them).
Framework = Literal["cis-eks", "nist-800-53", "hipaa", "gdpr", "dpdp", "eu-ai-act"]
FRAMEWORKS: Final[Mapping[Framework, str]] = {
    "cis-eks": "CIS Amazon EKS Benchmark v1.7",
    "nist-800-53": "NIST SP 800-53 Rev. 5",
    "hipaa": "HIPAA Security Rule (45 CFR 164.308-316)",
    "gdpr": "EU GDPR (Regulation 2016/679)",
    "dpdp": "India Digital Personal Data Protection Act 2023",
    "eu-ai-act": "EU AI Act (Regulation 2024/1689)",
}
ALL_LEVELS: Final[tuple[int, ...]] = (1, 2, 3, 4)


class Report(Protocol):
    """How a rule reports a violation: a message, and for stack rules the offending URN.

    The SDK's ``ReportViolation`` is typed with a required positional URN; rules call it as
    ``report(message)`` or ``report(message, urn=...)``, which it accepts at run time.
    """

    def __call__(self, message: str, urn: str | None = None) -> None: ...


ResourceValidate = Callable[[ResourceValidationArgs, Report], None]
StackValidate = Callable[[StackValidationArgs, Report], None]

_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)+$")


@dataclass(frozen=True)
class Rule:
    """One policy rule.

    - ``name``: the compliant state in kebab case (``s3-bucket-blocks-public-access``).
    - ``description``: what holds when the rule passes, in one sentence.
    - ``remediation``: how to get there (which component argument or setting).
    - ``severity``: ``low``, ``medium``, ``high`` or ``critical``.
    - ``controls``: framework -> the controls the rule serves (at least one framework).
    - ``levels``: the maturity levels it applies to (others run without it).
    - ``resource_types``: Pulumi types a resource rule examines (``aws:s3/bucket:Bucket``);
      for a stack rule, the types it is about. The compliance matrix reports a rule "not
      applicable" to a render that holds none of them.
    - exactly one of ``validate_resource`` (called per resource of ``resource_types``) or
      ``validate_stack`` (called once with every resource, to link related ones).
    """

    name: str
    description: str
    remediation: str
    severity: Severity
    controls: Mapping[Framework, tuple[str, ...]]
    resource_types: tuple[str, ...]
    validate_resource: ResourceValidate | None = None
    validate_stack: StackValidate | None = None
    levels: tuple[int, ...] = ALL_LEVELS
    tags: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"rule name {self.name!r}: use kebab case, e.g. 's3-bucket-private'")
        if self.severity not in SEVERITIES:
            raise ValueError(f"rule {self.name}: severity {self.severity!r} not in {SEVERITIES}")
        unknown = set(self.controls) - set(FRAMEWORKS)
        if not self.controls or unknown:
            raise ValueError(f"rule {self.name}: map it to frameworks of {sorted(FRAMEWORKS)}")
        if (self.validate_resource is None) == (self.validate_stack is None):
            raise ValueError(f"rule {self.name}: give exactly one of validate_resource/_stack")
        if not self.resource_types:
            raise ValueError(f"rule {self.name}: name the resource types it examines")
        if not set(self.levels) <= set(ALL_LEVELS) or not self.levels:
            raise ValueError(f"rule {self.name}: levels must be within {ALL_LEVELS}")

    @property
    def is_stack_rule(self) -> bool:
        return self.validate_stack is not None

    def policy(
        self, enforcement: EnforcementLevel
    ) -> ResourceValidationPolicy | StackValidationPolicy:
        """The pulumi-policy object for this rule at ``enforcement``."""
        description = f"{self.description} Remediation: {self.remediation}"
        validate_stack = self.validate_stack
        if validate_stack is not None:

            def whole_stack(args: StackValidationArgs, report: ReportViolation) -> None:
                validate_stack(args, adapt_report(report))

            return StackValidationPolicy(
                name=self.name,
                description=description,
                validate=whole_stack,
                enforcement_level=enforcement,
            )
        types = frozenset(self.resource_types)
        validate = self.validate_resource
        assert validate is not None

        def only_its_types(args: ResourceValidationArgs, report: ReportViolation) -> None:
            if args.resource_type in types:
                validate(args, adapt_report(report))

        return ResourceValidationPolicy(
            name=self.name,
            description=description,
            validate=only_its_types,
            enforcement_level=enforcement,
        )


def adapt_report(sdk_report: ReportViolation) -> Report:
    """The SDK's report callback as a ``Report`` (URN optional)."""

    def report(message: str, urn: str | None = None) -> None:
        sdk_report(message, urn)

    return report


def prop(props: Mapping[str, Any], *path: str | int, default: Any = None) -> Any:
    """``props[a][b]...`` or ``default`` where any step is missing (read-only, no copies)."""
    current: Any = props
    for step in path:
        if isinstance(step, int):
            if not isinstance(current, list | tuple) and not hasattr(current, "__getitem__"):
                return default
            try:
                current = current[step]
            except (IndexError, KeyError, TypeError):
                return default
        else:
            try:
                if step not in current:
                    return default
                current = current[step]
            except TypeError:
                return default
    return current


def iter_list(value: Any) -> Iterator[Any]:
    """Items of a list-like property (the SDK hands rules read-only proxies), else nothing."""
    if value is None or isinstance(value, str | bytes | Mapping):
        return iter(())
    try:
        return iter(list(value))
    except TypeError:
        return iter(())
