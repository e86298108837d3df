"""Kubeflow Pipelines v2 standalone, with its pipeline root on the platform's object store."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.targets._seam import ObjectStore, WorkloadIdentity
from mlops_blueprints.versions import KFP_VERSION

from .._labels import standard_labels
from .._opts import child_opts
from ._plan import (
    KFP_NAMESPACE,
    RUNNER_ROLE,
    launcher_config,
    pipeline_root,
    upstream_kustomize_url,
    validate_namespace,
    validate_pipeline_root_prefix,
)

__all__ = ["Pipelines", "PipelinesArgs"]

CLUSTER_SCOPED_PATH = "manifests/kustomize/cluster-scoped-resources"
STANDALONE_PATH = "manifests/kustomize/env/platform-agnostic"
# The ConfigMap the upstream install creates and the v2 driver reads for every run.
LAUNCHER_CONFIG_MAP = "kfp-launcher"


@dataclass(frozen=True)
class PipelinesArgs:
    """Arguments for :class:`Pipelines`.

    - ``pipeline_root_store``: the object store (data lake bucket) pipeline artifacts go to.
    - ``runner_identity``: the workload identity pipeline pods run as; create it in
      ``namespace`` and either grant it read and write on ``pipeline_root_prefix`` yourself or
      set ``grant_runner_access``.
    - ``pipeline_root_prefix`` (pipelines/): key prefix of the pipeline root inside the bucket;
      relative, ends with '/', not empty.
    - ``namespace`` (kubeflow): the namespace the upstream install runs in; only ``kubeflow``
      is accepted, because upstream's cluster-wide bindings name it. Pass the Output of a
      namespace you own (e.g. a ``WorkloadNamespace``) so this component's objects depend on
      it; upstream's cluster-scoped manifests then apply over the same Namespace.
    - ``grant_runner_access`` (True): grant ``runner_identity`` read and write on the prefix
      through the store's grants (which also open the pods' egress to the store).
    - ``labels``: extra labels on the objects created here (not on the upstream ones).
    """

    pipeline_root_store: ObjectStore
    runner_identity: WorkloadIdentity
    pipeline_root_prefix: str = "pipelines/"
    namespace: pulumi.Input[str] = KFP_NAMESPACE
    grant_runner_access: bool = True
    labels: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.pipeline_root_store, ObjectStore):
            raise BlueprintConfigError(
                "pipeline_root_store",
                self.pipeline_root_store,
                "Pass an object store from the target (target.object_store(...)) or a data "
                "lake bucket; it must offer bucket_name, endpoint_url and grants.",
            )
        if not isinstance(self.runner_identity, WorkloadIdentity):
            raise BlueprintConfigError(
                "runner_identity",
                self.runner_identity,
                "Pass a workload identity from the target (target.workload_identity(...)) "
                "created in the pipelines namespace.",
            )
        validate_pipeline_root_prefix(self.pipeline_root_prefix)
        if isinstance(self.namespace, str):
            validate_namespace(self.namespace)
        for key, value in self.labels.items():
            if not key or not isinstance(value, str):
                raise BlueprintConfigError(
                    "labels",
                    self.labels,
                    "Use non-empty string keys and string values (Kubernetes label syntax).",
                )


class Pipelines(pulumi.ComponentResource):
    """Kubeflow Pipelines standalone at ``versions.KFP_VERSION``, configured for the platform.

    The upstream manifests are applied from the pinned git tag by two kustomize Directory
    resources (cluster-scoped first); the platform's own objects then point the v2 launcher at
    the data lake and bind the runner identity to upstream's ``pipeline-runner`` Role.
    Children: ``{name}-cluster-scoped`` and ``{name}-install`` (kustomize Directory),
    ``{name}-launcher-config`` (ConfigMapPatch of ``kfp-launcher``) and
    ``{name}-runner-binding`` (RoleBinding).
    """

    pipeline_root: pulumi.Output[str]
    namespace: pulumi.Output[str]
    runner_service_account_name: pulumi.Output[str]
    api_service_host: pulumi.Output[str]
    kfp_version: pulumi.Output[str]

    def __init__(
        self, name: str, args: PipelinesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:pipelines:Pipelines", name, None, opts)
        store = args.pipeline_root_store
        identity = args.runner_identity
        prefix = args.pipeline_root_prefix
        namespace = args.namespace
        labels = standard_labels("kubeflow-pipelines", instance=name, extra=args.labels)

        if args.grant_runner_access:
            store.grant_read(identity, prefix=prefix)
            store.grant_write(identity, prefix=prefix)

        cluster_scoped = k8s.kustomize.v2.Directory(
            f"{name}-cluster-scoped",
            directory=upstream_kustomize_url(CLUSTER_SCOPED_PATH),
            opts=child_opts(self),
        )
        install = k8s.kustomize.v2.Directory(
            f"{name}-install",
            directory=upstream_kustomize_url(STANDALONE_PATH),
            opts=child_opts(self, depends_on=[cluster_scoped]),
        )

        launcher_data = pulumi.Output.all(
            store.bucket_name,
            store.endpoint_url,
            identity.credentials_secret_name,
        ).apply(
            lambda v: launcher_config(
                bucket_name=v[0],
                prefix=prefix,
                endpoint_url=v[1],
                credentials_secret_name=v[2],
            )
        )
        # Upstream owns the ConfigMap (its defaultPipelineRoot comes from the install config);
        # a server-side-apply patch takes over the two keys and leaves the object upstream's.
        k8s.core.v1.ConfigMapPatch(
            f"{name}-launcher-config",
            metadata={
                "name": LAUNCHER_CONFIG_MAP,
                "namespace": namespace,
                "labels": labels,
                "annotations": {"pulumi.com/patchForce": "true"},
            },
            data=launcher_data,
            opts=child_opts(self, depends_on=[install]),
        )
        k8s.rbac.v1.RoleBinding(
            f"{name}-runner-binding",
            metadata={
                "name": f"{identity.identity_name}-pipeline-runner",
                "namespace": namespace,
                "labels": labels,
            },
            role_ref={
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": RUNNER_ROLE,
            },
            subjects=[
                {
                    "kind": "ServiceAccount",
                    "name": identity.service_account_name,
                    "namespace": identity.namespace,
                }
            ],
            opts=child_opts(self, depends_on=[install]),
        )

        self.pipeline_root = store.bucket_name.apply(lambda bucket: pipeline_root(bucket, prefix))
        self.namespace = pulumi.Output.from_input(namespace)
        self.runner_service_account_name = identity.service_account_name
        self.api_service_host = pulumi.Output.concat(
            "ml-pipeline.", self.namespace, ".svc.cluster.local:8888"
        )
        self.kfp_version = pulumi.Output.from_input(KFP_VERSION)
        self.register_outputs(
            {
                "pipeline_root": self.pipeline_root,
                "namespace": self.namespace,
                "runner_service_account_name": self.runner_service_account_name,
                "api_service_host": self.api_service_host,
                "kfp_version": self.kfp_version,
            }
        )
