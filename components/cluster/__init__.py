"""A hardened EKS cluster: private endpoint, encrypted Secrets, audit logs, IMDSv2 nodes."""

from ._eks import EksCluster, EksClusterArgs, SystemNodeGroupArgs
from ._plan import (
    NODE_MANAGED_POLICIES,
    SYSTEM_TAINT,
    build_kubeconfig,
    cluster_trust_policy,
    node_trust_policy,
)

__all__ = [
    "NODE_MANAGED_POLICIES",
    "SYSTEM_TAINT",
    "EksCluster",
    "EksClusterArgs",
    "SystemNodeGroupArgs",
    "build_kubeconfig",
    "cluster_trust_policy",
    "node_trust_policy",
]
