"""Node pools on kind: labelled and tainted worker nodes in the kind cluster config.

A kind cluster's nodes are fixed when it is created, so pools create no Kubernetes objects;
they shape the cluster config instead (``kind create cluster --config <file>``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import yaml

from mlops_blueprints import versions
from mlops_blueprints.targets._seam import validate_dns_label

from ._hardware import NodePoolSpec, node_labels, taints, validate_pools

__all__ = ["KIND_API_VERSION", "dump_kind_cluster_config", "kind_cluster_config"]

KIND_API_VERSION: Final = "kind.x-k8s.io/v1alpha4"


def _join_patch(pool_taints: list[dict[str, str]]) -> str:
    # kind sets node labels itself; taints need kubeadm's JoinConfiguration.
    patch = {"kind": "JoinConfiguration", "nodeRegistration": {"taints": pool_taints}}
    return yaml.safe_dump(patch, sort_keys=False, default_flow_style=False)


def kind_cluster_config(
    pools: Sequence[NodePoolSpec],
    *,
    cluster_name: str = "mlops",
    node_image: str = versions.KIND_NODE_IMAGE,
    enable_simulated_accelerator_nodes: bool = False,
) -> dict[str, Any]:
    """A kind ``Cluster`` config: one control-plane node, then workers for each pool.

    Each pool gets ``max(1, min_nodes)`` workers carrying the pool's node labels and, through a
    kubeadm ``JoinConfiguration`` patch, its taints. Accelerator pools need
    ``enable_simulated_accelerator_nodes`` (see ``validate_pools``): their workers have the
    labels and taints but no devices.
    """
    validate_dns_label(cluster_name, field="cluster_name")
    validate_pools(
        pools, "kind", enable_simulated_accelerator_nodes=enable_simulated_accelerator_nodes
    )
    nodes: list[dict[str, Any]] = [{"role": "control-plane", "image": node_image}]
    for pool in pools:
        pool_taints = taints(pool)
        for _ in range(max(1, pool.min_nodes)):
            node: dict[str, Any] = {
                "role": "worker",
                "image": node_image,
                "labels": node_labels(pool),
            }
            if pool_taints:
                node["kubeadmConfigPatches"] = [_join_patch(pool_taints)]
            nodes.append(node)
    return {
        "kind": "Cluster",
        "apiVersion": KIND_API_VERSION,
        "name": cluster_name,
        "nodes": nodes,
    }


def dump_kind_cluster_config(
    pools: Sequence[NodePoolSpec],
    *,
    cluster_name: str = "mlops",
    node_image: str = versions.KIND_NODE_IMAGE,
    enable_simulated_accelerator_nodes: bool = False,
) -> str:
    """:func:`kind_cluster_config` as YAML, ready for ``kind create cluster --config``."""
    config = kind_cluster_config(
        pools,
        cluster_name=cluster_name,
        node_image=node_image,
        enable_simulated_accelerator_nodes=enable_simulated_accelerator_nodes,
    )
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=False)
