"""Level 2 adds a tainted NVIDIA GPU pool on aws; kind stays CPU-only."""

from __future__ import annotations

import pytest

from tests.conftest import RenderFn

pytestmark = pytest.mark.unit


def test_aws_level2_adds_a_tainted_gpu_pool_and_the_device_plugin(render_level: RenderFn) -> None:
    result = render_level(2, "aws")
    pools = {
        r.inputs["metadata"]["name"]: r.inputs["spec"]["template"]["spec"]
        for r in result.capture.registrations
        if r.type == "kubernetes:karpenter.sh/v1:NodePool"
    }
    assert sorted(pools) == ["general", "gpu"]
    assert pools["gpu"]["taints"] == [
        {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}
    ]
    assert "taints" not in pools["general"]
    charts = sorted(
        r.inputs["chart"]
        for r in result.capture.registrations
        if r.type == "kubernetes:helm.sh/v3:Release"
    )
    assert charts == [
        "argo-cd",
        "cert-manager",
        "kube-prometheus-stack",
        "mlflow",
        "nvidia-device-plugin",
        "oci://ghcr.io/kserve/charts/kserve-crd",
        "oci://ghcr.io/kserve/charts/kserve-resources",
        "oci://public.ecr.aws/karpenter/karpenter",
    ]


def test_kind_level2_keeps_only_the_pools_kind_can_run(render_level: RenderFn) -> None:
    outputs = render_level(2, "kind").capture.stack_outputs
    assert "nvidia-gpu" not in outputs["kind_cluster_config"]
    assert "mlops-blueprints.io/node-pool: general" in outputs["kind_cluster_config"]


@pytest.mark.parametrize("target", ["aws", "kind"])
def test_level2_adds_pipelines_serving_and_wires_them_to_the_registry(
    render_level: RenderFn, target: str
) -> None:
    result = render_level(2, target)
    resources = {r.name: r for r in result.capture.registrations}
    assert resources["pipelines"].type == "mlops:pipelines:Pipelines"
    assert resources["serving"].type == "mlops:serving:ServingStack"
    # The pipeline root is on the data lake's artifacts zone.
    lake = "acme-mlops-dev" if target == "aws" else "mlops-dev"
    assert result.capture.stack_outputs["pipeline_root"] == f"s3://{lake}-lake-artifacts/pipelines"
    # The KFP namespace is created before anything lands in it.
    namespace = resources["pipelines-namespace-namespace"]
    assert (
        namespace.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
    )
    binding = resources["pipelines-runner-binding"]
    assert namespace.urn in binding.dependencies
    # Serving reads models through the registry: its pods may reach the MLflow server.
    egress = resources["model-registry-model-serving-egress"].inputs
    assert egress["spec"]["podSelector"] == {
        "matchLabels": {"mlops-blueprints.io/identity": "model-serving"}
    }


@pytest.mark.parametrize("target", ["aws", "kind"])
def test_pipelines_namespace_denies_by_default_and_opens_what_upstream_needs(
    render_level: RenderFn, target: str
) -> None:
    resources = {r.name: r for r in render_level(2, target).capture.registrations}
    deny = resources["pipelines-namespace-default-deny"].inputs
    assert deny["metadata"]["namespace"] == "kubeflow"
    assert deny["spec"]["podSelector"] == {}
    assert sorted(deny["spec"]["policyTypes"]) == ["Egress", "Ingress"]
    traffic = resources["pipelines-traffic"].inputs["spec"]
    assert traffic["podSelector"] == {}
    assert {"from": [{"podSelector": {}}]} in traffic["ingress"]
    https = {
        "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.0.0/16"]}}],
        "ports": [{"protocol": "TCP", "port": 443}],
    }
    assert https in traffic["egress"]
    api = traffic["egress"][1]
    assert api["ports"] == [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}]
    assert api["to"] == [
        {"ipBlock": {"cidr": "10.0.0.0/16" if target == "aws" else "172.18.0.0/16"}}
    ]
    storage = [
        rule
        for rule in traffic["egress"]
        if rule.get("ports") == [{"protocol": "TCP", "port": 8333}]
    ]
    assert len(storage) == (1 if target == "kind" else 0)
