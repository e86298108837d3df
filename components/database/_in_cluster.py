"""An in-cluster PostgreSQL for the kind target, with one login role per granted identity."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.targets._seam import SqlConnection, WorkloadIdentity, validate_dns_label
from mlops_blueprints.versions import IMAGES

from .._labels import standard_labels
from .._opts import child_opts
from ..kubernetes import (
    RESTRICTED_CONTAINER_SECURITY_CONTEXT,
    namespace_pod_peer,
    object_name,
)
from ._common import (
    RETAIN_CLAIMS,
    ClientPath,
    IdentityGrant,
    connection_secret,
    connection_secret_name,
    container_resources,
    deferred,
    namespace_peers,
    pod_security_context,
    register_grant,
    sha256_annotation,
    text,
    validate_allowed_namespaces,
    validate_resources,
    validate_storage_size,
    volume_claim_template,
)
from ._plan import db_user_for, postgres_roles_sql, validate_pg_identifier

if TYPE_CHECKING:
    from mlops_blueprints.targets._seam import SqlDatabase

__all__ = ["InClusterPostgres", "InClusterPostgresArgs"]

POSTGRES_PORT = 5432
# The official alpine image's postgres user and group.
POSTGRES_UID = 70
_SUPERUSER = "postgres"
_DATA_DIR = "/var/lib/postgresql/data"
# The roles Job's pods carry their own name, so neither the Service nor the server's
# NetworkPolicy ever selects them.
_ROLES_JOB = "postgres-roles"


@dataclass(frozen=True)
class InClusterPostgresArgs:
    """Arguments for :class:`InClusterPostgres`.

    - ``namespace``: an existing namespace (normally a ``WorkloadNamespace``).
    - ``allowed_namespaces``: namespaces whose pods may connect on 5432 (at least one).
    - ``database_name`` (mlops): the database created at first start.
    - ``service_name`` (postgres): name of the Service, StatefulSet and Secrets.
    - ``storage_size_gib`` (10): size of the data volume, which is retained on delete.
    - ``storage_class_name``: the cluster default when unset.
    - ``cpu_request`` (250m): CPU request of the server container.
    - ``memory_request_mib`` (256): memory request.
    - ``memory_limit_mib`` (1024): memory limit; must be at least the request.
    - ``labels``: extra labels on every object.
    """

    namespace: pulumi.Input[str]
    allowed_namespaces: Sequence[pulumi.Input[str]]
    database_name: str = "mlops"
    service_name: str = "postgres"
    storage_size_gib: int = 10
    storage_class_name: str | None = None
    cpu_request: str = "250m"
    memory_request_mib: int = 256
    memory_limit_mib: int = 1024
    labels: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_allowed_namespaces(self.allowed_namespaces, field="allowed_namespaces")
        validate_pg_identifier(self.database_name, field="database_name")
        validate_dns_label(self.service_name, field="service_name")
        validate_storage_size(self.storage_size_gib)
        validate_resources(
            cpu_request=self.cpu_request,
            memory_request_mib=self.memory_request_mib,
            memory_limit_mib=self.memory_limit_mib,
        )


class InClusterPostgres(pulumi.ComponentResource):
    """Single-replica PostgreSQL (official image) with a retained volume, for kind.

    The generated superuser password is only for administration and the roles Job. Each
    grant gives the identity its own login role, password and schema, applied by an
    idempotent Job, plus a connection Secret in the identity's namespace. Children:
    ``{name}-superuser-password`` (random), ``{name}-superuser`` (Secret),
    ``{name}-service``, ``{name}-statefulset`` and ``{name}-network-policy``; the first
    grant adds ``{name}-roles`` (Secret), ``{name}-roles-job`` and
    ``{name}-roles-job-egress`` (NetworkPolicy); each granted identity adds
    ``{name}-{identity}-password`` (random), ``{name}-{identity}-egress`` (NetworkPolicy in
    the identity's namespace) and ``{name}-{identity}-connection`` (Secret).
    """

    host: pulumi.Output[str]
    port: pulumi.Output[int]
    database_name: pulumi.Output[str]
    superuser_secret_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: InClusterPostgresArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:database:InClusterPostgres", name, None, opts)
        self._name = name
        self._args = args
        self._namespace = pulumi.Output.from_input(args.namespace)
        self._grants: dict[str, IdentityGrant] = {}
        self._db_users: dict[str, str] = {}
        self._roles_job: k8s.batch.v1.Job | None = None
        self._selector = {
            "app.kubernetes.io/name": "postgres",
            "app.kubernetes.io/instance": args.service_name,
        }
        self._labels = standard_labels("postgres", instance=args.service_name, extra=args.labels)
        self._job_selector = {
            "app.kubernetes.io/name": _ROLES_JOB,
            "app.kubernetes.io/instance": args.service_name,
        }

        self._superuser_password = random.RandomPassword(
            f"{name}-superuser-password", length=32, special=False, opts=child_opts(self)
        )
        self.superuser_secret = k8s.core.v1.Secret(
            f"{name}-superuser",
            metadata={
                "name": f"{args.service_name}-superuser",
                "namespace": self._namespace,
                "labels": self._labels,
            },
            type="Opaque",
            string_data={
                "POSTGRES_USER": _SUPERUSER,
                "POSTGRES_PASSWORD": pulumi.Output.secret(
                    self._superuser_password.result.apply(text)
                ),
            },
            opts=child_opts(self),
        )
        self.superuser_secret_name = object_name(self.superuser_secret)
        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata={
                "name": args.service_name,
                "namespace": self._namespace,
                "labels": self._labels,
            },
            spec={
                "type": "ClusterIP",
                "selector": self._selector,
                "ports": [{"name": "postgres", "port": POSTGRES_PORT, "targetPort": POSTGRES_PORT}],
            },
            opts=child_opts(self),
        )
        self.host = pulumi.Output.concat(
            object_name(self.service), ".", self._namespace, ".svc.cluster.local"
        )
        self.port = pulumi.Output.from_input(POSTGRES_PORT)
        self.database_name = pulumi.Output.from_input(args.database_name)
        ready = {"exec": {"command": ["pg_isready", "-h", "127.0.0.1", "-p", str(POSTGRES_PORT)]}}
        container = {
            "name": "postgres",
            "image": IMAGES["postgres"],
            "env": [
                {"name": "POSTGRES_USER", "value": _SUPERUSER},
                {
                    "name": "POSTGRES_PASSWORD",
                    "valueFrom": {
                        "secretKeyRef": {
                            "name": self.superuser_secret_name,
                            "key": "POSTGRES_PASSWORD",
                        }
                    },
                },
                {"name": "POSTGRES_DB", "value": args.database_name},
                # A subdirectory, so the volume root (lost+found) never confuses initdb.
                {"name": "PGDATA", "value": f"{_DATA_DIR}/pgdata"},
                {
                    "name": "POSTGRES_INITDB_ARGS",
                    "value": "--auth-host=scram-sha-256 --data-checksums",
                },
            ],
            "ports": [{"name": "postgres", "containerPort": POSTGRES_PORT}],
            "resources": container_resources(
                cpu_request=args.cpu_request,
                memory_request_mib=args.memory_request_mib,
                memory_limit_mib=args.memory_limit_mib,
            ),
            "startupProbe": {**ready, "periodSeconds": 5, "failureThreshold": 60},
            "readinessProbe": {**ready, "periodSeconds": 10},
            "livenessProbe": {**ready, "periodSeconds": 20, "failureThreshold": 6},
            "securityContext": RESTRICTED_CONTAINER_SECURITY_CONTEXT,
            "volumeMounts": [
                {"name": "data", "mountPath": _DATA_DIR},
                {"name": "run", "mountPath": "/var/run/postgresql"},
                {"name": "tmp", "mountPath": "/tmp"},
                {"name": "shm", "mountPath": "/dev/shm"},
            ],
        }
        self.statefulset = k8s.apps.v1.StatefulSet(
            f"{name}-statefulset",
            metadata={
                "name": args.service_name,
                "namespace": self._namespace,
                "labels": self._labels,
            },
            spec={
                "serviceName": object_name(self.service),
                "replicas": 1,
                "selector": {"matchLabels": self._selector},
                "persistentVolumeClaimRetentionPolicy": RETAIN_CLAIMS,
                "template": {
                    "metadata": {"labels": {**self._labels, **self._selector}},
                    "spec": {
                        "automountServiceAccountToken": False,
                        "securityContext": pod_security_context(uid=POSTGRES_UID, gid=POSTGRES_UID),
                        "terminationGracePeriodSeconds": 60,
                        "containers": [container],
                        "volumes": [
                            {"name": "run", "emptyDir": {}},
                            {"name": "tmp", "emptyDir": {}},
                            {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "256Mi"}},
                        ],
                    },
                },
                "volumeClaimTemplates": [
                    volume_claim_template(
                        "data",
                        storage_size_gib=args.storage_size_gib,
                        storage_class_name=args.storage_class_name,
                    )
                ],
            },
            opts=child_opts(self),
        )
        port = [{"protocol": "TCP", "port": POSTGRES_PORT}]
        k8s.networking.v1.NetworkPolicy(
            f"{name}-network-policy",
            metadata={
                "name": args.service_name,
                "namespace": self._namespace,
                "labels": self._labels,
            },
            spec={
                "podSelector": {"matchLabels": self._selector},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [
                    {"from": namespace_peers(args.allowed_namespaces), "ports": port},
                    # The roles Job, in this namespace.
                    {"from": [{"podSelector": {"matchLabels": self._job_selector}}], "ports": port},
                ],
                # The server opens no connections.
                "egress": [],
            },
            opts=child_opts(self),
        )
        self.register_outputs(
            {
                "host": self.host,
                "port": self.port,
                "database_name": self.database_name,
                "superuser_secret_name": self.superuser_secret_name,
            }
        )

    def connection_secret_name(self, identity: WorkloadIdentity) -> str:
        """The Secret a grant creates in the identity's namespace (``PG*``, ``DATABASE_URL``)."""
        return connection_secret_name(
            identity_name=identity.identity_name, service_name=self._args.service_name
        )

    def connection(self, identity: WorkloadIdentity) -> SqlConnection:
        """How the granted ``identity`` signs in: its own role, password from its connection
        Secret (``PGPASSWORD``). The server has no TLS, so ``sslmode`` is ``prefer``."""
        user = self._db_users.get(identity.identity_name)
        if user is None or self._grants[identity.identity_name].identity is not identity:
            raise BlueprintConfigError(
                "identity",
                identity.identity_name,
                "Call grant_connect(identity) on this database before asking for its connection.",
            )
        return SqlConnection(
            host=self.host,
            port=self.port,
            database=self.database_name,
            user=user,
            password_secret_name=self.connection_secret_name(identity),
            password_secret_key="PGPASSWORD",
            sslmode="prefer",
        )

    def grant_connect(self, identity: WorkloadIdentity, *, db_user: str | None = None) -> None:
        """Give ``identity`` its own login role (``db_user``, default: its name with '_')
        that owns a schema of the same name and can touch nothing else; its credentials go
        to a connection Secret in the identity's namespace."""
        user = validate_pg_identifier(
            db_user or db_user_for(identity.identity_name), field="db_user"
        )
        taken = {u for i, u in self._db_users.items() if i != identity.identity_name}
        if user in taken or self._db_users.get(identity.identity_name, user) != user:
            raise BlueprintConfigError(
                "db_user",
                user,
                "Each identity gets exactly one role and each role belongs to one identity: "
                "pick a db_user no other identity uses, and keep the one already granted.",
            )
        prefix = f"{self._name}-{identity.identity_name}"
        grant, is_new = register_grant(
            self,
            prefix,
            self._grants,
            identity,
            "connect",
            password_length=32,
            client_path=ClientPath(
                self._args.service_name,
                namespace_pod_peer(self._namespace, self._selector),
                POSTGRES_PORT,
            ),
        )
        if not is_new:
            return
        self._db_users[identity.identity_name] = user
        if self._roles_job is None:
            self._roles_job = self._create_roles_job()
        data = pulumi.Output.all(self.host, grant.password.result).apply(
            lambda v: self._connection_data(host=v[0], user=user, password=text(v[1]))
        )
        connection_secret(
            self,
            f"{prefix}-connection",
            identity=identity,
            secret_name=self.connection_secret_name(identity),
            labels=self._labels,
            data=data,
        )

    def _connection_data(self, *, host: str, user: str, password: str) -> dict[str, str]:
        database = self._args.database_name
        return {
            "PGHOST": host,
            "PGPORT": str(POSTGRES_PORT),
            "PGDATABASE": database,
            "PGUSER": user,
            "PGPASSWORD": password,
            "DATABASE_URL": f"postgresql://{user}:{password}@{host}:{POSTGRES_PORT}/{database}",
        }

    def _roles_sql(self) -> pulumi.Output[str]:
        identities = sorted(self._grants)
        passwords = [self._grants[i].password.result for i in identities]
        return pulumi.Output.all(*passwords).apply(
            lambda resolved: postgres_roles_sql(
                self._args.database_name,
                [(self._db_users[i], text(p)) for i, p in zip(identities, resolved, strict=True)],
            )
        )

    def _create_roles_job(self) -> k8s.batch.v1.Job:
        args = self._args
        # Computed after the program body has returned, so it holds every grant.
        sql = deferred(self._superuser_password.result, self._roles_sql)
        roles = k8s.core.v1.Secret(
            f"{self._name}-roles",
            metadata={
                "name": f"{args.service_name}-roles",
                "namespace": self._namespace,
                "labels": self._labels,
            },
            type="Opaque",
            string_data={"roles.sql": pulumi.Output.secret(sql)},
            opts=child_opts(self),
        )
        job_labels = {
            **standard_labels(_ROLES_JOB, instance=args.service_name, extra=args.labels),
            **self._job_selector,
        }
        superuser_key: dict[str, Any] = {"name": self.superuser_secret_name}
        job = k8s.batch.v1.Job(
            f"{self._name}-roles-job",
            metadata={
                "name": f"{args.service_name}-roles",
                "namespace": self._namespace,
                "labels": job_labels,
            },
            spec={
                "backoffLimit": 6,
                "template": {
                    "metadata": {
                        "labels": job_labels,
                        # A new script (grants changed) replaces the Job, which runs it again.
                        "annotations": {"mlops-blueprints.io/roles-sha256": sha256_annotation(sql)},
                    },
                    "spec": {
                        "restartPolicy": "OnFailure",
                        "automountServiceAccountToken": False,
                        "securityContext": pod_security_context(uid=POSTGRES_UID, gid=POSTGRES_UID),
                        "containers": [
                            {
                                "name": "apply-roles",
                                "image": IMAGES["postgres"],
                                "command": [
                                    "psql",
                                    "--no-psqlrc",
                                    "-v",
                                    "ON_ERROR_STOP=1",
                                    "-f",
                                    "/sql/roles.sql",
                                ],
                                "env": [
                                    {"name": "PGHOST", "value": object_name(self.service)},
                                    {"name": "PGPORT", "value": str(POSTGRES_PORT)},
                                    {"name": "PGDATABASE", "value": args.database_name},
                                    {"name": "PGCONNECT_TIMEOUT", "value": "10"},
                                    {
                                        "name": "PGUSER",
                                        "valueFrom": {
                                            "secretKeyRef": {
                                                **superuser_key,
                                                "key": "POSTGRES_USER",
                                            }
                                        },
                                    },
                                    {
                                        "name": "PGPASSWORD",
                                        "valueFrom": {
                                            "secretKeyRef": {
                                                **superuser_key,
                                                "key": "POSTGRES_PASSWORD",
                                            }
                                        },
                                    },
                                ],
                                "resources": container_resources(
                                    cpu_request="50m", memory_request_mib=32, memory_limit_mib=128
                                ),
                                "securityContext": RESTRICTED_CONTAINER_SECURITY_CONTEXT,
                                "volumeMounts": [
                                    {"name": "sql", "mountPath": "/sql", "readOnly": True}
                                ],
                            }
                        ],
                        "volumes": [{"name": "sql", "secret": {"secretName": object_name(roles)}}],
                    },
                },
            },
            # A Job's spec is immutable, so a change replaces it; the name is fixed, so the old
            # Job goes before the new one comes.
            opts=child_opts(
                self,
                depends_on=[self.statefulset],
                replace_on_changes=["spec"],
                delete_before_replace=True,
            ),
        )
        k8s.networking.v1.NetworkPolicy(
            f"{self._name}-roles-job-egress",
            metadata={
                "name": f"{args.service_name}-roles-job-egress",
                "namespace": self._namespace,
                "labels": self._labels,
            },
            spec={
                "podSelector": {"matchLabels": self._job_selector},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [{"podSelector": {"matchLabels": self._selector}}],
                        "ports": [{"protocol": "TCP", "port": POSTGRES_PORT}],
                    }
                ],
            },
            opts=child_opts(self),
        )
        return job


if TYPE_CHECKING:

    def _conforms(database: InClusterPostgres) -> SqlDatabase:
        return database
