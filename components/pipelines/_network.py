"""Traffic the Kubeflow Pipelines namespace needs, on top of its default-deny policy.

Upstream's pods (API server, persistence agent, scheduled workflows, MySQL, metadata, Argo's
controller and the run pods) talk to each other freely and to the Kubernetes API, and run
pods reach object storage and package indexes over HTTPS. One policy opens exactly that, so
the namespace can keep deny-by-default like every other platform namespace.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from .._labels import standard_labels
from .._opts import child_opts

__all__ = ["PIPELINE_TRAFFIC_POLICY", "allow_pipeline_traffic", "pipeline_traffic_spec"]

PIPELINE_TRAFFIC_POLICY = "pipelines-traffic"
_HTTPS = 443
_KUBE_API_PORTS = (443, 6443)
# Instance metadata stays closed: workloads get credentials from their identity, not the node.
_LINK_LOCAL = "169.254.0.0/16"


def _namespaces(names: Sequence[pulumi.Input[str]]) -> list[dict[str, Any]]:
    return [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}
        for name in names
    ]


def _tcp(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port} for port in ports]


def pipeline_traffic_spec(
    *,
    client_namespaces: Sequence[pulumi.Input[str]],
    monitoring_namespace: pulumi.Input[str],
    api_server_cidrs: Sequence[str],
    extra_egress: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The policy's spec: in-namespace traffic, clients and Prometheus in; the API server,
    HTTPS (object storage, package indexes) and ``extra_egress`` out."""
    same_namespace: list[dict[str, Any]] = [{"podSelector": {}}]
    return {
        "podSelector": {},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [
            {"from": same_namespace},
            {"from": _namespaces([*client_namespaces, monitoring_namespace])},
        ],
        "egress": [
            {"to": same_namespace},
            {
                "to": [{"ipBlock": {"cidr": cidr}} for cidr in api_server_cidrs],
                "ports": _tcp(*_KUBE_API_PORTS),
            },
            {
                "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": [_LINK_LOCAL]}}],
                "ports": _tcp(_HTTPS),
            },
            *[dict(rule) for rule in extra_egress],
        ],
    }


def allow_pipeline_traffic(
    parent: pulumi.Resource,
    resource_name: str,
    *,
    namespace: pulumi.Input[str],
    client_namespaces: Sequence[pulumi.Input[str]],
    monitoring_namespace: pulumi.Input[str],
    api_server_cidrs: Sequence[str],
    extra_egress: Sequence[Mapping[str, Any]] = (),
) -> k8s.networking.v1.NetworkPolicy:
    """The pipelines namespace's allow policy (see the module docstring)."""
    return k8s.networking.v1.NetworkPolicy(
        resource_name,
        metadata={
            "name": PIPELINE_TRAFFIC_POLICY,
            "namespace": namespace,
            "labels": standard_labels("pipelines", instance=PIPELINE_TRAFFIC_POLICY),
        },
        spec=pipeline_traffic_spec(
            client_namespaces=client_namespaces,
            monitoring_namespace=monitoring_namespace,
            api_server_cidrs=api_server_cidrs,
            extra_egress=extra_egress,
        ),
        opts=child_opts(parent),
    )
