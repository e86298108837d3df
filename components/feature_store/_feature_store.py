"""Feast as infrastructure: a feature server, its registry, and scheduled materialization."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.targets._seam import (
    KeyValueConnection,
    KeyValueStore,
    ObjectStore,
    WorkloadIdentity,
    validate_dns_label,
    validate_prefix,
)
from mlops_blueprints.versions import IMAGES

from .._labels import standard_labels
from .._opts import child_opts
from ..database._common import container_resources, text, validate_resources
from ..kubernetes import (
    RESTRICTED_CONTAINER_SECURITY_CONTEXT,
    RESTRICTED_POD_SECURITY_CONTEXT,
    allow_identity_egress,
    namespace_pod_peer,
    object_name,
)
from ._plan import (
    FEATURE_SERVER_PORT,
    REGISTRY_PREFIX,
    feature_store_yaml,
    registry_path,
    validate_project,
    validate_schedule,
)

__all__ = ["FeatureStore", "FeatureStoreArgs"]

METRICS_PORT = 8000
CONFIG_DIR = "/etc/feast"
_FEAST = ["feast", "--chdir", "/tmp", "--feature-store-yaml", f"{CONFIG_DIR}/feature_store.yaml"]


@dataclass(frozen=True)
class FeatureStoreArgs:
    """Arguments for :class:`FeatureStore`.

    - ``namespace``: an existing namespace for the server, the CronJob and the config.
    - ``project``: the Feast project name (letters, digits, '_').
    - ``registry_store``: object store holding the registry file at ``<uri>/feast/registry.db``.
    - ``offline_store``: object store holding the parquet sources under ``offline_prefix``.
    - ``online_store``: the key-value store features are served from.
    - ``server_identity``: identity the feature server runs as (created by the caller).
    - ``materializer_identity``: identity the materialization CronJob runs as.
    - ``offline_prefix`` (features/): key prefix of the parquet sources in ``offline_store``.
    - ``materialize_schedule`` (0 * * * *): cron schedule of ``feast materialize-incremental``.
    - ``replicas`` (2): feature server replicas, 1 to 20.
    - ``cpu_request`` (250m): CPU request of each container.
    - ``memory_request_mib`` (512): memory request of each container.
    - ``memory_limit_mib`` (1024): memory limit of each container, at least the request.
    - ``prometheus_namespace`` (monitoring): namespace whose pods may scrape server metrics.
    - ``labels``: extra labels on every object.
    """

    namespace: pulumi.Input[str]
    project: str
    registry_store: ObjectStore
    offline_store: ObjectStore
    online_store: KeyValueStore
    server_identity: WorkloadIdentity
    materializer_identity: WorkloadIdentity
    offline_prefix: str = "features/"
    materialize_schedule: str = "0 * * * *"
    replicas: int = 2
    cpu_request: str = "250m"
    memory_request_mib: int = 512
    memory_limit_mib: int = 1024
    prometheus_namespace: str = "monitoring"
    labels: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_project(self.project)
        for name, protocol in (
            ("registry_store", ObjectStore),
            ("offline_store", ObjectStore),
            ("online_store", KeyValueStore),
            ("server_identity", WorkloadIdentity),
            ("materializer_identity", WorkloadIdentity),
        ):
            if not isinstance(getattr(self, name), protocol):
                raise BlueprintConfigError(
                    name,
                    getattr(self, name),
                    f"Pass a {protocol.__name__} created through the deployment target.",
                )
        if self.server_identity.identity_name == self.materializer_identity.identity_name:
            raise BlueprintConfigError(
                "materializer_identity",
                self.materializer_identity.identity_name,
                "Give the materializer its own identity: it writes the online store and the "
                "registry, which the server must not.",
            )
        validate_prefix(self.offline_prefix, field="offline_prefix")
        if not self.offline_prefix:
            raise BlueprintConfigError(
                "offline_prefix",
                self.offline_prefix,
                "Name a prefix such as 'features/' so grants stay off the rest of the bucket.",
            )
        validate_schedule(self.materialize_schedule)
        if not 1 <= self.replicas <= 20:
            raise BlueprintConfigError(
                "replicas", self.replicas, "Run 1 to 20 replicas (2 or more survive a node loss)."
            )
        validate_resources(
            cpu_request=self.cpu_request,
            memory_request_mib=self.memory_request_mib,
            memory_limit_mib=self.memory_limit_mib,
        )
        validate_dns_label(self.prometheus_namespace, field="prometheus_namespace")


def _resolved_yaml(
    project: str,
    registry_uri: pulumi.Output[str],
    offline_uri: pulumi.Output[str],
    online: KeyValueConnection,
) -> pulumi.Output[str]:
    values = [
        registry_uri,
        offline_uri,
        online.region,
        online.table_prefix,
        online.host,
        online.port,
    ]
    return pulumi.Output.all(*values).apply(
        lambda v: feature_store_yaml(
            project=project,
            registry=registry_path(text(v[0])),
            offline_uri=f"{text(v[1]).rstrip('/')}/",
            online=replace(online, region=v[2], table_prefix=v[3], host=v[4], port=v[5]),
        )
    )


class FeatureStore(pulumi.ComponentResource):
    """Feast feature server (Deployment), registry on an object store, hourly materialization.

    The server reads the online store and the registry only; the materializer CronJob reads
    the offline parquet and writes the online store and the registry. Both pods carry their
    identity's labels and service account. Children: ``{name}-config`` (ConfigMap),
    ``{name}-service``, ``{name}-deployment``, ``{name}-network-policy`` and
    ``{name}-materialize`` (CronJob); ``grant_read`` adds ``{name}-{identity}-egress`` and
    ``{name}-{identity}-ingress`` (NetworkPolicies).
    """

    feature_store_yaml: pulumi.Output[str]
    service_host: pulumi.Output[str]
    url: pulumi.Output[str]
    registry_path: pulumi.Output[str]
    offline_uri: pulumi.Output[str]

    def __init__(
        self, name: str, args: FeatureStoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:features:FeatureStore", name, None, opts)
        self._name = name
        self._args = args
        namespace = pulumi.Output.from_input(args.namespace)
        self._namespace = namespace
        self._selector = selector = {
            "app.kubernetes.io/name": "feast-feature-server",
            "app.kubernetes.io/instance": name,
        }
        labels = standard_labels("feast-feature-server", instance=name, extra=args.labels)
        self._labels = labels
        self.registry_path = args.registry_store.uri.apply(registry_path)
        self.offline_uri = args.offline_store.uri.apply(
            lambda uri: f"{uri.rstrip('/')}/{args.offline_prefix}"
        )

        server, materializer = args.server_identity, args.materializer_identity
        online = args.online_store
        # The server only reads; the materializer reads sources and writes features and the
        # registry's materialization intervals.
        online.grant_read(server)
        args.registry_store.grant_read(server, prefix=REGISTRY_PREFIX)
        online.grant_read(materializer)
        online.grant_write(materializer)
        args.registry_store.grant_write(materializer, prefix=REGISTRY_PREFIX)
        args.registry_store.grant_read(materializer, prefix=REGISTRY_PREFIX)
        args.offline_store.grant_read(materializer, prefix=args.offline_prefix)

        self.feature_store_yaml = _resolved_yaml(
            args.project, args.registry_store.uri, self.offline_uri, online.connection(server)
        )
        config = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata={"name": f"{name}-feast", "namespace": namespace, "labels": labels},
            data={"feature_store.yaml": self.feature_store_yaml},
            opts=child_opts(self),
        )
        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata={"name": name, "namespace": namespace, "labels": labels},
            spec={
                "type": "ClusterIP",
                "selector": selector,
                "ports": [
                    {"name": "http", "port": FEATURE_SERVER_PORT, "targetPort": "http"},
                    {"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics"},
                ],
            },
            opts=child_opts(self),
        )
        self.service_host = pulumi.Output.concat(
            object_name(self.service), ".", namespace, ".svc.cluster.local"
        )
        self.url = pulumi.Output.concat("http://", self.service_host, f":{FEATURE_SERVER_PORT}")
        resources = container_resources(
            cpu_request=args.cpu_request,
            memory_request_mib=args.memory_request_mib,
            memory_limit_mib=args.memory_limit_mib,
        )
        probe = {"tcpSocket": {"port": "http"}}
        server_container = {
            "name": "feature-server",
            "image": IMAGES["feast-feature-server"],
            "command": [
                *_FEAST,
                "serve",
                "--host",
                "0.0.0.0",
                "--port",
                str(FEATURE_SERVER_PORT),
                "--metrics",
            ],
            "ports": [
                {"name": "http", "containerPort": FEATURE_SERVER_PORT},
                {"name": "metrics", "containerPort": METRICS_PORT},
            ],
            **self._environment(server),
            "resources": resources,
            "readinessProbe": {**probe, "initialDelaySeconds": 10, "periodSeconds": 10},
            "livenessProbe": {**probe, "initialDelaySeconds": 30, "periodSeconds": 30},
            "securityContext": RESTRICTED_CONTAINER_SECURITY_CONTEXT,
            "volumeMounts": self._mounts(),
        }
        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata={"name": name, "namespace": namespace, "labels": labels},
            spec={
                "replicas": args.replicas,
                "selector": {"matchLabels": selector},
                "template": {
                    "metadata": {"labels": {**labels, **server.pod_labels, **selector}},
                    "spec": self._pod_spec(server, config, [server_container]),
                },
            },
            opts=child_opts(self),
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-network-policy",
            metadata={"name": name, "namespace": namespace, "labels": labels},
            spec={
                "podSelector": {"matchLabels": selector},
                "policyTypes": ["Ingress"],
                # Clients are admitted per grant; here only Prometheus, on the metrics port.
                "ingress": [
                    {
                        "from": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {
                                        "kubernetes.io/metadata.name": args.prometheus_namespace
                                    }
                                }
                            }
                        ],
                        "ports": [{"protocol": "TCP", "port": METRICS_PORT}],
                    }
                ],
            },
            opts=child_opts(self),
        )
        materialize_container = {
            "name": "materialize",
            "image": IMAGES["feast-feature-server"],
            "command": ["/bin/sh", "-c"],
            "args": [
                "exec "
                + " ".join(_FEAST)
                + ' materialize-incremental "$(date -u +%Y-%m-%dT%H:%M:%S)"'
            ],
            **self._environment(materializer),
            "resources": resources,
            "securityContext": RESTRICTED_CONTAINER_SECURITY_CONTEXT,
            "volumeMounts": self._mounts(),
        }
        self.cron_job = k8s.batch.v1.CronJob(
            f"{name}-materialize",
            metadata={"name": f"{name}-materialize", "namespace": namespace, "labels": labels},
            spec={
                "schedule": args.materialize_schedule,
                "timeZone": "Etc/UTC",
                # Incremental runs pick up where the last one stopped: never two at once.
                "concurrencyPolicy": "Forbid",
                "startingDeadlineSeconds": 600,
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 3,
                "jobTemplate": {
                    "spec": {
                        "backoffLimit": 2,
                        "ttlSecondsAfterFinished": 86400,
                        "template": {
                            "metadata": {
                                "labels": {
                                    **labels,
                                    **materializer.pod_labels,
                                    "app.kubernetes.io/component": "materialize",
                                }
                            },
                            "spec": {
                                **self._pod_spec(materializer, config, [materialize_container]),
                                "restartPolicy": "Never",
                            },
                        },
                    }
                },
            },
            opts=child_opts(self),
        )
        self.register_outputs(
            {
                "feature_store_yaml": self.feature_store_yaml,
                "url": self.url,
                "service_host": self.service_host,
                "registry_path": self.registry_path,
                "offline_uri": self.offline_uri,
            }
        )

    def _environment(self, identity: WorkloadIdentity) -> dict[str, Any]:
        """S3 endpoint for the object stores; the identity's Redis credentials, if any."""
        env = [
            {"name": "HOME", "value": "/tmp"},
            {"name": "FEAST_USAGE", "value": "False"},
            {"name": "DO_NOT_TRACK", "value": "true"},
            {"name": "FEAST_S3_ENDPOINT_URL", "value": self._args.registry_store.endpoint_url},
            {"name": "AWS_ENDPOINT_URL_S3", "value": self._args.registry_store.endpoint_url},
        ]
        result: dict[str, Any] = {"env": env}
        sources: list[dict[str, Any]] = []
        secret = self._args.online_store.connection(identity).secret_name
        if secret is not None:
            sources.append({"secretRef": {"name": secret}})
        # Identities without a cloud role (kind) carry their object-store keys in a Secret.
        object_store_keys = identity.credentials_secret_name
        if object_store_keys is not None:
            sources.append({"secretRef": {"name": object_store_keys}})
        if sources:
            result["envFrom"] = sources
        return result

    @staticmethod
    def _mounts() -> list[dict[str, Any]]:
        return [
            {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ]

    @staticmethod
    def _pod_spec(
        identity: WorkloadIdentity, config: k8s.core.v1.ConfigMap, containers: list[Any]
    ) -> dict[str, Any]:
        return {
            "serviceAccountName": identity.service_account_name,
            "automountServiceAccountToken": False,
            "securityContext": RESTRICTED_POD_SECURITY_CONTEXT,
            "containers": containers,
            "volumes": [
                {"name": "config", "configMap": {"name": object_name(config)}},
                {"name": "tmp", "emptyDir": {}},
            ],
        }

    def grant_read(self, identity: WorkloadIdentity) -> None:
        """Consumers: read the online store and the registry, and call the feature server."""
        self._args.online_store.grant_read(identity)
        self._args.registry_store.grant_read(identity, prefix=REGISTRY_PREFIX)
        prefix = f"{self._name}-{identity.identity_name}"
        allow_identity_egress(
            self,
            prefix,
            identity=identity,
            service_name=self._name,
            peer=namespace_pod_peer(self._namespace, self._selector),
            port=FEATURE_SERVER_PORT,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{prefix}-ingress",
            metadata={
                "name": f"{self._name}-from-{identity.identity_name}",
                "namespace": self._namespace,
                "labels": self._labels,
            },
            spec={
                "podSelector": {"matchLabels": self._selector},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [namespace_pod_peer(identity.namespace, identity.pod_labels)],
                        "ports": [{"protocol": "TCP", "port": FEATURE_SERVER_PORT}],
                    }
                ],
            },
            opts=child_opts(self),
        )

    def grant_write(self, identity: WorkloadIdentity) -> None:
        """Producers: write parquet under the offline prefix and read the registry."""
        self._args.offline_store.grant_write(identity, prefix=self._args.offline_prefix)
        self._args.registry_store.grant_read(identity, prefix=REGISTRY_PREFIX)
