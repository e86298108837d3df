"""Pure planning for the model registry: the MLflow server's settings and the chart values.

The server settings (``server_args`` and ``server_env``) are the single description of how the
MLflow server runs. The chart values are derived from them, and the service tests start a real
``mlflow server`` with exactly the same arguments and environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

__all__ = [
    "AUTH_APP_NAME",
    "CHART_METRICS_DIR",
    "IAM_PASSWORD_PLACEHOLDER",
    "MLFLOW_GID",
    "MLFLOW_PORT",
    "MLFLOW_UID",
    "POSTGRES_DRIVER",
    "PYTHON_PATH_DIR",
    "SERVER_WORKERS",
    "ChartPlan",
    "ServerSettings",
    "artifacts_destination",
    "chart_values",
    "server_args",
    "server_env",
    "server_settings",
    "sitecustomize_source",
]

MLFLOW_PORT = 5000
# The chart passes this directory to `--expose-prometheus` when its ServiceMonitor is on.
CHART_METRICS_DIR = "/mlflow/metrics"
# Where the IAM auth hook is mounted, put on PYTHONPATH so Python imports it at start-up.
PYTHON_PATH_DIR = "/opt/mlops/python"
# The image's unprivileged user and group (the chart's defaults).
MLFLOW_UID = 1001
MLFLOW_GID = 1001
# One worker: the server is about 550 MB instead of 2.7 GB; scale out with replicas instead.
SERVER_WORKERS = 1
AUTH_APP_NAME = "basic-auth"
# Named explicitly: SQLAlchemy 2.1 defaults `postgresql://` to psycopg 3, which MLflow's
# images and this environment do not carry.
POSTGRES_DRIVER = "psycopg2"
# The chart requires some password; with IAM auth every connection replaces it with a token.
IAM_PASSWORD_PLACEHOLDER = "replaced-by-iam-token"


def artifacts_destination(bucket: str, prefix: str) -> str:
    """``s3://bucket/prefix``, the way the chart builds ``--artifacts-destination``."""
    return f"s3://{bucket}/{prefix}"


def server_args(
    *,
    host: str,
    port: int,
    artifacts_destination: str,
    metrics_dir: str,
    enable_authentication: bool,
) -> list[str]:
    """``mlflow server`` arguments, in the order the pinned chart renders them.

    The backend store URL names only the dialect: host, port, database, user and password come
    from the libpq variables (``PGHOST`` ...), so no credential ever appears in an argument.
    """
    args = [
        "server",
        f"--host={host}",
        f"--port={port}",
        f"--backend-store-uri=postgresql+{POSTGRES_DRIVER}://",
        f"--artifacts-destination={artifacts_destination}",
        "--serve-artifacts",
        f"--expose-prometheus={metrics_dir}",
    ]
    if enable_authentication:
        args.append(f"--app-name={AUTH_APP_NAME}")
    args.append(f"--workers={SERVER_WORKERS}")
    return args


def server_env(
    *,
    sslmode: str,
    s3_endpoint_url: pulumi.Input[str] | None,
    iam_region: pulumi.Input[str] | None,
    python_path: str = PYTHON_PATH_DIR,
) -> dict[str, pulumi.Input[str]]:
    """Environment of the server beyond the database credentials.

    Job execution is off (it forks a job runner per worker); telemetry is off. With
    ``iam_region`` the IAM token hook on ``python_path`` is switched on.
    """
    env: dict[str, pulumi.Input[str]] = {
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        "PGSSLMODE": sslmode,
    }
    if s3_endpoint_url is not None:
        env["MLFLOW_S3_ENDPOINT_URL"] = s3_endpoint_url
    if iam_region is not None:
        env["MLOPS_RDS_IAM_AUTH"] = "true"
        env["MLOPS_RDS_IAM_REGION"] = iam_region
        env["PYTHONPATH"] = python_path
    return env


@dataclass(frozen=True)
class ServerSettings:
    """A complete server invocation: ``mlflow`` + ``args``, with ``env`` added."""

    args: list[str]
    env: dict[str, str]


def server_settings(
    *,
    host: str,
    port: int,
    bucket: str,
    prefix: str,
    metrics_dir: str,
    enable_authentication: bool = False,
    sslmode: str = "prefer",
    s3_endpoint_url: str | None = None,
    iam_region: str | None = None,
) -> ServerSettings:
    """The server's arguments and environment for concrete values (tests, local runs)."""
    env = server_env(sslmode=sslmode, s3_endpoint_url=s3_endpoint_url, iam_region=iam_region)
    return ServerSettings(
        args=server_args(
            host=host,
            port=port,
            artifacts_destination=artifacts_destination(bucket, prefix),
            metrics_dir=metrics_dir,
            enable_authentication=enable_authentication,
        ),
        env={k: str(v) for k, v in env.items()},
    )


def sitecustomize_source() -> str:
    """The IAM token hook, shipped to the server as ``sitecustomize.py``."""
    return Path(__file__).with_name("_sitecustomize.py").read_text(encoding="utf-8")


