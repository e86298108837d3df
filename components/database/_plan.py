"""Pure planning for the SQL database: names, versions, IAM documents and role SQL."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Sequence
from typing import Any

from mlops_blueprints.errors import BlueprintConfigError

__all__ = [
    "MASTER_USER_RESERVED",
    "MIN_BACKUP_RETENTION_DAYS",
    "SUPPORTED_POSTGRES_MAJORS",
    "db_user_for",
    "final_snapshot_identifier",
    "parameter_group_family",
    "postgres_major_version",
    "postgres_roles_sql",
    "rds_connect_statements",
    "rds_db_user_arn",
    "scram_sha_256_verifier",
    "validate_pg_identifier",
    "validate_rds_identifier",
]

# Majors the blueprint is tested with; the default (versions.MANAGED_ENGINE_VERSIONS) is one.
SUPPORTED_POSTGRES_MAJORS: tuple[str, ...] = ("16", "17")
MIN_BACKUP_RETENTION_DAYS = 7
MAX_BACKUP_RETENTION_DAYS = 35
_ENGINE_VERSION = re.compile(r"^(?P<major>[0-9]+)(\.[0-9]+)?$")
_RDS_IDENTIFIER = re.compile(r"^[a-z](?!.*--)[a-z0-9-]{0,61}[a-z0-9]$")
_PG_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Roles that exist in every (RDS) PostgreSQL and must never be taken over by a grant.
_RESERVED_ROLES = frozenset({"postgres", "rdsadmin", "rds_superuser", "rds_iam", "public"})
# The master user may be called postgres on RDS; the other built-in names stay reserved.
MASTER_USER_RESERVED = _RESERVED_ROLES - {"postgres"}
_MANAGED_ROLE_COMMENT = "managed by mlops-blueprints"
SCRAM_ITERATIONS = 4096


def postgres_major_version(value: str, *, field: str = "engine_version") -> str:
    """The major of an engine version ('17' or '17.6'), which must be a supported one."""
    match = _ENGINE_VERSION.match(value)
    if match is None or match["major"] not in SUPPORTED_POSTGRES_MAJORS:
        raise BlueprintConfigError(
            field,
            value,
            "Use a supported PostgreSQL major (" + ", ".join(SUPPORTED_POSTGRES_MAJORS) + "), "
            "e.g. '17'; a major alone lets AWS apply minor versions in the maintenance window.",
        )
    return match["major"]


def parameter_group_family(major: str) -> str:
    return f"postgres{major}"


def validate_rds_identifier(value: str, *, field: str = "identifier") -> str:
    if not _RDS_IDENTIFIER.match(value):
        raise BlueprintConfigError(
            field,
            value,
            "Use 2-63 lowercase letters, digits and single hyphens, starting with a letter "
            "and not ending with a hyphen (e.g. 'acme-mlops-tracking').",
        )
    return value


def validate_pg_identifier(
    value: str, *, field: str, reserved: frozenset[str] = _RESERVED_ROLES
) -> str:
    """A plain PostgreSQL identifier: needs no quoting and is not a reserved role."""
    if not _PG_IDENTIFIER.match(value) or value in reserved:
        raise BlueprintConfigError(
            field,
            value,
            "Use at most 63 lowercase letters, digits and '_', starting with a letter or '_', "
            "and not a built-in role name (postgres, rdsadmin, rds_iam, ...); e.g. 'mlflow'.",
        )
    return value


def db_user_for(identity_name: str) -> str:
    """The default database role of an identity: its name with '-' turned into '_'."""
    return identity_name.replace("-", "_")


def final_snapshot_identifier(identifier: str) -> str:
    return f"{identifier}-final-snapshot"


def rds_db_user_arn(*, instance_arn: str, resource_id: str, db_user: str) -> str:
    """``arn:<partition>:rds-db:<region>:<account>:dbuser:<resource-id>/<db_user>``.

    Partition, region and account come from the instance ARN; the resource id is the
    instance's immutable ``DbiResourceId`` (``db-...``), not its identifier.
    """
    parts = instance_arn.split(":")
    if len(parts) < 6 or parts[0] != "arn" or parts[2] != "rds":
        raise ValueError(f"not an RDS instance ARN: {instance_arn!r}")
    if not resource_id:
        raise ValueError("the instance resource id is empty")
    partition, region, account = parts[1], parts[3], parts[4]
    return f"arn:{partition}:rds-db:{region}:{account}:dbuser:{resource_id}/{db_user}"


def rds_connect_statements(
    *, instance_arn: str, resource_id: str, db_user: str
) -> list[dict[str, Any]]:
    """Allow IAM authentication as exactly one database user of exactly one instance."""
    return [
        {
            "Sid": "ConnectAsDbUser",
            "Effect": "Allow",
            "Action": ["rds-db:connect"],
            "Resource": [
                rds_db_user_arn(instance_arn=instance_arn, resource_id=resource_id, db_user=db_user)
            ],
        }
    ]


def scram_sha_256_verifier(
    password: str, *, salt: bytes, iterations: int = SCRAM_ITERATIONS
) -> str:
    """The verifier PostgreSQL stores for a password (RFC 5802/7677), as ``\\password`` sends it.

    Setting a role's password to this verifier keeps the clear password out of SQL text and
    server logs.
    """
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def _salt_for(role: str, password: str) -> bytes:
    # Deterministic, so an unchanged password renders an unchanged script (no needless
    # re-runs); unique per role and password, which is all a salt has to be.
    return hashlib.sha256(f"{role}\0{password}".encode()).digest()[:16]


def postgres_roles_sql(database: str, roles: Sequence[tuple[str, str]]) -> str:
    """An idempotent script giving each ``(role, password)`` a login and a schema of its own.

    - ``PUBLIC`` loses CONNECT on the database and every privilege on schema ``public``; a
      granted role may connect and owns a schema named after itself (first on its default
      ``search_path``), so its tables never mix with another identity's.
    - Passwords are set as SCRAM verifiers, never as clear text.
    - Roles this script created earlier but no longer lists lose LOGIN (grants removed from
      the program are revoked on the next run); their data stays.
    """
    validate_pg_identifier(database, field="database_name")
    lines = [
        "-- Generated by mlops-blueprints; re-run on every change of the grants.",
        "\\set ON_ERROR_STOP on",
        "BEGIN;",
        f'REVOKE ALL ON DATABASE "{database}" FROM PUBLIC;',
        "REVOKE ALL ON SCHEMA public FROM PUBLIC;",
    ]
    names: list[str] = []
    for role, password in sorted(roles):
        validate_pg_identifier(role, field="db_user")
        verifier = scram_sha_256_verifier(password, salt=_salt_for(role, password))
        names.append(role)
        lines += [
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') "
            f'THEN CREATE ROLE "{role}"; END IF; END $$;',
            f'ALTER ROLE "{role}" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE '
            f"NOREPLICATION PASSWORD '{verifier}';",
            f"COMMENT ON ROLE \"{role}\" IS '{_MANAGED_ROLE_COMMENT}';",
            f'GRANT CONNECT, TEMPORARY ON DATABASE "{database}" TO "{role}";',
            f'CREATE SCHEMA IF NOT EXISTS "{role}" AUTHORIZATION "{role}";',
        ]
    keep = ", ".join(f"'{name}'" for name in names)
    lines += [
        "DO $$ DECLARE r record; BEGIN",
        "  FOR r IN SELECT rolname FROM pg_roles",
        "    WHERE shobj_description(oid, 'pg_authid') = "
        f"'{_MANAGED_ROLE_COMMENT}' AND rolname <> ALL (ARRAY[{keep}]::name[])",
        "  LOOP EXECUTE format('ALTER ROLE %I NOLOGIN', r.rolname); END LOOP;",
        "END $$;",
        "COMMIT;",
    ]
    return "\n".join(lines) + "\n"
