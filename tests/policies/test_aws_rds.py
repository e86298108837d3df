"""RDS rules: encryption, exposure, backups, deletion protection, Multi-AZ."""

from __future__ import annotations

from typing import Any

import pytest
from mlops_blueprints.policies import AnalyzedResource, Rule
from mlops_blueprints.policies.aws import RDS_RULES

from tests.policies._helpers import assert_complies, assert_violates, resource

pytestmark = pytest.mark.policy

RULES = {rule.name: rule for rule in RDS_RULES}
ENCRYPTED = RULES["rds-storage-encrypted"]
CUSTOMER_KEY = RULES["rds-storage-encrypted-with-customer-managed-key"]
PRIVATE = RULES["rds-instance-not-publicly-accessible"]
BACKUPS = RULES["rds-backups-retained-7-days"]
PROTECTED = RULES["rds-deletion-protection-enabled"]
MULTI_AZ = RULES["rds-instance-multi-az"]


def instance(**overrides: Any) -> AnalyzedResource:
    """The instance as RdsPostgres renders it at Level 4 (``None`` leaves a field out)."""
    props: dict[str, Any] = {
        "engine": "postgres",
        "storageEncrypted": True,
        "kmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/platform",
        "publiclyAccessible": False,
        "backupRetentionPeriod": 7.0,
        "deletionProtection": True,
        "multiAz": True,
    }
    props.update(overrides)
    return resource(
        "aws:rds/instance:Instance", "db", {k: v for k, v in props.items() if v is not None}
    )


@pytest.mark.parametrize("rule", RDS_RULES, ids=lambda r: r.name)
def test_level4_instance_complies(rule: Rule) -> None:
    assert_complies(rule, instance())


@pytest.mark.parametrize(
    ("rule", "overrides", "fragment"),
    [
        (ENCRYPTED, {"storageEncrypted": False}, "storageEncrypted"),
        (ENCRYPTED, {"storageEncrypted": None}, "storageEncrypted"),
        (CUSTOMER_KEY, {"kmsKeyId": None}, "kmsKeyId"),
        (CUSTOMER_KEY, {"storageEncrypted": False}, "kmsKeyId"),
        (PRIVATE, {"publiclyAccessible": True}, "publiclyAccessible"),
        (BACKUPS, {"backupRetentionPeriod": 6.0}, "6 days"),
        (BACKUPS, {"backupRetentionPeriod": 0.0}, "0 days"),
        (BACKUPS, {"backupRetentionPeriod": None}, "unset"),
        (PROTECTED, {"deletionProtection": False}, "deletionProtection"),
        (PROTECTED, {"deletionProtection": None}, "deletionProtection"),
        (MULTI_AZ, {"multiAz": False}, "multiAz"),
        (MULTI_AZ, {"multiAz": None}, "multiAz"),
    ],
    ids=lambda value: value.name if isinstance(value, Rule) else None,
)
def test_instance_violations(rule: Rule, overrides: dict[str, Any], fragment: str) -> None:
    found = assert_violates(rule, instance(**overrides))
    assert fragment in found.message


def test_longer_backup_retention_complies() -> None:
    assert_complies(BACKUPS, instance(backupRetentionPeriod=35.0))


@pytest.mark.parametrize("rule", [ENCRYPTED, CUSTOMER_KEY, BACKUPS, MULTI_AZ], ids=lambda r: r.name)
def test_read_replicas_take_storage_and_backups_from_their_source(rule: Rule) -> None:
    replica = instance(
        replicateSourceDb="acme-db",
        storageEncrypted=None,
        kmsKeyId=None,
        backupRetentionPeriod=0.0,
        multiAz=False,
    )
    assert_complies(rule, replica)


def test_aurora_cluster_is_checked_for_storage_and_backups() -> None:
    cluster = resource(
        "aws:rds/cluster:Cluster",
        "aurora",
        {"engine": "aurora-postgresql", "storageEncrypted": False, "backupRetentionPeriod": 1.0},
    )
    assert_violates(ENCRYPTED, cluster)
    assert_violates(BACKUPS, cluster)
    assert_violates(PROTECTED, cluster)


def test_public_cluster_instance_violates() -> None:
    member = resource(
        "aws:rds/clusterInstance:ClusterInstance", "aurora-1", {"publiclyAccessible": True}
    )
    assert_violates(PRIVATE, member)
    assert_complies(PRIVATE, resource(member.type, member.name, {"publiclyAccessible": False}))