@dataclass(frozen=True)
class ChartPlan:
    """Everything the chart values depend on; leaves may be Outputs."""

    release_name: str
    replicas: int
    service_account_name: pulumi.Input[str]
    pod_labels: Mapping[str, str]
    db_host: pulumi.Input[str]
    db_port: pulumi.Input[int]
    db_name: pulumi.Input[str]
    db_user: str
    db_password_secret: tuple[str, str] | None
    sslmode: str
    iam_region: pulumi.Input[str] | None
    bucket: pulumi.Input[str]
    prefix: str
    s3_endpoint_url: pulumi.Input[str]
    s3_credentials_secret: pulumi.Input[str] | None
    enable_authentication: bool
    admin_secret_name: pulumi.Input[str] | None
    sitecustomize_config_map: pulumi.Input[str] | None
    service_monitor_namespace: pulumi.Input[str]
    service_monitor_labels: Mapping[str, str]
    resources: Mapping[str, Any]
    enable_service_monitor: bool = True


def _pod_security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": MLFLOW_UID,
        "runAsGroup": MLFLOW_GID,
        "fsGroup": MLFLOW_GID,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _container_security_context() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": MLFLOW_UID,
        "runAsGroup": MLFLOW_GID,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def chart_values(plan: ChartPlan) -> dict[str, Any]:
    """Values for the pinned ``mlflow`` chart (community-charts), derived from the settings."""
    volumes: list[dict[str, Any]] = [{"name": "metrics", "emptyDir": {}}]
    mounts: list[dict[str, Any]] = [{"name": "metrics", "mountPath": CHART_METRICS_DIR}]
    if plan.sitecustomize_config_map is not None:
        volumes.append(
            {"name": "python-hooks", "configMap": {"name": plan.sitecustomize_config_map}}
        )
        mounts.append({"name": "python-hooks", "mountPath": PYTHON_PATH_DIR, "readOnly": True})
    postgres: dict[str, Any] = {
        "enabled": True,
        "host": plan.db_host,
        "port": plan.db_port,
        "database": plan.db_name,
        "user": plan.db_user,
        "driver": POSTGRES_DRIVER,
    }
    backend: dict[str, Any] = {
        # Migrations need the IAM hook, which the chart's init container lacks: the server
        # creates the schema on first start; upgrades run `mlflow db upgrade` (see README).
        "databaseMigration": False,
        "databaseConnectionCheck": False,
        "postgres": postgres,
    }
    if plan.db_password_secret is not None:
        secret_name, password_key = plan.db_password_secret
        postgres["password"] = ""
        backend["existingDatabaseSecret"] = {
            "name": secret_name,
            "usernameKey": "PGUSER",
            "passwordKey": password_key,
        }
    else:
        postgres["password"] = IAM_PASSWORD_PLACEHOLDER
    s3: dict[str, Any] = {"enabled": True, "bucket": plan.bucket, "path": plan.prefix}
    if plan.s3_credentials_secret is not None:
        s3["existingSecret"] = {
            "name": plan.s3_credentials_secret,
            "keyOfAccessKeyId": "AWS_ACCESS_KEY_ID",
            "keyOfSecretAccessKey": "AWS_SECRET_ACCESS_KEY",
        }
    auth: dict[str, Any] = {"enabled": plan.enable_authentication}
    if plan.enable_authentication:
        auth_db: dict[str, Any] = {
            "enabled": True,
            "host": plan.db_host,
            "port": plan.db_port,
            "database": plan.db_name,
            "driver": POSTGRES_DRIVER,
        }
        if plan.db_password_secret is not None:
            auth_db["existingSecret"] = {
                "name": plan.db_password_secret[0],
                "usernameKey": "PGUSER",
                "passwordKey": plan.db_password_secret[1],
            }
        else:
            auth_db["user"] = plan.db_user
            auth_db["password"] = IAM_PASSWORD_PLACEHOLDER
        auth.update(
            {
                "appName": AUTH_APP_NAME,
                "defaultPermission": "READ",
                "existingAdminSecret": {
                    "name": plan.admin_secret_name,
                    "usernameKey": "username",
                    "passwordKey": "password",
                },
                "postgres": auth_db,
            }
        )
    return {
        "fullnameOverride": plan.release_name,
        "replicaCount": plan.replicas,
        "serviceAccount": {
            "create": False,
            "automount": False,
            "name": plan.service_account_name,
        },
        "extraPodLabels": dict(plan.pod_labels),
        "podSecurityContext": _pod_security_context(),
        "securityContext": _container_security_context(),
        "service": {"type": "ClusterIP", "port": MLFLOW_PORT, "containerPort": MLFLOW_PORT},
        # Uvicorn's own logging; the chart's flag would add a quoted `--uvicorn-opts`.
        "log": {"enabled": False, "level": "info"},
        "telemetry": {"enabled": False},
        "backendStore": backend,
        "artifactRoot": {"proxiedArtifactStorage": True, "s3": s3},
        "auth": auth,
        "serviceMonitor": {
            "enabled": plan.enable_service_monitor,
            "useServicePort": False,
            "namespace": plan.service_monitor_namespace,
            "interval": "30s",
            "telemetryPath": "/metrics",
            "labels": dict(plan.service_monitor_labels),
        },
        "resources": dict(plan.resources),
        "extraArgs": {"workers": str(SERVER_WORKERS)},
        "extraEnvVars": server_env(
            sslmode=plan.sslmode,
            s3_endpoint_url=plan.s3_endpoint_url,
            iam_region=plan.iam_region,
        ),
        "extraVolumes": volumes,
        "extraVolumeMounts": mounts,
    }
