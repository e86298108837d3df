"""The generated kind-flavour feature_store.yaml drives real Feast against a real Redis.

The online store is a ``redis-server`` on loopback with the same ACL user a grant creates
(read and write, ``-@dangerous``), the offline store local parquet read by duckdb, and the
registry a local file. ``apply``, ``materialize`` and online reads go through the Python API.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import redis
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
from feast.types import Float32, Int64
from mlops_blueprints.components.feature_store import feature_store_yaml, registry_path
from mlops_blueprints.components.key_value import redis_acl_rules

from mlops_blueprints.targets._seam import KeyValueConnection
from tests.services._require import unavailable

pytestmark = [
    pytest.mark.slow,
    # ibis (Feast's duckdb backend) calls a duckdb method that duckdb has deprecated.
    pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning"),
]

REDIS_SERVER = "/usr/bin/redis-server"
USER = "feature-materializer"
PASSWORD = "generatedpasswordwithoutspecials42"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def redis_port() -> Iterator[int]:
    if not Path(REDIS_SERVER).exists() and shutil.which("redis-server") is None:
        unavailable("redis-server is not installed (apt-get install redis-server)")
    port = _free_port()
    server = subprocess.Popen(
        [
            REDIS_SERVER,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        admin = redis.Redis(host="127.0.0.1", port=port)
        for _ in range(100):
            try:
                admin.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        rules = redis_acl_rules(["read", "write"]).split()
        admin.execute_command("ACL", "SETUSER", USER, "on", f">{PASSWORD}", *rules)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_generated_config_applies_materializes_and_serves(
    redis_port: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DO_NOT_TRACK", "true")
    monkeypatch.setenv("FEAST_USAGE", "False")
    # The connection Secret's keys, as the pod gets them through envFrom.
    monkeypatch.setenv("REDIS_USERNAME", USER)
    monkeypatch.setenv("REDIS_PASSWORD", PASSWORD)
    data = tmp_path / "data"
    data.mkdir()
    text = feature_store_yaml(
        project="driver_ranking",
        registry=registry_path(str(tmp_path / "registry")),
        offline_uri=str(data),
        online=KeyValueConnection(kind="redis", host="127.0.0.1", port=redis_port),
    )
    assert "${REDIS_PASSWORD}" in text
    assert PASSWORD not in text
    (tmp_path / "registry" / "feast").mkdir(parents=True)
    (tmp_path / "feature_store.yaml").write_text(text)

    now = datetime.now(UTC).replace(microsecond=0)
    frame = pd.DataFrame(
        {
            "driver_id": [1001, 1002, 1001],
            "conv_rate": [0.25, 0.5, 0.75],
            "trips": [10, 20, 30],
            "event_timestamp": [
                now - timedelta(hours=3),
                now - timedelta(hours=2),
                now - timedelta(hours=1),
            ],
        }
    )
    frame.to_parquet(data / "driver_stats.parquet")
    driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)
    view = FeatureView(
        name="driver_stats",
        entities=[driver],
        ttl=timedelta(days=1),
        schema=[Field(name="conv_rate", dtype=Float32), Field(name="trips", dtype=Int64)],
        source=FileSource(
            path=str(data / "driver_stats.parquet"), timestamp_field="event_timestamp"
        ),
    )
    store = FeatureStore(repo_path=str(tmp_path))
    assert store.config.online_store.type == "redis"
    assert store.config.offline_store.type == "duckdb"
    store.apply([driver, view])
    assert (tmp_path / "registry" / "feast" / "registry.db").is_file()

    store.materialize(start_date=now - timedelta(days=1), end_date=now)
    online = store.get_online_features(
        features=["driver_stats:conv_rate", "driver_stats:trips"],
        entity_rows=[{"driver_id": 1001}, {"driver_id": 1002}, {"driver_id": 9999}],
    ).to_dict()
    assert online["driver_id"] == [1001, 1002, 9999]
    # The latest row per driver, nothing for an unknown one.
    assert online["conv_rate"] == [pytest.approx(0.75), pytest.approx(0.5), None]
    assert online["trips"] == [30, 20, None]
