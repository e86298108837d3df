"""Kubernetes building blocks shared by the in-cluster components."""

from ._egress import (
    IDENTITY_LABEL,
    METADATA_ENDPOINT_CIDR,
    allow_client_egress,
    allow_identity_egress,
    identity_pod_labels,
    namespace_pod_peer,
)
from ._namespace import WorkloadNamespace, WorkloadNamespaceArgs
from ._security import (
    RESTRICTED_CONTAINER_SECURITY_CONTEXT,
    RESTRICTED_POD_SECURITY_CONTEXT,
    object_name,
)

__all__ = [
    "IDENTITY_LABEL",
    "METADATA_ENDPOINT_CIDR",
    "RESTRICTED_CONTAINER_SECURITY_CONTEXT",
    "RESTRICTED_POD_SECURITY_CONTEXT",
    "WorkloadNamespace",
    "WorkloadNamespaceArgs",
    "allow_client_egress",
    "allow_identity_egress",
    "identity_pod_labels",
    "namespace_pod_peer",
    "object_name",
]
