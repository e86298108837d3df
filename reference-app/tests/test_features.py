"""The Feast repository: point-in-time joins, materialization, and the three online stores."""

from __future__ import annotations

import math
import shutil
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import boto3
import pandas as pd
import pytest
import redis
import yaml
from _require import free_port, unavailable
from feast.repo_config import RepoConfig
from mlops_reference_app.data import FEATURES as WEATHER_FEATURES
from mlops_reference_app.data import TARGET, TIMESTAMP, load_weather
from mlops_reference_app.features import (
    DynamoDBOnlineStore,
    FeatureRepo,
    RedisOnlineStore,
    SqliteOnlineStore,
    feature_store_config,
    online_store_from_env,
    render_feature_store_yaml,
)
from mlops_reference_app.settings import AppSettings
from moto.server import ThreadedMotoServer

pytestmark = pytest.mark.app

FEATURES = ("temp_max", "wind")
TTL = timedelta(days=2)


def _day(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


# Source rows. seattle's 2 March reading is corrected later (a second row for the same event
# time with a later created time): the correction must win.
SOURCE = pd.DataFrame(
    [
        ("seattle", "2024-03-01", "2024-03-01", 10.0, 1.0),
        ("seattle", "2024-03-02", "2024-03-02", 12.0, 2.0),
        ("seattle", "2024-03-02", "2024-03-02 12:00", 13.0, 2.5),
        ("seattle", "2024-03-06", "2024-03-06", 15.0, 3.0),
        ("portland", "2024-03-01", "2024-03-01", 8.0, 4.0),
    ],
    columns=["station_id", "timestamp", "created_timestamp", "temp_max", "wind"],
).assign(
    timestamp=lambda f: pd.to_datetime(f["timestamp"]),
    created_timestamp=lambda f: pd.to_datetime(f["created_timestamp"], format="ISO8601"),
)

NAN = math.nan
# (station, as-of time) -> expected (temp_max, wind), worked out by hand with TTL = 2 days:
# the latest row at or before the as-of time, and no older than the TTL.
EXPECTED = [
    ("seattle", "2024-02-28", NAN, NAN),  # before any reading
    ("seattle", "2024-03-01", 10.0, 1.0),  # same-day reading
    ("seattle", "2024-03-03", 13.0, 2.5),  # 2 March, corrected value
    ("seattle", "2024-03-04", 13.0, 2.5),  # exactly TTL old: still valid
    ("seattle", "2024-03-05", NAN, NAN),  # 3 days old: outside the TTL; 6 March is the future
    ("seattle", "2024-03-07", 15.0, 3.0),
    ("portland", "2024-03-02", 8.0, 4.0),
    ("portland", "2024-03-04", NAN, NAN),  # 3 days old: outside the TTL
]


def _settings(tmp_path: Path) -> AppSettings:
    return AppSettings.embedded(tmp_path / "work")


def _repo(tmp_path: Path, online=None) -> FeatureRepo:
    repo = FeatureRepo(_settings(tmp_path), online=online, features=FEATURES, ttl=TTL)
    repo.write(SOURCE)
    repo.apply()
    return repo


@pytest.fixture(scope="module")
def sqlite_repo(tmp_path_factory: pytest.TempPathFactory) -> FeatureRepo:
    return _repo(tmp_path_factory.mktemp("feast"))


def test_historical_features_are_point_in_time_correct(sqlite_repo: FeatureRepo) -> None:
    entities = pd.DataFrame(
        {
            "station_id": [row[0] for row in EXPECTED],
            "event_timestamp": [_day(row[1]) for row in EXPECTED],
            "label": range(len(EXPECTED)),
        }
    )
    result = sqlite_repo.historical_features(entities)
    assert list(result["label"]) == list(range(len(EXPECTED))), "input order must be kept"
    for (station, when, temp, wind), (_, got) in zip(EXPECTED, result.iterrows(), strict=True):
        assert got["station_id"] == station
        for name, want in (("temp_max", temp), ("wind", wind)):
            value = got[name]
            if math.isnan(want):
                assert pd.isna(value), f"{station} at {when}: {name} should be missing, got {value}"
            else:
                assert value == want, f"{station} at {when}: {name} = {value}, expected {want}"


def test_training_set_joins_labels_without_the_future(sqlite_repo: FeatureRepo) -> None:
    labels = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(["2024-03-07", "2024-03-01", "2024-03-05"]),
            "rain_tomorrow": [1, 0, 1],
        }
    )
    frame = sqlite_repo.training_set(labels)
    assert list(frame.columns) == ["timestamp", "temp_max", "wind", "rain_tomorrow"]
    assert frame["timestamp"].dt.tz is None
    assert list(frame["timestamp"]) == list(labels["timestamp"])
    assert list(frame["rain_tomorrow"]) == [1, 0, 1]
    assert list(frame["temp_max"].iloc[:2]) == [15.0, 10.0]
    assert frame["temp_max"].iloc[2] != frame["temp_max"].iloc[2]  # NaN: stale, not the future


