"""SQL database: RDS for PostgreSQL on aws, in-cluster PostgreSQL on kind.

Pure planning (versions, names, the rds-db ARN, the SCRAM verifier, the roles script) is
tested directly; the components are rendered under mocks and the exact children, the
security-relevant inputs and `mlops-bp check` on the rendered manifests are asserted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mlops_blueprints.components.database import (
    InClusterPostgres,
    InClusterPostgresArgs,
    RdsPostgres,
    RdsPostgresArgs,
    postgres_roles_sql,
    rds_connect_statements,
    rds_db_user_arn,
)
from mlops_blueprints.components.database._plan import (
    db_user_for,
    postgres_major_version,
    scram_sha_256_verifier,
)
from mlops_blueprints.components.identity import (
    StaticCredentialsIdentity,
    StaticCredentialsIdentityArgs,
)
from mlops_blueprints.components.kubernetes import WorkloadNamespace, WorkloadNamespaceArgs

from mlops_blueprints.render import RenderCapture, run_program
from mlops_blueprints.render._fakes import fake_resource_state
from mlops_blueprints.targets import SqlDatabase
from mlops_blueprints.versions import IMAGES, MANAGED_ENGINE_VERSIONS
from tests.components._helpers import assert_client_egress, pods_of, render_checked
from tests.components._helpers import by_name as _by_name
from tests.components._helpers import children as _children
from tests.components._helpers import irsa as _irsa
from tests.components._helpers import raises as _raises

pytestmark = pytest.mark.unit

INSTANCE_ARN = "arn:aws:rds:eu-west-1:210987654321:db:acme-tracking"
RESOURCE_ID = "db-ABCDEFGHIJKLMNOPQRSTUVWXY0"
KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
NETWORK: dict[str, Any] = {
    "vpc_id": "vpc-0abc",
    "subnet_ids": ["subnet-a", "subnet-b"],
    "allowed_security_group_ids": ["sg-nodes"],
}

# --- helpers ------------------------------------------------------------------------------


def _render(program: Callable[[], object], out: Path) -> RenderCapture:
    return render_checked(program, out)


# What the render fakes report for the instance 'acme-tracking' (engine-style outputs).
_RDS_STATE = fake_resource_state("aws:rds/instance:Instance", "i", {"identifier": "acme-tracking"})[
    1
]
RENDERED_RESOURCE_ID = _RDS_STATE["resourceId"]


# --- pure planning ------------------------------------------------------------------------


def test_rds_db_user_arn_is_built_from_the_instance_arn_and_resource_id() -> None:
    assert rds_db_user_arn(
        instance_arn=INSTANCE_ARN, resource_id=RESOURCE_ID, db_user="mlflow"
    ) == (f"arn:aws:rds-db:eu-west-1:210987654321:dbuser:{RESOURCE_ID}/mlflow")
    china = "arn:aws-cn:rds:cn-north-1:210987654321:db:x"
    assert rds_db_user_arn(instance_arn=china, resource_id="db-X", db_user="u").startswith(
        "arn:aws-cn:rds-db:cn-north-1:210987654321:dbuser:db-X/"
    )


def test_rds_connect_policy_allows_exactly_one_user_of_one_instance() -> None:
    assert rds_connect_statements(
        instance_arn=INSTANCE_ARN, resource_id=RESOURCE_ID, db_user="mlflow"
    ) == [
        {
            "Sid": "ConnectAsDbUser",
            "Effect": "Allow",
            "Action": ["rds-db:connect"],
            "Resource": [f"arn:aws:rds-db:eu-west-1:210987654321:dbuser:{RESOURCE_ID}/mlflow"],
        }
    ]


@pytest.mark.parametrize(
    ("arn", "resource_id"),
    [("arn:aws:s3:::bucket", RESOURCE_ID), ("not-an-arn", RESOURCE_ID), (INSTANCE_ARN, "")],
)
def test_rds_db_user_arn_refuses_anything_but_an_instance(arn: str, resource_id: str) -> None:
    with pytest.raises(ValueError, match=r"RDS instance ARN|resource id"):
        rds_db_user_arn(instance_arn=arn, resource_id=resource_id, db_user="u")


@pytest.mark.parametrize(
    ("version", "major"), [("17", "17"), ("17.6", "17"), ("16", "16"), ("16.10", "16")]
)
def test_supported_engine_versions(version: str, major: str) -> None:
    assert postgres_major_version(version) == major


def test_the_pinned_engine_version_is_supported() -> None:
    assert postgres_major_version(MANAGED_ENGINE_VERSIONS["rds-postgres"]) == "17"


def test_db_user_for_an_identity() -> None:
    assert db_user_for("feature-server") == "feature_server"
    assert db_user_for("mlflow") == "mlflow"


def test_scram_verifier_matches_the_rfc_7677_exchange() -> None:
    """Known answer: RFC 7677's SCRAM-SHA-256 example (user 'user', password 'pencil')."""
    salt = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
    verifier = scram_sha_256_verifier("pencil", salt=salt, iterations=4096)
    head, keys = verifier.split("$", 2)[1:]
    assert verifier.startswith("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$")
    assert head == "4096:W22ZaJ0SNY7soEsUEjb6gQ=="
    stored_key, server_key = (base64.b64decode(k) for k in keys.split(":"))
    nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    auth_message = (
        "n=user,r=rOprNGfwEbeRWgbNEkqO,"
        f"r={nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,"
        f"c=biws,r={nonce}"
    ).encode()
    server_signature = hmac.new(server_key, auth_message, hashlib.sha256).digest()
    assert (
        base64.b64encode(server_signature).decode()
        == "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
    )
    proof = base64.b64decode("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
    client_signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
    client_key = bytes(a ^ b for a, b in zip(proof, client_signature, strict=True))
    assert hashlib.sha256(client_key).digest() == stored_key


def test_roles_script_confines_each_role_to_its_own_schema() -> None:
    sql = postgres_roles_sql("mlops", [("mlflow", "s3cretPassw0rd"), ("feast", "an0therOne")])
    assert sql.splitlines()[1:5] == [
        "\\set ON_ERROR_STOP on",
        "BEGIN;",
        'REVOKE ALL ON DATABASE "mlops" FROM PUBLIC;',
        "REVOKE ALL ON SCHEMA public FROM PUBLIC;",
    ]
    for role in ("mlflow", "feast"):
        assert f'GRANT CONNECT, TEMPORARY ON DATABASE "mlops" TO "{role}";' in sql
        assert f'CREATE SCHEMA IF NOT EXISTS "{role}" AUTHORIZATION "{role}";' in sql
        assert f'ALTER ROLE "{role}" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE' in sql
    # Grants removed from the program lose LOGIN on the next run.
    assert "rolname <> ALL (ARRAY['feast', 'mlflow']::name[])" in sql
    assert sql.rstrip().endswith("COMMIT;")


def test_roles_script_without_grants_revokes_every_managed_login() -> None:
    sql = postgres_roles_sql("mlops", [])
    assert "CREATE ROLE" not in sql
    assert "rolname <> ALL (ARRAY[]::name[])" in sql


@given(
    role=st.from_regex(r"[a-z_][a-z0-9_]{0,20}", fullmatch=True).filter(
        lambda r: r not in ("postgres", "public")
    ),
    password=st.text(
        alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        min_size=16,
        max_size=48,
    ),
)
def test_roles_script_never_contains_a_clear_password(role: str, password: str) -> None:
    sql = postgres_roles_sql("mlops", [(role, password)])
    assert password not in sql
    assert "PASSWORD 'SCRAM-SHA-256$4096:" in sql
    # Same input, same script: an unchanged grant does not re-run the Job.
    assert postgres_roles_sql("mlops", [(role, password)]) == sql


@pytest.mark.parametrize(
    "role", ["Mlflow", "ml-flow", "postgres", "rds_iam", "x" * 64, "drop table"]
)
def test_roles_script_refuses_unsafe_role_names(role: str) -> None:
    _raises(lambda: postgres_roles_sql("mlops", [(role, "pw")]), "db_user", role, "lowercase")


# --- bad inputs: RDS ------------------------------------------------------------------------


def _rds(**overrides: Any) -> RdsPostgresArgs:
    return RdsPostgresArgs(**{"identifier": "acme-tracking", **NETWORK, **overrides})


@pytest.mark.parametrize("days", [0, 6])
def test_backups_shorter_than_seven_days_are_refused(days: int) -> None:
    _raises(lambda: _rds(backup_retention_days=days), "backup_retention_days", days, "7 to 35 days")


def test_backups_longer_than_rds_allows_are_refused() -> None:
    _raises(lambda: _rds(backup_retention_days=36), "backup_retention_days", 36, "7 to 35 days")


@pytest.mark.parametrize("version", ["9.6", "15", "18", "banana", "17.x", "17.6.1"])
def test_unknown_engine_versions_are_refused(version: str) -> None:
    _raises(lambda: _rds(engine_version=version), "engine_version", version, "16, 17")


def test_a_database_nobody_can_reach_is_refused() -> None:
    _raises(
        lambda: RdsPostgresArgs(identifier="acme-tracking", vpc_id="vpc-1", subnet_ids=["a", "b"]),
        "allowed_security_group_ids",
        [],
        "Name the clients",
    )


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "::/0", "52.95.110.0/24"])
def test_public_networks_are_refused(cidr: str) -> None:
    _raises(
        lambda: _rds(allowed_cidr_blocks=[cidr]), "allowed_cidr_blocks", cidr, "private networks"
    )


