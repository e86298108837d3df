"""The model registry: an MLflow tracking server and model registry on any target."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from mlops_blueprints import versions
from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.targets._seam import (
    ObjectStore,
    Principal,
    SqlDatabase,
    WorkloadIdentity,
    validate_dns_label,
    validate_prefix,
)

from .._labels import standard_labels
from .._opts import child_opts
from ..database._common import deferred, text, validate_resources
from ..kubernetes import allow_identity_egress, namespace_pod_peer, object_name
from ..monitoring import MONITOR_LABELS
from ._plan import MLFLOW_PORT, ChartPlan, chart_values, sitecustomize_source

__all__ = ["ModelRegistry", "ModelRegistryArgs"]

_CPU = re.compile(r"^([0-9]+m|[0-9]+(\.[0-9]+)?)$")
_MAX_REPLICAS = 10


def _millicores(value: str) -> float:
    return float(value[:-1]) / 1000 if value.endswith("m") else float(value)


@dataclass(frozen=True)
class ModelRegistryArgs:
    """Arguments for :class:`ModelRegistry`.

    - ``namespace``: an existing namespace, the same one as ``identity``'s.
    - ``identity``: the server's workload identity, already granted ``database.grant_connect``
      and read and write on ``artifact_store`` under ``artifact_prefix``.
    - ``database``: the PostgreSQL database holding runs and registered models.
    - ``artifact_store``: the bucket holding artifacts (the data lake's models bucket).
    - ``artifact_prefix`` (mlflow/): key prefix of every artifact in the bucket.
    - ``service_name`` (mlflow): name of the Helm release, Service and Deployment.
    - ``replicas`` (1): server pods; above 1 a PodDisruptionBudget keeps one running.
    - ``enable_authentication`` (False): MLflow's basic-auth app, with a generated admin
      password in the Secret ``<service_name>-admin``; users live in the same database.
    - ``cpu_request`` (250m): CPU request of the server container.
    - ``cpu_limit`` (1): CPU limit; must be at least the request.
    - ``memory_request_mib`` (768): memory request (one worker needs about 550 MiB).
    - ``memory_limit_mib`` (1536): memory limit; must be at least the request.
    - ``prometheus_namespace`` (monitoring): namespace of the Prometheus pods admitted to
      scrape ``/metrics``.
    - ``prometheus_operator`` (None): what installs the ``monitoring.coreos.com`` CRDs (the
      ``MonitoringStack``'s ``prometheus_operator``); the chart's ServiceMonitor for the
      metrics endpoint is created only then, and the release waits for it.
    - ``service_monitor_labels`` (``MONITOR_LABELS``): labels Prometheus selects
      ServiceMonitors by.
    - ``labels``: extra labels on every object created here.
    """

    namespace: pulumi.Input[str]
    identity: WorkloadIdentity
    database: SqlDatabase
    artifact_store: ObjectStore
    artifact_prefix: str = "mlflow/"
    service_name: str = "mlflow"
    replicas: int = 1
    enable_authentication: bool = False
    cpu_request: str = "250m"
    cpu_limit: str = "1"
    memory_request_mib: int = 768
    memory_limit_mib: int = 1536
    prometheus_namespace: pulumi.Input[str] = "monitoring"
    prometheus_operator: pulumi.Resource | None = None
    service_monitor_labels: dict[str, str] = field(default_factory=lambda: dict(MONITOR_LABELS))
    labels: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.namespace, str):
            validate_dns_label(self.namespace, field="namespace")
        if not isinstance(self.identity, WorkloadIdentity):
            raise BlueprintConfigError(
                "identity",
                type(self.identity).__name__,
                "Pass a workload identity from the target (IrsaIdentity, "
                "StaticCredentialsIdentity).",
            )
        if not isinstance(self.database, SqlDatabase):
            raise BlueprintConfigError(
                "database",
                type(self.database).__name__,
                "Pass a SQL database from the target (RdsPostgres, InClusterPostgres).",
            )
        if not isinstance(self.artifact_store, ObjectStore):
            raise BlueprintConfigError(
                "artifact_store",
                type(self.artifact_store).__name__,
                "Pass an object store from the target (S3Bucket, SeaweedfsBucket).",
            )
        validate_prefix(self.artifact_prefix, field="artifact_prefix")
        if not self.artifact_prefix:
            raise BlueprintConfigError(
                "artifact_prefix",
                self.artifact_prefix,
                "Give MLflow its own prefix such as 'mlflow/', so its grants never cover the "
                "whole bucket.",
            )
        validate_dns_label(self.service_name, field="service_name")
        if isinstance(self.replicas, bool) or not 1 <= self.replicas <= _MAX_REPLICAS:
            raise BlueprintConfigError(
                "replicas", self.replicas, f"Run between 1 and {_MAX_REPLICAS} server pods."
            )
        validate_resources(
            cpu_request=self.cpu_request,
            memory_request_mib=self.memory_request_mib,
            memory_limit_mib=self.memory_limit_mib,
        )
        if not _CPU.match(self.cpu_limit) or _millicores(self.cpu_limit) < _millicores(
            self.cpu_request
        ):
            raise BlueprintConfigError(
                "cpu_limit",
                self.cpu_limit,
                f"Use a CPU quantity such as '1' or '500m', at or above the request "
                f"({self.cpu_request}).",
            )
        if isinstance(self.prometheus_namespace, str):
            validate_dns_label(self.prometheus_namespace, field="prometheus_namespace")
        if not self.service_monitor_labels:
            raise BlueprintConfigError(
                "service_monitor_labels",
                self.service_monitor_labels,
                "Name the labels your Prometheus selects ServiceMonitors by (e.g. "
                f"{MONITOR_LABELS}).",
            )


class ModelRegistry(pulumi.ComponentResource):
    """MLflow tracking server and model registry (pinned ``mlflow`` chart).

    Runs and registered models live in the ``database`` (PostgreSQL); artifacts are proxied
    by the server to ``s3://<bucket>/<artifact_prefix>`` with the server's workload identity.
    Children: ``{name}-release`` (Helm release) and ``{name}-network-policy``; with
    ``replicas`` > 1 ``{name}-pdb``; with authentication ``{name}-admin-password`` (random)
    and ``{name}-admin`` (Secret); with IAM database auth ``{name}-python-hooks``
    (ConfigMap). Each workload identity granted with ``grant_read``/``grant_write`` adds
    ``{name}-{identity}-egress`` (NetworkPolicy in its namespace).
    """

    tracking_uri: pulumi.Output[str]
    service_name: pulumi.Output[str]
    artifact_root: pulumi.Output[str]
    admin_secret_name: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: ModelRegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:mlregistry:ModelRegistry", name, None, opts)
        self._name = name
        self._args = args
        self._clients: dict[str, WorkloadIdentity] = {}
        self._egress_opened: set[str] = set()
        namespace = pulumi.Output.from_input(args.namespace)
        self._namespace = namespace
        identity = args.identity
        connection = args.database.connection(identity)
        labels = standard_labels("mlflow", instance=args.service_name, extra=args.labels)
        # The chart's selector labels.
        self._selector = {
            "app.kubernetes.io/name": "mlflow",
            "app.kubernetes.io/instance": args.service_name,
        }

        admin_secret_name: pulumi.Output[str] | None = None
        if args.enable_authentication:
            password = random.RandomPassword(
                f"{name}-admin-password", length=32, special=False, opts=child_opts(self)
            )
            admin = k8s.core.v1.Secret(
                f"{name}-admin",
                metadata={
                    "name": f"{args.service_name}-admin",
                    "namespace": namespace,
                    "labels": labels,
                },
                type="Opaque",
                string_data={
                    "username": "admin",
                    "password": pulumi.Output.secret(password.result.apply(text)),
                },
                opts=child_opts(self),
            )
            admin_secret_name = object_name(admin)

        hooks_name: pulumi.Output[str] | None = None
        if connection.iam_auth:
            hooks = k8s.core.v1.ConfigMap(
                f"{name}-python-hooks",
                metadata={
                    "name": f"{args.service_name}-python-hooks",
                    "namespace": namespace,
                    "labels": labels,
                },
                data={"sitecustomize.py": sitecustomize_source()},
                opts=child_opts(self),
            )
            hooks_name = object_name(hooks)

        password_secret = (
            (connection.password_secret_name, connection.password_secret_key)
            if connection.password_secret_name and connection.password_secret_key
            else None
        )
        credentials = identity.credentials_secret_name
        plan = ChartPlan(
            release_name=args.service_name,
            replicas=args.replicas,
            service_account_name=identity.service_account_name,
            pod_labels={**labels, **identity.pod_labels},
            db_host=connection.host,
            db_port=connection.port,
            db_name=connection.database,
            db_user=connection.user,
            db_password_secret=password_secret,
            sslmode=connection.sslmode,
            iam_region=connection.region if connection.iam_auth else None,
            bucket=args.artifact_store.bucket_name,
            prefix=args.artifact_prefix,
            s3_endpoint_url=args.artifact_store.endpoint_url,
            s3_credentials_secret=credentials,
            enable_authentication=args.enable_authentication,
            admin_secret_name=admin_secret_name,
            sitecustomize_config_map=hooks_name,
            service_monitor_namespace=namespace,
            service_monitor_labels=args.service_monitor_labels,
            enable_service_monitor=args.prometheus_operator is not None,
            resources={
                "requests": {
                    "cpu": args.cpu_request,
                    "memory": f"{args.memory_request_mib}Mi",
                },
                "limits": {"cpu": args.cpu_limit, "memory": f"{args.memory_limit_mib}Mi"},
            },
        )
        chart = versions.CHARTS["mlflow"]
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name=args.service_name,
            namespace=namespace,
            chart=chart.chart,
            version=chart.version,
            repository_opts={"repo": chart.repository},
            values=chart_values(plan),
            opts=child_opts(
                self,
                depends_on=[args.prometheus_operator] if args.prometheus_operator else [],
            ),
        )
        prometheus = namespace_pod_peer(
            args.prometheus_namespace, {"app.kubernetes.io/name": "prometheus"}
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-network-policy",
            metadata={"name": args.service_name, "namespace": namespace, "labels": labels},
            spec={
                "podSelector": {"matchLabels": self._selector},
                "policyTypes": ["Ingress"],
                # Computed after the program body, so it admits every identity granted later.
                "ingress": deferred(namespace, lambda: self._ingress_rules(prometheus)),
            },
            opts=child_opts(self, depends_on=[self.release]),
        )
        if args.replicas > 1:
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-pdb",
                metadata={"name": args.service_name, "namespace": namespace, "labels": labels},
                spec={"minAvailable": 1, "selector": {"matchLabels": self._selector}},
                opts=child_opts(self, depends_on=[self.release]),
            )
        self.service_name = self.release.status.apply(lambda _: args.service_name)
        self.tracking_uri = pulumi.Output.concat(
            "http://", self.service_name, ".", namespace, f".svc.cluster.local:{MLFLOW_PORT}"
        )
        self.artifact_root = pulumi.Output.concat(
            "s3://", args.artifact_store.bucket_name, "/", args.artifact_prefix
        )
        self.admin_secret_name = admin_secret_name
        self.register_outputs(
            {
                "tracking_uri": self.tracking_uri,
                "service_name": self.service_name,
                "artifact_root": self.artifact_root,
                "admin_secret_name": admin_secret_name,
            }
        )

    def _ingress_rules(self, prometheus: dict[str, Any]) -> pulumi.Output[list[dict[str, Any]]]:
        port = [{"protocol": "TCP", "port": MLFLOW_PORT}]
        names = sorted(self._clients)
        return pulumi.Output.all(*[self._clients[n].namespace for n in names]).apply(
            lambda namespaces: [
                {"from": [prometheus], "ports": port},
                *(
                    {
                        "from": [namespace_pod_peer(ns, self._clients[n].pod_labels)],
                        "ports": port,
                    }
                    for n, ns in zip(names, namespaces, strict=True)
                ),
            ]
        )

    def grant_read(self, identity: Principal) -> None:
        """Let ``identity`` use the tracking API and read artifacts under the prefix directly
        from the object store (model servers' storage initializers do). A principal outside
        the cluster (a CI role) gets the object-store part only: it has no pods to admit."""
        self._args.artifact_store.grant_read(identity, prefix=self._args.artifact_prefix)
        self._admit(identity)

    def grant_write(self, identity: Principal) -> None:
        """Let ``identity`` log runs and register models through the server, and write
        artifacts under the prefix directly to the object store. A principal outside the
        cluster (a CI role) gets the object-store part only: it has no pods to admit."""
        self._args.artifact_store.grant_write(identity, prefix=self._args.artifact_prefix)
        self._admit(identity)

    def _admit(self, principal: Principal) -> None:
        if not isinstance(principal, WorkloadIdentity):
            return  # no pods: nothing to admit to the server or to let out of a namespace
        identity = principal
        existing = self._clients.get(identity.identity_name)
        if existing is not None and existing is not identity:
            raise BlueprintConfigError(
                "identity",
                identity.identity_name,
                "Another identity with this name is already a client of this registry; give "
                "each workload identity a unique service-account name.",
            )
        self._clients[identity.identity_name] = identity
        if identity.identity_name in self._egress_opened:
            return
        self._egress_opened.add(identity.identity_name)
        allow_identity_egress(
            self,
            f"{self._name}-{identity.identity_name}",
            identity=identity,
            service_name=self._args.service_name,
            peer=namespace_pod_peer(self._namespace, self._selector),
            port=MLFLOW_PORT,
        )
