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
    assert charts == ["nvidia-device-plugin", "oci://public.ecr.aws/karpenter/karpenter"]


def test_kind_level2_keeps_only_the_pools_kind_can_run(render_level: RenderFn) -> None:
    outputs = render_level(2, "kind").capture.stack_outputs
    assert "nvidia-gpu" not in outputs["kind_cluster_config"]
    assert "mlops-blueprints.io/node-pool: general" in outputs["kind_cluster_config"]
