"""Rendering ``feature_store.yaml`` for the embedded store and the platform's online stores."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml

if TYPE_CHECKING:
    from mlops_reference_app.settings import AppSettings

PROJECT = "weather"
"""Feast project name shared by every variant of the repository."""

CONFIG_FILE = "feature_store.yaml"
REGISTRY_FILE = "registry.db"
ONLINE_DB_FILE = "online.db"
DEFAULT_DYNAMODB_REGION = "us-east-1"

OnlineStoreKind = Literal["sqlite", "redis", "dynamodb"]
ONLINE_STORE_KINDS: tuple[OnlineStoreKind, ...] = ("sqlite", "redis", "dynamodb")


@dataclass(frozen=True)
class SqliteOnlineStore:
    """Embedded online store: one sqlite file (default: ``online.db`` inside the repository)."""

    path: Path | None = None

    def config(self, repo: Path) -> dict[str, Any]:
        return {"type": "sqlite", "path": str(self.path or repo / ONLINE_DB_FILE)}


@dataclass(frozen=True)
class RedisOnlineStore:
    """Redis online store; ``connection_string`` is ``host:port[,db=N][,password=...]``."""

    connection_string: str = "localhost:6379"
    key_ttl_seconds: int | None = None

    def __post_init__(self) -> None:
        host, _, rest = self.connection_string.partition(":")
        port = rest.split(",", 1)[0]
        if not host or not port.isdigit():
            raise ValueError(
                f"Redis connection string {self.connection_string!r} is not 'host:port[,opts]'; "
                "use e.g. 'redis.feature-store.svc:6379'"
            )
        if self.key_ttl_seconds is not None and self.key_ttl_seconds <= 0:
            raise ValueError(f"key_ttl_seconds must be positive, got {self.key_ttl_seconds}")

    def config(self, repo: Path) -> dict[str, Any]:
        del repo
        cfg: dict[str, Any] = {"type": "redis", "connection_string": self.connection_string}
        if self.key_ttl_seconds is not None:
            cfg["key_ttl_seconds"] = self.key_ttl_seconds
        return cfg


@dataclass(frozen=True)
class DynamoDBOnlineStore:
    """DynamoDB online store; ``endpoint_url`` points at a local emulator or a VPC endpoint."""

    region: str = DEFAULT_DYNAMODB_REGION
    endpoint_url: str | None = None
    table_name_template: str = "{project}.{table_name}"

    def __post_init__(self) -> None:
        if not self.region:
            raise ValueError("DynamoDB online store needs a region, e.g. 'us-east-1'")
        if self.endpoint_url is not None and not self.endpoint_url.startswith(
            ("http://", "https://")
        ):
            raise ValueError(
                f"DynamoDB endpoint_url {self.endpoint_url!r} must start with http:// or https://"
            )

    def config(self, repo: Path) -> dict[str, Any]:
        del repo
        cfg: dict[str, Any] = {
            "type": "dynamodb",
            "region": self.region,
            "table_name_template": self.table_name_template,
        }
        if self.endpoint_url is not None:
            cfg["endpoint_url"] = self.endpoint_url
        return cfg


OnlineStore = SqliteOnlineStore | RedisOnlineStore | DynamoDBOnlineStore


def online_store_from_env(env: Mapping[str, str] | None = None) -> OnlineStore:
    """Choose the online store from the environment the platform injects.

    ``FEAST_ONLINE_STORE`` is ``sqlite`` (default), ``redis`` or ``dynamodb``; Redis reads
    ``FEAST_REDIS_CONNECTION_STRING``; DynamoDB reads ``FEAST_DYNAMODB_REGION`` (or
    ``AWS_REGION``) and the optional ``FEAST_DYNAMODB_ENDPOINT_URL``.
    """
    env = os.environ if env is None else env
    kind = env.get("FEAST_ONLINE_STORE", "sqlite").strip().lower()
    if kind == "sqlite":
        return SqliteOnlineStore()
    if kind == "redis":
        return RedisOnlineStore(env.get("FEAST_REDIS_CONNECTION_STRING", "localhost:6379"))
    if kind == "dynamodb":
        region = env.get("FEAST_DYNAMODB_REGION") or env.get("AWS_REGION")
        return DynamoDBOnlineStore(
            region=region or DEFAULT_DYNAMODB_REGION,
            endpoint_url=env.get("FEAST_DYNAMODB_ENDPOINT_URL") or None,
        )
    choices = ", ".join(ONLINE_STORE_KINDS)
    raise ValueError(f"FEAST_ONLINE_STORE={kind!r} is not supported; choose one of {choices}")


def feature_store_config(
    settings: AppSettings, online: OnlineStore | None = None, *, project: str = PROJECT
) -> dict[str, Any]:
    """The ``feature_store.yaml`` content as a dict: duckdb offline store, file registry."""
    repo = Path(settings.feast_repo)
    return {
        "project": project,
        "provider": "local",
        "registry": {"registry_type": "file", "path": str(repo / REGISTRY_FILE)},
        "offline_store": {"type": "duckdb"},
        "online_store": (online or SqliteOnlineStore()).config(repo),
        "entity_key_serialization_version": 3,
    }


def render_feature_store_yaml(
    settings: AppSettings, online: OnlineStore | None = None, *, project: str = PROJECT
) -> str:
    """Render ``feature_store.yaml`` for ``settings.feast_repo`` and the chosen online store."""
    return str(
        yaml.safe_dump(feature_store_config(settings, online, project=project), sort_keys=False)
    )
