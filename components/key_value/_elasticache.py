"""An ElastiCache (Redis OSS) replication group with per-identity users."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.targets._seam import KeyValueConnection, WorkloadIdentity
from mlops_blueprints.versions import MANAGED_ENGINE_VERSIONS

from .._labels import standard_labels
from .._opts import child_opts
from ..database._common import (
    ClientPath,
    IdentityGrant,
    connection_secret,
    connection_secret_name,
    deferred,
    ingress_security_group,
    register_grant,
    text,
    validate_cidr_blocks,
)
from ._plan import KeyValueGrantMode, elasticache_user_id, redis_acl_rules, validate_redis_username

if TYPE_CHECKING:
    from mlops_blueprints.targets._seam import KeyValueStore

__all__ = ["ElastiCacheRedis", "ElastiCacheRedisArgs"]

REDIS_PORT = 6379
SUPPORTED_ELASTICACHE_REDIS_VERSIONS: tuple[str, ...] = ("7.0", "7.1")
_GROUP_ID = re.compile(r"^[a-z](?!.*--)[a-z0-9-]{0,38}[a-z0-9]$")


@dataclass(frozen=True)
class ElastiCacheRedisArgs:
    """Arguments for :class:`ElastiCacheRedis`.

    - ``replication_group_id``: physical name (2-40 lowercase letters, digits, single hyphens;
      starts with a letter).
    - ``vpc_id``: the VPC of the subnets.
    - ``subnet_ids``: private subnets in at least two availability zones.
    - ``allowed_security_group_ids`` (none): client security groups admitted on port 6379.
    - ``allowed_cidr_blocks`` (none): private client networks admitted on port 6379; at least
      one source must be given, and public networks are refused.
    - ``engine_version`` (``MANAGED_ENGINE_VERSIONS["elasticache-redis"]``): 7.0 or 7.1.
    - ``node_type`` (cache.t4g.small): the node type.
    - ``num_cache_clusters`` (2): primary plus replicas, 2 to 6; two or more give automatic
      failover across zones.
    - ``snapshot_retention_days`` (7): daily snapshots kept, 1 to 35.
    - ``log_retention_days`` (30): retention of the slow and engine logs in CloudWatch.
    - ``kms_key_arn``: a customer-managed key for data at rest; when unset the AWS-managed key.
    - ``client_egress_cidr`` (none): where granted pods may connect, normally the VPC CIDR.
      Each grant then adds ``{name}-{identity}-egress``, a NetworkPolicy letting the identity's
      pods reach it on 6379 (platform namespaces deny egress by default).
    - ``tags``: added to every resource.
    """

    replication_group_id: str
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    allowed_security_group_ids: Sequence[pulumi.Input[str]] = ()
    allowed_cidr_blocks: Sequence[str] = ()
    client_egress_cidr: pulumi.Input[str] | None = None
    engine_version: str = MANAGED_ENGINE_VERSIONS["elasticache-redis"]
    node_type: str = "cache.t4g.small"
    num_cache_clusters: int = 2
    snapshot_retention_days: int = 7
    log_retention_days: int = 30
    kms_key_arn: pulumi.Input[str] | None = None
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _GROUP_ID.match(self.replication_group_id):
            raise BlueprintConfigError(
                "replication_group_id",
                self.replication_group_id,
                "Use 2-40 lowercase letters, digits and single hyphens, starting with a letter "
                "(e.g. 'mlops-online')",
            )
        if self.engine_version not in SUPPORTED_ELASTICACHE_REDIS_VERSIONS:
            raise BlueprintConfigError(
                "engine_version",
                self.engine_version,
                "Use a supported Redis OSS version: "
                + ", ".join(SUPPORTED_ELASTICACHE_REDIS_VERSIONS)
                + " (per-identity users need 6.0 or newer).",
            )
        validate_cidr_blocks(self.allowed_cidr_blocks, field="allowed_cidr_blocks")
        if not self.allowed_security_group_ids and not self.allowed_cidr_blocks:
            raise BlueprintConfigError(
                "allowed_security_group_ids",
                [],
                "Name the clients: the security group of the EKS nodes (or pods), or private "
                "CIDR blocks in allowed_cidr_blocks. With neither, nothing could connect.",
            )
        if isinstance(self.subnet_ids, (list, tuple)) and len(self.subnet_ids) < 2:
            raise BlueprintConfigError(
                "subnet_ids",
                list(self.subnet_ids),
                "Give at least two private subnets in different availability zones, so a "
                "replica can take over when a zone fails.",
            )
        if not 2 <= self.num_cache_clusters <= 6:
            raise BlueprintConfigError(
                "num_cache_clusters",
                self.num_cache_clusters,
                "Use 2 to 6 nodes: at least a primary and one replica for automatic failover, "
                "at most the 5 replicas ElastiCache allows.",
            )
        if not 1 <= self.snapshot_retention_days <= 35:
            raise BlueprintConfigError(
                "snapshot_retention_days",
                self.snapshot_retention_days,
                "Keep daily snapshots for 1 to 35 days.",
            )
        if self.log_retention_days < 1:
            raise BlueprintConfigError(
                "log_retention_days", self.log_retention_days, "Keep logs for at least 1 day."
            )
        if not self.node_type.startswith("cache."):
            raise BlueprintConfigError(
                "node_type",
                self.node_type,
                "Use an ElastiCache node type such as 'cache.t4g.small'.",
            )


class ElastiCacheRedis(pulumi.ComponentResource):
    """Redis OSS on ElastiCache: Multi-AZ failover, encrypted at rest and in transit, RBAC.

    Access control uses ElastiCache users (RBAC): the built-in ``default`` user is switched
    off (its password is generated and never handed out), and each grant adds a user for the
    identity whose ACL allows reads and/or writes only. Credentials reach the identity as a
    connection Secret in its namespace. Children: ``{name}-default-password`` (random),
    ``{name}-default-user``, ``{name}-user-group``, ``{name}-subnet-group``,
    ``{name}-security-group`` with its ``ingress-*`` rules, ``{name}-log-group`` and
    ``{name}-replication-group``; each granted identity adds ``{name}-{identity}-password``
    (random), ``{name}-{identity}-user``, ``{name}-{identity}-connection`` (Secret) and, with
    ``client_egress_cidr``, ``{name}-{identity}-egress`` (NetworkPolicy).
    """

    endpoint: pulumi.Output[str]
    primary_endpoint_address: pulumi.Output[str]
    reader_endpoint_address: pulumi.Output[str]
    port: pulumi.Output[int]

    def __init__(
        self, name: str, args: ElastiCacheRedisArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:keyvalue:ElastiCacheRedis", name, None, opts)
        self._name = name
        self._group_id = args.replication_group_id
        self._client_egress_cidr = args.client_egress_cidr
        self._grants: dict[str, IdentityGrant] = {}
        self._users: list[aws.elasticache.User] = []
        self._labels = standard_labels("elasticache-redis", instance=args.replication_group_id)
        default_password = random.RandomPassword(
            f"{name}-default-password", length=64, special=False, opts=child_opts(self)
        )
        # Every user group must hold a user named "default"; this one can do nothing.
        default_user = aws.elasticache.User(
            f"{name}-default-user",
            user_id=elasticache_user_id(args.replication_group_id, "default"),
            user_name="default",
            engine="redis",
            access_string="off -@all",
            authentication_mode={
                "type": "password",
                "passwords": [pulumi.Output.secret(default_password.result.apply(text))],
            },
            tags=args.tags,
            opts=child_opts(self),
        )
        # The member list is computed after the program body, so it holds every grant.
        members = deferred(default_user.user_id, lambda: self._user_ids(default_user))
        user_group = aws.elasticache.UserGroup(
            f"{name}-user-group",
            user_group_id=f"{args.replication_group_id}-users",
            engine="redis",
            user_ids=members,
            tags=args.tags,
            opts=child_opts(self),
        )
        subnet_group = aws.elasticache.SubnetGroup(
            f"{name}-subnet-group",
            name=f"{args.replication_group_id}-subnets",
            description=f"Private subnets of {args.replication_group_id}",
            subnet_ids=args.subnet_ids,
            tags=args.tags,
            opts=child_opts(self),
        )
        security_group = ingress_security_group(
            self,
            name,
            vpc_id=args.vpc_id,
            port=REDIS_PORT,
            description=f"Redis clients of {args.replication_group_id}",
            source_security_group_ids=args.allowed_security_group_ids,
            cidr_blocks=args.allowed_cidr_blocks,
            tags=args.tags,
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-log-group",
            name=f"/aws/elasticache/{args.replication_group_id}",
            retention_in_days=args.log_retention_days,
            tags=args.tags,
            opts=child_opts(self),
        )
        logs = [
            {
                "destination": log_group.name,
                "destination_type": "cloudwatch-logs",
                "log_format": "json",
                "log_type": log_type,
            }
            for log_type in ("slow-log", "engine-log")
        ]
        self.replication_group = aws.elasticache.ReplicationGroup(
            f"{name}-replication-group",
            replication_group_id=args.replication_group_id,
            description=f"Online key-value store {args.replication_group_id}",
            engine="redis",
            engine_version=args.engine_version,
            node_type=args.node_type,
            num_cache_clusters=args.num_cache_clusters,
            automatic_failover_enabled=True,
            multi_az_enabled=True,
            port=REDIS_PORT,
            subnet_group_name=subnet_group.name,
            security_group_ids=[security_group.id],
            at_rest_encryption_enabled=True,
            kms_key_id=args.kms_key_arn,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            user_group_ids=[user_group.user_group_id],
            snapshot_retention_limit=args.snapshot_retention_days,
            final_snapshot_identifier=f"{args.replication_group_id}-final-snapshot",
            auto_minor_version_upgrade=True,
            apply_immediately=False,
            log_delivery_configurations=logs,
            tags=args.tags,
            # Data outlives the stack: destroying the stack leaves the group in place.
            opts=child_opts(self, retain_on_delete=True),
        )
        self.primary_endpoint_address = self.replication_group.primary_endpoint_address
        self.reader_endpoint_address = self.replication_group.reader_endpoint_address
        self.port = pulumi.Output.from_input(REDIS_PORT)
        self.endpoint = self.primary_endpoint_address.apply(
            lambda host: f"rediss://{text(host)}:{REDIS_PORT}"
        )
        self.register_outputs(
            {
                "endpoint": self.endpoint,
                "primary_endpoint_address": self.primary_endpoint_address,
                "reader_endpoint_address": self.reader_endpoint_address,
            }
        )

    def _user_ids(self, default_user: aws.elasticache.User) -> pulumi.Output[list[str]]:
        ids = [default_user.user_id, *(user.user_id for user in self._users)]
        return cast(pulumi.Output[list[str]], pulumi.Output.all(*ids))

    def connection_secret_name(self, identity: WorkloadIdentity) -> str:
        """The Secret a grant creates in the identity's namespace (``REDIS_*``)."""
        return connection_secret_name(
            identity_name=identity.identity_name, service_name=self._group_id
        )

    def connection(self, identity: WorkloadIdentity) -> KeyValueConnection:
        """Host and port, TLS required, and ``identity``'s connection Secret."""
        return KeyValueConnection(
            kind="redis",
            host=self.primary_endpoint_address,
            port=REDIS_PORT,
            tls=True,
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
        cidr = self._client_egress_cidr
        grant, is_new = register_grant(
            self,
            prefix,
            self._grants,
            identity,
            mode,
            password_length=64,
            client_path=None
            if cidr is None
            else ClientPath(self._group_id, {"ipBlock": {"cidr": cidr}}, REDIS_PORT),
        )
        if not is_new:
            return
        # Read after the program body, so a later grant of the other mode is included.
        access = deferred(
            grant.password.result,
            lambda: pulumi.Output.from_input("on " + redis_acl_rules(sorted(grant.modes))),
        )
        user = aws.elasticache.User(
            f"{prefix}-user",
            user_id=elasticache_user_id(self._group_id, username),
            user_name=username,
            engine="redis",
            access_string=access,
            authentication_mode={
                "type": "password",
                "passwords": [pulumi.Output.secret(grant.password.result.apply(text))],
            },
            opts=child_opts(self),
        )
        self._users.append(user)
        data = pulumi.Output.all(self.primary_endpoint_address, grant.password.result).apply(
            lambda v: {
                "REDIS_HOST": text(v[0]),
                "REDIS_PORT": str(REDIS_PORT),
                "REDIS_USERNAME": username,
                "REDIS_PASSWORD": text(v[1]),
                "REDIS_TLS": "true",
                "REDIS_URL": f"rediss://{username}:{text(v[1])}@{text(v[0])}:{REDIS_PORT}/0",
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

    def _conforms(store: ElastiCacheRedis) -> KeyValueStore:
        return store