def test_online_read_after_materialize_is_latest_in_window(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    repo.materialize("2024-02-01", "2024-03-03")
    early = repo.online_features(["seattle", "portland"]).set_index("station_id")
    assert early.loc["seattle"].to_dict() == {"temp_max": 13.0, "wind": 2.5}
    assert early.loc["portland"].to_dict() == {"temp_max": 8.0, "wind": 4.0}
    repo.materialize("2024-03-03", "2024-03-31")
    late = repo.online_features(["seattle", "nowhere"]).set_index("station_id")
    assert late.loc["seattle"].to_dict() == {"temp_max": 15.0, "wind": 3.0}
    assert late.loc["nowhere"].isna().all()


def test_weather_training_set_reproduces_the_frame(tmp_path: Path) -> None:
    weather = load_weather()
    repo = FeatureRepo(_settings(tmp_path))  # default features: the data module's
    assert repo.features == tuple(WEATHER_FEATURES)
    repo.write(weather)
    repo.apply()
    labels = weather[[TIMESTAMP, TARGET]].sample(frac=1.0, random_state=0)
    frame = repo.training_set(labels)
    expected = weather.set_index(TIMESTAMP).loc[labels[TIMESTAMP], list(WEATHER_FEATURES)]
    pd.testing.assert_frame_equal(
        frame[list(WEATHER_FEATURES)].reset_index(drop=True),
        expected.reset_index(drop=True).astype("float64"),
    )
    # The generated repository is one the Feast CLI understands (definitions + config).
    assert (repo.path / "definitions.py").read_text().count("feast_objects(") == 1
    assert FeatureRepo(_settings(tmp_path)).features == tuple(WEATHER_FEATURES)


def test_feature_store_yaml_variants_are_valid_feast_configs(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    variants = {
        "sqlite": SqliteOnlineStore(),
        "redis": RedisOnlineStore("redis.features.svc:6379,db=1"),
        "dynamodb": DynamoDBOnlineStore(region="eu-west-1", endpoint_url="http://127.0.0.1:5000"),
    }
    for kind, online in variants.items():
        text = render_feature_store_yaml(settings, online)
        parsed = yaml.safe_load(text)
        assert parsed["offline_store"] == {"type": "duckdb"}
        assert parsed["online_store"]["type"] == kind
        config = RepoConfig(repo_path=settings.feast_repo, **parsed)
        assert config.online_store.type == kind
    assert feature_store_config(settings)["online_store"]["path"] == str(
        settings.feast_repo / "online.db"
    )
    dynamo = feature_store_config(settings, variants["dynamodb"])["online_store"]
    assert dynamo["endpoint_url"] == "http://127.0.0.1:5000"
    assert dynamo["region"] == "eu-west-1"


def test_online_store_from_env_and_bad_values() -> None:
    assert online_store_from_env({}) == SqliteOnlineStore()
    assert online_store_from_env(
        {"FEAST_ONLINE_STORE": "redis", "FEAST_REDIS_CONNECTION_STRING": "r:6380"}
    ) == RedisOnlineStore("r:6380")
    assert online_store_from_env(
        {"FEAST_ONLINE_STORE": "dynamodb", "AWS_REGION": "eu-central-1"}
    ) == DynamoDBOnlineStore(region="eu-central-1")
    with pytest.raises(ValueError, match="choose one of sqlite, redis, dynamodb"):
        online_store_from_env({"FEAST_ONLINE_STORE": "cassandra"})
    with pytest.raises(ValueError, match="host:port"):
        RedisOnlineStore("no-port")
    with pytest.raises(ValueError, match="http"):
        DynamoDBOnlineStore(endpoint_url="127.0.0.1:5000")
    with pytest.raises(ValueError, match="TTL must be positive"):
        FeatureRepo(AppSettings.embedded(Path("/tmp") / "unused-feast-settings"), ttl=timedelta(0))


def _assert_online_roundtrip(repo: FeatureRepo) -> None:
    repo.materialize("2024-02-01", "2024-03-31")
    online = repo.online_features(["seattle", "portland"]).set_index("station_id")
    assert online.loc["seattle"].to_dict() == {"temp_max": 15.0, "wind": 3.0}
    assert online.loc["portland"].to_dict() == {"temp_max": 8.0, "wind": 4.0}


@pytest.fixture
def redis_server(tmp_path: Path):
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("redis-server is not installed (Debian package redis-server)")
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(host="127.0.0.1", port=port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"redis-server did not start on port {port}") from None
                time.sleep(0.05)
        yield f"127.0.0.1:{port}", client
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_redis_online_store(tmp_path: Path, redis_server) -> None:
    connection, client = redis_server
    repo = _repo(tmp_path, RedisOnlineStore(connection))
    assert client.dbsize() == 0
    _assert_online_roundtrip(repo)
    assert client.dbsize() == 2, "one key per station"


@pytest.fixture
def moto_dynamodb(monkeypatch: pytest.MonkeyPatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def test_dynamodb_online_store_on_moto(tmp_path: Path, moto_dynamodb: str) -> None:
    repo = _repo(tmp_path, DynamoDBOnlineStore(region="us-east-1", endpoint_url=moto_dynamodb))
    client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=moto_dynamodb)
    assert client.list_tables()["TableNames"] == ["weather.daily_weather"]
    _assert_online_roundtrip(repo)
    assert client.scan(TableName="weather.daily_weather")["Count"] == 2
