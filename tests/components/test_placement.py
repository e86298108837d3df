"""Node-pool placement: the hardware abstraction as pure functions, and the kind cluster config.

Includes the retargeting acceptance: one Deployment moved cpu -> nvidia-gpu -> neuron changes
only its nodeSelector, tolerations and accelerator resources, and validates with
``mlops-bp check`` each time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import pulumi_kubernetes as k8s
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from mlops_blueprints.components.kubernetes import (
    RESTRICTED_CONTAINER_SECURITY_CONTEXT,
    RESTRICTED_POD_SECURITY_CONTEXT,
    WorkloadNamespace,
    WorkloadNamespaceArgs,
)
from mlops_blueprints.components.node_pools import (
    ACCELERATOR_RESOURCE_NAMES,
    DEFAULT_PROVISIONING_SECONDS,
    HARDWARE_CLASS_LABEL,
    HARDWARE_CLASSES,
    NODE_POOL_LABEL,
    NodePoolSpec,
    Taint,
    dump_kind_cluster_config,
    extended_resource,
    karpenter_requirements,
    kind_cluster_config,
    node_labels,
    node_selector,
    parse_hardware_class,
    place_workload,
    pool_tolerations,
    supported_classes,
    taints,
    tolerates,
    tolerations,
    validate_pools,
)

from mlops_blueprints.check import run_checks
from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.render import run_program, write_rendered
from mlops_blueprints.targets import KindTarget, NodePool
from mlops_blueprints.targets._seam import HardwareClass
from mlops_blueprints.versions import KIND_NODE_IMAGE

pytestmark = pytest.mark.unit

GPU_TAINT = {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}
NEURON_TAINT = {"key": "aws.amazon.com/neuron", "value": "true", "effect": "NoSchedule"}
GPU_TOLERATION = {
    "key": "nvidia.com/gpu",
    "operator": "Equal",
    "value": "true",
    "effect": "NoSchedule",
}
NEURON_TOLERATION = {
    "key": "aws.amazon.com/neuron",
    "operator": "Equal",
    "value": "true",
    "effect": "NoSchedule",
}

CPU = NodePoolSpec(name="general")
GPU = NodePoolSpec(name="gpu", hardware_class="nvidia-gpu")
NEURON = NodePoolSpec(name="inferentia", hardware_class="neuron")


def _sample_deployment() -> dict[str, Any]:
    """A restricted model server, as a serving component would write it (no placement yet)."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "model-server", "labels": {"app.kubernetes.io/name": "model-server"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": "model-server"}},
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": "model-server"}},
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": dict(RESTRICTED_POD_SECURITY_CONTEXT),
                    "containers": [
                        {
                            "name": "server",
                            "image": "ghcr.io/example/model-server:1.4.2",
                            "ports": [{"name": "http", "containerPort": 8080}],
                            "resources": {
                                "requests": {"cpu": "500m", "memory": "1Gi"},
                                "limits": {"cpu": "1", "memory": "2Gi"},
                            },
                            "securityContext": dict(RESTRICTED_CONTAINER_SECURITY_CONTEXT),
                        },
                        {
                            "name": "metrics",
                            "image": "ghcr.io/example/metrics-sidecar:0.3.0",
                            "resources": {
                                "requests": {"cpu": "50m", "memory": "64Mi"},
                                "limits": {"cpu": "100m", "memory": "128Mi"},
                            },
                            "securityContext": dict(RESTRICTED_CONTAINER_SECURITY_CONTEXT),
                        },
                    ],
                },
            },
        },
    }


def _placed(deployment: dict[str, Any], pool: NodePoolSpec) -> dict[str, Any]:
    placed = {**deployment, "spec": {**deployment["spec"]}}
    placed["spec"]["template"] = {
        **deployment["spec"]["template"],
        "spec": place_workload(deployment["spec"]["template"]["spec"], pool),
    }
    return placed


