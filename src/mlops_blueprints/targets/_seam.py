"""The target seam: what components may ask of a deployment target.

Components never branch on the cloud. They ask a :class:`Target` for a capability (an object
store, a workload identity, ...) and use the returned object through the protocols below. A
new target (GKE, AKS) is a new ``Target`` subclass registered in ``targets/__init__.py``;
no component changes.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar, Literal, Protocol, runtime_checkable

import pulumi
import pulumi_kubernetes as k8s

from mlops_blueprints.errors import BlueprintConfigError

__all__ = [
    "API_ACCESS_ANNOTATION",
    "Capability",
    "ContainerRegistry",
    "ContainerRegistryArgs",
    "KeyValueConnection",
    "KeyValueStore",
    "KeyValueStoreArgs",
    "NodePool",
    "ObjectStore",
    "ObjectStoreArgs",
    "Principal",
    "SqlConnection",
    "SqlDatabase",
    "SqlDatabaseArgs",
    "Target",
    "TargetPosture",
    "WorkloadIdentity",
    "WorkloadIdentityArgs",
    "require_workload_identity",
    "service_account_token_settings",
    "validate_api_access_reason",
    "validate_bucket_name",
    "validate_dns_label",
    "validate_prefix",
    "validate_repository_name",
]

Capability = Literal[
    "object_store",
    "workload_identity",
    "sql_database",
    "key_value_store",
    "container_registry",
    "node_pool",
]
HardwareClass = Literal["cpu", "nvidia-gpu", "neuron"]

_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_REPOSITORY_NAME = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_PG_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()/-]*$")


def validate_bucket_name(value: str, *, field: str) -> str:
    """Enforce the S3 bucket naming rules, which every S3-compatible store also accepts."""
    problems = []
    if not _BUCKET_NAME.match(value):
        problems.append("3-63 characters of lowercase letters, digits, dots and hyphens")
    if ".." in value or ".-" in value or "-." in value:
        problems.append("no adjacent dots or dot-hyphen pairs")
    if _IPV4.match(value):
        problems.append("not formatted as an IP address")
    if value.startswith(("xn--", "sthree-", "amzn-s3-demo-")) or value.endswith(
        ("-s3alias", "--ol-s3", "--x-s3", ".mrap")
    ):
        problems.append("no reserved prefix or suffix (xn--, sthree-, -s3alias, --ol-s3, ...)")
    if problems:
        raise BlueprintConfigError(
            field,
            value,
            "S3 bucket names need " + "; ".join(problems) + ", starting and ending with a "
            "letter or digit (e.g. 'acme-mlops-raw').",
        )
    return value


def validate_dns_label(value: str, *, field: str) -> str:
    """Kubernetes names (namespaces, service accounts) are RFC 1123 labels."""
    if not _DNS_LABEL.match(value):
        raise BlueprintConfigError(
            field,
            value,
            "Use at most 63 lowercase letters, digits and '-', starting and ending with a "
            "letter or digit (e.g. 'mlops-tracking').",
        )
    return value


def validate_repository_name(value: str, *, field: str = "repository_name") -> str:
    """An OCI repository path, which ECR and the distribution registry both accept."""
    if not (2 <= len(value) <= 256) or not _REPOSITORY_NAME.match(value):
        raise BlueprintConfigError(
            field,
            value,
            "Use 2-256 lowercase letters and digits, separated by single '.', '_', '-' or '/' "
            "path separators (e.g. 'mlops/serving').",
        )
    return value


def validate_prefix(value: str, *, field: str) -> str:
    """An object-key prefix for a grant: relative, no wildcards, ends with '/' when set."""
    if value.startswith("/") or "*" in value or not _PREFIX.match(value) or ".." in value:
        raise BlueprintConfigError(
            field,
            value,
            "Use a relative key prefix without wildcards, such as 'models/' "
            "(empty grants the whole bucket).",
        )
    if value and not value.endswith("/"):
        raise BlueprintConfigError(
            field,
            value,
            f"End the prefix with '/' (e.g. {value + '/'!r}) so it cannot match "
            "sibling keys that merely start with the same letters.",
        )
    return value


@runtime_checkable
class Principal(Protocol):
    """Anything a data service can grant to: a workload identity (pods in the cluster) or an
    identity outside the cluster, such as a CI role. Implementations refuse the kinds they
    cannot serve (an in-cluster store serves only workload identities)."""

    @property
    def identity_name(self) -> str: ...


@runtime_checkable
class WorkloadIdentity(Principal, Protocol):
    """A Kubernetes service account that carries permissions in the target's data plane."""

    @property
    def identity_name(self) -> str: ...

    @property
    def namespace(self) -> pulumi.Output[str]: ...

    @property
    def service_account_name(self) -> pulumi.Output[str]: ...

    @property
    def pod_labels(self) -> dict[str, str]:
        """Labels a pod must carry to run as this identity: grants open egress for them."""
        ...

    @property
    def credentials_secret_name(self) -> pulumi.Output[str] | None:
        """The Secret holding the identity's static object-store keys (``AWS_ACCESS_KEY_ID``,
        ``AWS_SECRET_ACCESS_KEY``), or None where the cloud hands out short-lived credentials."""
        ...


