"""IAM database authentication for MLflow's SQLAlchemy engines (RDS for PostgreSQL).

MLflow builds its engines from a URL and has no hook for short-lived passwords. This module is
shipped to the server as ``sitecustomize.py`` (on ``PYTHONPATH``), which Python imports at
start-up. When ``MLOPS_RDS_IAM_AUTH`` is ``true`` it registers a SQLAlchemy ``do_connect``
listener that signs a fresh IAM token (valid 15 minutes) for every new PostgreSQL connection,
so pooled connections never outlive their credentials. Signing happens on the client with the
pod's web-identity credentials; no request leaves the pod for it.

It depends only on SQLAlchemy and boto3, which the MLflow server image carries.
"""

from __future__ import annotations

import os
from typing import Any

import boto3  # type: ignore[import-untyped]
from sqlalchemy import event
from sqlalchemy.engine import Engine

ENABLE_VARIABLE = "MLOPS_RDS_IAM_AUTH"
REGION_VARIABLE = "MLOPS_RDS_IAM_REGION"
_DEFAULT_PORT = 5432


def set_token(client: Any, region: str, cparams: dict[str, Any]) -> None:
    """Put a freshly signed token into the connect parameters of one PostgreSQL connection.

    Host, port and user come from the URL when it names them, else from the libpq variables
    (``PGHOST``, ``PGPORT``, ``PGUSER``) the URL relies on.
    """
    host = cparams.get("host") or os.environ.get("PGHOST")
    port = int(cparams.get("port") or os.environ.get("PGPORT") or _DEFAULT_PORT)
    user = cparams.get("user") or os.environ.get("PGUSER")
    if not host or not user:
        raise RuntimeError("IAM database auth needs a host and a user (URL or PGHOST/PGUSER)")
    cparams["password"] = client.generate_db_auth_token(
        DBHostname=host, Port=port, DBUsername=user, Region=region
    )


def install(region: str | None = None) -> Any:
    """Register the token listener on every SQLAlchemy engine; returns the listener."""
    region = region or os.environ[REGION_VARIABLE]
    client = boto3.client("rds", region_name=region)

    def _on_connect(dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        if dialect.name == "postgresql":
            set_token(client, region, cparams)

    event.listen(Engine, "do_connect", _on_connect)
    return _on_connect


if os.environ.get(ENABLE_VARIABLE, "").lower() == "true":
    install()