def test_one_subnet_is_refused() -> None:
    _raises(lambda: _rds(subnet_ids=["subnet-a"]), "subnet_ids", ["subnet-a"], "at least two")


def test_storage_ceiling_below_initial_storage_is_refused() -> None:
    _raises(
        lambda: _rds(allocated_storage_gib=200, max_allocated_storage_gib=100),
        "max_allocated_storage_gib",
        100,
        "at or above allocated_storage_gib (200)",
    )


def test_storage_below_the_gp3_minimum_is_refused() -> None:
    _raises(
        lambda: _rds(allocated_storage_gib=10), "allocated_storage_gib", 10, "gp3 minimum is 20"
    )


@pytest.mark.parametrize("identifier", ["Acme", "1acme", "acme--db", "acme-", "a" * 64])
def test_identifiers_follow_rds_rules(identifier: str) -> None:
    _raises(lambda: _rds(identifier=identifier), "identifier", identifier, "single hyphens")


def test_insights_retention_must_be_one_rds_offers() -> None:
    _raises(
        lambda: _rds(performance_insights_retention_days=10),
        "performance_insights_retention_days",
        10,
        "multiple of 31",
    )


def test_master_username_may_be_postgres_but_not_rdsadmin() -> None:
    assert _rds(master_username="postgres").master_username == "postgres"
    _raises(
        lambda: _rds(master_username="rdsadmin"), "master_username", "rdsadmin", "built-in role"
    )


