"""Feast feature repository of the reference app (duckdb offline, sqlite/Redis/DynamoDB online)."""

from mlops_reference_app.features._config import (
    ONLINE_STORE_KINDS,
    PROJECT,
    DynamoDBOnlineStore,
    OnlineStore,
    RedisOnlineStore,
    SqliteOnlineStore,
    feature_store_config,
    online_store_from_env,
    render_feature_store_yaml,
)
from mlops_reference_app.features._repo import (
    DEFAULT_TTL,
    ENTITY,
    EVENT_TIMESTAMP,
    FEATURE_VIEW,
    JOIN_KEY,
    STATION_ID,
    FeatureRepo,
    describe,
    feast_objects,
)

__all__ = [
    "DEFAULT_TTL",
    "ENTITY",
    "EVENT_TIMESTAMP",
    "FEATURE_VIEW",
    "JOIN_KEY",
    "ONLINE_STORE_KINDS",
    "PROJECT",
    "STATION_ID",
    "DynamoDBOnlineStore",
    "FeatureRepo",
    "OnlineStore",
    "RedisOnlineStore",
    "SqliteOnlineStore",
    "describe",
    "feast_objects",
    "feature_store_config",
    "online_store_from_env",
    "render_feature_store_yaml",
]
