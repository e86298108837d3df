"""Deployment targets behind one seam. Add a target: implement ``Target``, register it here."""

from ._aws import AwsSettings, AwsTarget
from ._kind import KindSettings, KindTarget
from ._seam import (
    Capability,
    ContainerRegistry,
    KeyValueStore,
    NodePool,
    ObjectStore,
    ObjectStoreArgs,
    SqlDatabase,
    Target,
    WorkloadIdentity,
    WorkloadIdentityArgs,
)

TARGET_NAMES: tuple[str, ...] = ("aws", "kind")

__all__ = [
    "TARGET_NAMES",
    "AwsSettings",
    "AwsTarget",
    "Capability",
    "ContainerRegistry",
    "KeyValueStore",
    "KindSettings",
    "KindTarget",
    "NodePool",
    "ObjectStore",
    "ObjectStoreArgs",
    "SqlDatabase",
    "Target",
    "WorkloadIdentity",
    "WorkloadIdentityArgs",
]