# --- bad inputs: in-cluster -----------------------------------------------------------------


def test_in_cluster_postgres_needs_a_client_namespace() -> None:
    _raises(
        lambda: InClusterPostgresArgs(namespace="data", allowed_namespaces=[]),
        "allowed_namespaces",
        [],
        "at least one namespace",
    )


def test_in_cluster_postgres_client_namespaces_are_dns_labels() -> None:
    _raises(
        lambda: InClusterPostgresArgs(namespace="data", allowed_namespaces=["Not_A_Label"]),
        "allowed_namespaces",
        "Not_A_Label",
        "lowercase",
    )


def test_in_cluster_postgres_memory_limit_at_least_request() -> None:
    _raises(
        lambda: InClusterPostgresArgs(
            namespace="data",
            allowed_namespaces=["mlops"],
            memory_request_mib=2048,
            memory_limit_mib=1024,
        ),
        "memory_limit_mib",
        1024,
        "at or above the request (2048 MiB)",
    )


@pytest.mark.parametrize(
    ("field", "value", "fix"),
    [
        ("storage_size_gib", 0, "at least 1 GiB"),
        ("cpu_request", "lots", "positive CPU quantity"),
        ("database_name", "ML-Ops", "lowercase"),
        ("service_name", "Postgres_DB", "lowercase"),
    ],
)
def test_in_cluster_postgres_bad_values(field: str, value: object, fix: str) -> None:
    _raises(
        lambda: InClusterPostgresArgs(
            namespace="data", allowed_namespaces=["mlops"], **{field: value}
        ),
        field,
        value,
        fix,
    )


