"""An RDS for PostgreSQL instance with the secure posture built in."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.targets._seam import SqlConnection, WorkloadIdentity
from mlops_blueprints.versions import MANAGED_ENGINE_VERSIONS

from .._opts import child_opts
from ..kubernetes import allow_identity_egress
from ._common import (
    ingress_security_group,
    require_irsa,
    text,
    validate_cidr_blocks,
)
from ._plan import (
    MASTER_USER_RESERVED,
    MAX_BACKUP_RETENTION_DAYS,
    MIN_BACKUP_RETENTION_DAYS,
    db_user_for,
    final_snapshot_identifier,
    parameter_group_family,
    postgres_major_version,
    rds_connect_statements,
    validate_pg_identifier,
    validate_rds_identifier,
)

if TYPE_CHECKING:
    from mlops_blueprints.targets._seam import SqlDatabase

__all__ = ["POSTGRES_PORT", "RdsPostgres", "RdsPostgresArgs"]

POSTGRES_PORT = 5432
# gp3 volumes start at 20 GiB.
_MIN_STORAGE_GIB = 20
_MAX_STORAGE_GIB = 65536
# Performance Insights keeps 7 days free, or a whole number of months (31 days) up to 2 years.
_INSIGHTS_RETENTION = frozenset({7, *(31 * months for months in range(1, 24)), 731})
# Where a mock render leaves the instance's resource id unset (it is always set on AWS).
_UNRESOLVED_RESOURCE_ID = "unresolved-resource-id"


@dataclass(frozen=True)
class RdsPostgresArgs:
    """Arguments for :class:`RdsPostgres`.

    - ``identifier``: physical instance name (lowercase letters, digits, single hyphens).
    - ``vpc_id``: the VPC of the subnets.
    - ``subnet_ids``: private subnets in at least two availability zones.
    - ``allowed_security_group_ids`` (none): client security groups (e.g. the EKS nodes')
      admitted on port 5432.
    - ``allowed_cidr_blocks`` (none): private client networks admitted on port 5432; at least
      one source must be given, and public networks are refused.
    - ``database_name`` (mlops): the database created in the instance.
    - ``master_username`` (platform_admin): the master user, whose password RDS generates and
      keeps in Secrets Manager (``master_user_secret_arn``); it is never in the program.
    - ``engine_version`` (``MANAGED_ENGINE_VERSIONS["rds-postgres"]``): a supported major
      (16, 17), or major.minor; minors are applied automatically in the maintenance window.
    - ``instance_class`` (db.t4g.medium): the instance type.
    - ``allocated_storage_gib`` (20): initial gp3 storage.
    - ``max_allocated_storage_gib`` (100): storage autoscaling ceiling; at least the initial.
    - ``backup_retention_days`` (7): automated backups and point-in-time recovery window,
      7 to 35 days.
    - ``enable_multi_az`` (off): a synchronous standby in another zone (Level 4 turns it on).
    - ``enable_deletion_protection`` (on): AWS refuses to delete the instance; turning it off
      is for throwaway stacks only. The instance is retained by Pulumi either way.
    - ``kms_key_arn``: a customer-managed key for storage, Performance Insights and the master
      secret; when unset they use the AWS-managed keys (storage is always encrypted).
    - ``performance_insights_retention_days`` (7): 7 (free) or a multiple of 31, up to 731.
    - ``client_egress_cidr`` (none): where granted pods may connect, normally the VPC CIDR.
      Each grant then adds ``{name}-{identity}-egress``, a NetworkPolicy letting the identity's
      pods reach it on 5432 (platform namespaces deny egress by default).
    - ``tags``: added to every resource.
    """

    identifier: str
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    allowed_security_group_ids: Sequence[pulumi.Input[str]] = ()
    allowed_cidr_blocks: Sequence[str] = ()
    client_egress_cidr: pulumi.Input[str] | None = None
    database_name: str = "mlops"
    master_username: str = "platform_admin"
    engine_version: str = MANAGED_ENGINE_VERSIONS["rds-postgres"]
    instance_class: str = "db.t4g.medium"
    allocated_storage_gib: int = 20
    max_allocated_storage_gib: int = 100
    backup_retention_days: int = MIN_BACKUP_RETENTION_DAYS
    enable_multi_az: bool = False
    enable_deletion_protection: bool = True
    kms_key_arn: pulumi.Input[str] | None = None
    performance_insights_retention_days: int = 7
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_rds_identifier(self.identifier)
        postgres_major_version(self.engine_version)
        validate_pg_identifier(self.database_name, field="database_name")
        validate_pg_identifier(
            self.master_username, field="master_username", reserved=MASTER_USER_RESERVED
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
                "Give at least two private subnets in different availability zones (RDS "
                "requires it, and a Multi-AZ standby needs the second zone).",
            )
        if not (
            MIN_BACKUP_RETENTION_DAYS <= self.backup_retention_days <= MAX_BACKUP_RETENTION_DAYS
        ):
            raise BlueprintConfigError(
                "backup_retention_days",
                self.backup_retention_days,
                f"Keep automated backups for {MIN_BACKUP_RETENTION_DAYS} to "
                f"{MAX_BACKUP_RETENTION_DAYS} days; fewer than {MIN_BACKUP_RETENTION_DAYS} "
                "leaves too short a point-in-time recovery window.",
            )
        if not _MIN_STORAGE_GIB <= self.allocated_storage_gib <= _MAX_STORAGE_GIB:
            raise BlueprintConfigError(
                "allocated_storage_gib",
                self.allocated_storage_gib,
                f"Allocate {_MIN_STORAGE_GIB} to {_MAX_STORAGE_GIB} GiB (gp3 minimum is 20).",
            )
        if not self.allocated_storage_gib <= self.max_allocated_storage_gib <= _MAX_STORAGE_GIB:
            raise BlueprintConfigError(
                "max_allocated_storage_gib",
                self.max_allocated_storage_gib,
                f"Set the autoscaling ceiling at or above allocated_storage_gib "
                f"({self.allocated_storage_gib}) and at most {_MAX_STORAGE_GIB}.",
            )
        if self.performance_insights_retention_days not in _INSIGHTS_RETENTION:
            raise BlueprintConfigError(
                "performance_insights_retention_days",
                self.performance_insights_retention_days,
                "Use 7 (free tier), a multiple of 31 up to 713, or 731.",
            )
        if not self.instance_class.startswith("db."):
            raise BlueprintConfigError(
                "instance_class", self.instance_class, "Use an RDS class such as 'db.t4g.medium'."
            )


class RdsPostgres(pulumi.ComponentResource):
    """PostgreSQL on RDS: private, encrypted, TLS-only, IAM auth, backed up, protected.

    Children (``{name}-<suffix>``): ``subnet-group``, ``security-group`` with one
    ``ingress-sg-<i>`` / ``ingress-cidr-<network>`` rule per client source,
    ``parameter-group`` and ``instance``; each grant adds a
    ``{name}-connect-{identity}`` IAM role policy (and, with ``client_egress_cidr``, the
    ``{name}-{identity}-egress`` NetworkPolicy).
    """

    host: pulumi.Output[str]
    port: pulumi.Output[int]
    database_name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    arn: pulumi.Output[str]
    resource_id: pulumi.Output[str]
    master_user_secret_arn: pulumi.Output[str]
    security_group_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: RdsPostgresArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:database:RdsPostgres", name, None, opts)
        self._name = name
        self._granted: set[str] = set()
        self._client_egress_cidr = args.client_egress_cidr
        self._egress_opened: set[str] = set()
        family = parameter_group_family(postgres_major_version(args.engine_version))
        subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnet-group",
            name=f"{args.identifier}-subnets",
            description=f"Private subnets of {args.identifier}",
            subnet_ids=args.subnet_ids,
            tags=args.tags,
            opts=child_opts(self),
        )
        security_group = ingress_security_group(
            self,
            name,
            vpc_id=args.vpc_id,
            port=POSTGRES_PORT,
            description=f"PostgreSQL clients of {args.identifier}",
            source_security_group_ids=args.allowed_security_group_ids,
            cidr_blocks=args.allowed_cidr_blocks,
            tags=args.tags,
        )
        parameter_group = aws.rds.ParameterGroup(
            f"{name}-parameter-group",
            # The family is in the name, so a major upgrade creates the new group first.
            name=f"{args.identifier}-{family}",
            family=family,
            description=f"TLS-only, connection logging ({args.identifier})",
            parameters=[
                {"name": "rds.force_ssl", "value": "1"},
                {"name": "log_connections", "value": "1"},
                {"name": "log_disconnections", "value": "1"},
            ],
            tags=args.tags,
            opts=child_opts(self),
        )
        self.instance = aws.rds.Instance(
            f"{name}-instance",
            identifier=args.identifier,
            engine="postgres",
            engine_version=args.engine_version,
            instance_class=args.instance_class,
            allocated_storage=args.allocated_storage_gib,
            max_allocated_storage=args.max_allocated_storage_gib,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=args.kms_key_arn,
            db_name=args.database_name,
            username=args.master_username,
            # RDS generates the master password and rotates it in Secrets Manager.
            manage_master_user_password=True,
            master_user_secret_kms_key_id=args.kms_key_arn,
            port=POSTGRES_PORT,
            db_subnet_group_name=subnet_group.name,
            vpc_security_group_ids=[security_group.id],
            parameter_group_name=parameter_group.name,
            publicly_accessible=False,
            multi_az=args.enable_multi_az,
            backup_retention_period=args.backup_retention_days,
            copy_tags_to_snapshot=True,
            delete_automated_backups=False,
            deletion_protection=args.enable_deletion_protection,
            skip_final_snapshot=False,
            final_snapshot_identifier=final_snapshot_identifier(args.identifier),
            iam_database_authentication_enabled=True,
            auto_minor_version_upgrade=True,
            allow_major_version_upgrade=False,
            performance_insights_enabled=True,
            performance_insights_kms_key_id=args.kms_key_arn,
            performance_insights_retention_period=args.performance_insights_retention_days,
            enabled_cloudwatch_logs_exports=["postgresql", "upgrade"],
            apply_immediately=False,
            tags=args.tags,
            # Data outlives the stack: destroying the stack leaves the instance in place.
            opts=child_opts(self, retain_on_delete=True),
        )
        self.host = self.instance.address
        self.port = self.instance.port
        self.database_name = pulumi.Output.from_input(args.database_name)
        self.endpoint = self.instance.endpoint
        self.arn = self.instance.arn
        self.resource_id = self.instance.resource_id
        self.master_user_secret_arn = self.instance.master_user_secrets.apply(
            lambda secrets: text(secrets[0].secret_arn) if secrets else ""
        )
        self.security_group_id = security_group.id
        self.register_outputs(
            {
                "host": self.host,
                "port": self.port,
                "database_name": self.database_name,
                "arn": self.arn,
                "resource_id": self.resource_id,
                "master_user_secret_arn": self.master_user_secret_arn,
                "security_group_id": self.security_group_id,
            }
        )

    def connection(
        self, identity: WorkloadIdentity, *, db_user: str | None = None
    ) -> SqlConnection:
        """How the granted ``identity`` signs in: as ``db_user`` (default: its name with '_')
        with an IAM token signed per connection, over TLS (the parameter group forces it)."""
        user = validate_pg_identifier(
            db_user or db_user_for(identity.identity_name), field="db_user"
        )
        suffix = "" if user == db_user_for(identity.identity_name) else f"-{user}"
        if f"{self._name}-connect-{identity.identity_name}{suffix}" not in self._granted:
            raise BlueprintConfigError(
                "identity",
                identity.identity_name,
                "Call grant_connect(identity) (with the same db_user) on this database before "
                "asking for its connection.",
            )
        return SqlConnection(
            host=self.host,
            port=self.port,
            database=self.database_name,
            user=user,
            iam_auth=True,
            region=self.arn.apply(lambda arn: arn.split(":")[3] if arn.count(":") >= 5 else ""),
            sslmode="require",
        )

    def grant_connect(self, identity: WorkloadIdentity, *, db_user: str | None = None) -> None:
        """Allow ``identity`` to sign in as ``db_user`` with an IAM token, and nothing else.

        ``db_user`` defaults to the identity's name with '-' as '_'. The role must exist in
        the database with ``GRANT rds_iam`` (created by the schema owner's migration; see the
        README): IAM decides who may present a token, PostgreSQL what the role may do.
        """
        role = require_irsa(identity, service="An RDS database")
        default_user = db_user_for(identity.identity_name)
        user = validate_pg_identifier(db_user or default_user, field="db_user")
        suffix = "" if user == default_user else f"-{user}"
        resource_name = f"{self._name}-connect-{identity.identity_name}{suffix}"
        if resource_name in self._granted:
            return  # the same grant twice is one grant
        self._granted.add(resource_name)
        if (
            self._client_egress_cidr is not None
            and identity.identity_name not in self._egress_opened
        ):
            self._egress_opened.add(identity.identity_name)
            allow_identity_egress(
                self,
                f"{self._name}-{identity.identity_name}",
                identity=identity,
                service_name=self._name,
                peer={"ipBlock": {"cidr": self._client_egress_cidr}},
                port=POSTGRES_PORT,
            )
        document = pulumi.Output.all(self.instance.arn, self.instance.resource_id).apply(
            lambda v: json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": rds_connect_statements(
                        instance_arn=v[0],
                        resource_id=v[1] or _UNRESOLVED_RESOURCE_ID,
                        db_user=user,
                    ),
                }
            )
        )
        aws.iam.RolePolicy(
            resource_name,
            role=role.role_name,
            policy=document,
            opts=child_opts(self),
        )


if TYPE_CHECKING:

    def _conforms(database: RdsPostgres) -> SqlDatabase:
        return database
