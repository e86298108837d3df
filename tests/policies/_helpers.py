"""Run rules on hand-made resources or on renders through the SDK analyzer, as the engine does."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from mlops_blueprints.policies._analyze import AnalyzedResource, Violation, analyze
from mlops_blueprints.policies._rule import Rule
from pulumi_policy import EnforcementLevel


def resource(
    type_: str,
    name: str,
    props: Mapping[str, Any],
    *,
    parent: str = "",
    dependencies: Sequence[str] = (),
) -> AnalyzedResource:
    """A resource as a render records it, with a URN like the mocks' (``stack::project``)."""
    return AnalyzedResource(
        type=type_,
        name=name,
        urn=f"urn:pulumi:test::mlops-platform::{type_}::{name}",
        props=props,
        parent=parent,
        dependencies=tuple(dependencies),
    )


def violations(rule: Rule, *resources: AnalyzedResource) -> list[Violation]:
    """The rule's violations (mandatory) among ``resources``."""
    return analyze(list(resources), [rule], enforcement={rule.name: EnforcementLevel.MANDATORY})


def assert_violates(rule: Rule, subject: AnalyzedResource, *others: AnalyzedResource) -> Violation:
    """``subject`` breaks ``rule``: exactly one finding, naming the rule and the resource."""
    found = violations(rule, subject, *others)
    assert [v.rule for v in found] == [rule.name], found
    assert found[0].urn == subject.urn, found
    return found[0]


def assert_complies(rule: Rule, *resources: AnalyzedResource) -> None:
    found = violations(rule, *resources)
    assert found == [], found


_MODEL_STORAGE: Final = "s3://acme-mlops-dev-lake-artifacts/mlflow/1/models/m-1/artifacts"
# Stack config serving a model on each hardware class of the L3+ aws node pools.
SERVED_MODELS_CONFIG: Final = "endpoints=" + json.dumps(
    [
        {"name": "churn", "modelUri": "models:/churn@champion", "storageUri": _MODEL_STORAGE},
        {
            "name": "ranker",
            "modelUri": "models:/ranker/4",
            "storageUri": _MODEL_STORAGE,
            "runtime": "xgboost",
            "hardwareClass": "nvidia-gpu",
            "minReplicas": 2,
            "maxReplicas": 4,
        },
        {
            "name": "embedder",
            "modelUri": "models:/embedder@challenger",
            "storageUri": _MODEL_STORAGE,
            "hardwareClass": "neuron",
        },
    ]
)


def analyzed(result: Any) -> list[AnalyzedResource]:
    """A render's registrations as the analyzer sees them."""
    return [
        AnalyzedResource(
            type=r.type,
            name=r.name,
            urn=r.urn,
            props=r.inputs,
            parent=r.parent or "",
            dependencies=tuple(r.dependencies),
            protect=bool(r.protect),
        )
        for r in result.capture.registrations
    ]