# --- aws: RDS -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rds(tmp_path_factory: pytest.TempPathFactory) -> RenderCapture:
    def program() -> None:
        namespace = WorkloadNamespace("apps", WorkloadNamespaceArgs(namespace="mlops"))
        tracking = _irsa(namespace.namespace_name, "mlflow")
        features = _irsa(namespace.namespace_name, "feature-server")
        database = RdsPostgres(
            "tracking-db",
            RdsPostgresArgs(
                identifier="acme-tracking",
                allowed_cidr_blocks=["10.0.0.0/16"],
                **NETWORK,
            ),
        )
        assert isinstance(database, SqlDatabase)
        database.grant_connect(tracking)
        database.grant_connect(tracking)  # the same grant twice is one grant
        database.grant_connect(features)
        database.grant_connect(features, db_user="feast_admin")
        RdsPostgres(
            "hardened-db",
            RdsPostgresArgs(
                identifier="acme-hardened",
                enable_multi_az=True,
                kms_key_arn=KMS_KEY,
                backup_retention_days=35,
                **NETWORK,
            ),
        )

    return _render(program, tmp_path_factory.mktemp("rds"))


INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"


def test_rds_children(rds: RenderCapture) -> None:
    assert _children(rds, "tracking-db") == {
        "tracking-db-subnet-group": "aws:rds/subnetGroup:SubnetGroup",
        "tracking-db-security-group": "aws:ec2/securityGroup:SecurityGroup",
        "tracking-db-ingress-sg-0": INGRESS_RULE,
        "tracking-db-ingress-cidr-10-0-0-0-16": INGRESS_RULE,
        "tracking-db-parameter-group": "aws:rds/parameterGroup:ParameterGroup",
        "tracking-db-instance": "aws:rds/instance:Instance",
        "tracking-db-connect-mlflow": "aws:iam/rolePolicy:RolePolicy",
        "tracking-db-connect-feature-server": "aws:iam/rolePolicy:RolePolicy",
        "tracking-db-connect-feature-server-feast_admin": "aws:iam/rolePolicy:RolePolicy",
    }
    assert _by_name(rds)["tracking-db"].type == "mlops:database:RdsPostgres"


def test_rds_instance_is_private_encrypted_backed_up_and_protected(rds: RenderCapture) -> None:
    instance = _by_name(rds)["tracking-db-instance"]
    expected = {
        "identifier": "acme-tracking",
        "engine": "postgres",
        "engineVersion": "17",
        "publiclyAccessible": False,
        "storageEncrypted": True,
        "backupRetentionPeriod": 7,
        "deletionProtection": True,
        "skipFinalSnapshot": False,
        "finalSnapshotIdentifier": "acme-tracking-final-snapshot",
        "iamDatabaseAuthenticationEnabled": True,
        "manageMasterUserPassword": True,
        "autoMinorVersionUpgrade": True,
        "allowMajorVersionUpgrade": False,
        "copyTagsToSnapshot": True,
        "deleteAutomatedBackups": False,
        "multiAz": False,
        "performanceInsightsEnabled": True,
        "performanceInsightsRetentionPeriod": 7,
        "enabledCloudwatchLogsExports": ["postgresql", "upgrade"],
        "storageType": "gp3",
        "dbName": "mlops",
        "username": "platform_admin",
        "port": 5432,
        "dbSubnetGroupName": "acme-tracking-subnets",
        "parameterGroupName": "acme-tracking-postgres17",
        "vpcSecurityGroupIds": ["tracking-db-security-group-id"],
    }
    assert {k: instance.inputs.get(k) for k in expected} == expected
    # No password ever passes through the program.
    assert "password" not in instance.inputs
    assert instance.retain_on_delete is True


def test_rds_customer_key_covers_storage_insights_and_master_secret(rds: RenderCapture) -> None:
    instance = _by_name(rds)["hardened-db-instance"].inputs
    assert instance["kmsKeyId"] == KMS_KEY
    assert instance["performanceInsightsKmsKeyId"] == KMS_KEY
    assert instance["masterUserSecretKmsKeyId"] == KMS_KEY
    assert instance["multiAz"] is True
    assert instance["backupRetentionPeriod"] == 35
    default = _by_name(rds)["tracking-db-instance"].inputs
    assert "kmsKeyId" not in default  # the AWS-managed aws/rds key; still encrypted


def test_rds_parameter_group_forces_tls(rds: RenderCapture) -> None:
    group = _by_name(rds)["tracking-db-parameter-group"].inputs
    assert group["family"] == "postgres17"
    assert {p["name"]: p["value"] for p in group["parameters"]} == {
        "rds.force_ssl": "1",
        "log_connections": "1",
        "log_disconnections": "1",
    }