API_ACCESS_ANNOTATION = "mlops-blueprints.io/needs-api-access"


def validate_api_access_reason(reason: str | None) -> None:
    if reason is not None and len(reason.strip()) < 10:
        raise BlueprintConfigError(
            "api_access_reason",
            reason,
            "Say why pods of this identity call the Kubernetes API (e.g. 'Argo's executor "
            "reports step results'), or leave it unset to keep tokens unmounted.",
        )


def service_account_token_settings(reason: str | None) -> tuple[bool, dict[str, str]]:
    """(automountServiceAccountToken, annotations) for a service account."""
    if reason is None:
        return False, {}
    return True, {API_ACCESS_ANNOTATION: reason}


def require_workload_identity(identity: Principal, *, service: str) -> WorkloadIdentity:
    """``identity`` as a workload identity, or a configuration error: in-cluster services
    authenticate pods, so a principal without pods (a CI role) cannot use them."""
    if not isinstance(identity, WorkloadIdentity):
        raise BlueprintConfigError(
            "identity",
            type(identity).__name__,
            f"{service} serves Kubernetes workload identities only; grant a principal "
            "outside the cluster (such as a CI role) on a cloud service instead.",
        )
    return identity


@runtime_checkable
class ObjectStore(Protocol):
    """An S3-compatible bucket with least-privilege grants."""

    @property
    def bucket_name(self) -> pulumi.Output[str]: ...

    @property
    def uri(self) -> pulumi.Output[str]: ...

    @property
    def endpoint_url(self) -> pulumi.Output[str]: ...

    def grant_read(self, identity: Principal, *, prefix: str = "") -> None: ...

    def grant_write(self, identity: Principal, *, prefix: str = "") -> None: ...


@runtime_checkable
class SqlDatabase(Protocol):
    """A PostgreSQL database reachable from the cluster."""

    @property
    def host(self) -> pulumi.Output[str]: ...

    @property
    def port(self) -> pulumi.Output[int]: ...

    @property
    def database_name(self) -> pulumi.Output[str]: ...

    def grant_connect(self, identity: WorkloadIdentity) -> None: ...

    def connection(self, identity: WorkloadIdentity) -> SqlConnection:
        """How a granted ``identity`` signs in (refused for an identity never granted)."""
        ...


