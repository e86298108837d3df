"""Kubernetes building blocks shared by the in-cluster components."""

from ._namespace import WorkloadNamespace, WorkloadNamespaceArgs
from ._security import (
    RESTRICTED_CONTAINER_SECURITY_CONTEXT,
    RESTRICTED_POD_SECURITY_CONTEXT,
    object_name,
)

__all__ = [
    "RESTRICTED_CONTAINER_SECURITY_CONTEXT",
    "RESTRICTED_POD_SECURITY_CONTEXT",
    "WorkloadNamespace",
    "WorkloadNamespaceArgs",
    "object_name",
]