def test_rds_security_group_admits_5432_from_named_sources_only(rds: RenderCapture) -> None:
    resources = _by_name(rds)
    group = resources["tracking-db-security-group"].inputs
    assert group["vpcId"] == "vpc-0abc"
    assert "ingress" not in group
    assert "egress" not in group
    from_group = resources["tracking-db-ingress-sg-0"].inputs
    from_cidr = resources["tracking-db-ingress-cidr-10-0-0-0-16"].inputs
    for rule in (from_group, from_cidr):
        assert (rule["ipProtocol"], rule["fromPort"], rule["toPort"]) == ("tcp", 5432, 5432)
        assert rule["securityGroupId"] == "tracking-db-security-group-id"
    assert from_group["referencedSecurityGroupId"] == "sg-nodes"
    assert from_cidr["cidrIpv4"] == "10.0.0.0/16"
    assert resources["tracking-db-subnet-group"].inputs["subnetIds"] == ["subnet-a", "subnet-b"]


def test_rds_grants_name_the_exact_db_user(rds: RenderCapture) -> None:
    resources = _by_name(rds)
    prefix = f"arn:aws:rds-db:us-east-1:123456789012:dbuser:{RENDERED_RESOURCE_ID}"
    for name, role, user in [
        ("tracking-db-connect-mlflow", "mlflow-identity-role", "mlflow"),
        ("tracking-db-connect-feature-server", "feature-server-identity-role", "feature_server"),
        (
            "tracking-db-connect-feature-server-feast_admin",
            "feature-server-identity-role",
            "feast_admin",
        ),
    ]:
        policy = resources[name]
        assert policy.inputs["role"] == role
        assert json.loads(policy.inputs["policy"]) == {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ConnectAsDbUser",
                    "Effect": "Allow",
                    "Action": ["rds-db:connect"],
                    "Resource": [f"{prefix}/{user}"],
                }
            ],
        }


def test_rds_outputs(rds: RenderCapture) -> None:
    outputs = rds.outputs[_by_name(rds)["tracking-db"].urn]
    assert outputs["host"] == _RDS_STATE["address"]
    assert outputs["host"].startswith("acme-tracking.")
    assert outputs["port"] == 5432
    assert outputs["database_name"] == "mlops"
    assert outputs["resource_id"] == RENDERED_RESOURCE_ID
    assert outputs["master_user_secret_arn"].startswith("arn:aws:secretsmanager:")


def test_rds_refuses_a_non_aws_identity_and_bad_db_users() -> None:
    def program() -> None:
        local = StaticCredentialsIdentity(
            "local", StaticCredentialsIdentityArgs(namespace="mlops", service_account_name="local")
        )
        database = RdsPostgres("db", RdsPostgresArgs(identifier="acme-db", **NETWORK))
        _raises(
            lambda: database.grant_connect(local),
            "identity",
            "StaticCredentialsIdentity",
            "IrsaIdentity",
        )
        cloud = _irsa("mlops", "app")
        _raises(
            lambda: database.grant_connect(cloud, db_user="rdsadmin"),
            "db_user",
            "rdsadmin",
            "built-in",
        )

    run_program(program, project="mlops-platform", stack="test", config={})


# --- kind: in-cluster PostgreSQL --------------------------------------------------------------


@pytest.fixture(scope="module")
def in_cluster(tmp_path_factory: pytest.TempPathFactory) -> RenderCapture:
    def program() -> None:
        data = WorkloadNamespace("data-ns", WorkloadNamespaceArgs(namespace="mlops-data"))
        apps = WorkloadNamespace("apps", WorkloadNamespaceArgs(namespace="mlops"))
        tracking = StaticCredentialsIdentity(
            "tracking",
            StaticCredentialsIdentityArgs(
                namespace=apps.namespace_name, service_account_name="mlflow"
            ),
        )
        features = StaticCredentialsIdentity(
            "features",
            StaticCredentialsIdentityArgs(
                namespace=apps.namespace_name, service_account_name="feature-server"
            ),
        )
        database = InClusterPostgres(
            "tracking-db",
            InClusterPostgresArgs(
                namespace=data.namespace_name, allowed_namespaces=[apps.namespace_name]
            ),
        )
        assert isinstance(database, SqlDatabase)
        database.grant_connect(tracking)
        database.grant_connect(features)
        database.grant_connect(tracking)  # idempotent
        _raises(
            lambda: database.grant_connect(features, db_user="mlflow"),
            "db_user",
            "mlflow",
            "exactly one role",
        )
        # A database nobody was granted: no roles Job at all.
        InClusterPostgres(
            "spare-db",
            InClusterPostgresArgs(
                namespace=data.namespace_name,
                allowed_namespaces=["mlops"],
                service_name="spare",
                storage_class_name="standard",
            ),
        )

    return _render(program, tmp_path_factory.mktemp("postgres"))