@dataclass(frozen=True)
class SqlConnection:
    """How one granted identity connects to a :class:`SqlDatabase`.

    Exactly one sign-in method is set: a password in a Secret of the identity's namespace
    (``password_secret_name``/``password_secret_key``), or IAM database authentication
    (``iam_auth``, with ``region``), where the client signs a short-lived token per connection.
    ``sslmode`` is the libpq mode the client must use.
    """

    host: pulumi.Output[str]
    port: pulumi.Output[int]
    database: pulumi.Output[str]
    user: str
    password_secret_name: str | None = None
    password_secret_key: str | None = None
    iam_auth: bool = False
    region: pulumi.Output[str] | None = None
    sslmode: Literal["disable", "prefer", "require", "verify-full"] = "prefer"

    def __post_init__(self) -> None:
        has_secret = self.password_secret_name is not None and self.password_secret_key is not None
        if has_secret == self.iam_auth or (self.iam_auth and self.region is None):
            raise ValueError(
                "a SqlConnection uses either a password Secret or IAM auth with a region"
            )


@runtime_checkable
class KeyValueStore(Protocol):
    """A key-value store for online features (DynamoDB on aws, Redis on kind)."""

    @property
    def endpoint(self) -> pulumi.Output[str]: ...

    def grant_read(self, identity: WorkloadIdentity) -> None: ...

    def grant_write(self, identity: WorkloadIdentity) -> None: ...

    def connection(self, identity: WorkloadIdentity) -> KeyValueConnection:
        """How ``identity``'s clients connect (after a grant), as plain settings."""
        ...


@dataclass(frozen=True)
class KeyValueConnection:
    """Client settings for a key-value store, enough to write a Feast online-store config.

    - ``kind``: ``dynamodb`` or ``redis``.
    - ``region``, ``table_prefix`` (dynamodb): clients create and use tables whose names
      start with ``table_prefix`` (grants cover exactly those and the base table).
    - ``host``, ``port``, ``tls``, ``secret_name`` (redis): the Secret in the identity's
      namespace holds ``REDIS_USERNAME`` and ``REDIS_PASSWORD`` for that identity.
    """

    kind: Literal["dynamodb", "redis"]
    region: pulumi.Input[str] | None = None
    table_prefix: pulumi.Input[str] | None = None
    host: pulumi.Input[str] | None = None
    port: pulumi.Input[int] | None = None
    tls: bool = False
    secret_name: pulumi.Input[str] | None = None


@runtime_checkable
class ContainerRegistry(Protocol):
    """An OCI image repository."""

    @property
    def repository_url(self) -> pulumi.Output[str]: ...

    def grant_pull(self, identity: Principal) -> None: ...

    def grant_push(self, identity: Principal) -> None: ...


@runtime_checkable
class NodePool(Protocol):
    """A group of nodes of one hardware class that workloads are placed on by label and taint."""

    @property
    def pool_name(self) -> str: ...

    @property
    def hardware_class(self) -> HardwareClass: ...


@dataclass(frozen=True)
class ObjectStoreArgs:
    """A bucket request. ``bucket_name`` is the physical name and must follow S3 rules."""

    bucket_name: str
    purpose: str
    # Object versions older than this are expired; the current version is never expired.
    noncurrent_version_retention_days: int = 90
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_bucket_name(self.bucket_name, field="bucket_name")
        if self.noncurrent_version_retention_days < 1:
            raise BlueprintConfigError(
                "noncurrent_version_retention_days",
                self.noncurrent_version_retention_days,
                "Keep noncurrent versions for at least 1 day.",
            )


@dataclass(frozen=True)
class WorkloadIdentityArgs:
    """A service account (created here) in an existing namespace.

    ``api_access_reason``: set only for pods that must call the Kubernetes API (a workflow
    engine's run pods); their service account then mounts a token, and the reason is kept
    on it as the ``mlops-blueprints.io/needs-api-access`` annotation policies look for.
    """

    namespace: pulumi.Input[str]
    service_account_name: str
    api_access_reason: str | None = None

    def __post_init__(self) -> None:
        validate_dns_label(self.service_account_name, field="service_account_name")
        validate_api_access_reason(self.api_access_reason)


