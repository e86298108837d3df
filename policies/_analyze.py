"""Run rules on recorded resources through the pulumi-policy SDK's own analyzer, in-process.

This is the path the Pulumi CLI takes (``Analyze`` per resource, ``AnalyzeStack`` once), minus
the gRPC transport: properties go through the same protobuf ``Struct`` round trip and reach
the rules as the SDK's read-only proxies, so a rule that mutates or mis-reads a property fails
here exactly as it would under ``pulumi up --policy-pack``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import struct_pb2
from pulumi.runtime import proto
from pulumi_policy import EnforcementLevel, Policy
from pulumi_policy.policy import _PolicyAnalyzerServicer

from ._rule import Rule

__all__ = ["AnalyzedResource", "Violation", "analyze"]

PACK_NAME = "mlops-blueprints"
PACK_VERSION = "0.1.0"

_LEVEL_NAMES = {
    proto.analyzer_pb2.ADVISORY: "advisory",
    proto.analyzer_pb2.MANDATORY: "mandatory",
    proto.analyzer_pb2.DISABLED: "disabled",
}


@dataclass(frozen=True)
class AnalyzedResource:
    """One resource as a render recorded it (``inventory.json``)."""

    type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    parent: str = ""
    dependencies: tuple[str, ...] = ()
    protect: bool = False


@dataclass(frozen=True)
class Violation:
    """A rule a resource (or the stack) breaks; ``urn`` is empty for stack-wide findings."""

    rule: str
    urn: str
    message: str
    enforcement: str  # advisory | mandatory
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def resource_name(self) -> str:
        return self.urn.rsplit("::", 1)[-1] if self.urn else ""


def _struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(_plain(props))
    return struct


def _plain(value: Any) -> Any:
    # Struct accepts JSON-like values only; tuples become lists.
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _options(resource: AnalyzedResource) -> Any:
    return proto.analyzer_pb2.AnalyzerResourceOptions(protect=resource.protect)


def _violations(response: Any, urn_default: str = "") -> list[Violation]:
    found = []
    for diagnostic in response.diagnostics:
        description = diagnostic.description
        message = diagnostic.message
        if message.startswith(description):
            message = message[len(description) :].lstrip("\n")
        found.append(
            Violation(
                rule=diagnostic.policyName,
                urn=diagnostic.urn or urn_default,
                message=message or description,
                enforcement=_LEVEL_NAMES.get(diagnostic.enforcementLevel, "advisory"),
            )
        )
    return found


def analyze(
    resources: Sequence[AnalyzedResource],
    rules: Sequence[Rule],
    *,
    enforcement: Mapping[str, EnforcementLevel],
) -> list[Violation]:
    """Every violation of ``rules`` in ``resources``.

    ``enforcement`` gives each rule's level (a rule missing from it is advisory); disabled
    rules do not run.
    """
    policies: list[Policy] = [
        rule.policy(enforcement.get(rule.name, EnforcementLevel.ADVISORY)) for rule in rules
    ]
    servicer = _PolicyAnalyzerServicer(PACK_NAME, PACK_VERSION, policies, EnforcementLevel.ADVISORY)
    found: list[Violation] = []
    for resource in resources:
        request = proto.analyzer_pb2.AnalyzeRequest(
            type=resource.type,
            properties=_struct(resource.props),
            urn=resource.urn,
            name=resource.name,
            options=_options(resource),
        )
        response = servicer.Analyze(request, None)  # type: ignore[no-untyped-call]
        found.extend(_violations(response, urn_default=resource.urn))
    stack_request = proto.analyzer_pb2.AnalyzeStackRequest(
        resources=[
            proto.analyzer_pb2.AnalyzerResource(
                type=resource.type,
                properties=_struct(resource.props),
                urn=resource.urn,
                name=resource.name,
                options=_options(resource),
                parent=resource.parent,
                dependencies=list(resource.dependencies),
            )
            for resource in resources
        ]
    )
    found.extend(
        _violations(servicer.AnalyzeStack(stack_request, None))  # type: ignore[no-untyped-call]
    )
    return found