def _diff(a: Any, b: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Paths where ``a`` and ``b`` differ (dicts by key, equal-length lists by index)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in a.keys() | b.keys():
            if key not in a or key not in b:
                yield (*path, key)
            else:
                yield from _diff(a[key], b[key], (*path, key))
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from _diff(x, y, (*path, index))
    elif a != b:
        yield path


_POD = ("spec", "template", "spec")


def _is_placement_path(path: tuple[Any, ...]) -> bool:
    if path[:4] in {(*_POD, "nodeSelector"), (*_POD, "tolerations")}:
        return True
    return (
        len(path) == 8
        and path[:4] == (*_POD, "containers")
        and path[5] == "resources"
        and path[6] in ("requests", "limits")
        and path[7] in ACCELERATOR_RESOURCE_NAMES
    )


def _check_deployment(deployment: dict[str, Any], out: Path) -> None:
    def program() -> None:
        namespace = WorkloadNamespace("serving", WorkloadNamespaceArgs(namespace="serving"))
        k8s.apps.v1.Deployment(
            "model-server",
            metadata={**deployment["metadata"], "namespace": namespace.namespace_name},
            spec=deployment["spec"],
        )

    capture = run_program(program, project="mlops-platform", stack="test", config={})
    write_rendered(capture, out)
    report = run_checks(out, upstream=Path(os.environ["MLOPS_BP_UPSTREAM_DIR"]))
    assert report.ok, [f"{f.object}: {f.field}: {f.message}" for f in report.findings]
    assert report.objects_examined["kubernetes"] >= 1


# --- retargeting acceptance ---------------------------------------------------------------


def test_retargeting_changes_only_placement_and_each_result_validates(tmp_path: Path) -> None:
    base = _sample_deployment()
    on_cpu = _placed(base, CPU)
    on_gpu = _placed(on_cpu, GPU)
    on_neuron = _placed(on_gpu, NEURON)

    for before, after in ((on_cpu, on_gpu), (on_gpu, on_neuron), (on_neuron, on_cpu)):
        changed = list(_diff(before, after))
        assert changed, "retargeting must change the placement"
        assert all(_is_placement_path(p) for p in changed), changed

    pod = (*_POD,)

    def at(doc: dict[str, Any], *path: Any) -> Any:
        for key in (*pod, *path):
            doc = doc[key]
        return doc

    assert at(on_cpu, "nodeSelector") == {NODE_POOL_LABEL: "general", HARDWARE_CLASS_LABEL: "cpu"}
    assert "tolerations" not in at(on_cpu)
    assert at(on_cpu, "containers", 0, "resources") == at(base, "containers", 0, "resources")

    assert at(on_gpu, "nodeSelector") == {
        NODE_POOL_LABEL: "gpu",
        HARDWARE_CLASS_LABEL: "nvidia-gpu",
    }
    assert at(on_gpu, "tolerations") == [GPU_TOLERATION]
    assert at(on_gpu, "containers", 0, "resources") == {
        "requests": {"cpu": "500m", "memory": "1Gi", "nvidia.com/gpu": 1},
        "limits": {"cpu": "1", "memory": "2Gi", "nvidia.com/gpu": 1},
    }
    # The sidecar asks for no accelerator.
    assert at(on_gpu, "containers", 1) == at(base, "containers", 1)

    assert at(on_neuron, "nodeSelector") == {
        NODE_POOL_LABEL: "inferentia",
        HARDWARE_CLASS_LABEL: "neuron",
    }
    assert at(on_neuron, "tolerations") == [NEURON_TOLERATION]
    assert at(on_neuron, "containers", 0, "resources") == {
        "requests": {"cpu": "500m", "memory": "1Gi", "aws.amazon.com/neuron": 1},
        "limits": {"cpu": "1", "memory": "2Gi", "aws.amazon.com/neuron": 1},
    }
    # Back to cpu is exactly the first placement.
    assert _placed(on_neuron, CPU) == on_cpu

    for label, deployment in (("cpu", on_cpu), ("gpu", on_gpu), ("neuron", on_neuron)):
        _check_deployment(deployment, tmp_path / label)


def test_a_misplaced_resource_fails_the_schema_check(tmp_path: Path) -> None:
    """The check in the acceptance test is real: a wrong shape fails it."""
    broken = _placed(_sample_deployment(), GPU)
    broken["spec"]["template"]["spec"]["containers"][0]["resources"]["gpus"] = 1
    with pytest.raises(AssertionError, match="gpus"):
        _check_deployment(broken, tmp_path)


# --- hardware classes ---------------------------------------------------------------------


def test_hardware_classes_match_the_seam() -> None:
    assert get_args(HardwareClass) == HARDWARE_CLASSES


@pytest.mark.parametrize("value", ["cpu", "nvidia-gpu", "neuron"])
def test_parse_hardware_class_accepts_the_classes(value: str) -> None:
    assert parse_hardware_class(value) == value


def test_tpu_fails_with_a_specific_message() -> None:
    with pytest.raises(BlueprintConfigError) as caught:
        NodePoolSpec(name="tpu", hardware_class="tpu")  # type: ignore[arg-type]
    assert caught.value.field == "node_pool[tpu].hardware_class"
    assert caught.value.value == "tpu"
    assert "TPUs exist only on Google Cloud; use nvidia-gpu or neuron" in caught.value.fix
    assert "cpu, nvidia-gpu, neuron" in caught.value.fix


def test_unknown_class_names_the_valid_ones() -> None:
    with pytest.raises(BlueprintConfigError) as caught:
        parse_hardware_class("gpu", field="serving.hardware_class")
    assert caught.value.field == "serving.hardware_class"
    assert caught.value.value == "gpu"
    assert caught.value.fix == "Use one of the hardware classes: cpu, nvidia-gpu, neuron."


def test_labels_selector_and_taints() -> None:
    pool = NodePoolSpec(
        name="gpu",
        hardware_class="nvidia-gpu",
        labels={"example.com/team": "vision"},
        extra_taints=(Taint("example.com/dedicated", "vision", "NoExecute"),),
    )
    assert node_labels(pool) == {
        NODE_POOL_LABEL: "gpu",
        HARDWARE_CLASS_LABEL: "nvidia-gpu",
        "example.com/team": "vision",
    }
    assert node_selector(pool) == {NODE_POOL_LABEL: "gpu", HARDWARE_CLASS_LABEL: "nvidia-gpu"}
    assert taints(pool) == [
        GPU_TAINT,
        {"key": "example.com/dedicated", "value": "vision", "effect": "NoExecute"},
    ]
    assert taints(CPU) == []
    assert taints(NEURON) == [NEURON_TAINT]
    assert pool_tolerations(pool) == [
        GPU_TOLERATION,
        {
            "key": "example.com/dedicated",
            "operator": "Equal",
            "value": "vision",
            "effect": "NoExecute",
        },
    ]


def test_tolerations_per_class() -> None:
    assert tolerations("cpu") == []
    assert tolerations("nvidia-gpu") == [GPU_TOLERATION]
    assert tolerations("neuron") == [NEURON_TOLERATION]


def test_tolerates_follows_the_scheduler_rules() -> None:
    assert tolerates([GPU_TOLERATION], GPU_TAINT)
    assert not tolerates([GPU_TOLERATION], NEURON_TAINT)
    assert not tolerates([{**GPU_TOLERATION, "value": "false"}], GPU_TAINT)
    assert not tolerates([{**GPU_TOLERATION, "effect": "NoExecute"}], GPU_TAINT)
    assert tolerates([{"key": "nvidia.com/gpu", "operator": "Exists"}], GPU_TAINT)
    assert tolerates([{"operator": "Exists"}], NEURON_TAINT)
    assert not tolerates([], GPU_TAINT)


def test_extended_resources() -> None:
    assert extended_resource("cpu") is None
    assert extended_resource("cpu", "core") is None
    assert extended_resource("nvidia-gpu") == "nvidia.com/gpu"
    assert extended_resource("neuron") == "aws.amazon.com/neuron"
    assert extended_resource("neuron", "core") == "aws.amazon.com/neuroncore"
    with pytest.raises(BlueprintConfigError) as caught:
        extended_resource("nvidia-gpu", "core")
    assert (caught.value.field, caught.value.value) == ("unit", "core")
    assert "whole devices (nvidia.com/gpu); use unit='device'" in caught.value.fix


def test_karpenter_requirements_per_class() -> None:
    assert karpenter_requirements(CPU) == [
        {"key": "karpenter.k8s.aws/instance-category", "operator": "In", "values": ["c", "m", "r"]},
        {"key": "karpenter.k8s.aws/instance-generation", "operator": "Gt", "values": ["5"]},
        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]},
        {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
        {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
    ]
    spot_gpu = NodePoolSpec(name="gpu", hardware_class="nvidia-gpu", enable_spot=True)
    assert karpenter_requirements(spot_gpu)[:3] == [
        {"key": "karpenter.k8s.aws/instance-category", "operator": "In", "values": ["g", "p"]},
        {
            "key": "karpenter.k8s.aws/instance-family",
            "operator": "In",
            "values": ["g5", "g6", "g6e", "p4d", "p5"],
        },
        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot", "on-demand"]},
    ]
    assert karpenter_requirements(NEURON)[1] == {
        "key": "karpenter.k8s.aws/instance-family",
        "operator": "In",
        "values": ["inf2", "trn1", "trn1n", "trn2"],
    }


def test_requirement_keys_are_ones_karpenter_accepts(upstream: Path) -> None:
    """Karpenter's CRD restricts its own label domains by CEL, which the offline check skips."""
    crd = (upstream / "crds/karpenter/karpenter.sh_nodepools.yaml").read_text()
    for pool in (CPU, GPU, NEURON):
        for requirement in karpenter_requirements(pool):
            key = requirement["key"]
            if key.startswith(("karpenter.k8s.aws/", "karpenter.sh/")):
                assert f'"{key}"' in crd, key


def test_provisioning_seconds_and_disk_defaults() -> None:
    assert CPU.effective_provisioning_seconds == DEFAULT_PROVISIONING_SECONDS["cpu"] == 90
    assert GPU.effective_provisioning_seconds == 300
    assert NEURON.effective_provisioning_seconds == 420
    assert NodePoolSpec(name="x", provisioning_seconds=45).effective_provisioning_seconds == 45
    assert (CPU.effective_disk_size_gib, GPU.effective_disk_size_gib) == (80, 200)
    assert GPU.capacity_types == ("on-demand",)


def test_a_spec_is_a_seam_node_pool() -> None:
    assert isinstance(GPU, NodePool)
    assert (GPU.pool_name, GPU.hardware_class) == ("gpu", "nvidia-gpu")


# --- place_workload -----------------------------------------------------------------------


def test_place_workload_keeps_other_selectors_and_tolerations_and_copies() -> None:
    user_toleration = {"key": "example.com/batch", "operator": "Exists", "effect": "NoSchedule"}
    pod = {
        "nodeSelector": {"topology.kubernetes.io/zone": "us-east-1a", NODE_POOL_LABEL: "old"},
        "tolerations": [user_toleration, {"key": "nvidia.com/gpu", "operator": "Exists"}],
        "containers": [{"name": "main", "image": "x:1"}],
    }
    placed = place_workload(pod, NEURON, accelerators=2, unit="core")
    assert placed["nodeSelector"] == {
        "topology.kubernetes.io/zone": "us-east-1a",
        NODE_POOL_LABEL: "inferentia",
        HARDWARE_CLASS_LABEL: "neuron",
    }
    assert placed["tolerations"] == [user_toleration, NEURON_TOLERATION]
    assert placed["containers"][0]["resources"] == {
        "requests": {"aws.amazon.com/neuroncore": 2},
        "limits": {"aws.amazon.com/neuroncore": 2},
    }
    # The input is untouched.
    assert pod["nodeSelector"][NODE_POOL_LABEL] == "old"
    assert "resources" not in pod["containers"][0]


def test_place_workload_on_a_named_container() -> None:
    pod = _sample_deployment()["spec"]["template"]["spec"]
    placed = place_workload(pod, GPU, container="metrics")
    assert "nvidia.com/gpu" not in placed["containers"][0]["resources"]["limits"]
    assert placed["containers"][1]["resources"]["limits"]["nvidia.com/gpu"] == 1


@pytest.mark.parametrize(
    ("call", "field", "value", "fix"),
    [
        (
            lambda: place_workload({"containers": [{"name": "a"}]}, GPU, accelerators=0),
            "accelerators",
            0,
            "use accelerators >= 1, or place the workload on a cpu pool",
        ),
        (
            lambda: place_workload({"containers": []}, CPU),
            "pod_spec.containers",
            [],
            "at least one container",
        ),
        (
            lambda: place_workload({"containers": [{"name": "a"}]}, GPU, container="b"),
            "container",
            "b",
            "Use one of the pod's containers: a.",
        ),
    ],
)
def test_place_workload_rejects_bad_input(call: Any, field: str, value: Any, fix: str) -> None:
    with pytest.raises(BlueprintConfigError) as caught:
        call()
    assert (caught.value.field, caught.value.value) == (field, value)
    assert fix in caught.value.fix


# --- validation ---------------------------------------------------------------------------


def _spec(**overrides: Any) -> NodePoolSpec:
    return NodePoolSpec(**{"name": "pool", **overrides})


@pytest.mark.parametrize(
    ("overrides", "field", "value", "fix"),
    [
        ({"name": "GPU_pool"}, "node_pool.name", "GPU_pool", "at most 63 lowercase"),
        ({"min_nodes": -1}, "node_pool[pool].min_nodes", -1, "cannot be negative"),
        ({"max_nodes": -2}, "node_pool[pool].max_nodes", -2, "cannot be negative"),
        ({"max_nodes": 0}, "node_pool[pool].max_nodes", 0, "use max_nodes >= 1"),
        (
            {"min_nodes": 5, "max_nodes": 3},
            "node_pool[pool].min_nodes",
            5,
            "must not exceed max_nodes (3)",
        ),
        ({"cpu_limit_cores": 0}, "node_pool[pool].cpu_limit_cores", 0, "positive"),
        ({"provisioning_seconds": 0}, "node_pool[pool].provisioning_seconds", 0, "positive"),
        ({"consolidate_after_seconds": -1}, "node_pool[pool].consolidate_after_seconds", -1, "0"),
        (
            {"instance_categories": ("c", "g")},
            "node_pool[pool].instance_categories",
            ["g"],
            "must not launch accelerator instances",
        ),
        (
            {"hardware_class": "nvidia-gpu", "instance_categories": ("g", "inf")},
            "node_pool[pool].instance_categories",
            ["inf"],
            "launches only g, p instances",
        ),
        (
            {"instance_families": ("m7i", "p5")},
            "node_pool[pool].instance_families",
            "p5",
            "not in the pool's categories (c, m, r)",
        ),
        (
            {"instance_families": ("M7I",)},
            "node_pool[pool].instance_families",
            "M7I",
            "EC2 instance family name",
        ),
        (
            {"hardware_class": "neuron", "instance_families": ("inf3",)},
            "node_pool[pool].instance_families",
            ["inf3"],
            "use some of inf1, inf2, trn1, trn1n, trn2",
        ),
        (
            {"hardware_class": "neuron", "architectures": ("arm64",)},
            "node_pool[pool].architectures",
            ("arm64",),
            "amd64 only",
        ),
        ({"architectures": ()}, "node_pool[pool].architectures", (), "Name each architecture"),
        (
            {"labels": {"karpenter.sh/capacity-type": "spot"}},
            "node_pool[pool].labels",
            "karpenter.sh/capacity-type",
            "reserved",
        ),
        (
            {"labels": {"node.kubernetes.io/role": "x"}},
            "node_pool[pool].labels",
            "node.kubernetes.io/role",
            "reserved",
        ),
        (
            {"labels": {"example.com/team": "a b"}},
            "node_pool[pool].labels[example.com/team]",
            "a b",
            "at most 63",
        ),
        (
            {"hardware_class": "nvidia-gpu", "extra_taints": (Taint("nvidia.com/gpu", "x"),)},
            "node_pool[pool].extra_taints",
            "nvidia.com/gpu",
            "set from the hardware class",
        ),
        (
            {"extra_taints": (Taint("example.com/a"), Taint("example.com/a", "b"))},
            "node_pool[pool].extra_taints",
            "example.com/a",
            "once",
        ),
        (
            {"consolidation_policy": "Always"},
            "node_pool[pool].consolidation_policy",
            "Always",
            "WhenEmpty, WhenEmptyOrUnderutilized",
        ),
    ],
)
def test_bad_pools_fail_before_anything_registers(
    overrides: dict[str, Any], field: str, value: Any, fix: str
) -> None:
    with pytest.raises(BlueprintConfigError) as caught:
        _spec(**overrides)
    assert caught.value.field == field
    assert caught.value.value == value
    assert fix in caught.value.fix


@pytest.mark.parametrize(
    ("kwargs", "field", "value"),
    [
        ({"key": "bad key"}, "taint.key", "bad key"),
        ({"key": "ok", "value": "-x-"}, "taint.value", "-x-"),
        ({"key": "ok", "effect": "Never"}, "taint.effect", "Never"),
    ],
)
def test_bad_taints(kwargs: dict[str, Any], field: str, value: str) -> None:
    with pytest.raises(BlueprintConfigError) as caught:
        Taint(**kwargs)
    assert (caught.value.field, caught.value.value) == (field, value)
    assert caught.value.fix


def test_targets_and_their_classes() -> None:
    assert supported_classes("aws") == ("cpu", "nvidia-gpu", "neuron")
    assert supported_classes("kind") == ("cpu",)
    target = KindTarget.__new__(KindTarget)  # only the class attributes are read
    assert supported_classes(target) == ("cpu",)
    with pytest.raises(BlueprintConfigError) as caught:
        supported_classes("gke")
    assert (caught.value.field, caught.value.value) == ("target", "gke")
    assert "aws, kind" in caught.value.fix


def test_validate_pools_rejects_duplicates_and_unsupported_classes() -> None:
    assert validate_pools([CPU, GPU, NEURON], "aws") == (CPU, GPU, NEURON)
    with pytest.raises(BlueprintConfigError) as caught:
        validate_pools([CPU, NodePoolSpec(name="general", max_nodes=2)], "aws")
    assert (caught.value.field, caught.value.value) == ("node_pools[1].name", "general")
    assert "must be unique" in caught.value.fix
    with pytest.raises(BlueprintConfigError) as caught:
        validate_pools([CPU, GPU], "kind")
    assert (caught.value.field, caught.value.value) == (
        "node_pool[gpu].hardware_class",
        "nvidia-gpu",
    )
    assert "enable_simulated_accelerator_nodes=True" in caught.value.fix
    assert validate_pools([GPU], "kind", enable_simulated_accelerator_nodes=True) == (GPU,)


# --- kind ---------------------------------------------------------------------------------


def test_kind_cluster_config_exact_structure() -> None:
    pools = [
        NodePoolSpec(name="general", min_nodes=2, labels={"example.com/team": "ml"}),
        NodePoolSpec(name="gpu", hardware_class="nvidia-gpu"),
    ]
    config = kind_cluster_config(pools, enable_simulated_accelerator_nodes=True)
    general_labels = {
        NODE_POOL_LABEL: "general",
        HARDWARE_CLASS_LABEL: "cpu",
        "example.com/team": "ml",
    }
    gpu_patch = (
        "kind: JoinConfiguration\n"
        "nodeRegistration:\n"
        "  taints:\n"
        "  - key: nvidia.com/gpu\n"
        "    value: 'true'\n"
        "    effect: NoSchedule\n"
    )
    assert config == {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "name": "mlops",
        "nodes": [
            {"role": "control-plane", "image": KIND_NODE_IMAGE},
            {"role": "worker", "image": KIND_NODE_IMAGE, "labels": general_labels},
            {"role": "worker", "image": KIND_NODE_IMAGE, "labels": general_labels},
            {
                "role": "worker",
                "image": KIND_NODE_IMAGE,
                "labels": {NODE_POOL_LABEL: "gpu", HARDWARE_CLASS_LABEL: "nvidia-gpu"},
                "kubeadmConfigPatches": [gpu_patch],
            },
        ],
    }
    patch = yaml.safe_load(gpu_patch)
    assert patch["nodeRegistration"]["taints"] == taints(pools[1])


def test_dump_kind_cluster_config_round_trips() -> None:
    text = dump_kind_cluster_config([CPU], cluster_name="dev", node_image="kindest/node:v1.36.0")
    assert text.startswith("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nname: dev\n")
    assert yaml.safe_load(text) == kind_cluster_config(
        [CPU], cluster_name="dev", node_image="kindest/node:v1.36.0"
    )


def test_kind_config_refuses_accelerators_without_the_opt_in() -> None:
    with pytest.raises(BlueprintConfigError) as caught:
        kind_cluster_config([NEURON])
    assert caught.value.field == "node_pool[inferentia].hardware_class"
    assert "The kind target has no accelerators" in caught.value.fix
    with pytest.raises(BlueprintConfigError) as caught:
        kind_cluster_config([CPU], cluster_name="Bad_Name")
    assert (caught.value.field, caught.value.value) == ("cluster_name", "Bad_Name")


# --- properties ---------------------------------------------------------------------------

_NAMES = st.from_regex(r"\A[a-z][a-z0-9-]{0,14}[a-z0-9]\Z")
_TAINTS = st.lists(
    st.builds(
        Taint,
        key=st.sampled_from(["example.com/team", "dedicated", "example.com/tier"]),
        value=st.sampled_from(["", "ml", "batch-1"]),
        effect=st.sampled_from(["NoSchedule", "PreferNoSchedule", "NoExecute"]),
    ),
    max_size=3,
    unique_by=lambda t: (t.key, t.effect),
).map(tuple)
_POOLS = st.builds(
    NodePoolSpec,
    name=_NAMES,
    hardware_class=st.sampled_from(HARDWARE_CLASSES),
    max_nodes=st.integers(1, 50),
    enable_spot=st.booleans(),
    extra_taints=_TAINTS,
)
_PLAIN_POOLS = st.builds(
    NodePoolSpec, name=_NAMES, hardware_class=st.sampled_from(HARDWARE_CLASSES)
)
_QUANTITIES = st.sampled_from(["100m", "1", "2Gi", "512Mi"])
_RESOURCES = st.fixed_dictionaries(
    {},
    optional={
        "requests": st.dictionaries(
            st.sampled_from(["cpu", "memory", "nvidia.com/gpu"]), _QUANTITIES, min_size=1
        ),
        "limits": st.dictionaries(
            st.sampled_from(["cpu", "memory", "aws.amazon.com/neuron"]), _QUANTITIES, min_size=1
        ),
    },
)
_CONTAINERS = st.lists(
    st.fixed_dictionaries({"image": st.just("x:1")}, optional={"resources": _RESOURCES}),
    min_size=1,
    max_size=3,
).map(lambda cs: [{"name": f"c{i}", **c} for i, c in enumerate(cs)])
_POD_SPECS = st.fixed_dictionaries(
    {"containers": _CONTAINERS},
    optional={
        "nodeSelector": st.dictionaries(
            st.sampled_from(["example.com/zone", NODE_POOL_LABEL, "disk"]), st.just("a")
        ),
        "tolerations": st.lists(
            st.sampled_from(
                [
                    {"key": "example.com/batch", "operator": "Exists"},
                    GPU_TOLERATION,
                    {"operator": "Exists", "effect": "NoExecute"},
                ]
            ),
            max_size=2,
            unique_by=lambda t: tuple(sorted(t.items())),
        ),
    },
)


@given(_POOLS)
def test_accelerator_taints_are_tolerated_by_their_class_only(pool: NodePoolSpec) -> None:
    own = pool_tolerations(pool)
    assert all(tolerates(own, taint) for taint in taints(pool))
    if pool.hardware_class == "cpu":
        return
    class_taint = taints(pool)[0]
    assert tolerates(tolerations(pool.hardware_class), class_taint)
    assert not tolerates(tolerations("cpu"), class_taint)
    other = "neuron" if pool.hardware_class == "nvidia-gpu" else "nvidia-gpu"
    assert not tolerates(tolerations(other), class_taint)


@given(_POD_SPECS, _POOLS, st.integers(1, 8))
def test_placement_is_idempotent(pod: dict[str, Any], pool: NodePoolSpec, count: int) -> None:
    once = place_workload(pod, pool, accelerators=count)
    assert place_workload(once, pool, accelerators=count) == once


@given(_POD_SPECS, _PLAIN_POOLS, _POOLS)
def test_placement_replaces_an_earlier_placement(
    pod: dict[str, Any], first: NodePoolSpec, second: NodePoolSpec
) -> None:
    assert place_workload(place_workload(pod, first), second) == place_workload(pod, second)


@given(_POD_SPECS, _POOLS)
def test_a_placed_pod_fits_only_its_pool(pod: dict[str, Any], pool: NodePoolSpec) -> None:
    placed = place_workload(pod, pool)
    assert node_selector(pool).items() <= node_labels(pool).items()
    assert placed["nodeSelector"].items() >= node_selector(pool).items()
    assert all(tolerates(placed.get("tolerations", []), t) for t in taints(pool))
    resource = extended_resource(pool.hardware_class)
    requested = {
        name
        for container in placed["containers"]
        for name in container.get("resources", {}).get("limits", {})
        if name in ACCELERATOR_RESOURCE_NAMES
    }
    assert requested == ({resource} if resource else set())


@given(_POOLS)
def test_requirements_are_never_empty(pool: NodePoolSpec) -> None:
    requirements = karpenter_requirements(pool)
    assert requirements
    assert all(r["values"] for r in requirements if r["operator"] == "In")
    keys = [r["key"] for r in requirements]
    assert len(keys) == len(set(keys))
    assert "karpenter.k8s.aws/instance-category" in keys
