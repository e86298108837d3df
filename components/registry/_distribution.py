"""An in-cluster OCI registry (CNCF distribution) for the kind target."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from mlops_blueprints.targets._seam import (
    Principal,
    WorkloadIdentity,
    require_workload_identity,
    validate_dns_label,
)
from mlops_blueprints.versions import IMAGES

from .._labels import standard_labels
from .._opts import child_opts
from ..database._common import (
    RETAIN_CLAIMS,
    ClientPath,
    IdentityGrant,
    connection_secret_name,
    container_resources,
    deferred,
    namespace_peers,
    register_grant,
    sha256_annotation,
    text,
    validate_allowed_namespaces,
    validate_cidr_blocks,
    validate_resources,
    validate_storage_size,
    volume_claim_template,
)
from ..kubernetes import (
    RESTRICTED_CONTAINER_SECURITY_CONTEXT,
    RESTRICTED_POD_SECURITY_CONTEXT,
    namespace_pod_peer,
    object_name,
)
from ._plan import (
    REGISTRY_PORT,
    RegistryGrantMode,
    distribution_config,
    docker_config_json,
    htpasswd_file,
    validate_repository_name,
)

if TYPE_CHECKING:
    from mlops_blueprints.targets._seam import ContainerRegistry

__all__ = ["InClusterRegistry", "InClusterRegistryArgs"]


@dataclass(frozen=True)
class InClusterRegistryArgs:
    """Arguments for :class:`InClusterRegistry`.

    - ``namespace``: an existing namespace (normally a ``WorkloadNamespace``).
    - ``allowed_namespaces``: namespaces whose pods may reach the registry (at least one).
    - ``repository_name``: the repository ``repository_url`` points at (e.g. ``mlops/serving``);
      the registry itself serves any repository path to any authenticated user.
    - ``allowed_node_cidrs`` (none): node networks allowed in as well, for the container
      runtime's image pulls (e.g. kind's ``172.18.0.0/16``); private networks only.
    - ``service_name`` (registry): name of the Service, StatefulSet and Secrets.
    - ``storage_size_gib`` (20): size of the image volume, which is retained on delete.
    - ``storage_class_name``: the cluster default when unset.
    - ``cpu_request`` (100m): CPU request of the registry container.
    - ``memory_request_mib`` (128): memory request.
    - ``memory_limit_mib`` (512): memory limit; must be at least the request.
    - ``labels``: extra labels on every object.
    """

    namespace: pulumi.Input[str]
    allowed_namespaces: Sequence[pulumi.Input[str]]
    repository_name: str
    allowed_node_cidrs: Sequence[str] = ()
    service_name: str = "registry"
    storage_size_gib: int = 20
    storage_class_name: str | None = None
    cpu_request: str = "100m"
    memory_request_mib: int = 128
    memory_limit_mib: int = 512
    labels: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_allowed_namespaces(self.allowed_namespaces, field="allowed_namespaces")
        validate_repository_name(self.repository_name)
        validate_cidr_blocks(self.allowed_node_cidrs, field="allowed_node_cidrs")
        validate_dns_label(self.service_name, field="service_name")
        validate_storage_size(self.storage_size_gib)
        validate_resources(
            cpu_request=self.cpu_request,
            memory_request_mib=self.memory_request_mib,
            memory_limit_mib=self.memory_limit_mib,
        )


class InClusterRegistry(pulumi.ComponentResource):
    """Single-replica distribution registry with a retained volume and htpasswd auth.

    Authentication is always on; the user file starts empty and each grant adds the identity
    as a user with a generated password, plus an image pull Secret in its namespace.
    Distribution has no per-repository or read-only authorisation: every user can pull and
    push every repository (see the README). Children: ``{name}-http-secret`` (random),
    ``{name}-auth`` (Secret), ``{name}-config`` (ConfigMap), ``{name}-service``,
    ``{name}-statefulset`` and ``{name}-network-policy``; each granted identity adds
    ``{name}-{identity}-password`` (random), ``{name}-{identity}-egress`` (NetworkPolicy in
    the identity's namespace) and ``{name}-{identity}-pull-secret``.
    """

    repository_url: pulumi.Output[str]
    registry_host: pulumi.Output[str]
    service_host: pulumi.Output[str]

    def __init__(
        self, name: str, args: InClusterRegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:registry:InClusterRegistry", name, None, opts)
        self._name = name
        self._service_name = args.service_name
        self._grants: dict[str, IdentityGrant] = {}
        namespace = pulumi.Output.from_input(args.namespace)
        self._namespace = namespace
        self._selector = selector = {
            "app.kubernetes.io/name": "registry",
            "app.kubernetes.io/instance": args.service_name,
        }
        labels = standard_labels("registry", instance=args.service_name, extra=args.labels)
        self._labels = labels

        http_secret = random.RandomPassword(
            f"{name}-http-secret", length=48, special=False, opts=child_opts(self)
        )
        # The user file is computed after the program body, so it holds every grant.
        htpasswd = deferred(http_secret.result, self._htpasswd)
        auth = k8s.core.v1.Secret(
            f"{name}-auth",
            metadata={
                "name": f"{args.service_name}-auth",
                "namespace": namespace,
                "labels": labels,
            },
            type="Opaque",
            string_data=pulumi.Output.secret(
                pulumi.Output.all(htpasswd, http_secret.result).apply(
                    lambda v: {"htpasswd": v[0], "http-secret": text(v[1])}
                )
            ),
            opts=child_opts(self),
        )
        config = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata={
                "name": f"{args.service_name}-config",
                "namespace": namespace,
                "labels": labels,
            },
            data={
                "config.yml": json.dumps(
                    distribution_config(realm=args.service_name), indent=2, sort_keys=True
                )
            },
            opts=child_opts(self),
        )
        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata={"name": args.service_name, "namespace": namespace, "labels": labels},
            spec={
                "type": "ClusterIP",
                "selector": selector,
                "ports": [{"name": "http", "port": REGISTRY_PORT, "targetPort": REGISTRY_PORT}],
            },
            opts=child_opts(self),
        )
        self.service_host = pulumi.Output.concat(
            object_name(self.service), ".", namespace, ".svc.cluster.local"
        )
        self.registry_host = pulumi.Output.concat(self.service_host, f":{REGISTRY_PORT}")
        self.repository_url = pulumi.Output.concat(self.registry_host, "/", args.repository_name)
        container = {
            "name": "registry",
            "image": IMAGES["registry"],
            "args": ["serve", "/etc/distribution/config.yml"],
            "env": [
                {
                    "name": "REGISTRY_HTTP_SECRET",
                    "valueFrom": {
                        "secretKeyRef": {"name": object_name(auth), "key": "http-secret"}
                    },
                }
            ],
            "ports": [{"name": "http", "containerPort": REGISTRY_PORT}],
            "resources": container_resources(
                cpu_request=args.cpu_request,
                memory_request_mib=args.memory_request_mib,
                memory_limit_mib=args.memory_limit_mib,
            ),
            "readinessProbe": {"tcpSocket": {"port": REGISTRY_PORT}, "periodSeconds": 10},
            "livenessProbe": {
                "tcpSocket": {"port": REGISTRY_PORT},
                "periodSeconds": 20,
                "failureThreshold": 6,
            },
            "securityContext": RESTRICTED_CONTAINER_SECURITY_CONTEXT,
            "volumeMounts": [
                {"name": "data", "mountPath": "/var/lib/registry"},
                {"name": "config", "mountPath": "/etc/distribution", "readOnly": True},
                {"name": "auth", "mountPath": "/auth", "readOnly": True},
                {"name": "tmp", "mountPath": "/tmp"},
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
                        # Restart when the users change; the digest reveals nothing of them.
                        "annotations": {
                            "mlops-blueprints.io/htpasswd-sha256": sha256_annotation(htpasswd)
                        },
                    },
                    "spec": {
                        "automountServiceAccountToken": False,
                        "securityContext": RESTRICTED_POD_SECURITY_CONTEXT,
                        "containers": [container],
                        "volumes": [
                            {"name": "config", "configMap": {"name": object_name(config)}},
                            {
                                "name": "auth",
                                "secret": {
                                    "secretName": object_name(auth),
                                    "items": [{"key": "htpasswd", "path": "htpasswd"}],
                                },
                            },
                            {"name": "tmp", "emptyDir": {}},
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
        sources = namespace_peers(args.allowed_namespaces) + [
            {"ipBlock": {"cidr": cidr}} for cidr in args.allowed_node_cidrs
        ]
        k8s.networking.v1.NetworkPolicy(
            f"{name}-network-policy",
            metadata={"name": args.service_name, "namespace": namespace, "labels": labels},
            spec={
                "podSelector": {"matchLabels": selector},
                "policyTypes": ["Ingress", "Egress"],
                # Clients in the allowed namespaces (and node runtimes) on the registry port;
                # the registry itself needs no egress.
                "ingress": [
                    {"from": sources, "ports": [{"protocol": "TCP", "port": REGISTRY_PORT}]}
                ],
                "egress": [],
            },
            opts=child_opts(self),
        )
        self.register_outputs(
            {
                "repository_url": self.repository_url,
                "registry_host": self.registry_host,
                "service_host": self.service_host,
            }
        )

    def _htpasswd(self) -> pulumi.Output[str]:
        users = sorted(self._grants)
        hashes = [self._grants[user].password.bcrypt_hash for user in users]
        return pulumi.Output.all(*hashes).apply(
            lambda resolved: htpasswd_file(
                {user: text(digest) for user, digest in zip(users, resolved, strict=True)}
            )
        )

    def pull_secret_name(self, identity: WorkloadIdentity) -> str:
        """The image pull Secret a grant creates in the identity's namespace."""
        return connection_secret_name(
            identity_name=identity.identity_name, service_name=self._service_name
        )

    def grant_pull(self, identity: Principal) -> None:
        """Make ``identity`` a registry user (it can pull; distribution cannot stop it pushing)."""
        self._grant("pull", identity)

    def grant_push(self, identity: Principal) -> None:
        """Make ``identity`` a registry user that pushes (and pulls) images."""
        self._grant("push", identity)

    def _grant(self, mode: RegistryGrantMode, principal: Principal) -> None:
        identity = require_workload_identity(principal, service="The in-cluster registry")
        prefix = f"{self._name}-{identity.identity_name}"
        grant, is_new = register_grant(
            self,
            prefix,
            self._grants,
            identity,
            mode,
            password_length=32,
            client_path=ClientPath(
                self._service_name,
                namespace_pod_peer(self._namespace, self._selector),
                REGISTRY_PORT,
            ),
        )
        if not is_new:
            return
        config = pulumi.Output.all(self.registry_host, grant.password.result).apply(
            lambda v: docker_config_json(
                registry_host=v[0], username=identity.identity_name, password=text(v[1])
            )
        )
        k8s.core.v1.Secret(
            f"{prefix}-pull-secret",
            metadata={
                "name": self.pull_secret_name(identity),
                "namespace": identity.namespace,
                "labels": self._labels,
            },
            type="kubernetes.io/dockerconfigjson",
            string_data={".dockerconfigjson": pulumi.Output.secret(config)},
            opts=child_opts(self),
        )


if TYPE_CHECKING:

    def _conforms(registry: InClusterRegistry) -> ContainerRegistry:
        return registry
