"""A DynamoDB table with the secure posture built in."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import pulumi
import pulumi_aws as aws

from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.targets._seam import KeyValueConnection, Principal, WorkloadIdentity

from .._opts import child_opts
from ..identity import require_aws_role
from ._plan import (
    KeyValueGrantMode,
    dynamodb_grant_statements,
    feast_table_prefix,
    validate_table_name,
)

if TYPE_CHECKING:
    from mlops_blueprints.targets._seam import KeyValueStore

__all__ = ["DynamoDbTable", "DynamoDbTableArgs"]

AttributeType = Literal["S", "N", "B"]


def _validate_attribute(value: str, *, field: str) -> None:
    if not 1 <= len(value.encode()) <= 255:
        raise BlueprintConfigError(field, value, "Use an attribute name of 1-255 bytes.")


@dataclass(frozen=True)
class DynamoDbTableArgs:
    """Arguments for :class:`DynamoDbTable`.

    - ``table_name``: physical name (3-255 letters, digits, '_', '-', '.').
    - ``partition_key`` (entity_id): the hash key; ``entity_id`` is Feast's online-store layout.
    - ``partition_key_type`` (S): ``S`` string, ``N`` number or ``B`` binary.
    - ``sort_key``: an optional range key; none by default.
    - ``sort_key_type`` (S): its type.
    - ``ttl_attribute``: an epoch-seconds attribute after which DynamoDB deletes an item;
      unset, items never expire.
    - ``point_in_time_recovery_days`` (35): continuous-backup window, 1 to 35 days.
    - ``enable_deletion_protection`` (on): AWS refuses to delete the table; the table is also
      retained by Pulumi either way.
    - ``kms_key_arn``: a customer-managed key; when unset the table is still KMS-encrypted,
      with the AWS-managed ``aws/dynamodb`` key.
    - ``tags``: added to the table.
    """

    table_name: str
    partition_key: str = "entity_id"
    partition_key_type: AttributeType = "S"
    sort_key: str | None = None
    sort_key_type: AttributeType = "S"
    ttl_attribute: str | None = None
    point_in_time_recovery_days: int = 35
    enable_deletion_protection: bool = True
    kms_key_arn: pulumi.Input[str] | None = None
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_table_name(self.table_name)
        _validate_attribute(self.partition_key, field="partition_key")
        for name in ("partition_key_type", "sort_key_type"):
            if getattr(self, name) not in ("S", "N", "B"):
                raise BlueprintConfigError(
                    name, getattr(self, name), "Use 'S' (string), 'N' (number) or 'B' (binary)."
                )
        if self.sort_key is not None:
            _validate_attribute(self.sort_key, field="sort_key")
            if self.sort_key == self.partition_key:
                raise BlueprintConfigError(
                    "sort_key", self.sort_key, "Use a sort key other than the partition key."
                )
        if self.ttl_attribute is not None:
            _validate_attribute(self.ttl_attribute, field="ttl_attribute")
            if self.ttl_attribute in (self.partition_key, self.sort_key):
                raise BlueprintConfigError(
                    "ttl_attribute",
                    self.ttl_attribute,
                    "Use a separate attribute holding the expiry time, not a key attribute.",
                )
        if not 1 <= self.point_in_time_recovery_days <= 35:
            raise BlueprintConfigError(
                "point_in_time_recovery_days",
                self.point_in_time_recovery_days,
                "DynamoDB keeps continuous backups for 1 to 35 days.",
            )


class DynamoDbTable(pulumi.ComponentResource):
    """DynamoDB table: on-demand, KMS-encrypted, point-in-time recovery, protected, retained.

    Children: ``{name}-table``; each grant adds a ``{name}-{read|write}-{identity}`` IAM role
    policy (``{name}-read-with-scan-{identity}`` for a read grant with ``enable_scan``).
    """

    table_name: pulumi.Output[str]
    arn: pulumi.Output[str]
    endpoint: pulumi.Output[str]

    def __init__(
        self, name: str, args: DynamoDbTableArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:keyvalue:DynamoDbTable", name, None, opts)
        self._name = name
        self._granted: set[str] = set()
        self._kms_key_arn = args.kms_key_arn
        attributes = [{"name": args.partition_key, "type": args.partition_key_type}]
        if args.sort_key is not None:
            attributes.append({"name": args.sort_key, "type": args.sort_key_type})
        encryption: dict[str, Any] = {"enabled": True}
        if args.kms_key_arn is not None:
            encryption["kms_key_arn"] = args.kms_key_arn
        extra: dict[str, Any] = {}
        if args.sort_key is not None:
            extra["range_key"] = args.sort_key
        if args.ttl_attribute is not None:
            extra["ttl"] = {"attribute_name": args.ttl_attribute, "enabled": True}
        self.table = aws.dynamodb.Table(
            f"{name}-table",
            name=args.table_name,
            billing_mode="PAY_PER_REQUEST",
            hash_key=args.partition_key,
            attributes=attributes,
            # enabled=True means KMS (the AWS-managed key unless one is given); False would
            # fall back to an AWS-owned key outside the account's control.
            server_side_encryption=encryption,
            point_in_time_recovery={
                "enabled": True,
                "recovery_period_in_days": args.point_in_time_recovery_days,
            },
            deletion_protection_enabled=args.enable_deletion_protection,
            tags=args.tags,
            # Data outlives the stack: destroying the stack leaves the table in place.
            opts=child_opts(self, retain_on_delete=True),
            **extra,
        )
        self.table_name = self.table.name
        self.arn = self.table.arn
        self.endpoint = self.table.region.apply(lambda r: f"https://dynamodb.{r}.amazonaws.com")
        self.register_outputs(
            {"table_name": self.table_name, "arn": self.arn, "endpoint": self.endpoint}
        )

    def connection(self, identity: WorkloadIdentity) -> KeyValueConnection:
        """The region and the table-name prefix that grants cover (``<table_name>.``)."""
        del identity  # IAM, not a per-identity credential, authorises DynamoDB clients
        return KeyValueConnection(
            kind="dynamodb",
            region=self.table.region,
            table_prefix=self.table_name.apply(feast_table_prefix),
        )

    def grant_read(self, identity: Principal, *, enable_scan: bool = False) -> None:
        """Allow ``identity`` to get, batch-get and query items (and indexes) of the table and
        of the Feast tables named after it; ``Scan``, a whole-table read, only with
        ``enable_scan``. Never writes."""
        self._grant("read", identity, enable_scan=enable_scan)

    def grant_write(self, identity: Principal) -> None:
        """Allow ``identity`` to put, update, delete and batch-write items, without asking
        for old values back, and to create (never drop) the Feast tables named after the
        table; never reads items or changes the base table."""
        self._grant("write", identity, enable_scan=False)

    def _grant(self, mode: KeyValueGrantMode, identity: Principal, *, enable_scan: bool) -> None:
        role = require_aws_role(identity, service="A DynamoDB table")
        scan = "-with-scan" if enable_scan else ""
        resource_name = f"{self._name}-{mode}{scan}-{identity.identity_name}"
        if resource_name in self._granted:
            return  # the same grant twice is one grant
        self._granted.add(resource_name)
        document = pulumi.Output.all(self.arn, self._kms_key_arn).apply(
            lambda v: json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": dynamodb_grant_statements(
                        mode=mode, table_arn=v[0], kms_key_arn=v[1], enable_scan=enable_scan
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

    def _conforms(table: DynamoDbTable) -> KeyValueStore:
        return table
