"""The kind target: any conformant local cluster, with in-cluster substitutes."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from ._seam import (
    Capability,
    ObjectStore,
    ObjectStoreArgs,
    Target,
    WorkloadIdentity,
    WorkloadIdentityArgs,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mlops_blueprints.components.node_pools import NodePoolSpec
    from mlops_blueprints.components.object_store import SeaweedfsServer

__all__ = ["KindSettings", "KindTarget"]


class KindSettings(BaseModel):
    """Stack configuration for kind (``mlops-platform:kind``).

    - ``context`` (``kind-mlops``): the kubeconfig context of the cluster.
    - ``kubeconfig``: a kubeconfig file's content; the default kubeconfig when unset.
    - ``storage_namespace`` (``mlops-storage``): where the in-cluster object store runs.
    - ``storage_size_gib`` (20): its data volume.
    """

    # Stack YAML uses camelCase keys (oidcProviderArn); Python uses snake_case.
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )

    context: str = "kind-mlops"
    kubeconfig: str | None = None
    storage_namespace: str = "mlops-storage"
    storage_size_gib: int = 20


class KindTarget(Target):
    name: ClassVar[str] = "kind"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {"object_store", "workload_identity", "node_pool"}
    )
    hardware_classes: ClassVar[frozenset[str]] = frozenset({"cpu"})

    def __init__(self, scope: pulumi.Resource, settings: KindSettings) -> None:
        super().__init__(scope)
        self.settings = settings
        self._provider = k8s.Provider(
            "kubernetes",
            context=settings.context,
            kubeconfig=settings.kubeconfig,
            opts=pulumi.ResourceOptions(parent=scope),
        )
        self._object_store_server: SeaweedfsServer | None = None

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

    def _server(self) -> SeaweedfsServer:
        # One store serves every bucket; it is created with the first bucket.
        if self._object_store_server is None:
            from mlops_blueprints.components.kubernetes import (
                WorkloadNamespace,
                WorkloadNamespaceArgs,
            )
            from mlops_blueprints.components.object_store import (
                SeaweedfsServer,
                SeaweedfsServerArgs,
            )

            opts = self.scoped_opts()
            namespace = WorkloadNamespace(
                "object-store-namespace",
                WorkloadNamespaceArgs(namespace=self.settings.storage_namespace),
                opts,
            )
            self._object_store_server = SeaweedfsServer(
                "object-store",
                SeaweedfsServerArgs(
                    namespace=namespace.namespace_name,
                    storage_size_gib=self.settings.storage_size_gib,
                ),
                opts,
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
                namespace=args.namespace, service_account_name=args.service_account_name
            ),
            opts,
        )
