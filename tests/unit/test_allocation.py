"""Cost-allocation labels reach every object and workload a level creates."""

from __future__ import annotations

from typing import Any

import pytest
from mlops_blueprints.blueprints._allocation import (
    ENVIRONMENT_LABEL,
    LEVEL_LABEL,
    MODEL_LABEL,
    TEAM_LABEL,
    allocation_labels,
    label_props,
)

from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.render import ProgramError, find_level_stack, render_project
from tests.conftest import RenderFn

pytestmark = pytest.mark.unit

_WORKLOADS = {
    "kubernetes:apps/v1:Deployment": ("spec", "template", "metadata"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "metadata"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "metadata"),
    "kubernetes:batch/v1:Job": ("spec", "template", "metadata"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "metadata"),
}
_ENDPOINT = (
    'endpoints=[{"name": "churn", "modelUri": "models:/churn@champion", '
    '"storageUri": "s3://mlops-dev-lake-artifacts/mlflow/1/models/m-1/artifacts"}]'
)


def _dig(value: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    for key in path:
        value = value[key]
    return value


@pytest.mark.parametrize("target", ["kind", "aws"])
def test_every_kubernetes_object_and_workload_carries_the_allocation_labels(
    render_level: RenderFn, target: str
) -> None:
    result = render_level(3, target, (_ENDPOINT,))
    objects = workloads = 0
    for reg in result.capture.registrations:
        if not reg.type.startswith("kubernetes:") or reg.type in (
            "kubernetes:helm.sh/v3:Release",
            "pulumi:providers:kubernetes",
        ):
            continue
        if "metadata" not in reg.inputs:
            continue  # component wrappers (kustomize directories) hold no object themselves
        labels = reg.inputs["metadata"].get("labels", {})
        assert labels.get(TEAM_LABEL) == "platform", reg.name
        assert labels.get(LEVEL_LABEL) == "3", reg.name
        assert MODEL_LABEL in labels, reg.name
        objects += 1
        if reg.type in _WORKLOADS:
            pod = _dig(reg.inputs, _WORKLOADS[reg.type])["labels"]
            assert pod[TEAM_LABEL] == "platform", reg.name
            assert pod[MODEL_LABEL] == "shared", reg.name
            # A level label on pod templates would restart everything on a level upgrade.
            assert LEVEL_LABEL not in pod, reg.name
            workloads += 1
    assert objects > 30
    # kind runs its data services in-cluster; aws has only the platform's own workloads.
    assert workloads >= (8 if target == "kind" else 2)


def test_an_endpoint_is_charged_to_its_model(render_level: RenderFn) -> None:
    result = render_level(3, "kind", (_ENDPOINT,))
    (isvc,) = [
        r
        for r in result.capture.registrations
        if r.type == "kubernetes:serving.kserve.io/v1beta1:InferenceService"
    ]
    assert isvc.inputs["metadata"]["labels"][MODEL_LABEL] == "churn"
    predictor = isvc.inputs["spec"]["predictor"]["labels"]
    assert predictor[MODEL_LABEL] == "churn"
    assert predictor[TEAM_LABEL] == "platform"


def test_aws_resources_with_tags_are_tagged(render_level: RenderFn) -> None:
    result = render_level(3, "aws")
    tagged = [
        r for r in result.capture.registrations if r.type.startswith("aws:") and "tags" in r.inputs
    ]
    assert len(tagged) > 20
    for reg in tagged:
        assert reg.inputs["tags"][TEAM_LABEL] == "platform", reg.name
        assert reg.inputs["tags"][LEVEL_LABEL] == "3", reg.name


def test_pod_templates_do_not_change_between_levels(render_level: RenderFn) -> None:
    def templates(level: int) -> dict[str, Any]:
        return {
            r.name: _dig(r.inputs, _WORKLOADS[r.type])["labels"]
            for r in render_level(level, "kind").capture.registrations
            if r.type in _WORKLOADS
        }

    level2, level3 = templates(2), templates(3)
    shared = sorted(set(level2) & set(level3))
    assert len(shared) >= 5
    for name in shared:
        assert level2[name] == level3[name], name


def test_a_label_set_by_a_component_wins() -> None:
    props = {"metadata": {"name": "x", "labels": {MODEL_LABEL: "churn"}}}
    labels = allocation_labels(team="ml", level=2, environment="dev")
    out = label_props("kubernetes:core/v1:ConfigMap", props, labels)
    assert out["metadata"]["labels"] == {
        MODEL_LABEL: "churn",
        TEAM_LABEL: "ml",
        LEVEL_LABEL: "2",
        ENVIRONMENT_LABEL: "dev",
    }
    assert props["metadata"]["labels"] == {MODEL_LABEL: "churn"}, "inputs are not mutated"


def test_helm_releases_and_untagged_aws_resources_are_left_alone() -> None:
    labels = allocation_labels(team="ml", level=2, environment="dev")
    release = {"chart": "x", "values": {"a": 1}}
    assert label_props("kubernetes:helm.sh/v3:Release", release, labels) == release
    policy = {"role": "r", "policy": "{}"}
    assert label_props("aws:iam/rolePolicy:RolePolicy", policy, labels) == policy
    role = {"name": "r"}
    assert label_props("aws:iam/role:Role", role, labels, tags=True)["tags"] == labels


@pytest.mark.parametrize("team", ["Data Science", "-ml", "x" * 64])
def test_a_team_that_is_not_a_label_value_is_refused(team: str, tmp_path: Any) -> None:
    with pytest.raises(ProgramError) as caught:
        render_project(find_level_stack(1), stack="kind", sets=[f"team={team}"], out_dir=tmp_path)
    cause = caught.value.cause
    assert isinstance(cause, BlueprintConfigError)
    assert cause.field == "mlops-platform:team"
    assert "Kubernetes label value" in cause.fix
