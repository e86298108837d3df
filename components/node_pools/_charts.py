"""Helm values for the node-pool charts and the Karpenter custom resources, as pure functions.

Values use only keys present in each chart's upstream ``values.yaml`` at the version pinned in
``mlops_blueprints.versions.CHARTS`` (``mlops-bp check`` enforces this).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import pulumi

from mlops_blueprints.versions import HelmChart

from ._hardware import (
    HARDWARE_CLASS_LABEL,
    NEURON_INSTANCE_TYPES,
    NodePoolSpec,
    karpenter_requirements,
    node_labels,
    pool_tolerations,
    taints,
)

__all__ = [
    "KARPENTER_NAMESPACE",
    "KARPENTER_SERVICE_ACCOUNT",
    "chart_args",
    "ec2_node_class_spec",
    "karpenter_node_pool_spec",
    "neuron_chart_values",
    "nvidia_device_plugin_values",
]

KARPENTER_NAMESPACE: Final = "kube-system"
KARPENTER_SERVICE_ACCOUNT: Final = "karpenter"
_ROOT_DEVICE: Final = "/dev/xvda"  # AL2023
# System DaemonSets also run where nodes are reserved for critical add-ons.
_CRITICAL_ADDONS_TOLERATION: Final = {"key": "CriticalAddonsOnly", "operator": "Exists"}


def chart_args(chart: HelmChart) -> dict[str, Any]:
    """``chart``/``repository_opts`` for a Helm release of a pinned chart (OCI or HTTP repo)."""
    if chart.repository.startswith("oci://"):
        return {"chart": f"{chart.repository}/{chart.chart}", "version": chart.version}
    return {
        "chart": chart.chart,
        "version": chart.version,
        "repository_opts": {"repo": chart.repository},
    }


def karpenter_node_pool_spec(pool: NodePoolSpec, *, node_class_name: str) -> dict[str, Any]:
    """``spec`` of the Karpenter ``NodePool`` (karpenter.sh/v1) for ``pool``."""
    template_spec: dict[str, Any] = {
        "nodeClassRef": {
            "group": "karpenter.k8s.aws",
            "kind": "EC2NodeClass",
            "name": node_class_name,
        },
        "requirements": karpenter_requirements(pool),
        "expireAfter": f"{pool.expire_after_hours}h",
    }
    pool_taints = taints(pool)
    if pool_taints:
        template_spec["taints"] = pool_taints
    return {
        "template": {"metadata": {"labels": node_labels(pool)}, "spec": template_spec},
        "limits": {
            "cpu": pool.cpu_limit_cores,
            "memory": f"{pool.memory_limit_gib}Gi",
            "nodes": pool.max_nodes,
        },
        "disruption": {
            "consolidationPolicy": pool.consolidation_policy,
            "consolidateAfter": f"{pool.consolidate_after_seconds}s",
            # At most one node in ten is disrupted at a time.
            "budgets": [{"nodes": "10%"}],
        },
    }


def ec2_node_class_spec(
    pool: NodePoolSpec,
    *,
    role: pulumi.Input[str],
    discovery_tag: pulumi.Input[str],
    ami_alias: str,
    kms_key_arn: pulumi.Input[str] | None,
    tags: Mapping[str, pulumi.Input[str]],
) -> dict[str, Any]:
    """``spec`` of the ``EC2NodeClass`` (karpenter.k8s.aws/v1) for ``pool``.

    IMDSv2 only with a hop limit of 1 (pods cannot reach the node's credentials), an encrypted
    gp3 root volume, and subnets and security groups found by the ``karpenter.sh/discovery``
    tag.
    """
    ebs: dict[str, Any] = {
        "volumeSize": f"{pool.effective_disk_size_gib}Gi",
        "volumeType": "gp3",
        "encrypted": True,
        "deleteOnTermination": True,
    }
    if kms_key_arn is not None:
        ebs["kmsKeyID"] = kms_key_arn
    discovery = {"karpenter.sh/discovery": discovery_tag}
    spec: dict[str, Any] = {
        "role": role,
        "amiSelectorTerms": [{"alias": ami_alias}],
        "subnetSelectorTerms": [{"tags": discovery}],
        "securityGroupSelectorTerms": [{"tags": discovery}],
        "metadataOptions": {
            "httpEndpoint": "enabled",
            "httpProtocolIPv6": "disabled",
            "httpPutResponseHopLimit": 1,
            "httpTokens": "required",
        },
        "blockDeviceMappings": [{"deviceName": _ROOT_DEVICE, "rootVolume": True, "ebs": ebs}],
    }
    if tags:
        spec["tags"] = dict(tags)
    return spec


def _class_tolerations(pools: Sequence[NodePoolSpec]) -> list[dict[str, str]]:
    found: list[dict[str, str]] = [dict(_CRITICAL_ADDONS_TOLERATION)]
    for pool in pools:
        for toleration in pool_tolerations(pool):
            if toleration not in found:
                found.append(toleration)
    return found


def _class_affinity(hardware_class: str) -> dict[str, Any]:
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {
                                "key": HARDWARE_CLASS_LABEL,
                                "operator": "In",
                                "values": [hardware_class],
                            }
                        ]
                    }
                ]
            }
        }
    }


def nvidia_device_plugin_values(pools: Sequence[NodePoolSpec]) -> dict[str, Any]:
    """Values for ``nvidia-device-plugin``: run on every GPU pool's nodes, and only there.

    The chart's default affinity expects node-feature-discovery labels, which Karpenter nodes
    do not carry; it is replaced by the hardware-class label.
    """
    return {
        "nodeSelector": {HARDWARE_CLASS_LABEL: "nvidia-gpu"},
        "affinity": _class_affinity("nvidia-gpu"),
        "tolerations": _class_tolerations(pools),
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        "resources": {
            "requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"cpu": "200m", "memory": "128Mi"},
        },
    }


def neuron_chart_values(pools: Sequence[NodePoolSpec]) -> dict[str, Any]:
    """Values for ``neuron-helm-chart``: the device plugin only, on every Neuron pool's nodes.

    The chart schedules its DaemonSet by exact instance type, so ``neuronInstances`` lists every
    type of the pools' families. The scheduler extension and node problem detector stay off.
    """
    instance_types: list[str] = []
    for pool in pools:
        for family in pool.effective_instance_families:
            for instance_type in NEURON_INSTANCE_TYPES[family]:
                if instance_type not in instance_types:
                    instance_types.append(instance_type)
    return {
        "neuronInstances": instance_types,
        "devicePlugin": {
            "nodeSelector": {HARDWARE_CLASS_LABEL: "neuron"},
            "tolerations": _class_tolerations(pools),
            # Upstream leaves it empty; the plugin needs neither escalation nor capabilities.
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]},
            },
        },
        "scheduler": {"enabled": False},
        "npd": {"enabled": False},
    }
