"""Deployment targets behind one seam. Add a target: implement ``Target``, register it here."""

from ._aws import AwsSettings, AwsTarget
from ._kind import KindSettings, KindTarget
from ._seam import (
    Capability,
    ContainerRegistry,
    ContainerRegistryArgs,
    KeyValueStore,
    KeyValueStoreArgs,
    NodePool,
    ObjectStore,
    ObjectStoreArgs,
    SqlDatabase,
    SqlDatabaseArgs,
    Target,
    TargetPosture,
    WorkloadIdentity,
    WorkloadIdentityArgs,
    validate_dns_label,
)

TARGET_NAMES: tuple[str, ...] = ("aws", "kind")

__all__ = [
    "TARGET_NAMES",
    "AwsSettings",
    "AwsTarget",
    "Capability",
    "ContainerRegistry",
    "ContainerRegistryArgs",
    "KeyValueStore",
    "KeyValueStoreArgs",
    "KindSettings",
    "KindTarget",
    "NodePool",
    "ObjectStore",
    "ObjectStoreArgs",
    "SqlDatabase",
    "SqlDatabaseArgs",
    "Target",
    "TargetPosture",
    "WorkloadIdentity",
    "WorkloadIdentityArgs",
    "validate_dns_label",
]
