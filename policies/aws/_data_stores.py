"""DynamoDB and ElastiCache rules: encrypted, recoverable, authenticated."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pulumi_policy import ResourceValidationArgs

from .._rule import Report, Rule, prop
from ._common import AT_REST_CONTROLS, KEY_MANAGEMENT_CONTROLS, blocks, is_true, string_values

__all__ = ["DATA_STORE_RULES"]

TABLE: Final = "aws:dynamodb/table:Table"
REPLICATION_GROUP: Final = "aws:elasticache/replicationGroup:ReplicationGroup"
CACHE_CLUSTER: Final = "aws:elasticache/cluster:Cluster"


def _sse(props: Mapping[str, Any]) -> Mapping[str, Any]:
    return next(blocks(prop(props, "serverSideEncryption")), {})


def _validate_table_kms(args: ResourceValidationArgs, report: Report) -> None:
    if not is_true(prop(_sse(args.props), "enabled")):
        report(
            "the table uses the AWS-owned key, outside the account's KMS "
            "(serverSideEncryption.enabled)"
        )


def _validate_table_customer_key(args: ResourceValidationArgs, report: Report) -> None:
    sse = _sse(args.props)
    if not is_true(prop(sse, "enabled")) or not prop(sse, "kmsKeyArn"):
        report("the table is not encrypted with a customer-managed KMS key (kmsKeyArn)")


def _validate_table_pitr(args: ResourceValidationArgs, report: Report) -> None:
    recovery = next(blocks(prop(args.props, "pointInTimeRecovery")), {})
    if not is_true(prop(recovery, "enabled")):
        report("point-in-time recovery is off (pointInTimeRecovery.enabled)")


def _standalone(props: Mapping[str, Any]) -> bool:
    # A cache cluster that joins a replication group takes its settings from the group.
    return not prop(props, "replicationGroupId")


def _validate_cache_at_rest(args: ResourceValidationArgs, report: Report) -> None:
    if args.resource_type == CACHE_CLUSTER:
        if _standalone(args.props):
            report(
                "a standalone cache cluster cannot encrypt data at rest; use a replication "
                "group (or a serverless cache)"
            )
    elif not is_true(prop(args.props, "atRestEncryptionEnabled")):
        report("data at rest is not encrypted (atRestEncryptionEnabled)")


def _validate_cache_in_transit(args: ResourceValidationArgs, report: Report) -> None:
    if args.resource_type == CACHE_CLUSTER and not _standalone(args.props):
        return
    if not is_true(prop(args.props, "transitEncryptionEnabled")):
        report("connections are not encrypted (transitEncryptionEnabled)")
    elif prop(args.props, "transitEncryptionMode") == "preferred":
        report("transitEncryptionMode 'preferred' still accepts plaintext connections")


def _validate_cache_auth(args: ResourceValidationArgs, report: Report) -> None:
    has_token = bool(prop(args.props, "authToken") or prop(args.props, "authTokenWo"))
    if not has_token and not string_values(prop(args.props, "userGroupIds")):
        report("clients connect without authenticating (no userGroupIds or authToken)")


DATA_STORE_RULES: Final[tuple[Rule, ...]] = (
    Rule(
        name="dynamodb-table-encrypted-with-kms",
        description="Every DynamoDB table is encrypted with a KMS key in the account.",
        remediation=(
            "Set serverSideEncryption.enabled true; DynamoDbTable always does (the AWS-managed "
            "key, or kms_key_arn)."
        ),
        severity="medium",
        controls=AT_REST_CONTROLS,
        resource_types=(TABLE,),
        validate_resource=_validate_table_kms,
    ),
    Rule(
        name="dynamodb-table-encrypted-with-customer-managed-key",
        description="Every DynamoDB table is encrypted with a customer-managed KMS key.",
        remediation=(
            "Set serverSideEncryption.kmsKeyArn: pass DynamoDbTable's kms_key_arn (Level 4 "
            "passes the platform key)."
        ),
        severity="medium",
        controls=KEY_MANAGEMENT_CONTROLS,
        resource_types=(TABLE,),
        validate_resource=_validate_table_customer_key,
        levels=(4,),
    ),
    Rule(
        name="dynamodb-table-point-in-time-recovery-enabled",
        description="Every DynamoDB table has point-in-time recovery on.",
        remediation=(
            "Set pointInTimeRecovery.enabled true; DynamoDbTable always does "
            "(point_in_time_recovery_days)."
        ),
        severity="medium",
        controls={
            "nist-800-53": ("CP-9", "CP-10"),
            "hipaa": ("164.308(a)(7)", "164.310(d)(2)(iv)"),
            "gdpr": ("Art. 32",),
            "dpdp": ("Sec. 8(5)",),
            "eu-ai-act": ("Art. 15",),
        },
        resource_types=(TABLE,),
        validate_resource=_validate_table_pitr,
    ),
    Rule(
        name="elasticache-encrypted-at-rest",
        description="Every ElastiCache replication group encrypts data at rest.",
        remediation=(
            "Use a replication group with atRestEncryptionEnabled true; ElastiCacheRedis "
            "always does."
        ),
        severity="high",
        controls=AT_REST_CONTROLS,
        resource_types=(REPLICATION_GROUP, CACHE_CLUSTER),
        validate_resource=_validate_cache_at_rest,
    ),
    Rule(
        name="elasticache-encrypted-in-transit",
        description="Every ElastiCache cache requires TLS for client connections.",
        remediation=(
            "Set transitEncryptionEnabled true with transitEncryptionMode required; "
            "ElastiCacheRedis always does."
        ),
        severity="high",
        controls={
            "nist-800-53": ("SC-8", "SC-13"),
            "hipaa": ("164.312(e)(1)", "164.312(e)(2)(ii)"),
            "gdpr": ("Art. 32",),
            "dpdp": ("Sec. 8(5)",),
            "eu-ai-act": ("Art. 15",),
        },
        resource_types=(REPLICATION_GROUP, CACHE_CLUSTER),
        validate_resource=_validate_cache_in_transit,
    ),
    Rule(
        name="elasticache-requires-authentication",
        description=(
            "Every Redis or Valkey replication group makes clients authenticate (RBAC user "
            "groups or an AUTH token)."
        ),
        remediation=(
            "Attach userGroupIds (RBAC) or set an authToken; ElastiCacheRedis always attaches "
            "a user group with the default user disabled."
        ),
        severity="high",
        controls={
            "nist-800-53": ("AC-3", "IA-2", "IA-9"),
            "hipaa": ("164.312(a)(1)", "164.312(d)"),
            "gdpr": ("Art. 32",),
            "dpdp": ("Sec. 8(5)",),
            "eu-ai-act": ("Art. 15",),
        },
        resource_types=(REPLICATION_GROUP,),
        validate_resource=_validate_cache_auth,
    ),
)
