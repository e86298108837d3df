"""Cluster planning as pure functions: trust policies, managed policies, kubeconfig, CIDRs."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from mlops_blueprints.errors import BlueprintConfigError

__all__ = [
    "CLUSTER_ADMIN_ACCESS_POLICY",
    "CLUSTER_MANAGED_POLICIES",
    "NODE_MANAGED_POLICIES",
    "SYSTEM_TAINT",
    "access_policy_arn",
    "build_kubeconfig",
    "cluster_trust_policy",
    "managed_policy_arn",
    "node_trust_policy",
    "validate_access_cidrs",
]

# The cluster role: only what the EKS control plane needs.
CLUSTER_MANAGED_POLICIES: tuple[str, ...] = ("AmazonEKSClusterPolicy",)
# The system node role: join the cluster, run the VPC CNI, pull images. Nothing else: pods
# get AWS permissions through their own identities (IRSA or Pod Identity), never the node's.
NODE_MANAGED_POLICIES: tuple[str, ...] = (
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
    "AmazonEC2ContainerRegistryPullOnly",
)
CLUSTER_ADMIN_ACCESS_POLICY = "AmazonEKSClusterAdminPolicy"
# Only pods that tolerate this run on the system node group (CoreDNS and the EKS add-ons do).
SYSTEM_TAINT: dict[str, str] = {
    "key": "CriticalAddonsOnly",
    "value": "true",
    "effect": "NO_SCHEDULE",
}


def managed_policy_arn(name: str, *, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::aws:policy/{name}"


def access_policy_arn(name: str, *, partition: str = "aws") -> str:
    return f"arn:{partition}:eks::aws:cluster-access-policy/{name}"


def _service_trust(sid: str, service: str, actions: list[str]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": sid,
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": actions,
            }
        ],
    }


def cluster_trust_policy() -> dict[str, Any]:
    """Only the EKS service may assume the cluster role."""
    return _service_trust(
        "EksControlPlane", "eks.amazonaws.com", ["sts:AssumeRole", "sts:TagSession"]
    )


def node_trust_policy() -> dict[str, Any]:
    """Only EC2 instances may assume the node role."""
    return _service_trust("Ec2Nodes", "ec2.amazonaws.com", ["sts:AssumeRole"])


# Addresses a VPC or a connected network uses: RFC 1918 plus the shared CGNAT range.
_VPC_RANGES = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
)


def _is_vpc_range(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    return isinstance(network, ipaddress.IPv4Network) and any(
        network.subnet_of(r) for r in _VPC_RANGES
    )


def validate_access_cidrs(values: tuple[str, ...], *, field: str, public: bool) -> tuple[str, ...]:
    """IPv4 CIDRs; never ``/0``. Public endpoint CIDRs must be public, private ones private."""
    for value in values:
        try:
            network = ipaddress.ip_network(value, strict=True)
            if not isinstance(network, ipaddress.IPv4Network):
                raise ValueError(value)
        except ValueError:
            raise BlueprintConfigError(
                field,
                value,
                "Use IPv4 networks in CIDR notation at their network address "
                "(e.g. '203.0.113.0/24').",
            ) from None
        if network.prefixlen == 0:
            raise BlueprintConfigError(
                field,
                value,
                "Opening the API server to every address is not allowed: list your office, "
                "VPN or CI egress ranges instead (e.g. '203.0.113.0/24').",
            )
        if public and _is_vpc_range(network):
            raise BlueprintConfigError(
                field,
                value,
                "The public endpoint only ever sees public source addresses: list public "
                "ranges here, and put private ranges in private_access_cidrs.",
            )
        if not public and not _is_vpc_range(network):
            raise BlueprintConfigError(
                field,
                value,
                "The private endpoint is reached from inside the VPC or connected networks: "
                "list private ranges (e.g. your VPN's '10.100.0.0/16').",
            )
    return values


def build_kubeconfig(
    *,
    cluster_name: str,
    endpoint: str,
    certificate_authority_data: str,
    region: str,
    role_arn: str | None = None,
) -> str:
    """A kubeconfig that authenticates with ``aws eks get-token`` (no static credentials).

    The AWS CLI must be on the PATH of whoever uses it; ``role_arn`` makes the CLI assume
    that role first. JSON is valid YAML, so kubectl and the Kubernetes provider read it.
    """
    if not endpoint.startswith("https://"):
        raise BlueprintConfigError("endpoint", endpoint, "The EKS API endpoint is an https:// URL.")
    args = ["--region", region, "eks", "get-token", "--cluster-name", cluster_name]
    if role_arn:
        args += ["--role-arn", role_arn]
    args += ["--output", "json"]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster_name,
                "cluster": {
                    "server": endpoint,
                    "certificate-authority-data": certificate_authority_data,
                },
            }
        ],
        "contexts": [
            {"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}
        ],
        "current-context": cluster_name,
        "preferences": {},
        "users": [
            {
                "name": cluster_name,
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1beta1",
                        "command": "aws",
                        "args": args,
                        "interactiveMode": "Never",
                    }
                },
            }
        ],
    }
    return json.dumps(config, indent=2)
