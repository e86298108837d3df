"""Client-side egress: the one NetworkPolicy a granted workload needs to reach a service.

Every namespace the platform creates denies all egress by default. A grant on a data service
therefore also opens the path to it, from the pods of that one identity only. Pods select
themselves into the path by carrying the identity's ``pod_labels``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from mlops_blueprints.targets._seam import WorkloadIdentity

from .._labels import standard_labels
from .._opts import child_opts

__all__ = [
    "IDENTITY_LABEL",
    "METADATA_ENDPOINT_CIDR",
    "allow_client_egress",
    "allow_identity_egress",
    "identity_pod_labels",
    "namespace_pod_peer",
]

# Pods that run as a workload identity carry this label with the service-account name.
IDENTITY_LABEL = "mlops-blueprints.io/identity"
# Link-local covers the instance metadata service; workloads use their identity, not the node's.
METADATA_ENDPOINT_CIDR = "169.254.0.0/16"


def identity_pod_labels(service_account_name: str) -> dict[str, str]:
    """The labels a pod needs so that its identity's egress policies select it."""
    return {IDENTITY_LABEL: service_account_name}


def namespace_pod_peer(
    namespace: pulumi.Input[str], pod_labels: Mapping[str, str]
) -> dict[str, Any]:
    """A peer selecting the labelled pods of one namespace (by its immutable name label)."""
    return {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
        "podSelector": {"matchLabels": dict(pod_labels)},
    }


def allow_client_egress(
    parent: pulumi.Resource,
    resource_name: str,
    *,
    policy_name: str,
    namespace: pulumi.Input[str],
    pod_labels: Mapping[str, str],
    peers: Sequence[Mapping[str, Any]],
    ports: Sequence[int],
) -> k8s.networking.v1.NetworkPolicy:
    """An egress-only NetworkPolicy from the ``pod_labels`` pods to ``peers`` on TCP ``ports``."""
    return k8s.networking.v1.NetworkPolicy(
        resource_name,
        metadata={
            "name": policy_name[:63].rstrip("-"),
            "namespace": namespace,
            "labels": standard_labels("network-policy", instance=policy_name[:63].rstrip("-")),
        },
        spec={
            "podSelector": {"matchLabels": dict(pod_labels)},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [dict(peer) for peer in peers],
                    "ports": [{"protocol": "TCP", "port": port} for port in ports],
                }
            ],
        },
        opts=child_opts(parent),
    )


def allow_identity_egress(
    parent: pulumi.Resource,
    prefix: str,
    *,
    identity: WorkloadIdentity,
    service_name: str,
    peer: Mapping[str, Any],
    port: int,
) -> k8s.networking.v1.NetworkPolicy:
    """``{prefix}-egress``: the granted identity's pods may reach ``peer`` on ``port``."""
    return allow_client_egress(
        parent,
        f"{prefix}-egress",
        policy_name=f"{identity.identity_name}-to-{service_name}",
        namespace=identity.namespace,
        pod_labels=identity.pod_labels,
        peers=[peer],
        ports=[port],
    )