def test_in_cluster_postgres_children(in_cluster: RenderCapture) -> None:
    assert _children(in_cluster, "tracking-db") == {
        "tracking-db-superuser-password": "random:index/randomPassword:RandomPassword",
        "tracking-db-superuser": "kubernetes:core/v1:Secret",
        "tracking-db-service": "kubernetes:core/v1:Service",
        "tracking-db-statefulset": "kubernetes:apps/v1:StatefulSet",
        "tracking-db-network-policy": "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "tracking-db-mlflow-password": "random:index/randomPassword:RandomPassword",
        "tracking-db-roles": "kubernetes:core/v1:Secret",
        "tracking-db-roles-job": "kubernetes:batch/v1:Job",
        "tracking-db-roles-job-egress": "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "tracking-db-mlflow-egress": "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "tracking-db-mlflow-connection": "kubernetes:core/v1:Secret",
        "tracking-db-feature-server-password": "random:index/randomPassword:RandomPassword",
        "tracking-db-feature-server-egress": "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "tracking-db-feature-server-connection": "kubernetes:core/v1:Secret",
    }
    assert _children(in_cluster, "spare-db") == {
        "spare-db-superuser-password": "random:index/randomPassword:RandomPassword",
        "spare-db-superuser": "kubernetes:core/v1:Secret",
        "spare-db-service": "kubernetes:core/v1:Service",
        "spare-db-statefulset": "kubernetes:apps/v1:StatefulSet",
        "spare-db-network-policy": "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    }


def test_in_cluster_postgres_grants_open_egress_for_the_granted_pods_only(
    in_cluster: RenderCapture,
) -> None:
    resources = _by_name(in_cluster)
    for identity in ("mlflow", "feature-server"):
        assert_client_egress(
            resources[f"tracking-db-{identity}-egress"],
            name=f"{identity}-to-postgres",
            namespace="mlops",
            identity=identity,
            to=[
                pods_of(
                    "mlops-data",
                    {
                        "app.kubernetes.io/name": "postgres",
                        "app.kubernetes.io/instance": "postgres",
                    },
                )
            ],
            port=5432,
        )


def test_in_cluster_postgres_runs_as_the_image_user_with_data_on_the_volume(
    in_cluster: RenderCapture,
) -> None:
    statefulset = _by_name(in_cluster)["tracking-db-statefulset"].inputs
    pod = statefulset["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"] == IMAGES["postgres"] == "postgres:17.6-alpine"
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 70,
        "runAsGroup": 70,
        "fsGroup": 70,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert pod["automountServiceAccountToken"] is False
    env = {e["name"]: e for e in container["env"]}
    assert env["PGDATA"]["value"] == "/var/lib/postgresql/data/pgdata"
    assert env["POSTGRES_PASSWORD"]["valueFrom"] == {
        "secretKeyRef": {"name": "postgres-superuser", "key": "POSTGRES_PASSWORD"}
    }
    assert {"name": "data", "mountPath": "/var/lib/postgresql/data"} in container["volumeMounts"]
    assert container["resources"] == {
        "requests": {"cpu": "250m", "memory": "256Mi"},
        "limits": {"memory": "1024Mi"},
    }
    assert statefulset["spec"]["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
    }
    spare = _by_name(in_cluster)["spare-db-statefulset"].inputs["spec"]["volumeClaimTemplates"][0]
    assert spare["spec"]["storageClassName"] == "standard"


def test_in_cluster_postgres_secrets_never_render_in_clear(in_cluster: RenderCapture) -> None:
    resources = _by_name(in_cluster)
    assert resources["tracking-db-superuser"].inputs["stringData"] == {
        "POSTGRES_USER": "[secret]",
        "POSTGRES_PASSWORD": "[secret]",
    }
    assert resources["tracking-db-roles"].inputs["stringData"] == {"roles.sql": "[secret]"}
    connection = resources["tracking-db-mlflow-connection"].inputs
    assert connection["metadata"]["namespace"] == "mlops"
    assert connection["metadata"]["name"] == "mlflow-postgres"
    assert set(connection["stringData"]) == {
        "PGHOST",
        "PGPORT",
        "PGDATABASE",
        "PGUSER",
        "PGPASSWORD",
        "DATABASE_URL",
    }
    assert set(connection["stringData"].values()) == {"[secret]"}


def test_in_cluster_postgres_network_policy(in_cluster: RenderCapture) -> None:
    spec = _by_name(in_cluster)["tracking-db-network-policy"].inputs["spec"]
    port = [{"protocol": "TCP", "port": 5432}]
    assert spec == {
        "podSelector": {
            "matchLabels": {
                "app.kubernetes.io/name": "postgres",
                "app.kubernetes.io/instance": "postgres",
            }
        },
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [
            {
                "from": [
                    {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "mlops"}}}
                ],
                "ports": port,
            },
            {
                "from": [
                    {
                        "podSelector": {
                            "matchLabels": {
                                "app.kubernetes.io/name": "postgres-roles",
                                "app.kubernetes.io/instance": "postgres",
                            }
                        }
                    }
                ],
                "ports": port,
            },
        ],
        "egress": [],
    }
    egress = _by_name(in_cluster)["tracking-db-roles-job-egress"].inputs["spec"]
    assert egress["egress"] == [
        {
            "to": [{"podSelector": {"matchLabels": spec["podSelector"]["matchLabels"]}}],
            "ports": port,
        }
    ]


