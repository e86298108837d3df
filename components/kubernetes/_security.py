"""Security contexts that satisfy the Pod Security Standards 'restricted' profile."""

from __future__ import annotations

from typing import Any

import pulumi

__all__ = [
    "RESTRICTED_CONTAINER_SECURITY_CONTEXT",
    "RESTRICTED_POD_SECURITY_CONTEXT",
    "object_name",
]


def object_name(resource: pulumi.CustomResource) -> pulumi.Output[str]:
    """A Kubernetes object's name as an Output that carries the dependency on the object."""
    metadata: pulumi.Output[Any] = resource.metadata  # type: ignore[attr-defined]
    return metadata.apply(lambda m: str(m["name"] if isinstance(m, dict) else m.name))


# A fixed non-root UID/GID lets volumes be group-writable via fsGroup.
NON_ROOT_ID = 10001

RESTRICTED_POD_SECURITY_CONTEXT: dict[str, Any] = {
    "runAsNonRoot": True,
    "runAsUser": NON_ROOT_ID,
    "runAsGroup": NON_ROOT_ID,
    "fsGroup": NON_ROOT_ID,
    "seccompProfile": {"type": "RuntimeDefault"},
}

RESTRICTED_CONTAINER_SECURITY_CONTEXT: dict[str, Any] = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