@dataclass(frozen=True)
class SqlDatabaseArgs:
    """A PostgreSQL database request.

    ``client_namespaces`` are the namespaces whose pods may connect (ingress on the store side);
    each grant additionally opens egress from the granted identity's pods.
    """

    database_name: str
    purpose: str
    client_namespaces: tuple[pulumi.Input[str], ...]
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _PG_IDENTIFIER.match(self.database_name):
            raise BlueprintConfigError(
                "database_name",
                self.database_name,
                "Use 1-63 lowercase letters, digits and '_', starting with a letter "
                "(e.g. 'mlflow').",
            )
        _require_clients(self.client_namespaces)


@dataclass(frozen=True)
class KeyValueStoreArgs:
    """A key-value store request; ``store_name`` names the table (aws) or service (kind)."""

    store_name: str
    purpose: str
    client_namespaces: tuple[pulumi.Input[str], ...]
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_dns_label(self.store_name, field="store_name")
        _require_clients(self.client_namespaces)


@dataclass(frozen=True)
class ContainerRegistryArgs:
    """An image repository request (``repository_name`` such as ``mlops/models``)."""

    repository_name: str
    purpose: str
    client_namespaces: tuple[pulumi.Input[str], ...]
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_repository_name(self.repository_name)
        _require_clients(self.client_namespaces)


def _require_clients(namespaces: tuple[pulumi.Input[str], ...]) -> None:
    if not namespaces:
        raise BlueprintConfigError(
            "client_namespaces",
            namespaces,
            "Name at least one namespace whose workloads use the service; with none, the "
            "service's network policy would admit nothing.",
        )


@dataclass(frozen=True)
class TargetPosture:
    """Level-wide hardening a target applies to everything it creates.

    - ``customer_managed_keys``: encrypt data services with the platform's own KMS key
      instead of provider-managed keys (aws; kind has no key service).
    - ``access_logging``: server access logs for every bucket (aws).
    - ``high_availability``: standby replicas for databases (aws: RDS Multi-AZ).
    """

    customer_managed_keys: bool = False
    access_logging: bool = False
    high_availability: bool = False


class Target(ABC):
    """A deployment target: turns capability requests into target-specific components.

    ``scope`` is the component that owns shared infrastructure the target creates lazily
    (for example the in-cluster object-store server on kind).
    """

    name: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]]

    def __init__(self, scope: pulumi.Resource, posture: TargetPosture | None = None) -> None:
        self._scope = scope
        self.posture = posture or TargetPosture()

    @property
    @abstractmethod
    def kubernetes_provider(self) -> k8s.Provider:
        """The provider every in-cluster component is created with."""

    def scoped_opts(self, **kwargs: object) -> pulumi.ResourceOptions:
        """Options for a component owned by the target's scope, using the target's providers."""
        return pulumi.ResourceOptions(
            parent=self._scope,
            providers=[self.kubernetes_provider],
            **kwargs,  # type: ignore[arg-type]
        )

    @abstractmethod
    def object_store(
        self, name: str, args: ObjectStoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> ObjectStore: ...

    @abstractmethod
    def workload_identity(
        self, name: str, args: WorkloadIdentityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> WorkloadIdentity: ...

    @abstractmethod
    def sql_database(
        self, name: str, args: SqlDatabaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> SqlDatabase: ...

    @abstractmethod
    def key_value_store(
        self, name: str, args: KeyValueStoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> KeyValueStore: ...

    @abstractmethod
    def container_registry(
        self, name: str, args: ContainerRegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> ContainerRegistry: ...

    def require(self, capability: Capability, *, needed_by: str) -> None:
        """Fail early, before any resource exists, when a level needs what this target lacks."""
        if capability not in self.capabilities:
            raise BlueprintConfigError(
                "target",
                self.name,
                f"{needed_by} needs the '{capability}' capability, which the {self.name} target "
                f"does not provide yet (it provides: {', '.join(sorted(self.capabilities))}).",
            )
