"""Pure planning for the feature store: names, validation and the Feast client configuration."""

from __future__ import annotations

import json
import re
from typing import Any

from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.targets._seam import KeyValueConnection

__all__ = [
    "FEATURE_SERVER_PORT",
    "REGISTRY_KEY",
    "feature_store_yaml",
    "registry_path",
    "validate_project",
    "validate_schedule",
]

FEATURE_SERVER_PORT = 6566
# Where the registry file lives inside the registry object store.
REGISTRY_KEY = "feast/registry.db"
REGISTRY_PREFIX = "feast/"

_PROJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]{0,62}$")
_CRON_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")
_CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_CRON_MACROS = frozenset({"@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@midnight"})


def validate_project(value: str, *, field: str = "project") -> str:
    """Feast project names: letters, digits and underscores, not starting with '_'."""
    if not _PROJECT.match(value):
        raise BlueprintConfigError(
            field,
            value,
            "Use 1-63 letters, digits and '_', starting with a letter or digit "
            "(e.g. 'driver_ranking'); Feast refuses other project names.",
        )
    return value


def validate_schedule(value: str, *, field: str = "materialize_schedule") -> str:
    """A five-field cron expression (numbers, '*', ranges, steps, lists) or a macro."""
    if value in _CRON_MACROS:
        return value
    fields = value.split()
    problem = len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields)
    if not problem:
        for part, (low, high) in zip(fields, _CRON_RANGES, strict=True):
            numbers = [int(n) for n in re.findall(r"\d+", re.sub(r"/\d+", "", part))]
            if any(not low <= n <= high for n in numbers):
                problem = True
    if problem:
        raise BlueprintConfigError(
            field,
            value,
            "Use a five-field cron expression such as '0 * * * *' (hourly) or '*/15 * * * *', "
            "with minute 0-59, hour 0-23, day 1-31, month 1-12, weekday 0-7, or @hourly/@daily.",
        )
    return value


def registry_path(store_uri: str) -> str:
    """The registry file under an object store's URI (``<uri>/feast/registry.db``)."""
    return f"{store_uri.rstrip('/')}/{REGISTRY_KEY}"


def _online_store(online: KeyValueConnection) -> dict[str, Any]:
    if online.kind == "dynamodb":
        return {
            "type": "dynamodb",
            "region": online.region,
            # One table per feature view, named under the prefix the grants cover.
            "table_name_template": f"{online.table_prefix}{{project}}.{{table_name}}",
        }
    # Feast expands ${VAR} from the environment when it loads the file, so the credentials
    # stay in the identity's connection Secret and out of this configuration.
    connection = (
        f"{online.host}:{online.port},username=${{REDIS_USERNAME}},password=${{REDIS_PASSWORD}}"
    )
    if online.tls:
        connection += ",ssl=true"
    return {"type": "redis", "connection_string": connection}


def feature_store_yaml(
    *,
    project: str,
    registry: str,
    offline_uri: str,
    online: KeyValueConnection,
    registry_cache_ttl_seconds: int = 60,
) -> str:
    """The ``feature_store.yaml`` every client of the store uses (server, jobs, notebooks).

    ``online`` must hold resolved values. Parquet on an object store (``s3://``) is read by
    Feast's ``file`` offline store; a local directory by ``duckdb``.
    """
    validate_project(project)
    if online.kind not in ("dynamodb", "redis"):
        raise ValueError(f"unknown key-value store kind: {online.kind!r}")
    remote = "://" in offline_uri
    config: dict[str, Any] = {
        "project": project,
        "provider": "local",
        "registry": {
            "registry_type": "file",
            "path": registry,
            "cache_ttl_seconds": registry_cache_ttl_seconds,
        },
        "offline_store": {"type": "file" if remote else "duckdb"},
        "online_store": _online_store(online),
        "entity_key_serialization_version": 3,
    }
    # JSON is YAML: Feast reads it as is, and the core package needs no YAML library.
    return json.dumps(config, indent=2) + "\n"
