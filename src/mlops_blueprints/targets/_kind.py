"""The kind target: any conformant local cluster, with in-cluster substitutes."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from ._seam import (
    Capability,
    ContainerRegistry,
    ContainerRegistryArgs,
    KeyValueStore,
    KeyValueStoreArgs,
    ObjectStore,
    ObjectStoreArgs,
    SqlDatabase,
    SqlDatabaseArgs,
    Target,
    TargetPosture,
    WorkloadIdentity,
    WorkloadIdentityArgs,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mlops_blueprints.components.kubernetes import WorkloadNamespace
    from mlops_blueprints.components.node_pools import NodePoolSpec
    from mlops_blueprints.components.object_store import SeaweedfsServer

__all__ = ["KindSettings", "KindTarget"]


class KindSettings(BaseModel):
    """Stack configuration for kind (``mlops-platform:kind``).

    - ``context`` (``kind-mlops``): the kubeconfig context of the cluster.
    - ``kubeconfig``: a kubeconfig file's content; the default kubeconfig when unset.
    - ``storage_namespace`` (``mlops-storage``): where the in-cluster object store, Postgres,
      Redis and registry run.
    - ``storage_size_gib`` (20): the object store's data volume.
    - ``node_cidr`` (``172.18.0.0/16``): the nodes' network (kind's default Docker network),
      admitted to the registry so the container runtime can pull images.
    """

    # Stack YAML uses camelCase keys (oidcProviderArn); Python uses snake_case.
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )

    context: str = "kind-mlops"
    kubeconfig: str | None = None
    storage_namespace: str = "mlops-storage"
    storage_size_gib: int = 20
    node_cidr: str = "172.18.0.0/16"


class KindTarget(Target):
    name: ClassVar[str] = "kind"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            "object_store",
            "workload_identity",
            "node_pool",
            "sql_database",
            "key_value_store",
            "container_registry",
        }
    )
    hardware_classes: ClassVar[frozenset[str]] = frozenset({"cpu"})

    def __init__(
        self,
        scope: pulumi.Resource,
        settings: KindSettings,
        *,
        posture: TargetPosture | None = None,
    ) -> None:
        # The posture's key, logging and HA settings have no in-cluster counterpart.
        super().__init__(scope, posture)
        self.settings = settings
        self._provider = k8s.Provider(
            "kubernetes",
            context=settings.context,
            kubeconfig=settings.kubeconfig,
            opts=pulumi.ResourceOptions(parent=scope),
        )
        self._object_store_server: SeaweedfsServer | None = None
        self._storage_namespace: WorkloadNamespace | None = None

    @property
    def kubernetes_provider(self) -> k8s.Provider:
        return self._provider

    def node_pools(self, pools: Sequence[NodePoolSpec]) -> str:
        """Pools on kind are labelled, tainted workers: the kind cluster config that makes them.

        Nothing is registered; create the cluster with ``kind create cluster --config``.
        """
        from mlops_blueprints.components.node_pools import dump_kind_cluster_config

        return dump_kind_cluster_config(
            pools, cluster_name=self.settings.context.removeprefix("kind-")
        )

    def _namespace(self) -> pulumi.Output[str]:
        # Every in-cluster data service shares one namespace, created with the first of them.
        if self._storage_namespace is None:
            from mlops_blueprints.components.kubernetes import (
                WorkloadNamespace,
                WorkloadNamespaceArgs,
            )

            self._storage_namespace = WorkloadNamespace(
                "object-store-namespace",
                WorkloadNamespaceArgs(namespace=self.settings.storage_namespace),
                self.scoped_opts(),
            )
        return self._storage_namespace.namespace_name

    def _server(self) -> SeaweedfsServer:
        # One store serves every bucket; it is created with the first bucket.
        if self._object_store_server is None:
            from mlops_blueprints.components.object_store import (
                SeaweedfsServer,
                SeaweedfsServerArgs,
            )

            self._object_store_server = SeaweedfsServer(
                "object-store",
                SeaweedfsServerArgs(
                    namespace=self._namespace(),
                    storage_size_gib=self.settings.storage_size_gib,
                ),
                self.scoped_opts(),
            )
        return self._object_store_server

    def object_store(
        self, name: str, args: ObjectStoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> ObjectStore:
        return self._server().bucket(name, args, opts)

    def workload_identity(
        self, name: str, args: WorkloadIdentityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> WorkloadIdentity:
        from mlops_blueprints.components.identity import (
            StaticCredentialsIdentity,
            StaticCredentialsIdentityArgs,
        )

        return StaticCredentialsIdentity(
            name,
            StaticCredentialsIdentityArgs(
                namespace=args.namespace,
                service_account_name=args.service_account_name,
                api_access_reason=args.api_access_reason,
            ),
            opts,
        )

    def sql_database(
        self, name: str, args: SqlDatabaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> SqlDatabase:
        """PostgreSQL in the storage namespace, one StatefulSet per request."""
        from mlops_blueprints.components.database import InClusterPostgres, InClusterPostgresArgs

        return InClusterPostgres(
            name,
            InClusterPostgresArgs(
                namespace=self._namespace(),
                allowed_namespaces=args.client_namespaces,
                database_name=args.database_name,
                service_name=f"{args.database_name.replace('_', '-')}-postgres",
                labels={"mlops-blueprints.io/purpose": _label_value(args.purpose)},
            ),
            opts,
        )

    def key_value_store(
        self, name: str, args: KeyValueStoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> KeyValueStore:
        """Redis in the storage namespace, one StatefulSet per request."""
        from mlops_blueprints.components.key_value import InClusterRedis, InClusterRedisArgs

        return InClusterRedis(
            name,
            InClusterRedisArgs(
                namespace=self._namespace(),
                allowed_namespaces=args.client_namespaces,
                service_name=f"{args.store_name}-redis",
                labels={"mlops-blueprints.io/purpose": _label_value(args.purpose)},
            ),
            opts,
        )

    def container_registry(
        self, name: str, args: ContainerRegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> ContainerRegistry:
        """A distribution registry in the storage namespace; nodes may pull from it."""
        from mlops_blueprints.components.registry import InClusterRegistry, InClusterRegistryArgs

        return InClusterRegistry(
            name,
            InClusterRegistryArgs(
                namespace=self._namespace(),
                allowed_namespaces=args.client_namespaces,
                allowed_node_cidrs=(self.settings.node_cidr,),
                repository_name=args.repository_name,
                labels={"mlops-blueprints.io/purpose": _label_value(args.purpose)},
            ),
            opts,
        )


def _label_value(text: str) -> str:
    """A free-text purpose as a valid label value (63 characters of [a-z0-9-])."""
    cleaned = "".join(c if c.isascii() and c.isalnum() else "-" for c in text.lower())
    return "-".join(part for part in cleaned.split("-") if part)[:63].strip("-")
