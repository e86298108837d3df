"""Pure planning for the key-value stores: IAM documents, Redis ACL rules and configuration."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Sequence
from typing import Any, Literal

from mlops_blueprints.errors import BlueprintConfigError

__all__ = [
    "KeyValueGrantMode",
    "dynamodb_grant_statements",
    "elasticache_user_id",
    "feast_table_prefix",
    "redis_acl_rules",
    "redis_config",
    "redis_maxmemory_mib",
    "redis_user_line",
    "validate_redis_username",
    "validate_table_name",
]

KeyValueGrantMode = Literal["read", "write"]

DYNAMODB_READ_ACTIONS: tuple[str, ...] = (
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:DescribeTable",
)
# BatchWriteItem carries delete requests too, so leaving DeleteItem out would only pretend;
# writers of an online store must be able to remove entries (retention, erasure requests).
DYNAMODB_WRITE_ACTIONS: tuple[str, ...] = (
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:DescribeTable",
)
DYNAMODB_TABLE_CREATE_ACTIONS: tuple[str, ...] = (
    "dynamodb:CreateTable",
    "dynamodb:DescribeTable",
    "dynamodb:ListTagsOfResource",
)
# A writer may ask for nothing back, or for the new values it has just written: never for the
# old item (ALL_OLD, UPDATED_OLD) or the whole new item (ALL_NEW), which would make a write
# grant a read grant.
_WRITER_RETURN_VALUES = ["NONE", "UPDATED_NEW"]

_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_REDIS_USERNAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_ELASTICACHE_USER_ID = re.compile(r"[^a-z0-9-]+")


def validate_table_name(value: str, *, field: str = "table_name") -> str:
    if not _TABLE_NAME.match(value):
        raise BlueprintConfigError(
            field,
            value,
            "Use 3-255 letters, digits, '_', '-' or '.' (e.g. 'acme-mlops-online-features').",
        )
    return value


def feast_table_prefix(table_name: str) -> str:
    """Feast's per-feature-view tables start with this; grants cover ``<table>.*``."""
    return f"{table_name}."


def dynamodb_grant_statements(
    *,
    mode: KeyValueGrantMode,
    table_arn: str,
    kms_key_arn: str | None,
    enable_scan: bool = False,
) -> list[dict[str, Any]]:
    """Least-privilege statements on one table and the Feast tables named after it.

    Reads may also use indexes; writes never ask for old values and may create (not drop)
    the Feast tables, since `feast apply` makes one per feature view.
    """
    if mode == "read":
        actions = list(DYNAMODB_READ_ACTIONS)
        if enable_scan:
            actions.insert(3, "dynamodb:Scan")
        statements: list[dict[str, Any]] = [
            {
                "Sid": "TableRead",
                "Effect": "Allow",
                "Action": actions,
                # Queries may use the table's secondary indexes; Feast's per-feature-view
                # tables are named after the base table (``<table>.<project>.<view>``).
                "Resource": [
                    table_arn,
                    f"{table_arn}/index/*",
                    f"{table_arn}.*",
                ],
            }
        ]
    else:
        statements = [
            {
                "Sid": "TableWrite",
                "Effect": "Allow",
                "Action": list(DYNAMODB_WRITE_ACTIONS),
                "Resource": [table_arn, f"{table_arn}.*"],
                "Condition": {
                    "StringEqualsIfExists": {"dynamodb:ReturnValues": list(_WRITER_RETURN_VALUES)}
                },
            },
            {
                # `feast apply` creates one table per feature view under the base table's
                # name and waits for it; tag reads let a re-apply skip its tag diff. Never
                # the base table itself, never delete or reconfigure.
                "Sid": "FeatureTablesCreate",
                "Effect": "Allow",
                "Action": list(DYNAMODB_TABLE_CREATE_ACTIONS),
                "Resource": [f"{table_arn}.*"],
            },
        ]
    if kms_key_arn:
        # DynamoDB decrypts the table key with the caller's permission, and only on its behalf.
        statements.append(
            {
                "Sid": "TableKey",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:DescribeKey"],
                "Resource": [kms_key_arn],
                "Condition": {"StringLike": {"kms:ViaService": "dynamodb.*.amazonaws.com"}},
            }
        )
    return statements


def validate_redis_username(value: str, *, field: str = "identity") -> str:
    if not _REDIS_USERNAME.match(value) or value == "default":
        raise BlueprintConfigError(
            field,
            value,
            "A Redis user is named after the identity: use at most 63 lowercase letters, "
            "digits, '-' or '_', and not 'default'.",
        )
    return value


def redis_acl_rules(modes: Collection[KeyValueGrantMode]) -> str:
    """ACL rules for a user with ``modes``: every key, only the command categories needed.

    Both start from nothing (``-@all``) and add connection handling and transactions; ``read``
    adds ``@read``, ``write`` adds ``@write``. ``-@dangerous`` comes last, so no grant can
    flush, reconfigure or enumerate with KEYS, even when it falls in @read or @write. Pub/sub
    channels stay closed (``resetchannels`` is the default since Redis 7).
    """
    unknown = set(modes) - {"read", "write"}
    if not modes or unknown:
        raise ValueError(f"unknown or empty grant modes: {sorted(modes)}")
    rules = ["~*", "-@all", "+@connection", "+@transaction"]
    if "read" in modes:
        rules.append("+@read")
    if "write" in modes:
        rules.append("+@write")
    rules.append("-@dangerous")
    return " ".join(rules)


def redis_user_line(username: str, password: str, modes: Collection[KeyValueGrantMode]) -> str:
    """A ``user`` directive that stores only the SHA-256 of the password (``#<hex>``)."""
    validate_redis_username(username)
    digest = hashlib.sha256(password.encode()).hexdigest()
    return f"user {username} on #{digest} {redis_acl_rules(modes)}"


def redis_maxmemory_mib(memory_limit_mib: int) -> int:
    """Leave a quarter of the container limit for fork-on-write, buffers and fragmentation."""
    return max(memory_limit_mib * 3 // 4, 1)


def redis_config(*, maxmemory_mib: int, users: Sequence[str]) -> str:
    """``redis.conf`` for the in-cluster store: append-only persistence, no eviction, ACL users.

    The default user's password is not here: it is passed as ``--requirepass`` from a Secret.
    """
    lines = [
        "# Generated by mlops-blueprints.",
        "bind * -::*",
        "port 6379",
        "protected-mode yes",
        "dir /data",
        "appendonly yes",
        "appendfsync everysec",
        f"maxmemory {maxmemory_mib}mb",
        # An online store must not lose keys silently: writes fail when memory is full.
        "maxmemory-policy noeviction",
        "enable-debug-command no",
        "enable-module-command no",
        *users,
    ]
    return "\n".join(lines) + "\n"


def elasticache_user_id(group_id: str, username: str) -> str:
    """An ElastiCache user id (1-40 lowercase letters, digits, '-'; starts with a letter)."""
    candidate = _ELASTICACHE_USER_ID.sub("-", f"{group_id}-{username}".lower()).strip("-")
    if len(candidate) > 40:
        digest = hashlib.sha256(candidate.encode()).hexdigest()[:8]
        candidate = f"{candidate[:31].rstrip('-')}-{digest}"
    if not candidate[:1].isalpha():
        candidate = f"u{candidate}"[:40]
    return candidate
