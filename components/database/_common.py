"""Building blocks shared by the data services: ``database``, ``key_value`` and ``registry``.

Validation of the inputs every data service has (client namespaces, CIDR blocks, resources),
the Kubernetes pieces of a single-replica stateful workload, the AWS security group that admits
one port from named sources only, and the book-keeping of per-identity credentials.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.targets._seam import WorkloadIdentity, validate_dns_label

from .._opts import child_opts
from ..identity import IrsaIdentity
from ..kubernetes import RESTRICTED_POD_SECURITY_CONTEXT, allow_identity_egress

__all__ = [
    "RETAIN_CLAIMS",
    "ClientPath",
    "IdentityGrant",
    "connection_secret_name",
    "container_resources",
    "deferred",
    "ingress_security_group",
    "namespace_peers",
    "pod_security_context",
    "register_grant",
    "require_irsa",
    "sha256_annotation",
    "text",
    "validate_allowed_namespaces",
    "validate_cidr_blocks",
    "validate_resources",
    "validate_storage_size",
    "volume_claim_template",
]

T = TypeVar("T")

# Keep a workload's volume when its StatefulSet is deleted or scaled down.
RETAIN_CLAIMS: dict[str, str] = {"whenDeleted": "Retain", "whenScaled": "Retain"}
_QUANTITY_CPU = re.compile(r"^([0-9]+m|[0-9]+(\.[0-9]+)?)$")


def validate_allowed_namespaces(
    values: Sequence[pulumi.Input[str]], *, field: str
) -> tuple[pulumi.Input[str], ...]:
    """Client namespaces: at least one; plain names must be RFC 1123 labels."""
    if not values:
        raise BlueprintConfigError(
            field,
            list(values),
            "Name at least one namespace whose pods may connect (e.g. the platform "
            "namespace); with none, no client could reach the service.",
        )
    for value in values:
        if isinstance(value, str):
            validate_dns_label(value, field=field)
    return tuple(values)


def validate_cidr_blocks(values: Sequence[str], *, field: str) -> tuple[str, ...]:
    """Private IPv4/IPv6 networks only: a data service is never opened to the internet."""
    for value in values:
        try:
            network = ipaddress.ip_network(value, strict=True)
        except ValueError:
            raise BlueprintConfigError(
                field,
                value,
                "Use a network in CIDR notation with no host bits set (e.g. '10.0.0.0/16').",
            ) from None
        if network.prefixlen == 0 or not network.is_private:
            raise BlueprintConfigError(
                field,
                value,
                "Allow only private networks (RFC 1918 / ULA, e.g. the VPC CIDR '10.0.0.0/16'); "
                "a data service is never reachable from the internet.",
            )
    return tuple(values)


def validate_resources(*, cpu_request: str, memory_request_mib: int, memory_limit_mib: int) -> None:
    """Requests and limits a scheduler and the kubelet can honour (min <= max)."""
    if not _QUANTITY_CPU.match(cpu_request) or cpu_request in ("0", "0m"):
        raise BlueprintConfigError(
            "cpu_request", cpu_request, "Use a positive CPU quantity such as '250m' or '1'."
        )
    if memory_request_mib < 16:
        raise BlueprintConfigError(
            "memory_request_mib", memory_request_mib, "Request at least 16 MiB of memory."
        )
    if memory_limit_mib < memory_request_mib:
        raise BlueprintConfigError(
            "memory_limit_mib",
            memory_limit_mib,
            f"Set the limit at or above the request ({memory_request_mib} MiB).",
        )


def validate_storage_size(value: int, *, field: str = "storage_size_gib") -> None:
    if value < 1:
        raise BlueprintConfigError(field, value, "Give the data volume at least 1 GiB.")


def container_resources(
    *, cpu_request: str, memory_request_mib: int, memory_limit_mib: int
) -> dict[str, Any]:
    """Requests for scheduling; a memory limit (no CPU limit, so bursts are not throttled)."""
    return {
        "requests": {"cpu": cpu_request, "memory": f"{memory_request_mib}Mi"},
        "limits": {"memory": f"{memory_limit_mib}Mi"},
    }


def pod_security_context(*, uid: int, gid: int) -> dict[str, Any]:
    """The restricted pod security context, running as the image's own unprivileged user."""
    return {**RESTRICTED_POD_SECURITY_CONTEXT, "runAsUser": uid, "runAsGroup": gid, "fsGroup": gid}


def volume_claim_template(
    name: str, *, storage_size_gib: int, storage_class_name: str | None
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": f"{storage_size_gib}Gi"}},
    }
    if storage_class_name:
        spec["storageClassName"] = storage_class_name
    return {"metadata": {"name": name}, "spec": spec}


def namespace_peers(namespaces: Sequence[pulumi.Input[str]]) -> list[dict[str, Any]]:
    """NetworkPolicy peers selecting every pod of each namespace, by its immutable name label."""
    return [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}
        for namespace in namespaces
    ]


def text(value: object) -> str:
    """A resolved string output, or '' where a mock render leaves a generated value unset."""
    return value if isinstance(value, str) else ""


