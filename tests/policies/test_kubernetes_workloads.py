"""Pod specs out of every workload kind, namespace levels, and the rules' catalogue data."""

from __future__ import annotations

import pytest
from mlops_blueprints.policies import CONTROLS
from mlops_blueprints.policies._rule import Rule
from mlops_blueprints.policies.kubernetes import (
    BASELINE_TAG,
    RESTRICTED_TAG,
    RULES,
    WORKLOAD_TYPES,
    namespace_levels,
    pod_specs,
)
from mlops_blueprints.policies.kubernetes._workloads import annotation

from ._kubernetes import (
    CLUSTER_SERVING_RUNTIME,
    CRON_JOB,
    INFERENCE_SERVICE,
    POD,
    SERVING_RUNTIME,
    TEMPLATED_KINDS,
    container,
    namespace,
    pod_spec,
    workload,
)

pytestmark = pytest.mark.policy


@pytest.mark.parametrize("kind", TEMPLATED_KINDS)
def test_every_kind_yields_its_pod_spec(kind: str) -> None:
    spec = pod_spec(container("main"), initContainers=[container("init")])
    subject = workload(kind, spec, name="trainer", namespace="mlops")
    (pod,) = pod_specs(subject.type, subject.props)
    assert pod.namespace == "mlops"
    assert pod.where.startswith(f"{kind.rsplit(':', 1)[-1]} mlops/trainer")
    assert [(c.name, c.kind) for c in pod.containers] == [
        ("init", "initContainer"),
        ("main", "container"),
    ]
    assert pod.get("automountServiceAccountToken") is False
    assert pod.security("runAsNonRoot") is True
    assert [v["name"] for v in pod.volumes()] == ["tmp"]
    assert not pod.fragment


def test_a_cron_job_reads_the_job_templates_pod() -> None:
    subject = workload(CRON_JOB, pod_spec(container("materialize")))
    assert subject.props["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    (pod,) = pod_specs(subject.type, subject.props)
    assert [c.name for c in pod.containers] == ["materialize"]


def test_other_types_have_no_pods() -> None:
    for type_ in ("kubernetes:core/v1:Service", "kubernetes:helm.sh/v3:Release"):
        assert pod_specs(type_, {"spec": {"containers": [container()]}}) == []
    assert "kubernetes:helm.sh/v3:Release" not in WORKLOAD_TYPES


def test_an_inference_service_yields_a_pod_per_component_with_runtime_backed_models() -> None:
    predictor = pod_spec(labels={"team": "ml"}, annotations={"a": "b"})
    del predictor["containers"]
    predictor["model"] = {"modelFormat": {"name": "sklearn"}}
    transformer = pod_spec(container("transformer"))
    isvc = workload(INFERENCE_SERVICE, predictor, name="churn")
    props = dict(isvc.props)
    props["spec"] = {**props["spec"], "transformer": transformer}
    pods = pod_specs(INFERENCE_SERVICE, props)
    assert [p.where for p in pods] == [
        "InferenceService mlops/churn predictor",
        "InferenceService mlops/churn transformer",
    ]
    (model,) = pods[0].containers
    assert model.name == "kserve-container (model)"
    assert model.from_runtime
    assert pods[0].metadata["annotations"] == {"a": "b"}
    assert not pods[1].containers[0].from_runtime


def test_legacy_framework_blocks_are_model_containers() -> None:
    predictor = {"sklearn": {"storageUri": "s3://b/m"}, "automountServiceAccountToken": False}
    (pod,) = pod_specs(
        INFERENCE_SERVICE, {"metadata": {"name": "m"}, "spec": {"predictor": predictor}}
    )
    assert [(c.name, c.from_runtime) for c in pod.containers] == [
        ("kserve-container (sklearn)", True)
    ]


def test_a_worker_spec_is_a_pod_of_its_own() -> None:
    runtime = {"containers": [container("head")], "workerSpec": {"containers": [container("w")]}}
    pods = pod_specs(SERVING_RUNTIME, workload(SERVING_RUNTIME, runtime, name="vllm").props)
    assert [(p.where, [c.name for c in p.containers]) for p in pods] == [
        ("ServingRuntime mlops/vllm", ["head"]),
        ("ServingRuntime mlops/vllm worker", ["w"]),
    ]
    assert all(p.fragment for p in pods)


def test_serving_runtimes_are_fragments_and_cluster_ones_have_no_namespace() -> None:
    runtime = {"containers": [container("kserve-container")]}
    (namespaced,) = pod_specs(SERVING_RUNTIME, workload(SERVING_RUNTIME, runtime).props)
    assert namespaced.fragment
    assert namespaced.namespace == "mlops"
    cluster = workload(CLUSTER_SERVING_RUNTIME, runtime, namespace=None)
    (cluster_wide,) = pod_specs(CLUSTER_SERVING_RUNTIME, cluster.props)
    assert cluster_wide.namespace is None


def test_a_bare_pod_is_its_own_template() -> None:
    subject = workload(POD, pod_annotations={"k": "v"})
    (pod,) = pod_specs(POD, subject.props)
    assert annotation(pod, "k") == "v"


def test_annotations_come_from_the_template_then_the_workload() -> None:
    subject = workload(
        "kubernetes:apps/v1:Deployment",
        pod_annotations={"both": "template", "blank": "  "},
        annotations={"both": "object", "object-only": "yes", "blank": "object"},
    )
    (pod,) = pod_specs(subject.type, subject.props)
    assert annotation(pod, "both") == "template"
    assert annotation(pod, "object-only") == "yes"
    assert annotation(pod, "blank") == "object"
    assert annotation(pod, "missing") == ""


class _Resource:
    """A stack resource as the policy SDK hands it to stack rules."""

    def __init__(self, type_: str, props: dict[str, object]) -> None:
        self.resource_type = type_
        self.props = props


def test_namespace_levels_read_the_enforce_label_and_default_to_restricted() -> None:
    resources = [
        _Resource(r.type, dict(r.props))
        for r in (
            namespace("monitoring-agents", "privileged"),
            namespace("kubeflow", "baseline"),
            namespace("mlops", "restricted"),
            namespace("scratch", None),
            namespace("typo", "basline"),
        )
    ]
    resources.append(_Resource("kubernetes:core/v1:Service", {"metadata": {"name": "x"}}))
    assert namespace_levels(resources) == {
        "monitoring-agents": "privileged",
        "kubeflow": "baseline",
        "mlops": "restricted",
        "scratch": "restricted",
        "typo": "restricted",
    }


# --- the rules as catalogue data --------------------------------------------------------


def test_rule_names_are_unique() -> None:
    names = [rule.name for rule in RULES]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.name)
def test_rules_cite_only_catalogued_controls_in_several_frameworks(rule: Rule) -> None:
    assert len(rule.controls) >= 3
    for framework, ids in rule.controls.items():
        assert ids, f"{rule.name}: {framework} lists no control"
        for control in ids:
            assert control in CONTROLS[framework], f"{rule.name}: {framework} {control}"
    assert "kubernetes" in rule.tags
    assert rule.description.endswith(".")
    assert rule.remediation.endswith(".")


def test_pod_security_rules_are_split_into_the_two_tagged_sets() -> None:
    baseline = {r.name for r in RULES if BASELINE_TAG in r.tags}
    restricted = {r.name for r in RULES if RESTRICTED_TAG in r.tags}
    assert baseline
    assert restricted
    assert all(name.startswith("pss-baseline-") for name in baseline)
    assert all(name.startswith("pss-restricted-") for name in restricted)
    assert {r.name for r in RULES if r.name.startswith("pss-")} == baseline | restricted
