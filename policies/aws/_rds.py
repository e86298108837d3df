"""RDS rules: encrypted, private, backed up for a week, protected from deletion, Multi-AZ."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pulumi_policy import ResourceValidationArgs

from .._rule import Report, Rule, prop
from ._common import AT_REST_CONTROLS, KEY_MANAGEMENT_CONTROLS, is_true

__all__ = ["MINIMUM_BACKUP_RETENTION_DAYS", "RDS_RULES"]

INSTANCE: Final = "aws:rds/instance:Instance"
CLUSTER: Final = "aws:rds/cluster:Cluster"
CLUSTER_INSTANCE: Final = "aws:rds/clusterInstance:ClusterInstance"
# Where storage, backups and deletion protection are configured (an Aurora cluster's
# instances take them from the cluster).
STORAGE_TYPES: Final = (INSTANCE, CLUSTER)
MINIMUM_BACKUP_RETENTION_DAYS: Final = 7


def _is_read_replica(props: Mapping[str, Any]) -> bool:
    # A read replica takes encryption and backups from its source and has no standby of its own.
    return bool(prop(props, "replicateSourceDb"))


def _validate_encrypted(args: ResourceValidationArgs, report: Report) -> None:
    if _is_read_replica(args.props):
        return
    if not is_true(prop(args.props, "storageEncrypted")):
        report("storage is not encrypted (storageEncrypted)")


def _validate_customer_managed_key(args: ResourceValidationArgs, report: Report) -> None:
    if _is_read_replica(args.props):
        return
    key = prop(args.props, "kmsKeyId")
    if not is_true(prop(args.props, "storageEncrypted")) or not key:
        report("storage is not encrypted with a customer-managed KMS key (kmsKeyId)")


def _validate_private(args: ResourceValidationArgs, report: Report) -> None:
    if is_true(prop(args.props, "publiclyAccessible")):
        report("the database has a public endpoint (publiclyAccessible)")


def _validate_backups(args: ResourceValidationArgs, report: Report) -> None:
    if _is_read_replica(args.props):
        return
    days = prop(args.props, "backupRetentionPeriod")
    number = isinstance(days, int | float) and not isinstance(days, bool)
    if not number or days < MINIMUM_BACKUP_RETENTION_DAYS:
        if days is None:
            shown = "unset (AWS keeps 1 day)"
        else:
            shown = f"{days:g} days" if number else repr(days)
        report(
            f"automated backups are kept {shown}; keep at least "
            f"{MINIMUM_BACKUP_RETENTION_DAYS} days (backupRetentionPeriod)"
        )


def _validate_deletion_protection(args: ResourceValidationArgs, report: Report) -> None:
    if not is_true(prop(args.props, "deletionProtection")):
        report("deletion protection is off (deletionProtection)")


def _validate_multi_az(args: ResourceValidationArgs, report: Report) -> None:
    if _is_read_replica(args.props):
        return
    if not is_true(prop(args.props, "multiAz")):
        report("the instance has no standby in another availability zone (multiAz)")


RDS_RULES: Final[tuple[Rule, ...]] = (
    Rule(
        name="rds-storage-encrypted",
        description="Every RDS instance and cluster (other than read replicas) encrypts storage.",
        remediation="Set storageEncrypted true; RdsPostgres always does.",
        severity="high",
        controls=AT_REST_CONTROLS,
        resource_types=STORAGE_TYPES,
        validate_resource=_validate_encrypted,
    ),
    Rule(
        name="rds-storage-encrypted-with-customer-managed-key",
        description=(
            "Every RDS instance and cluster (other than read replicas) encrypts storage with "
            "a customer-managed KMS key."
        ),
        remediation=(
            "Set kmsKeyId: pass RdsPostgres's kms_key_arn (Level 4 passes the platform key)."
        ),
        severity="medium",
        controls=KEY_MANAGEMENT_CONTROLS,
        resource_types=STORAGE_TYPES,
        validate_resource=_validate_customer_managed_key,
        levels=(4,),
    ),
    Rule(
        name="rds-instance-not-publicly-accessible",
        description="No RDS instance or cluster has a publicly accessible endpoint.",
        remediation=(
            "Set publiclyAccessible false and reach the database from inside the VPC; "
            "RdsPostgres always does and admits only listed security groups and CIDRs."
        ),
        severity="critical",
        controls={
            "nist-800-53": ("AC-3", "SC-7"),
            "hipaa": ("164.312(a)(1)", "164.312(e)(1)"),
            "gdpr": ("Art. 25", "Art. 32"),
            "dpdp": ("Sec. 8(5)",),
            "eu-ai-act": ("Art. 15",),
        },
        resource_types=(INSTANCE, CLUSTER, CLUSTER_INSTANCE),
        validate_resource=_validate_private,
    ),
    Rule(
        name="rds-backups-retained-7-days",
        description=(
            "Every RDS instance and cluster (other than read replicas) keeps automated "
            f"backups for at least {MINIMUM_BACKUP_RETENTION_DAYS} days."
        ),
        remediation=(
            f"Set backupRetentionPeriod to {MINIMUM_BACKUP_RETENTION_DAYS} or more "
            "(RdsPostgres's backup_retention_days)."
        ),
        severity="medium",
        controls={
            "nist-800-53": ("CP-9", "CP-10"),
            "hipaa": ("164.308(a)(7)", "164.310(d)(2)(iv)"),
            "gdpr": ("Art. 32",),
            "dpdp": ("Sec. 8(5)",),
            "eu-ai-act": ("Art. 15",),
        },
        resource_types=STORAGE_TYPES,
        validate_resource=_validate_backups,
    ),
    Rule(
        name="rds-deletion-protection-enabled",
        description="Every RDS instance and cluster has deletion protection on.",
        remediation=(
            "Set deletionProtection true (RdsPostgres's enable_deletion_protection, on by default)."
        ),
        severity="medium",
        controls={
            "nist-800-53": ("CP-9", "CP-10"),
            "hipaa": ("164.308(a)(7)",),
            "gdpr": ("Art. 32",),
            "dpdp": ("Sec. 8(5)",),
        },
        resource_types=STORAGE_TYPES,
        validate_resource=_validate_deletion_protection,
    ),
    Rule(
        name="rds-instance-multi-az",
        description=(
            "Every RDS instance (other than read replicas) has a synchronous standby in "
            "another availability zone."
        ),
        remediation="Set multiAz true (RdsPostgres's enable_multi_az; Level 4 turns it on).",
        severity="medium",
        controls={
            "nist-800-53": ("CP-6", "CP-10"),
            "hipaa": ("164.308(a)(7)",),
            "gdpr": ("Art. 32",),
            "eu-ai-act": ("Art. 15",),
        },
        resource_types=(INSTANCE,),
        validate_resource=_validate_multi_az,
        levels=(4,),
    ),
)
