"""An in-cluster S3-compatible object store (SeaweedFS) for the kind target.

One ``SeaweedfsServer`` serves every bucket of the platform. Authentication is always on:
the server starts with a generated break-glass admin identity, and each grant adds an
identity with bucket- and prefix-scoped actions to the server's S3 configuration.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.targets._seam import (
    ObjectStoreArgs,
    Principal,
    WorkloadIdentity,
    validate_prefix,
)
from mlops_blueprints.versions import IMAGES

from .._labels import standard_labels
from .._opts import child_opts
from ..identity import StaticCredentialsIdentity
from ..kubernetes import (
    RESTRICTED_CONTAINER_SECURITY_CONTEXT,
    RESTRICTED_POD_SECURITY_CONTEXT,
    allow_identity_egress,
    namespace_pod_peer,
    object_name,
)

__all__ = ["SeaweedfsBucket", "SeaweedfsServer", "SeaweedfsServerArgs", "seaweedfs_actions"]

S3_PORT = 8333
MASTER_PORT = 9333
FILER_PORT = 8888
# weed shell and the server's own components talk gRPC on port + 10000.
_GRPC_OFFSET = 10000
_ADMIN_JOB_ROLE = "seaweedfs-admin-job"


def seaweedfs_actions(*, mode: str, bucket: str, prefix: str) -> list[str]:
    """SeaweedFS identity actions for a grant: scoped to a bucket and, if set, a prefix."""
    if mode == "read":
        scoped = f"Read:{bucket}/{prefix}*" if prefix else f"Read:{bucket}"
        return [scoped, f"List:{bucket}"]
    if mode == "write":
        return [f"Write:{bucket}/{prefix}*" if prefix else f"Write:{bucket}"]
    raise ValueError(f"unknown grant mode {mode!r}")


@dataclass(frozen=True)
class SeaweedfsServerArgs:
    """Arguments for :class:`SeaweedfsServer`.

    - ``namespace``: an existing namespace (normally a ``WorkloadNamespace``).
    - ``storage_size_gib`` (20): size of the data volume.
    - ``storage_class_name``: the cluster default when unset.
    - ``cpu_request`` (100m): CPU request of the server container.
    - ``memory_request_mib`` (256): memory request.
    - ``memory_limit_mib`` (1024): memory limit; must be at least the request.
    - ``labels``: extra labels on every object.
    """

    namespace: pulumi.Input[str]
    storage_size_gib: int = 20
    storage_class_name: str | None = None
    cpu_request: str = "100m"
    memory_request_mib: int = 256
    memory_limit_mib: int = 1024
    labels: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.storage_size_gib < 1:
            raise BlueprintConfigError(
                "storage_size_gib", self.storage_size_gib, "Give the store at least 1 GiB."
            )
        if self.memory_limit_mib < self.memory_request_mib:
            raise BlueprintConfigError(
                "memory_limit_mib",
                self.memory_limit_mib,
                f"Set the limit at or above the request ({self.memory_request_mib} MiB).",
            )


def _identity_entry(
    identity: StaticCredentialsIdentity, actions: list[str]
) -> pulumi.Output[dict[str, Any]]:
    def entry(keys: list[str]) -> dict[str, Any]:
        return {
            "name": identity.identity_name,
            "credentials": [{"accessKey": keys[0], "secretKey": keys[1]}],
            "actions": sorted(set(actions)),
        }

    return pulumi.Output.all(identity.access_key_id, identity.secret_access_key).apply(entry)


class SeaweedfsServer(pulumi.ComponentResource):
    """Single-replica SeaweedFS (master, volume, filer and S3 gateway) with persistent storage.

    Children: ``{name}-admin-access-key``/``{name}-admin-secret-key`` (random),
    ``{name}-s3-config`` (Secret), ``{name}-service`` (Service), ``{name}-statefulset``,
    ``{name}-network-policy`` and ``{name}-admin-job-egress`` (NetworkPolicies). Buckets come
    from :meth:`bucket`; the first grant to an identity adds ``{name}-{identity}-egress``, the
    NetworkPolicy that lets the identity's pods reach the S3 port.
    """

    endpoint_url: pulumi.Output[str]
    service_host: pulumi.Output[str]

    def __init__(
        self, name: str, args: SeaweedfsServerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:storage:SeaweedfsServer", name, None, opts)
        self._name = name
        self._namespace = pulumi.Output.from_input(args.namespace)
        # access key output -> (secret key output, actions); filled by grants.
        self._grants: list[tuple[StaticCredentialsIdentity, list[str]]] = []
        self._clients: dict[str, WorkloadIdentity] = {}
        self._selector = selector = {
            "app.kubernetes.io/name": "seaweedfs",
            "app.kubernetes.io/instance": name,
        }
        labels = standard_labels("seaweedfs", instance=name, extra=args.labels)

        admin_access_key = random.RandomString(
            f"{name}-admin-access-key", length=20, special=False, lower=False, opts=child_opts(self)
        )
        admin_secret_key = random.RandomPassword(
            f"{name}-admin-secret-key", length=40, special=False, opts=child_opts(self)
        )
        # The configuration is computed once the program body has returned, so it holds
        # every grant made on this server's buckets (outputs resolve after the program runs).
        config_json: pulumi.Output[str] = pulumi.Output.all(
            admin_access_key.result, admin_secret_key.result
        ).apply(lambda admin: self._config_output(admin[0], admin[1]))
        self.config_secret = k8s.core.v1.Secret(
            f"{name}-s3-config",
            metadata={"name": f"{name}-s3-config", "namespace": args.namespace, "labels": labels},
            type="Opaque",
            string_data={"s3.json": pulumi.Output.secret(config_json)},
            opts=child_opts(self),
        )
        ports = [
            ("s3", S3_PORT),
            ("master", MASTER_PORT),
            ("master-grpc", MASTER_PORT + _GRPC_OFFSET),
            ("filer", FILER_PORT),
            ("filer-grpc", FILER_PORT + _GRPC_OFFSET),
        ]
        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata={"name": name, "namespace": args.namespace, "labels": labels},
            spec={
                "type": "ClusterIP",
                "selector": selector,
                "ports": [{"name": n, "port": p, "targetPort": p} for n, p in ports],
            },
            opts=child_opts(self),
        )
        self.service_host = pulumi.Output.concat(name, ".", self._namespace, ".svc.cluster.local")
        container = {
            "name": "seaweedfs",
            "image": IMAGES["seaweedfs"],
            "args": [
                "server",
                "-dir=/data",
                "-ip.bind=0.0.0.0",
                "-master.volumeSizeLimitMB=1024",
                "-s3",
                f"-s3.port={S3_PORT}",
                "-s3.config=/etc/seaweedfs/s3.json",
            ],
            "ports": [{"name": n, "containerPort": p} for n, p in ports],
            "resources": {
                "requests": {"cpu": args.cpu_request, "memory": f"{args.memory_request_mib}Mi"},
                "limits": {"memory": f"{args.memory_limit_mib}Mi"},
            },
            "readinessProbe": {
                "httpGet": {"path": "/status", "port": S3_PORT},
                "periodSeconds": 10,
            },
            # A wedged server is restarted; the data volume survives the restart.
            "livenessProbe": {
                "httpGet": {"path": "/status", "port": S3_PORT},
                "initialDelaySeconds": 30,
                "periodSeconds": 30,
                "failureThreshold": 4,
            },
            "securityContext": RESTRICTED_CONTAINER_SECURITY_CONTEXT,
            "volumeMounts": [
                {"name": "data", "mountPath": "/data"},
                {"name": "s3-config", "mountPath": "/etc/seaweedfs", "readOnly": True},
                {"name": "tmp", "mountPath": "/tmp"},
            ],
        }
        claim_spec: dict[str, Any] = {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": f"{args.storage_size_gib}Gi"}},
        }
        if args.storage_class_name:
            claim_spec["storageClassName"] = args.storage_class_name
        self.statefulset = k8s.apps.v1.StatefulSet(
            f"{name}-statefulset",
            metadata={"name": name, "namespace": args.namespace, "labels": labels},
            spec={
                "serviceName": name,
                "replicas": 1,
                "selector": {"matchLabels": selector},
                # Keep the data volume when the StatefulSet is deleted or scaled down.
                "persistentVolumeClaimRetentionPolicy": {
                    "whenDeleted": "Retain",
                    "whenScaled": "Retain",
                },
                "template": {
                    "metadata": {
                        "labels": {**labels, **selector},
                        # Restart the server when its S3 configuration (grants) changes.
                        # The digest reveals nothing of the keys, so it need not be secret
                        # (a secret here would make the whole spec secret).
                        "annotations": {
                            "mlops-blueprints.io/s3-config-sha256": pulumi.Output.unsecret(
                                config_json.apply(lambda c: hashlib.sha256(c.encode()).hexdigest())
                            )
                        },
                    },
                    "spec": {
                        "automountServiceAccountToken": False,
                        "securityContext": RESTRICTED_POD_SECURITY_CONTEXT,
                        "containers": [container],
                        "volumes": [
                            {
                                "name": "s3-config",
                                "secret": {"secretName": object_name(self.config_secret)},
                            },
                            {"name": "tmp", "emptyDir": {}},
                        ],
                    },
                },
                "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": claim_spec}],
            },
            opts=child_opts(self),
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-network-policy",
            metadata={"name": name, "namespace": args.namespace, "labels": labels},
            spec={
                "podSelector": {"matchLabels": selector},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [
                    # S3 clients may sit in any namespace; they still need credentials.
                    {"ports": [{"protocol": "TCP", "port": S3_PORT}]},
                    # Admin jobs and the server itself use the master and filer ports.
                    {
                        "from": [
                            {
                                "podSelector": {
                                    "matchLabels": {"app.kubernetes.io/component": _ADMIN_JOB_ROLE}
                                }
                            },
                            {"podSelector": {"matchLabels": selector}},
                        ],
                        "ports": [{"protocol": "TCP", "port": p} for n, p in ports if n != "s3"],
                    },
                ],
                "egress": [{"to": [{"podSelector": {"matchLabels": selector}}]}],
            },
            opts=child_opts(self),
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-admin-job-egress",
            metadata={
                "name": f"{name}-admin-job-egress",
                "namespace": args.namespace,
                "labels": labels,
            },
            spec={
                "podSelector": {"matchLabels": {"app.kubernetes.io/component": _ADMIN_JOB_ROLE}},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [{"podSelector": {"matchLabels": selector}}],
                        "ports": [{"protocol": "TCP", "port": p} for n, p in ports if n != "s3"],
                    }
                ],
            },
            opts=child_opts(self),
        )
        self.endpoint_url = pulumi.Output.concat("http://", self.service_host, f":{S3_PORT}")
        self.register_outputs(
            {"endpoint_url": self.endpoint_url, "service_host": self.service_host}
        )

    def _config_output(self, admin_access_key: str, admin_secret_key: str) -> pulumi.Output[str]:
        identities = [
            _identity_entry(identity, actions) for identity, actions in self._merged_grants()
        ]
        admin = {
            "name": "platform-admin",
            "credentials": [{"accessKey": admin_access_key, "secretKey": admin_secret_key}],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
        }
        return pulumi.Output.all(*identities).apply(
            lambda resolved: json.dumps(
                {"identities": [admin, *resolved]}, indent=2, sort_keys=True
            )
        )

    def _merged_grants(self) -> list[tuple[StaticCredentialsIdentity, list[str]]]:
        merged: dict[int, tuple[StaticCredentialsIdentity, list[str]]] = {}
        for identity, actions in self._grants:
            merged.setdefault(id(identity), (identity, []))[1].extend(actions)
        return list(merged.values())

    def add_grant(self, identity: Principal, actions: list[str]) -> None:
        if not isinstance(identity, StaticCredentialsIdentity):
            raise BlueprintConfigError(
                "identity",
                type(identity).__name__,
                "The in-cluster object store grants to a StaticCredentialsIdentity from the "
                "same (kind) target.",
            )
        self._grants.append((identity, actions))
        known = self._clients.get(identity.identity_name)
        if known is None:
            self._clients[identity.identity_name] = identity
            allow_identity_egress(
                self,
                f"{self._name}-{identity.identity_name}",
                identity=identity,
                service_name=self._name,
                peer=namespace_pod_peer(self._namespace, self._selector),
                port=S3_PORT,
            )
        elif known is not identity:
            raise BlueprintConfigError(
                "identity",
                identity.identity_name,
                "Another identity with this name already has a grant on this object store; "
                "give each workload identity a unique service-account name.",
            )

    def bucket(
        self, name: str, args: ObjectStoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> SeaweedfsBucket:
        return SeaweedfsBucket(name, server=self, args=args, opts=opts)

    @property
    def namespace(self) -> pulumi.Output[str]:
        return self._namespace


class SeaweedfsBucket(pulumi.ComponentResource):
    """A bucket on a :class:`SeaweedfsServer`, created by a one-shot admin Job.

    Children: ``{name}-create-bucket`` (Job).
    """

    bucket_name: pulumi.Output[str]
    uri: pulumi.Output[str]
    endpoint_url: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        server: SeaweedfsServer,
        args: ObjectStoreArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops:storage:SeaweedfsBucket", name, None, opts)
        self._server = server
        self._bucket = args.bucket_name
        master = pulumi.Output.concat(server.service_host, f":{MASTER_PORT}")
        filer = pulumi.Output.concat(server.service_host, f":{FILER_PORT}")
        labels = standard_labels("seaweedfs-bucket", instance=args.bucket_name) | {
            "app.kubernetes.io/component": _ADMIN_JOB_ROLE
        }
        script = pulumi.Output.concat(
            f"echo 's3.bucket.create -name {args.bucket_name}' | weed shell -master=",
            master,
            " -filer=",
            filer,
        )
        k8s.batch.v1.Job(
            f"{name}-create-bucket",
            metadata={
                "name": f"create-bucket-{args.bucket_name}"[:63].rstrip("-."),
                "namespace": server.namespace,
                "labels": labels,
            },
            spec={
                "backoffLimit": 6,
                "ttlSecondsAfterFinished": 3600,
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "restartPolicy": "OnFailure",
                        "automountServiceAccountToken": False,
                        "securityContext": RESTRICTED_POD_SECURITY_CONTEXT,
                        "containers": [
                            {
                                "name": "create-bucket",
                                "image": IMAGES["seaweedfs"],
                                "command": ["/bin/sh", "-c", script],
                                "resources": {
                                    "requests": {"cpu": "50m", "memory": "64Mi"},
                                    "limits": {"memory": "256Mi"},
                                },
                                "securityContext": RESTRICTED_CONTAINER_SECURITY_CONTEXT,
                            }
                        ],
                    },
                },
            },
            opts=child_opts(self, depends_on=[server.statefulset]),
        )
        self.bucket_name = pulumi.Output.from_input(args.bucket_name)
        self.uri = pulumi.Output.from_input(f"s3://{args.bucket_name}")
        self.endpoint_url = server.endpoint_url
        self.register_outputs({"bucket_name": self.bucket_name, "uri": self.uri})

    def grant_read(self, identity: Principal, *, prefix: str = "") -> None:
        """Allow ``identity`` to list the bucket and read objects under ``prefix``."""
        validate_prefix(prefix, field="prefix")
        self._server.add_grant(
            identity, seaweedfs_actions(mode="read", bucket=self._bucket, prefix=prefix)
        )

    def grant_write(self, identity: Principal, *, prefix: str = "") -> None:
        """Allow ``identity`` to write objects under ``prefix``; never read or delete."""
        validate_prefix(prefix, field="prefix")
        self._server.add_grant(
            identity, seaweedfs_actions(mode="write", bucket=self._bucket, prefix=prefix)
        )