def test_roles_job_runs_the_script_after_the_server_and_is_never_a_service_endpoint(
    in_cluster: RenderCapture,
) -> None:
    resources = _by_name(in_cluster)
    job = resources["tracking-db-roles-job"]
    assert resources["tracking-db-statefulset"].urn in job.dependencies
    template = job.inputs["spec"]["template"]
    container = template["spec"]["containers"][0]
    assert container["command"] == [
        "psql",
        "--no-psqlrc",
        "-v",
        "ON_ERROR_STOP=1",
        "-f",
        "/sql/roles.sql",
    ]
    assert template["spec"]["securityContext"]["runAsUser"] == 70
    assert template["spec"]["automountServiceAccountToken"] is False
    assert "mlops-blueprints.io/roles-sha256" in template["metadata"]["annotations"]
    service_selector = resources["tracking-db-service"].inputs["spec"]["selector"]
    labels = template["metadata"]["labels"]
    assert not all(labels.get(k) == v for k, v in service_selector.items())


def test_in_cluster_postgres_outputs(in_cluster: RenderCapture) -> None:
    outputs = in_cluster.outputs[_by_name(in_cluster)["tracking-db"].urn]
    assert outputs == {
        "host": "postgres.mlops-data.svc.cluster.local",
        "port": 5432,
        "database_name": "mlops",
        "superuser_secret_name": "postgres-superuser",
    }


def test_stateful_resources_are_retained_and_protected_by_default(
    rds: RenderCapture, in_cluster: RenderCapture
) -> None:
    """Data outlives the stack: the instances are retained and deletion-protected, with a
    final snapshot; volumes are retained; nothing else is left behind on destroy."""
    retained = {r.name: r for r in rds.registrations if r.retain_on_delete}
    assert set(retained) == {"tracking-db-instance", "hardened-db-instance"}
    for instance in retained.values():
        assert instance.inputs["deletionProtection"] is True
        assert instance.inputs["skipFinalSnapshot"] is False
        assert instance.inputs["deleteAutomatedBackups"] is False
    assert not any(r.retain_on_delete for r in in_cluster.registrations)
    statefulsets = [r for r in in_cluster.registrations if r.type.endswith(":StatefulSet")]
    assert len(statefulsets) == 2
    for statefulset in statefulsets:
        assert statefulset.inputs["spec"]["persistentVolumeClaimRetentionPolicy"] == {
            "whenDeleted": "Retain",
            "whenScaled": "Retain",
        }