def sha256_annotation(content: pulumi.Output[str]) -> pulumi.Output[str]:
    """A digest of (possibly secret) content, for a pod annotation that restarts on change.

    The digest of generated credentials reveals nothing about them, so it is unsecreted: a
    secret annotation would make the whole pod template secret in the state and the diff.
    """
    return pulumi.Output.unsecret(content.apply(lambda c: hashlib.sha256(c.encode()).hexdigest()))


def deferred(
    trigger: pulumi.Output[Any], build: Callable[[], pulumi.Output[T]]
) -> pulumi.Output[T]:
    """An output computed only once the program body has returned.

    Outputs resolve after the synchronous program body, so ``build`` sees every grant made on
    the component, including those made after it was constructed (see ADR 0004).
    """
    return trigger.apply(lambda _: build())


def connection_secret_name(*, identity_name: str, service_name: str) -> str:
    """``<identity>-<service>``: one Secret per identity and service, in its namespace."""
    return f"{identity_name}-{service_name}"[:253].rstrip("-.")


def require_irsa(identity: WorkloadIdentity, *, service: str) -> IrsaIdentity:
    if not isinstance(identity, IrsaIdentity):
        raise BlueprintConfigError(
            "identity",
            type(identity).__name__,
            f"{service} can only grant to an AWS workload identity (IrsaIdentity) from the "
            "same target.",
        )
    return identity


@dataclass
class IdentityGrant:
    """The credentials of one identity on one data service, and what it was granted."""

    identity: WorkloadIdentity
    password: random.RandomPassword
    modes: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class ClientPath:
    """Where a granted identity's pods connect: the service, a NetworkPolicy peer, a port."""

    service_name: str
    peer: Mapping[str, Any]
    port: int


def register_grant(
    parent: pulumi.Resource,
    prefix: str,
    grants: dict[str, IdentityGrant],
    identity: WorkloadIdentity,
    mode: str,
    *,
    password_length: int,
    client_path: ClientPath | None,
) -> tuple[IdentityGrant, bool]:
    """Record ``mode`` for ``identity``; returns the grant and whether it is new.

    A new grant gets ``{prefix}-password`` (random) and, with ``client_path``,
    ``{prefix}-egress``: the NetworkPolicy letting the identity's pods reach the
    service. Two different identities with the same name would share credentials and child
    names, so that is refused.
    """
    existing = grants.get(identity.identity_name)
    if existing is not None:
        if existing.identity is not identity:
            raise BlueprintConfigError(
                "identity",
                identity.identity_name,
                "Another identity with this name already has a grant on this service; give "
                "each workload identity a unique service-account name.",
            )
        existing.modes.add(mode)
        return existing, False
    password = random.RandomPassword(
        f"{prefix}-password", length=password_length, special=False, opts=child_opts(parent)
    )
    grant = IdentityGrant(identity=identity, password=password, modes={mode})
    grants[identity.identity_name] = grant
    if client_path is not None:
        allow_identity_egress(
            parent,
            prefix,
            identity=identity,
            service_name=client_path.service_name,
            peer=client_path.peer,
            port=client_path.port,
        )
    return grant, True


def connection_secret(
    parent: pulumi.Resource,
    resource_name: str,
    *,
    identity: WorkloadIdentity,
    secret_name: str,
    labels: Mapping[str, str],
    data: pulumi.Output[dict[str, str]],
) -> k8s.core.v1.Secret:
    """A Secret in the identity's namespace holding its connection settings, for ``envFrom``."""
    return k8s.core.v1.Secret(
        resource_name,
        metadata={"name": secret_name, "namespace": identity.namespace, "labels": dict(labels)},
        type="Opaque",
        string_data=pulumi.Output.secret(data),
        opts=child_opts(parent),
    )


def ingress_security_group(
    parent: pulumi.Resource,
    name: str,
    *,
    vpc_id: pulumi.Input[str],
    port: int,
    description: str,
    source_security_group_ids: Sequence[pulumi.Input[str]],
    cidr_blocks: Sequence[str],
    tags: Mapping[str, str],
) -> aws.ec2.SecurityGroup:
    """A security group admitting TCP ``port`` from the named sources only, with no egress.

    Children: ``{name}-security-group`` and one ``{name}-ingress-...`` rule per source
    (``-sg-<index>`` per security group, ``-cidr-<network>`` per CIDR block).
    """
    group = aws.ec2.SecurityGroup(
        f"{name}-security-group",
        vpc_id=vpc_id,
        description=description,
        # No egress rules: the provider removes AWS's default allow-all egress rule.
        tags=dict(tags),
        opts=child_opts(parent),
    )
    for index, source in enumerate(source_security_group_ids):
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-ingress-sg-{index}",
            security_group_id=group.id,
            referenced_security_group_id=source,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            description=f"{description} (from a client security group)",
            opts=child_opts(parent),
        )
    for block in cidr_blocks:
        slug = re.sub(r"[^0-9a-f]+", "-", block.lower()).strip("-")
        network = ipaddress.ip_network(block)
        rule: dict[str, Any] = (
            {"cidr_ipv4": block} if network.version == 4 else {"cidr_ipv6": block}
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-ingress-cidr-{slug}",
            security_group_id=group.id,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            description=f"{description} (from {block})",
            opts=child_opts(parent),
            **rule,
        )
    return group
