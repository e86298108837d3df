"""Key-value store: DynamoDB and ElastiCache on aws, in-cluster Redis on kind.

Pure planning (IAM documents, Redis ACL rules and configuration, ElastiCache user ids) is
tested directly; the components are rendered under mocks and the exact children, the
security-relevant inputs and `mlops-bp check` on the rendered manifests are asserted.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mlops_blueprints.components.identity import (
    StaticCredentialsIdentity,
    StaticCredentialsIdentityArgs,
)
from mlops_blueprints.components.key_value import (
    DynamoDbTable,
    DynamoDbTableArgs,
    ElastiCacheRedis,
    ElastiCacheRedisArgs,
    InClusterRedis,
    InClusterRedisArgs,
    dynamodb_grant_statements,
    redis_acl_rules,
)
from mlops_blueprints.components.key_value._plan import (
    elasticache_user_id,
    redis_config,
    redis_maxmemory_mib,
    redis_user_line,
)
from mlops_blueprints.components.kubernetes import WorkloadNamespace, WorkloadNamespaceArgs

from mlops_blueprints.render import RenderCapture, run_program
from mlops_blueprints.targets import KeyValueStore
from mlops_blueprints.versions import IMAGES, MANAGED_ENGINE_VERSIONS
from tests.components._helpers import assert_client_egress, pods_of
from tests.components._helpers import by_name as _by_name
from tests.components._helpers import children as _children
from tests.components._helpers import irsa as _irsa
from tests.components._helpers import raises as _raises
from tests.components._helpers import render_checked as _render

pytestmark = pytest.mark.unit

TABLE_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/acme-online-features"
KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
NETWORK: dict[str, Any] = {
    "vpc_id": "vpc-0abc",
    "subnet_ids": ["subnet-a", "subnet-b"],
    "allowed_security_group_ids": ["sg-nodes"],
}
MODES = st.sets(st.sampled_from(["read", "write"]), min_size=1)

# --- helpers ------------------------------------------------------------------------------


# --- pure planning: DynamoDB ----------------------------------------------------------------


def test_read_grant_is_item_reads_on_the_table_and_its_indexes() -> None:
    assert dynamodb_grant_statements(mode="read", table_arn=TABLE_ARN, kms_key_arn=None) == [
        {
            "Sid": "TableRead",
            "Effect": "Allow",
            "Action": [
                "dynamodb:GetItem",
                "dynamodb:BatchGetItem",
                "dynamodb:Query",
                "dynamodb:DescribeTable",
            ],
            # The base table, its indexes, and the Feast tables named after it.
            "Resource": [TABLE_ARN, f"{TABLE_ARN}/index/*", f"{TABLE_ARN}.*"],
        }
    ]


def test_scan_is_an_explicit_opt_in() -> None:
    statements = dynamodb_grant_statements(
        mode="read", table_arn=TABLE_ARN, kms_key_arn=None, enable_scan=True
    )
    assert "dynamodb:Scan" in statements[0]["Action"]


def test_write_grant_is_item_writes_on_the_table_without_old_values() -> None:
    assert dynamodb_grant_statements(mode="write", table_arn=TABLE_ARN, kms_key_arn=None) == [
        {
            "Sid": "TableWrite",
            "Effect": "Allow",
            "Action": [
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:BatchWriteItem",
                "dynamodb:DescribeTable",
            ],
            "Resource": [TABLE_ARN, f"{TABLE_ARN}.*"],
            "Condition": {
                "StringEqualsIfExists": {"dynamodb:ReturnValues": ["NONE", "UPDATED_NEW"]}
            },
        },
        {
            "Sid": "FeatureTablesCreate",
            "Effect": "Allow",
            "Action": [
                "dynamodb:CreateTable",
                "dynamodb:DescribeTable",
                "dynamodb:ListTagsOfResource",
            ],
            # Only the Feast tables, never the base table.
            "Resource": [f"{TABLE_ARN}.*"],
        },
    ]


def test_customer_key_is_usable_only_through_dynamodb() -> None:
    for mode in ("read", "write"):
        statements = dynamodb_grant_statements(mode=mode, table_arn=TABLE_ARN, kms_key_arn=KMS_KEY)  # type: ignore[arg-type]
        assert statements[-1] == {
            "Sid": "TableKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:DescribeKey"],
            "Resource": [KMS_KEY],
            "Condition": {"StringLike": {"kms:ViaService": "dynamodb.*.amazonaws.com"}},
        }


@given(
    mode=st.sampled_from(["read", "write"]),
    table=st.from_regex(r"[A-Za-z0-9_.-]{3,40}", fullmatch=True),
    scan=st.booleans(),
)
def test_grants_never_touch_the_table_itself_or_other_tables(
    mode: str, table: str, scan: bool
) -> None:
    arn = f"arn:aws:dynamodb:us-east-1:123456789012:table/{table}"
    statements = dynamodb_grant_statements(
        mode=mode,  # type: ignore[arg-type]
        table_arn=arn,
        kms_key_arn=None,
        enable_scan=scan,
    )
    actions = {a for s in statements for a in s["Action"]}
    forbidden = {"dynamodb:DeleteTable", "dynamodb:UpdateTable", "dynamodb:*"}
    assert not actions & forbidden
    assert all(r in (arn, f"{arn}/index/*", f"{arn}.*") for s in statements for r in s["Resource"])
    # Creating tables is a writer's (Feast apply), and only under the table's own prefix.
    for statement in statements:
        if "dynamodb:CreateTable" in statement["Action"]:
            assert mode == "write"
            assert statement["Resource"] == [f"{arn}.*"]
    reads = {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan"}
    writes = {
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchWriteItem",
    }
    # A read grant never writes and a write grant never reads.
    assert not actions & (writes if mode == "read" else reads)


# --- pure planning: Redis -------------------------------------------------------------------


def test_acl_rules_per_mode() -> None:
    assert redis_acl_rules(["read"]) == "~* -@all +@connection +@transaction +@read -@dangerous"
    assert redis_acl_rules(["write"]) == "~* -@all +@connection +@transaction +@write -@dangerous"
    assert redis_acl_rules(["read", "write"]) == (
        "~* -@all +@connection +@transaction +@read +@write -@dangerous"
    )
    with pytest.raises(ValueError, match="grant modes"):
        redis_acl_rules([])


@given(modes=MODES)
def test_acl_rules_start_from_nothing_and_end_without_dangerous_commands(modes: set[str]) -> None:
    rules = redis_acl_rules(modes).split()  # type: ignore[arg-type]
    assert rules[:2] == ["~*", "-@all"]
    assert rules[-1] == "-@dangerous"
    assert "+@all" not in rules
    assert ("+@read" in rules) == ("read" in modes)
    assert ("+@write" in rules) == ("write" in modes)


@given(
    password=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=8, max_size=64),
    modes=MODES,
)
def test_user_lines_store_only_a_password_hash(password: str, modes: set[str]) -> None:
    line = redis_user_line("feature-server", password, modes)  # type: ignore[arg-type]
    assert password not in line.split()
    assert line.startswith(
        f"user feature-server on #{hashlib.sha256(password.encode()).hexdigest()} "
    )


@pytest.mark.parametrize("name", ["default", "Feature", "", "a b"])
def test_redis_user_names_are_checked(name: str) -> None:
    _raises(lambda: redis_user_line(name, "pw", ["read"]), "identity", name, "not 'default'")


def test_redis_config_persists_and_never_evicts() -> None:
    config = redis_config(maxmemory_mib=384, users=["user a on #00 ~* -@all"]).splitlines()
    for line in (
        "dir /data",
        "appendonly yes",
        "appendfsync everysec",
        "maxmemory 384mb",
        "maxmemory-policy noeviction",
        "protected-mode yes",
        "enable-debug-command no",
        "user a on #00 ~* -@all",
    ):
        assert line in config
    assert not any(line.startswith("requirepass") for line in config)


@given(limit=st.integers(16, 1 << 20))
def test_maxmemory_leaves_headroom_under_the_limit(limit: int) -> None:
    maxmemory = redis_maxmemory_mib(limit)
    assert 1 <= maxmemory < limit
    assert maxmemory >= limit * 0.7


@given(
    group=st.from_regex(r"[a-z][a-z0-9-]{0,38}[a-z0-9]", fullmatch=True),
    user=st.from_regex(r"[a-z0-9][a-z0-9_-]{0,62}", fullmatch=True),
)
def test_elasticache_user_ids_are_valid_and_stable(group: str, user: str) -> None:
    user_id = elasticache_user_id(group, user)
    assert re.fullmatch(r"[a-z][a-z0-9-]{0,39}", user_id)
    assert elasticache_user_id(group, user) == user_id


def test_elasticache_user_ids_stay_distinct_when_truncated() -> None:
    group = "a" * 40
    assert elasticache_user_id(group, "reader-one") != elasticache_user_id(group, "reader-two")
    assert elasticache_user_id("online", "feast") == "online-feast"


# --- bad inputs -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ab", "has space", "x" * 256, "semi;colon"])
def test_table_names_follow_dynamodb_rules(name: str) -> None:
    _raises(lambda: DynamoDbTableArgs(table_name=name), "table_name", name, "3-255")


@pytest.mark.parametrize("days", [0, 36])
def test_point_in_time_recovery_window_has_bounds(days: int) -> None:
    _raises(
        lambda: DynamoDbTableArgs(table_name="acme-online", point_in_time_recovery_days=days),
        "point_in_time_recovery_days",
        days,
        "1 to 35 days",
    )


def test_key_and_ttl_attributes_are_distinct() -> None:
    _raises(
        lambda: DynamoDbTableArgs(table_name="acme-online", sort_key="entity_id"),
        "sort_key",
        "entity_id",
        "other than the partition key",
    )
    _raises(
        lambda: DynamoDbTableArgs(table_name="acme-online", ttl_attribute="entity_id"),
        "ttl_attribute",
        "entity_id",
        "separate attribute",
    )
    _raises(
        lambda: DynamoDbTableArgs(table_name="acme-online", partition_key_type="X"),  # type: ignore[arg-type]
        "partition_key_type",
        "X",
        "'S' (string)",
    )


def _cache(**overrides: Any) -> ElastiCacheRedisArgs:
    return ElastiCacheRedisArgs(**{"replication_group_id": "acme-online", **NETWORK, **overrides})


@pytest.mark.parametrize("nodes", [0, 1, 7])
def test_cache_node_count_has_bounds(nodes: int) -> None:
    _raises(lambda: _cache(num_cache_clusters=nodes), "num_cache_clusters", nodes, "2 to 6 nodes")


@pytest.mark.parametrize("version", ["5.0.6", "6.2", "7", "8.0", "latest"])
def test_unknown_cache_engine_versions_are_refused(version: str) -> None:
    _raises(lambda: _cache(engine_version=version), "engine_version", version, "7.0, 7.1")


def test_the_pinned_cache_engine_version_is_supported() -> None:
    assert _cache().engine_version == MANAGED_ENGINE_VERSIONS["elasticache-redis"] == "7.1"


@pytest.mark.parametrize(
    ("field", "value", "fix"),
    [
        ("snapshot_retention_days", 0, "1 to 35 days"),
        ("snapshot_retention_days", 36, "1 to 35 days"),
        ("replication_group_id", "Acme_Online", "lowercase letters"),
        ("allowed_cidr_blocks", ["0.0.0.0/0"], "private networks"),
        ("subnet_ids", ["subnet-a"], "at least two"),
        ("log_retention_days", 0, "at least 1 day"),
        ("node_type", "t4g.small", "cache.t4g.small"),
    ],
)
def test_cache_bad_values(field: str, value: object, fix: str) -> None:
    reported = value[0] if field == "allowed_cidr_blocks" else value  # type: ignore[index]
    _raises(lambda: _cache(**{field: value}), field, reported, fix)


def test_a_cache_nobody_can_reach_is_refused() -> None:
    _raises(
        lambda: ElastiCacheRedisArgs(
            replication_group_id="acme-online", vpc_id="vpc", subnet_ids=["a", "b"]
        ),
        "allowed_security_group_ids",
        [],
        "Name the clients",
    )


@pytest.mark.parametrize(
    ("field", "value", "fix"),
    [
        ("allowed_namespaces", [], "at least one namespace"),
        ("storage_size_gib", 0, "at least 1 GiB"),
        ("memory_request_mib", 8, "at least 16 MiB"),
        ("cpu_request", "0", "positive CPU quantity"),
        ("service_name", "Redis", "lowercase"),
    ],
)
def test_in_cluster_redis_bad_values(field: str, value: object, fix: str) -> None:
    args: dict[str, Any] = {"namespace": "data", "allowed_namespaces": ["mlops"], field: value}
    _raises(lambda: InClusterRedisArgs(**args), field, value, fix)


def test_in_cluster_redis_memory_limit_at_least_request() -> None:
    _raises(
        lambda: InClusterRedisArgs(
            namespace="data",
            allowed_namespaces=["mlops"],
            memory_request_mib=256,
            memory_limit_mib=128,
        ),
        "memory_limit_mib",
        128,
        "at or above the request (256 MiB)",
    )


# --- aws: DynamoDB --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dynamodb(tmp_path_factory: pytest.TempPathFactory) -> RenderCapture:
    def program() -> None:
        namespace = WorkloadNamespace("apps", WorkloadNamespaceArgs(namespace="mlops"))
        server = _irsa(namespace.namespace_name, "feature-server")
        materializer = _irsa(namespace.namespace_name, "materializer")
        table = DynamoDbTable(
            "online",
            DynamoDbTableArgs(table_name="acme-online-features", ttl_attribute="expires_at"),
        )
        assert isinstance(table, KeyValueStore)
        table.grant_read(server)
        table.grant_read(server)  # the same grant twice is one grant
        table.grant_write(materializer)
        table.grant_read(materializer)
        table.grant_read(materializer, enable_scan=True)
        DynamoDbTable(
            "sorted",
            DynamoDbTableArgs(
                table_name="acme-sorted",
                partition_key="pk",
                sort_key="sk",
                sort_key_type="N",
                kms_key_arn=KMS_KEY,
                point_in_time_recovery_days=7,
            ),
        )

    return _render(program, tmp_path_factory.mktemp("dynamodb"))


def test_dynamodb_children(dynamodb: RenderCapture) -> None:
    assert _children(dynamodb, "online") == {
        "online-table": "aws:dynamodb/table:Table",
        "online-read-feature-server": "aws:iam/rolePolicy:RolePolicy",
        "online-write-materializer": "aws:iam/rolePolicy:RolePolicy",
        "online-read-materializer": "aws:iam/rolePolicy:RolePolicy",
        "online-read-with-scan-materializer": "aws:iam/rolePolicy:RolePolicy",
    }
    assert _by_name(dynamodb)["online"].type == "mlops:keyvalue:DynamoDbTable"


def test_dynamodb_table_is_encrypted_recoverable_protected_and_retained(
    dynamodb: RenderCapture,
) -> None:
    table = _by_name(dynamodb)["online-table"]
    assert table.inputs == {
        "name": "acme-online-features",
        "billingMode": "PAY_PER_REQUEST",
        "hashKey": "entity_id",
        "attributes": [{"name": "entity_id", "type": "S"}],
        "serverSideEncryption": {"enabled": True},
        "pointInTimeRecovery": {"enabled": True, "recoveryPeriodInDays": 35},
        "deletionProtectionEnabled": True,
        "ttl": {"attributeName": "expires_at", "enabled": True},
        "tags": {},
    }
    assert table.retain_on_delete is True
    sorted_table = _by_name(dynamodb)["sorted-table"].inputs
    assert sorted_table["serverSideEncryption"] == {"enabled": True, "kmsKeyArn": KMS_KEY}
    assert sorted_table["rangeKey"] == "sk"
    assert sorted_table["attributes"] == [{"name": "pk", "type": "S"}, {"name": "sk", "type": "N"}]
    assert sorted_table["pointInTimeRecovery"] == {"enabled": True, "recoveryPeriodInDays": 7}
    assert "ttl" not in sorted_table


def test_dynamodb_grants_render_the_planned_documents(dynamodb: RenderCapture) -> None:
    resources = _by_name(dynamodb)
    # The fakes name the table by its physical name, as AWS does.
    arn = "arn:aws:dynamodb:us-east-1:123456789012:table/acme-online-features"
    read = resources["online-read-feature-server"]
    write = resources["online-write-materializer"]
    assert read.inputs["role"] == "feature-server-identity-role"
    assert write.inputs["role"] == "materializer-identity-role"
    assert json.loads(read.inputs["policy"]) == {
        "Version": "2012-10-17",
        "Statement": dynamodb_grant_statements(mode="read", table_arn=arn, kms_key_arn=None),
    }
    assert json.loads(write.inputs["policy"]) == {
        "Version": "2012-10-17",
        "Statement": dynamodb_grant_statements(mode="write", table_arn=arn, kms_key_arn=None),
    }
    with_scan = json.loads(resources["online-read-with-scan-materializer"].inputs["policy"])
    assert "dynamodb:Scan" in with_scan["Statement"][0]["Action"]


def test_dynamodb_endpoint_output(dynamodb: RenderCapture) -> None:
    outputs = dynamodb.outputs[_by_name(dynamodb)["online"].urn]
    assert outputs["endpoint"] == "https://dynamodb.us-east-1.amazonaws.com"
    assert outputs["table_name"] == "acme-online-features"


def test_dynamodb_refuses_a_non_aws_identity() -> None:
    def program() -> None:
        local = StaticCredentialsIdentity(
            "local", StaticCredentialsIdentityArgs(namespace="mlops", service_account_name="local")
        )
        table = DynamoDbTable("online", DynamoDbTableArgs(table_name="acme-online"))
        _raises(
            lambda: table.grant_write(local),
            "identity",
            "StaticCredentialsIdentity",
            "IrsaIdentity",
        )

    run_program(program, project="mlops-platform", stack="test", config={})


# --- aws: ElastiCache -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def elasticache(tmp_path_factory: pytest.TempPathFactory) -> RenderCapture:
    def program() -> None:
        namespace = WorkloadNamespace("apps", WorkloadNamespaceArgs(namespace="mlops"))
        server = _irsa(namespace.namespace_name, "feature-server")
        materializer = _irsa(namespace.namespace_name, "materializer")
        cache = ElastiCacheRedis(
            "cache",
            _cache(
                allowed_cidr_blocks=["10.0.0.0/16"],
                kms_key_arn=KMS_KEY,
                client_egress_cidr="10.0.0.0/16",
            ),
        )
        assert isinstance(cache, KeyValueStore)
        cache.grant_read(server)
        cache.grant_write(materializer)
        cache.grant_read(materializer)

    return _render(program, tmp_path_factory.mktemp("elasticache"))


def test_elasticache_children(elasticache: RenderCapture) -> None:
    rule = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
    assert _children(elasticache, "cache") == {
        "cache-default-password": "random:index/randomPassword:RandomPassword",
        "cache-default-user": "aws:elasticache/user:User",
        "cache-user-group": "aws:elasticache/userGroup:UserGroup",
        "cache-subnet-group": "aws:elasticache/subnetGroup:SubnetGroup",
        "cache-security-group": "aws:ec2/securityGroup:SecurityGroup",
        "cache-ingress-sg-0": rule,
        "cache-ingress-cidr-10-0-0-0-16": rule,
        "cache-log-group": "aws:cloudwatch/logGroup:LogGroup",
        "cache-replication-group": "aws:elasticache/replicationGroup:ReplicationGroup",
        "cache-feature-server-password": "random:index/randomPassword:RandomPassword",
        "cache-feature-server-egress": "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "cache-feature-server-user": "aws:elasticache/user:User",
        "cache-feature-server-connection": "kubernetes:core/v1:Secret",
        "cache-materializer-password": "random:index/randomPassword:RandomPassword",
        "cache-materializer-egress": "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "cache-materializer-user": "aws:elasticache/user:User",
        "cache-materializer-connection": "kubernetes:core/v1:Secret",
    }
    assert _by_name(elasticache)["cache"].type == "mlops:keyvalue:ElastiCacheRedis"


def test_elasticache_grants_open_egress_to_the_vpc_on_the_redis_port(
    elasticache: RenderCapture,
) -> None:
    assert_client_egress(
        _by_name(elasticache)["cache-materializer-egress"],
        name="materializer-to-acme-online",
        namespace="mlops",
        identity="materializer",
        to=[{"ipBlock": {"cidr": "10.0.0.0/16"}}],
        port=6379,
    )


def test_elasticache_is_encrypted_authenticated_and_fails_over(elasticache: RenderCapture) -> None:
    group = _by_name(elasticache)["cache-replication-group"]
    expected = {
        "replicationGroupId": "acme-online",
        "engine": "redis",
        "engineVersion": "7.1",
        "atRestEncryptionEnabled": True,
        "kmsKeyId": KMS_KEY,
        "transitEncryptionEnabled": True,
        "transitEncryptionMode": "required",
        "automaticFailoverEnabled": True,
        "multiAzEnabled": True,
        "numCacheClusters": 2,
        "snapshotRetentionLimit": 7,
        "finalSnapshotIdentifier": "acme-online-final-snapshot",
        "userGroupIds": ["acme-online-users"],
        "securityGroupIds": ["cache-security-group-id"],
        "subnetGroupName": "acme-online-subnets",
        "port": 6379,
    }
    assert {k: group.inputs.get(k) for k in expected} == expected
    assert "authToken" not in group.inputs
    assert [c["logType"] for c in group.inputs["logDeliveryConfigurations"]] == [
        "slow-log",
        "engine-log",
    ]
    assert group.retain_on_delete is True


def test_elasticache_users_are_per_identity_and_the_default_is_off(
    elasticache: RenderCapture,
) -> None:
    resources = _by_name(elasticache)
    default = resources["cache-default-user"].inputs
    assert (default["userName"], default["accessString"]) == ("default", "off -@all")
    server = resources["cache-feature-server-user"].inputs
    assert server["userName"] == "feature-server"
    assert server["userId"] == "acme-online-feature-server"
    assert server["accessString"] == "on " + redis_acl_rules(["read"])
    # Both grants on one identity end in one user with both rules.
    both = resources["cache-materializer-user"].inputs
    assert both["accessString"] == "on " + redis_acl_rules(["read", "write"])
    assert resources["cache-user-group"].inputs["userIds"] == [
        "acme-online-default",
        "acme-online-feature-server",
        "acme-online-materializer",
    ]
    for name in ("cache-default-user", "cache-feature-server-user"):
        assert resources[name].inputs["authenticationMode"]["passwords"] == ["[secret]"]


def test_elasticache_credentials_reach_the_identity_namespace_only_as_secrets(
    elasticache: RenderCapture,
) -> None:
    secret = _by_name(elasticache)["cache-feature-server-connection"].inputs
    assert secret["metadata"]["namespace"] == "mlops"
    assert secret["metadata"]["name"] == "feature-server-acme-online"
    assert set(secret["stringData"]) == {
        "REDIS_HOST",
        "REDIS_PORT",
        "REDIS_USERNAME",
        "REDIS_PASSWORD",
        "REDIS_TLS",
        "REDIS_URL",
    }
    assert set(secret["stringData"].values()) == {"[secret]"}


# --- kind: in-cluster Redis -----------------------------------------------------------------


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> RenderCapture:
    def program() -> None:
        data = WorkloadNamespace("data-ns", WorkloadNamespaceArgs(namespace="mlops-data"))
        apps = WorkloadNamespace("apps", WorkloadNamespaceArgs(namespace="mlops"))
        server = StaticCredentialsIdentity(
            "server",
            StaticCredentialsIdentityArgs(
                namespace=apps.namespace_name, service_account_name="feature-server"
            ),
        )
        store = InClusterRedis(
            "online",
            InClusterRedisArgs(
                namespace=data.namespace_name, allowed_namespaces=[apps.namespace_name]
            ),
        )
        assert isinstance(store, KeyValueStore)
        store.grant_read(server)
        store.grant_write(server)

    return _render(program, tmp_path_factory.mktemp("redis"))


def test_in_cluster_redis_children(redis: RenderCapture) -> None:
    assert _children(redis, "online") == {
        "online-password": "random:index/randomPassword:RandomPassword",
        "online-auth": "kubernetes:core/v1:Secret",
        "online-config": "kubernetes:core/v1:Secret",
        "online-service": "kubernetes:core/v1:Service",
        "online-statefulset": "kubernetes:apps/v1:StatefulSet",
        "online-network-policy": "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "online-feature-server-password": "random:index/randomPassword:RandomPassword",
        "online-feature-server-egress": "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "online-feature-server-connection": "kubernetes:core/v1:Secret",
    }
    assert _by_name(redis)["online"].type == "mlops:keyvalue:InClusterRedis"


def test_in_cluster_redis_grant_opens_egress_for_the_granted_pods_only(
    redis: RenderCapture,
) -> None:
    assert_client_egress(
        _by_name(redis)["online-feature-server-egress"],
        name="feature-server-to-redis",
        namespace="mlops",
        identity="feature-server",
        to=[
            pods_of(
                "mlops-data",
                {"app.kubernetes.io/name": "redis", "app.kubernetes.io/instance": "redis"},
            )
        ],
        port=6379,
    )


def test_in_cluster_redis_requires_a_password_that_never_appears_in_the_manifest(
    redis: RenderCapture,
) -> None:
    resources = _by_name(redis)
    container = resources["online-statefulset"].inputs["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == IMAGES["redis"] == "redis:8.2.1-alpine"
    assert container["command"] == ["redis-server"]
    assert container["args"] == ["/etc/redis/redis.conf", "--requirepass", "$(REDIS_PASSWORD)"]
    reference = {"secretKeyRef": {"name": "redis-auth", "key": "REDIS_PASSWORD"}}
    assert container["env"] == [
        {"name": "REDIS_PASSWORD", "valueFrom": reference},
        {"name": "REDISCLI_AUTH", "valueFrom": reference},
    ]
    assert resources["online-auth"].inputs["stringData"] == {"REDIS_PASSWORD": "[secret]"}
    assert resources["online-config"].inputs["stringData"] == {"redis.conf": "[secret]"}


def test_in_cluster_redis_pod_is_restricted_and_persistent(redis: RenderCapture) -> None:
    statefulset = _by_name(redis)["online-statefulset"].inputs
    pod = statefulset["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 999,
        "runAsGroup": 1000,
        "fsGroup": 1000,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert pod["automountServiceAccountToken"] is False
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"memory": "512Mi"},
    }
    assert {"name": "data", "mountPath": "/data"} in container["volumeMounts"]
    assert statefulset["spec"]["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
    }
    claim = statefulset["spec"]["volumeClaimTemplates"][0]["spec"]
    assert claim["resources"]["requests"]["storage"] == "5Gi"
    assert (
        "mlops-blueprints.io/config-sha256"
        in statefulset["spec"]["template"]["metadata"]["annotations"]
    )


def test_in_cluster_redis_network_policy_admits_only_clients(redis: RenderCapture) -> None:
    spec = _by_name(redis)["online-network-policy"].inputs["spec"]
    assert spec == {
        "podSelector": {
            "matchLabels": {
                "app.kubernetes.io/name": "redis",
                "app.kubernetes.io/instance": "redis",
            }
        },
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [
            {
                "from": [
                    {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "mlops"}}}
                ],
                "ports": [{"protocol": "TCP", "port": 6379}],
            }
        ],
        "egress": [],
    }


def test_in_cluster_redis_connection_secret(redis: RenderCapture) -> None:
    resources = _by_name(redis)
    secret = resources["online-feature-server-connection"]
    assert secret.inputs["metadata"]["namespace"] == "mlops"
    assert secret.inputs["metadata"]["name"] == "feature-server-redis"
    assert set(secret.inputs["stringData"]) == {
        "REDIS_HOST",
        "REDIS_PORT",
        "REDIS_USERNAME",
        "REDIS_PASSWORD",
        "REDIS_URL",
    }
    assert resources["apps-namespace"].urn in secret.dependencies
    outputs = redis.outputs[resources["online"].urn]
    assert outputs["endpoint"] == "redis://redis.mlops-data.svc.cluster.local:6379"


def test_stateful_resources_are_retained_and_protected_by_default(
    dynamodb: RenderCapture, elasticache: RenderCapture, redis: RenderCapture
) -> None:
    """Data outlives the stack; nothing else is left behind on destroy."""
    tables = {r.name: r for r in dynamodb.registrations if r.retain_on_delete}
    assert set(tables) == {"online-table", "sorted-table"}
    assert all(t.inputs["deletionProtectionEnabled"] is True for t in tables.values())
    assert all(t.inputs["pointInTimeRecovery"]["enabled"] is True for t in tables.values())
    groups = [r for r in elasticache.registrations if r.retain_on_delete]
    assert [g.name for g in groups] == ["cache-replication-group"]
    assert groups[0].inputs["finalSnapshotIdentifier"] == "acme-online-final-snapshot"
    assert not any(r.retain_on_delete for r in redis.registrations)
    statefulset = _by_name(redis)["online-statefulset"].inputs
    assert statefulset["spec"]["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
    }
