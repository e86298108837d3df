"""DynamoDB and ElastiCache rules."""

from __future__ import annotations

from typing import Any

import pytest
from mlops_blueprints.policies import AnalyzedResource, Rule
from mlops_blueprints.policies.aws import DATA_STORE_RULES

from tests.policies._helpers import assert_complies, assert_violates, resource

pytestmark = pytest.mark.policy

RULES = {rule.name: rule for rule in DATA_STORE_RULES}
TABLE_KMS = RULES["dynamodb-table-encrypted-with-kms"]
TABLE_CUSTOMER_KEY = RULES["dynamodb-table-encrypted-with-customer-managed-key"]
TABLE_PITR = RULES["dynamodb-table-point-in-time-recovery-enabled"]
CACHE_AT_REST = RULES["elasticache-encrypted-at-rest"]
CACHE_IN_TRANSIT = RULES["elasticache-encrypted-in-transit"]
CACHE_AUTH = RULES["elasticache-requires-authentication"]
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/platform"


def table(**overrides: Any) -> AnalyzedResource:
    """The table as DynamoDbTable renders it at Level 4 (``None`` leaves a field out)."""
    props: dict[str, Any] = {
        "name": "acme-online-features",
        "billingMode": "PAY_PER_REQUEST",
        "hashKey": "entity_id",
        "pointInTimeRecovery": {"enabled": True, "recoveryPeriodInDays": 35},
        "serverSideEncryption": {"enabled": True, "kmsKeyArn": KEY_ARN},
    }
    props.update(overrides)
    return resource(
        "aws:dynamodb/table:Table", "table", {k: v for k, v in props.items() if v is not None}
    )


def replication_group(**overrides: Any) -> AnalyzedResource:
    """The group as ElastiCacheRedis renders it (``None`` leaves a field out)."""
    props: dict[str, Any] = {
        "replicationGroupId": "acme-cache",
        "engine": "redis",
        "atRestEncryptionEnabled": True,
        "kmsKeyId": KEY_ARN,
        "transitEncryptionEnabled": True,
        "transitEncryptionMode": "required",
        "userGroupIds": ["acme-cache-users"],
    }
    props.update(overrides)
    return resource(
        "aws:elasticache/replicationGroup:ReplicationGroup",
        "cache",
        {k: v for k, v in props.items() if v is not None},
    )


@pytest.mark.parametrize("rule", DATA_STORE_RULES, ids=lambda r: r.name)
def test_platform_data_stores_comply(rule: Rule) -> None:
    assert_complies(rule, table(), replication_group())


# --- DynamoDB ------------------------------------------------------------------------------


def test_table_on_the_aws_managed_key_is_kms_encrypted_but_not_customer_managed() -> None:
    managed = table(serverSideEncryption={"enabled": True})
    assert_complies(TABLE_KMS, managed)
    assert_violates(TABLE_CUSTOMER_KEY, managed)


@pytest.mark.parametrize("sse", [None, {"enabled": False}], ids=["unset", "disabled"])
def test_table_on_the_aws_owned_key_violates(sse: dict[str, Any] | None) -> None:
    found = assert_violates(TABLE_KMS, table(serverSideEncryption=sse))
    assert "AWS-owned" in found.message
    assert_violates(TABLE_CUSTOMER_KEY, table(serverSideEncryption=sse))


@pytest.mark.parametrize("recovery", [None, {"enabled": False}], ids=["unset", "disabled"])
def test_table_without_point_in_time_recovery_violates(recovery: dict[str, Any] | None) -> None:
    assert_violates(TABLE_PITR, table(pointInTimeRecovery=recovery))


# --- ElastiCache ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", [False, None])
def test_group_unencrypted_at_rest_violates(value: bool | None) -> None:
    assert_violates(CACHE_AT_REST, replication_group(atRestEncryptionEnabled=value))


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"transitEncryptionEnabled": False}, "transitEncryptionEnabled"),
        ({"transitEncryptionEnabled": None}, "transitEncryptionEnabled"),
        ({"transitEncryptionMode": "preferred"}, "plaintext"),
    ],
    ids=["off", "unset", "preferred"],
)
def test_group_without_enforced_tls_violates(overrides: dict[str, Any], fragment: str) -> None:
    found = assert_violates(CACHE_IN_TRANSIT, replication_group(**overrides))
    assert fragment in found.message


def test_group_with_tls_mode_unset_complies() -> None:
    # With transit encryption on and no mode, ElastiCache requires TLS.
    assert_complies(CACHE_IN_TRANSIT, replication_group(transitEncryptionMode=None))


def test_group_without_authentication_violates() -> None:
    assert_violates(CACHE_AUTH, replication_group(userGroupIds=None))
    assert_violates(CACHE_AUTH, replication_group(userGroupIds=[]))
    assert_complies(
        CACHE_AUTH, replication_group(userGroupIds=None, authToken="s3cret-token-value-16")
    )


def test_standalone_cache_cluster_cannot_encrypt_at_rest() -> None:
    standalone = resource(
        "aws:elasticache/cluster:Cluster",
        "node",
        {"engine": "redis", "transitEncryptionEnabled": True},
    )
    found = assert_violates(CACHE_AT_REST, standalone)
    assert "replication group" in found.message
    assert_complies(CACHE_IN_TRANSIT, standalone)
    plain = resource(standalone.type, standalone.name, {"engine": "memcached"})
    assert_violates(CACHE_IN_TRANSIT, plain)


def test_cache_cluster_in_a_group_takes_the_groups_settings() -> None:
    member = resource(
        "aws:elasticache/cluster:Cluster", "member", {"replicationGroupId": "acme-cache"}
    )
    assert_complies(CACHE_AT_REST, member)
    assert_complies(CACHE_IN_TRANSIT, member)
