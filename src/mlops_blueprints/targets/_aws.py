"""The aws target: a VPC, a hardened EKS cluster and KMS key, S3, IAM roles for service accounts."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar, Literal

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.versions import EKS_KUBERNETES_VERSION

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

    from mlops_blueprints.components.cluster import EksCluster, EksClusterArgs
    from mlops_blueprints.components.keys import KmsKey, KmsKeyArgs
    from mlops_blueprints.components.network import VpcArgs
    from mlops_blueprints.components.node_pools import KarpenterNodePools, NodePoolSpec
    from mlops_blueprints.components.object_store import S3Bucket

__all__ = ["AwsSettings", "AwsTarget", "SystemNodeGroupSettings"]

_SETTINGS_CONFIG = ConfigDict(
    # Stack YAML uses camelCase keys (natStrategy); Python uses snake_case.
    extra="forbid",
    frozen=True,
    alias_generator=to_camel,
    populate_by_name=True,
)


class SystemNodeGroupSettings(BaseModel):
    """The managed node group that runs system pods (``mlops-platform:aws.systemNodeGroup``)."""

    model_config = _SETTINGS_CONFIG

    instance_types: tuple[str, ...] = ("m7i.large",)
    min_size: int = 2
    desired_size: int = 2
    max_size: int = 3
    disk_size_gib: int = 50


class AwsSettings(BaseModel):
    """Stack configuration for aws (``mlops-platform:aws``); see docs/configuration.md."""

    model_config = _SETTINGS_CONFIG

    region: str = "us-east-1"
    az_count: int = 3
    vpc_cidr: str = "10.0.0.0/16"
    nat_strategy: Literal["single", "one-per-az", "none"] = "one-per-az"
    kubernetes_version: str = EKS_KUBERNETES_VERSION
    enable_public_endpoint: bool = False
    public_access_cidrs: tuple[str, ...] = ()
    private_access_cidrs: tuple[str, ...] = ()
    cluster_admin_role_arns: dict[str, str] = Field(default_factory=dict)
    key_admin_role_arns: tuple[str, ...] = ()
    system_node_group: SystemNodeGroupSettings = Field(default_factory=SystemNodeGroupSettings)
    log_retention_days: int = 90


@dataclass(frozen=True)
class _AwsPlan:
    key: KmsKeyArgs
    network: VpcArgs
    cluster: EksClusterArgs


class AwsTarget(Target):
    """Creates the platform key, network and cluster up front; everything else on request."""

    name: ClassVar[str] = "aws"
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
    hardware_classes: ClassVar[frozenset[str]] = frozenset({"cpu", "nvidia-gpu", "neuron"})

    @staticmethod
    def plan(settings: AwsSettings, *, cluster_name: str) -> _AwsPlan:
        """Validate every argument of the key, network and cluster; registers nothing."""
        from mlops_blueprints.components.cluster import EksClusterArgs, SystemNodeGroupArgs
        from mlops_blueprints.components.keys import KmsKeyArgs
        from mlops_blueprints.components.network import VpcArgs

        if settings.az_count < 2:
            # EKS, RDS and ElastiCache all require subnets in two or more zones.
            raise BlueprintConfigError(
                "mlops-platform:aws.azCount",
                settings.az_count,
                "Use at least 2 availability zones: EKS and the managed databases need "
                "subnets in two or more zones (3 is the default).",
            )
        group = settings.system_node_group
        return _AwsPlan(
            key=KmsKeyArgs(
                alias=f"alias/{cluster_name}",
                admin_role_arns=settings.key_admin_role_arns,
                service_principals=(f"logs.{settings.region}.amazonaws.com",),
                enable_autoscaling_volume_encryption=True,
            ),
            network=VpcArgs(
                cluster_name=cluster_name,
                region=settings.region,
                cidr_block=settings.vpc_cidr,
                az_count=settings.az_count,
                nat_strategy=settings.nat_strategy,
            ),
            cluster=EksClusterArgs(
                cluster_name=cluster_name,
                region=settings.region,
                # Placeholders: the network's outputs replace them once the network exists.
                vpc_id="",
                subnet_ids=[],
                kubernetes_version=settings.kubernetes_version,
                enable_public_endpoint=settings.enable_public_endpoint,
                public_access_cidrs=settings.public_access_cidrs,
                private_access_cidrs=settings.private_access_cidrs,
                admin_role_arns=dict(settings.cluster_admin_role_arns),
                system_node_group=SystemNodeGroupArgs(
                    instance_types=group.instance_types,
                    min_size=group.min_size,
                    desired_size=group.desired_size,
                    max_size=group.max_size,
                    disk_size_gib=group.disk_size_gib,
                ),
                log_retention_days=settings.log_retention_days,
            ),
        )

    @staticmethod
    def check_requests(
        name_prefix: str,
        *,
        sql_databases: Sequence[SqlDatabaseArgs] = (),
        key_value_stores: Sequence[KeyValueStoreArgs] = (),
        container_registries: Sequence[ContainerRegistryArgs] = (),
    ) -> None:
        """Fail before registration when a request would make an invalid physical name."""
        from mlops_blueprints.components.database._plan import validate_rds_identifier
        from mlops_blueprints.components.key_value._plan import validate_table_name

        from ._seam import validate_repository_name

        for db in sql_databases:
            validate_rds_identifier(_rds_identifier(name_prefix, db), field="database_name")
        for store in key_value_stores:
            validate_table_name(_table_name(name_prefix, store), field="store_name")
        for registry in container_registries:
            validate_repository_name(
                _repository_name(name_prefix, registry), field="repository_name"
            )

    def __init__(
        self,
        scope: pulumi.Resource,
        settings: AwsSettings,
        *,
        cluster_name: str,
        name_prefix: str | None = None,
        posture: TargetPosture | None = None,
    ) -> None:
        from mlops_blueprints.components.cluster import EksCluster
        from mlops_blueprints.components.keys import KmsKey
        from mlops_blueprints.components.network import Vpc

        super().__init__(scope, posture)
        self.settings = settings
        self._access_log_bucket: S3Bucket | None = None
        self._name_prefix = name_prefix or cluster_name
        plan = self.plan(settings, cluster_name=cluster_name)
        key_args, vpc_args, cluster_args = plan.key, plan.network, plan.cluster
        opts = pulumi.ResourceOptions(parent=scope)
        self.key: KmsKey = KmsKey("platform-key", key_args, opts)
        self.network = Vpc(
            "network", replace(vpc_args, flow_logs_kms_key_arn=self.key.key_arn), opts
        )
        self.cluster: EksCluster = EksCluster(
            "cluster",
            replace(
                cluster_args,
                vpc_id=self.network.vpc_id,
                subnet_ids=self.network.private_subnet_ids,
                kms_key=self.key,
            ),
            opts,
        )
        self._provider = k8s.Provider(
            "kubernetes",
            kubeconfig=self.cluster.kubeconfig,
            # Wait for access entries, nodes and CoreDNS, not only the control plane.
            opts=pulumi.ResourceOptions(parent=scope, depends_on=[self.cluster]),
        )

    @property
    def kubernetes_provider(self) -> k8s.Provider:
        return self._provider

    def node_pools(
        self, name: str, pools: Sequence[NodePoolSpec], opts: pulumi.ResourceOptions | None = None
    ) -> KarpenterNodePools:
        """Karpenter (controller, interruption queue, node role) and one NodePool per spec."""
        from mlops_blueprints.components.node_pools import (
            KarpenterNodePools,
            KarpenterNodePoolsArgs,
        )

        return KarpenterNodePools(
            name,
            KarpenterNodePoolsArgs(
                cluster_name=self.cluster.cluster_name,
                cluster_endpoint=self.cluster.endpoint,
                oidc_provider_arn=self.cluster.oidc_provider_arn,
                oidc_issuer_url=self.cluster.oidc_issuer_url,
                node_pools=tuple(pools),
            ),
            opts,
        )

    @property
    def _data_key_arn(self) -> pulumi.Output[str] | None:
        # Level 4 encrypts data services with the platform key; below it, AWS-managed keys.
        return self.key.key_arn if self.posture.customer_managed_keys else None

    def _log_bucket(self) -> S3Bucket:
        # One SSE-S3 bucket (log delivery cannot write SSE-KMS) receives every bucket's logs.
        if self._access_log_bucket is None:
            from mlops_blueprints.components.object_store import S3Bucket, S3BucketArgs

            self._access_log_bucket = S3Bucket(
                "access-logs",
                S3BucketArgs(
                    bucket_name=f"{self._name_prefix}-access-logs",
                    log_delivery_source_prefix=f"{self._name_prefix}-",
                    tags={"purpose": "server access logs"},
                ),
                self.scoped_opts(),
            )
        return self._access_log_bucket

    def object_store(
        self, name: str, args: ObjectStoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> ObjectStore:
        from mlops_blueprints.components.object_store import S3Bucket, S3BucketArgs

        log_bucket = self._log_bucket().bucket_name if self.posture.access_logging else None
        return S3Bucket(
            name,
            S3BucketArgs.from_request(
                args, kms_key_arn=self._data_key_arn, access_log_bucket=log_bucket
            ),
            opts,
        )

    def sql_database(
        self, name: str, args: SqlDatabaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> SqlDatabase:
        """RDS for PostgreSQL in the private subnets, reachable from the cluster's nodes."""
        from mlops_blueprints.components.database import RdsPostgres, RdsPostgresArgs

        return RdsPostgres(
            name,
            RdsPostgresArgs(
                identifier=_rds_identifier(self._name_prefix, args),
                vpc_id=self.network.vpc_id,
                subnet_ids=self.network.private_subnet_ids,
                allowed_security_group_ids=[self.cluster.node_security_group_id],
                client_egress_cidr=self.network.cidr_block,
                database_name=args.database_name,
                enable_multi_az=self.posture.high_availability,
                kms_key_arn=self._data_key_arn,
                tags={"purpose": args.purpose, **args.tags},
            ),
            opts,
        )

    def key_value_store(
        self, name: str, args: KeyValueStoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> KeyValueStore:
        """A DynamoDB table (serverless, encrypted, point-in-time recovery)."""
        from mlops_blueprints.components.key_value import DynamoDbTable, DynamoDbTableArgs

        return DynamoDbTable(
            name,
            DynamoDbTableArgs(
                table_name=_table_name(self._name_prefix, args),
                kms_key_arn=self._data_key_arn,
                tags={"purpose": args.purpose, **args.tags},
            ),
            opts,
        )

    def container_registry(
        self, name: str, args: ContainerRegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> ContainerRegistry:
        """An ECR repository: immutable tags, scan on push, KMS, lifecycle rules."""
        from mlops_blueprints.components.registry import EcrRepository, EcrRepositoryArgs

        return EcrRepository(
            name,
            EcrRepositoryArgs(
                repository_name=_repository_name(self._name_prefix, args),
                kms_key_arn=self._data_key_arn,
                tags={"purpose": args.purpose, **args.tags},
            ),
            opts,
        )

    def workload_identity(
        self, name: str, args: WorkloadIdentityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> WorkloadIdentity:
        from mlops_blueprints.components.identity import IrsaIdentity, IrsaIdentityArgs

        return IrsaIdentity(
            name,
            IrsaIdentityArgs(
                namespace=args.namespace,
                service_account_name=args.service_account_name,
                oidc_provider_arn=self.cluster.oidc_provider_arn,
                oidc_issuer_url=self.cluster.oidc_issuer_url,
                api_access_reason=args.api_access_reason,
            ),
            opts,
        )


# How requests become physical names; check_requests validates the same names up front.
def _rds_identifier(prefix: str, request: SqlDatabaseArgs) -> str:
    return f"{prefix}-{request.database_name.replace('_', '-')}"


def _table_name(prefix: str, request: KeyValueStoreArgs) -> str:
    return f"{prefix}-{request.store_name}"


def _repository_name(prefix: str, request: ContainerRegistryArgs) -> str:
    return f"{prefix}/{request.repository_name}"
