"""The platform's own level stacks comply with every Kubernetes rule of their level."""

from __future__ import annotations

import pytest
from mlops_blueprints.policies._analyze import AnalyzedResource, Violation, analyze
from mlops_blueprints.policies.kubernetes import RULES, pod_specs
from pulumi_policy import EnforcementLevel

from ..conftest import RenderFn
from ._helpers import SERVED_MODELS_CONFIG, analyzed

pytestmark = pytest.mark.policy


def _violations(level: int, resources: list[AnalyzedResource]) -> list[str]:
    rules = [rule for rule in RULES if level in rule.levels]
    found: list[Violation] = analyze(
        resources, rules, enforcement={rule.name: EnforcementLevel.MANDATORY for rule in rules}
    )
    return [f"{v.rule}: {v.resource_name}: {v.message}" for v in found]


@pytest.mark.parametrize("target", ["kind", "aws"])
@pytest.mark.parametrize("level", [1, 2, 3, 4])
def test_every_level_complies(level: int, target: str, render_level: RenderFn) -> None:
    resources = analyzed(render_level(level, target))
    examined = {t for rule in RULES for t in rule.resource_types}
    assert any(r.type in examined for r in resources), "the rules had nothing to examine"
    assert _violations(level, resources) == []


def test_served_models_comply(render_level: RenderFn) -> None:
    resources = analyzed(render_level(4, "aws", (SERVED_MODELS_CONFIG,)))
    predictors = [
        pod.where
        for r in resources
        if r.type == "kubernetes:serving.kserve.io/v1beta1:InferenceService"
        for pod in pod_specs(r.type, r.props)
    ]
    assert sorted(predictors) == [
        "InferenceService mlops/churn predictor",
        "InferenceService mlops/embedder predictor",
        "InferenceService mlops/ranker predictor",
    ]
    assert _violations(4, resources) == []


def test_the_platform_namespaces_deny_traffic_and_declare_their_level(
    render_level: RenderFn,
) -> None:
    resources = analyzed(render_level(4, "kind"))
    levels = {
        r.props["metadata"]["name"]: r.props["metadata"]["labels"][
            "pod-security.kubernetes.io/enforce"
        ]
        for r in resources
        if r.type == "kubernetes:core/v1:Namespace"
    }
    # The rules above ran against these levels: node agents privileged, Kubeflow baseline.
    assert levels["monitoring-agents"] == "privileged"
    assert levels["kubeflow"] == "baseline"
    assert levels["mlops"] == "restricted"
