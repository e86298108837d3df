"""An in-cluster Redis for the kind target, with one ACL user per granted identity."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from mlops_blueprints.targets._seam import KeyValueConnection, WorkloadIdentity, validate_dns_label
from mlops_blueprints.versions import IMAGES

from .._labels import standard_labels
from .._opts import child_opts
from ..database._common import (
    RETAIN_CLAIMS,
    ClientPath,
    IdentityGrant,
    connection_secret,
    connection_secret_name,
    container_resources,
    deferred,
    namespace_peers,
    pod_security_context,
    register_grant,
    sha256_annotation,
    text,
    validate_allowed_namespaces,
    validate_resources,
    validate_storage_size,
    volume_claim_template,
)
from ..kubernetes import (
    RESTRICTED_CONTAINER_SECURITY_CONTEXT,
    namespace_pod_peer,
    object_name,
)
from ._plan import (
    KeyValueGrantMode,
    redis_config,
    redis_maxmemory_mib,
    redis_user_line,
    validate_redis_username,
)

if TYPE_CHECKING:
    from mlops_blueprints.targets._seam import KeyValueStore

__all__ = ["InClusterRedis", "InClusterRedisArgs"]

REDIS_PORT = 6379
# The official alpine image's redis user (uid 999) and group (gid 1000).
REDIS_UID = 999
REDIS_GID = 1000


@dataclass(frozen=True)
class InClusterRedisArgs:
    """Arguments for :class:`InClusterRedis`.

    - ``namespace``: an existing namespace (normally a ``WorkloadNamespace``).
    - ``allowed_namespaces``: namespaces whose pods may connect on 6379 (at least one).
    - ``service_name`` (redis): name of the Service, StatefulSet and Secrets.
    - ``storage_size_gib`` (5): size of the append-only-file volume, retained on delete.
    - ``storage_class_name``: the cluster default when unset.
    - ``cpu_request`` (100m): CPU request of the server container.
    - ``memory_request_mib`` (128): memory request.
    - ``memory_limit_mib`` (512): memory limit, at least the request; Redis may use three
      quarters of it for data (``maxmemory``) and refuses writes beyond that.
    - ``labels``: extra labels on every object.
    """

    namespace: pulumi.Input[str]
    allowed_namespaces: Sequence[pulumi.Input[str]]
    service_name: str = "redis"
    storage_size_gib: int = 5
    storage_class_name: str | None = None
    cpu_request: str = "100m"
    memory_request_mib: int = 128
    memory_limit_mib: int = 512
    labels: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_allowed_namespaces(self.allowed_namespaces, field="allowed_namespaces")
        validate_dns_label(self.service_name, field="service_name")
        validate_storage_size(self.storage_size_gib)
        validate_resources(
            cpu_request=self.cpu_request,
            memory_request_mib=self.memory_request_mib,
            memory_limit_mib=self.memory_limit_mib,
        )


class InClusterRedis(pulumi.ComponentResource):
    """Single-replica Redis (official image) with append-only persistence, for kind.

    The default user's password (``--requirepass``) is generated and kept for
    administration. Each grant adds an ACL user for the identity, allowed only read and/or
    write commands, whose password is stored in the configuration as a SHA-256 hash, and a
    connection Secret in the identity's namespace. Children: ``{name}-password`` (random),
    ``{name}-auth`` and ``{name}-config`` (Secrets), ``{name}-service``,
    ``{name}-statefulset`` and ``{name}-network-policy``; each granted identity adds
    ``{name}-{identity}-password`` (random), ``{name}-{identity}-egress`` (NetworkPolicy in
    the identity's namespace) and ``{name}-{identity}-connection`` (Secret).
    """

    endpoint: pulumi.Output[str]
    host: pulumi.Output[str]
    port: pulumi.Output[int]
    auth_secret_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: InClusterRedisArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:keyvalue:InClusterRedis", name, None, opts)
        self._name = name
        self._service_name = args.service_name
        self._grants: dict[str, IdentityGrant] = {}
        namespace = pulumi.Output.from_input(args.namespace)
        self._namespace = namespace
        self._selector = selector = {
            "app.kubernetes.io/name": "redis",
            "app.kubernetes.io/instance": args.service_name,
        }
        labels = standard_labels("redis", instance=args.service_name, extra=args.labels)
        self._labels = labels
        maxmemory = redis_maxmemory_mib(args.memory_limit_mib)

        password = random.RandomPassword(
            f"{name}-password", length=48, special=False, opts=child_opts(self)
        )
        auth = k8s.core.v1.Secret(
            f"{name}-auth",
            metadata={
                "name": f"{args.service_name}-auth",
                "namespace": namespace,
                "labels": labels,
            },
            type="Opaque",
            string_data={"REDIS_PASSWORD": pulumi.Output.secret(password.result.apply(text))},
            opts=child_opts(self),
        )
        self.auth_secret_name = object_name(auth)
        # Computed after the program body has returned, so it holds every grant's user.
        config_text = deferred(password.result, lambda: self._config(maxmemory))
        config = k8s.core.v1.Secret(
            f"{name}-config",
            metadata={
                "name": f"{args.service_name}-config",
                "namespace": namespace,
                "labels": labels,
            },
            type="Opaque",
            string_data={"redis.conf": pulumi.Output.secret(config_text)},
            opts=child_opts(self),
        )
        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata={"name": args.service_name, "namespace": namespace, "labels": labels},
            spec={
                "type": "ClusterIP",
                "selector": selector,
                "ports": [{"name": "redis", "port": REDIS_PORT, "targetPort": REDIS_PORT}],
            },
            opts=child_opts(self),
        )
        self.host = pulumi.Output.concat(
            object_name(self.service), ".", namespace, ".svc.cluster.local"
        )
        self.port = pulumi.Output.from_input(REDIS_PORT)
        self.endpoint = pulumi.Output.concat("redis://", self.host, f":{REDIS_PORT}")
        password_ref = {"secretKeyRef": {"name": self.auth_secret_name, "key": "REDIS_PASSWORD"}}
        ping = {"exec": {"command": ["redis-cli", "-h", "127.0.0.1", "ping"]}}
        container = {
            "name": "redis",
            "image": IMAGES["redis"],
            # The kubelet substitutes $(REDIS_PASSWORD) from the Secret when it starts the
            # container, so the password never appears in the manifest; Redis then rewrites
            # its process title, so it does not linger in the process list either.
            "command": ["redis-server"],
            "args": ["/etc/redis/redis.conf", "--requirepass", "$(REDIS_PASSWORD)"],
            "env": [
                {"name": "REDIS_PASSWORD", "valueFrom": password_ref},
                # redis-cli (probes) reads its password from here.
                {"name": "REDISCLI_AUTH", "valueFrom": password_ref},
            ],
            "ports": [{"name": "redis", "containerPort": REDIS_PORT}],
            "resources": container_resources(
                cpu_request=args.cpu_request,
                memory_request_mib=args.memory_request_mib,
                memory_limit_mib=args.memory_limit_mib,
            ),
            "readinessProbe": {**ping, "periodSeconds": 10},
            "livenessProbe": {**ping, "periodSeconds": 20, "failureThreshold": 6},
            "securityContext": RESTRICTED_CONTAINER_SECURITY_CONTEXT,
            "volumeMounts": [
                {"name": "data", "mountPath": "/data"},
                {"name": "config", "mountPath": "/etc/redis", "readOnly": True},
            ],
        }
        self.statefulset = k8s.apps.v1.StatefulSet(
            f"{name}-statefulset",
            metadata={"name": args.service_name, "namespace": namespace, "labels": labels},
            spec={
                "serviceName": object_name(self.service),
                "replicas": 1,
                "selector": {"matchLabels": selector},
                "persistentVolumeClaimRetentionPolicy": RETAIN_CLAIMS,
                "template": {
                    "metadata": {
                        "labels": {**labels, **selector},
                        # Restart when users change; the digest reveals nothing of them.
                        "annotations": {
                            "mlops-blueprints.io/config-sha256": sha256_annotation(config_text)
                        },
                    },
                    "spec": {
                        "automountServiceAccountToken": False,
                        "securityContext": pod_security_context(uid=REDIS_UID, gid=REDIS_GID),
                        "containers": [container],
                        "volumes": [
                            {"name": "config", "secret": {"secretName": object_name(config)}}
                        ],
                    },
                },
                "volumeClaimTemplates": [
                    volume_claim_template(
                        "data",
                        storage_size_gib=args.storage_size_gib,
                        storage_class_name=args.storage_class_name,
                    )
                ],
            },
            opts=child_opts(self),
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-network-policy",
            metadata={"name": args.service_name, "namespace": namespace, "labels": labels},
            spec={
                "podSelector": {"matchLabels": selector},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [
                    {
                        "from": namespace_peers(args.allowed_namespaces),
                        "ports": [{"protocol": "TCP", "port": REDIS_PORT}],
                    }
                ],
                # The server opens no connections.
                "egress": [],
            },
            opts=child_opts(self),
        )
        self.register_outputs(
            {
                "endpoint": self.endpoint,
                "host": self.host,
                "auth_secret_name": self.auth_secret_name,
            }
        )

    def _config(self, maxmemory_mib: int) -> pulumi.Output[str]:
        users = sorted(self._grants)
        passwords = [self._grants[user].password.result for user in users]
        return pulumi.Output.all(*passwords).apply(
            lambda resolved: redis_config(
                maxmemory_mib=maxmemory_mib,
                users=[
                    redis_user_line(user, text(secret), sorted(self._grants[user].modes))
                    for user, secret in zip(users, resolved, strict=True)
                ],
            )
        )

    def connection_secret_name(self, identity: WorkloadIdentity) -> str:
        """The Secret a grant creates in the identity's namespace (``REDIS_*``)."""
        return connection_secret_name(
            identity_name=identity.identity_name, service_name=self._service_name
        )

    def connection(self, identity: WorkloadIdentity) -> KeyValueConnection:
        """Host and port, no TLS, and ``identity``'s connection Secret."""
        return KeyValueConnection(
            kind="redis",
            host=self.host,
            port=REDIS_PORT,
            tls=False,
            secret_name=self.connection_secret_name(identity),
        )

    def grant_read(self, identity: WorkloadIdentity) -> None:
        """Give ``identity`` a user allowed read commands (``+@read``) on every key."""
        self._grant("read", identity)

    def grant_write(self, identity: WorkloadIdentity) -> None:
        """Give ``identity`` a user allowed write commands (``+@write``) on every key."""
        self._grant("write", identity)

    def _grant(self, mode: KeyValueGrantMode, identity: WorkloadIdentity) -> None:
        username = validate_redis_username(identity.identity_name)
        prefix = f"{self._name}-{username}"
        grant, is_new = register_grant(
            self,
            prefix,
            self._grants,
            identity,
            mode,
            password_length=48,
            client_path=ClientPath(
                self._service_name, namespace_pod_peer(self._namespace, self._selector), REDIS_PORT
            ),
        )
        if not is_new:
            return
        data = pulumi.Output.all(self.host, grant.password.result).apply(
            lambda v: {
                "REDIS_HOST": text(v[0]),
                "REDIS_PORT": str(REDIS_PORT),
                "REDIS_USERNAME": username,
                "REDIS_PASSWORD": text(v[1]),
                "REDIS_URL": f"redis://{username}:{text(v[1])}@{text(v[0])}:{REDIS_PORT}/0",
            }
        )
        connection_secret(
            self,
            f"{prefix}-connection",
            identity=identity,
            secret_name=self.connection_secret_name(identity),
            labels=self._labels,
            data=data,
        )


if TYPE_CHECKING:

    def _conforms(store: InClusterRedis) -> KeyValueStore:
        return store
