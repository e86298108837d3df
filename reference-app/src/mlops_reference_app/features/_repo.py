"""A Feast feature repository for the daily weather features, generated in the workdir."""

# Feast takes seconds to import, so it is imported where it is used, not with this module.

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from mlops_reference_app.data import FEATURES, TARGET, TIMESTAMP
from mlops_reference_app.features._config import (
    CONFIG_FILE,
    PROJECT,
    OnlineStore,
    render_feature_store_yaml,
)

if TYPE_CHECKING:
    from feast import Entity, FeatureStore, FeatureView, FileSource

    from mlops_reference_app.settings import AppSettings

STATION_ID = "seattle"
"""The one weather station the data set covers."""
ENTITY = "station"
JOIN_KEY = "station_id"
EVENT_TIMESTAMP = "event_timestamp"
CREATED_TIMESTAMP = "created_timestamp"
FEATURE_VIEW = "daily_weather"
DEFAULT_TTL = timedelta(days=3)
"""How long a day's features stay valid: an older value is served as missing."""

SOURCE_FILE = Path("data") / "daily_weather.parquet"
DEFINITIONS_FILE = "definitions.py"
_MANIFEST_FILE = "repo.json"

_DEFINITIONS_TEMPLATE = '''"""Feast objects of this repository (generated).

Run `feast apply` in this directory to register them.
"""

from mlops_reference_app.features import feast_objects

station, daily_weather_source, daily_weather = feast_objects(
    source_path={source!r},
    features={features!r},
    ttl_seconds={ttl},
)
'''


def feast_objects(
    *, source_path: str, features: Sequence[str], ttl_seconds: int
) -> tuple[Entity, FileSource, FeatureView]:
    """The entity, the parquet source and the feature view over the daily features."""
    from feast import Entity, FeatureView, Field, FileSource, ValueType
    from feast.types import Float64

    station = Entity(
        name=ENTITY,
        join_keys=[JOIN_KEY],
        value_type=ValueType.STRING,
        description="A weather station; the data set has a single one.",
    )
    source = FileSource(
        name=f"{FEATURE_VIEW}_source",
        path=source_path,
        timestamp_field=EVENT_TIMESTAMP,
        created_timestamp_column=CREATED_TIMESTAMP,
    )
    view = FeatureView(
        name=FEATURE_VIEW,
        entities=[station],
        ttl=timedelta(seconds=ttl_seconds),
        schema=[Field(name=name, dtype=Float64) for name in features],
        source=source,
        online=True,
        description="Daily weather observations and engineered features, one row per day.",
    )
    return station, source, view


def _utc(value: datetime | pd.Timestamp | str) -> datetime:
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    moment: datetime = stamp.to_pydatetime()
    return moment


def _utc_series(values: pd.Series) -> pd.Series:
    stamps = pd.to_datetime(values)
    if stamps.dt.tz is None:
        return stamps.dt.tz_localize("UTC")
    return stamps.dt.tz_convert("UTC")


class FeatureRepo:
    """The weather feature repository under ``settings.feast_repo``.

    ``write(frame)`` generates the repository (source parquet, ``feature_store.yaml``, a
    definitions file the Feast CLI understands); ``apply()``, ``materialize(start, end)``,
    ``online_features()`` and ``training_set(labels)`` then use the Feast Python API.
    """

    def __init__(
        self,
        settings: AppSettings,
        *,
        online: OnlineStore | None = None,
        features: Sequence[str] | None = None,
        ttl: timedelta = DEFAULT_TTL,
        project: str = PROJECT,
    ) -> None:
        if ttl <= timedelta(0):
            raise ValueError(f"feature TTL must be positive, got {ttl}")
        self.settings = settings
        self.path = Path(settings.feast_repo)
        self.online = online
        self.ttl = ttl
        self.project = project
        self._features = tuple(features) if features is not None else None
        self._store: FeatureStore | None = None

    # -- generation ---------------------------------------------------------------------
    @property
    def features(self) -> tuple[str, ...]:
        if self._features is None:
            manifest = self.path / _MANIFEST_FILE
            if manifest.exists():
                self._features = tuple(json.loads(manifest.read_text())["features"])
            else:
                self._features = tuple(FEATURES)
        return self._features

    @property
    def source_path(self) -> Path:
        return self.path / SOURCE_FILE

    def source_frame(self, frame: pd.DataFrame, *, timestamp: str | None = None) -> pd.DataFrame:
        """The feature table Feast reads: station id, event/created timestamps, float features."""
        timestamp = timestamp or TIMESTAMP
        missing = [c for c in (timestamp, *self.features) if c not in frame.columns]
        if missing:
            raise ValueError(f"feature source frame lacks columns {missing}")
        table = pd.DataFrame(
            {
                JOIN_KEY: frame[JOIN_KEY].astype(str) if JOIN_KEY in frame else STATION_ID,
                EVENT_TIMESTAMP: _utc_series(frame[timestamp]),
            }
        )
        table[CREATED_TIMESTAMP] = (
            _utc_series(frame[CREATED_TIMESTAMP])
            if CREATED_TIMESTAMP in frame
            else table[EVENT_TIMESTAMP]
        )
        for name in self.features:
            table[name] = frame[name].astype("float64")
        return table.reset_index(drop=True)

    def write(self, frame: pd.DataFrame, *, timestamp: str | None = None) -> Path:
        """Generate the repository from ``frame`` (the daily feature table); returns its path."""
        self.path.mkdir(parents=True, exist_ok=True)
        self.source_path.parent.mkdir(parents=True, exist_ok=True)
        self.source_frame(frame, timestamp=timestamp).to_parquet(self.source_path, index=False)
        (self.path / CONFIG_FILE).write_text(
            render_feature_store_yaml(self.settings, self.online, project=self.project)
        )
        (self.path / DEFINITIONS_FILE).write_text(
            _DEFINITIONS_TEMPLATE.format(
                source=str(self.source_path),
                features=list(self.features),
                ttl=int(self.ttl.total_seconds()),
            )
        )
        (self.path / _MANIFEST_FILE).write_text(
            json.dumps({"features": list(self.features), "ttl_seconds": self.ttl.total_seconds()})
        )
        self._store = None
        return self.path

    # -- Feast operations ----------------------------------------------------------------
    def objects(self) -> tuple[Entity, FileSource, FeatureView]:
        return feast_objects(
            source_path=str(self.source_path),
            features=self.features,
            ttl_seconds=int(self.ttl.total_seconds()),
        )

    def store(self) -> FeatureStore:
        if self._store is None:
            if not (self.path / CONFIG_FILE).exists():
                raise FileNotFoundError(
                    f"no {CONFIG_FILE} in {self.path}; call FeatureRepo.write(frame) first"
                )
            from feast import FeatureStore

            self._store = FeatureStore(repo_path=str(self.path))
        return self._store

    def apply(self) -> None:
        """Register the entity and the feature view (creates online tables where needed)."""
        station, _, view = self.objects()
        self.store().apply([station, view])

    def materialize(
        self, start: datetime | pd.Timestamp | str, end: datetime | pd.Timestamp | str
    ) -> None:
        """Copy the latest row per station with event time in [start, end] to the online store."""
        self.store().materialize(start_date=_utc(start), end_date=_utc(end))

    def feature_refs(self) -> list[str]:
        return [f"{FEATURE_VIEW}:{name}" for name in self.features]

    def online_features(self, station_ids: Sequence[str] = (STATION_ID,)) -> pd.DataFrame:
        """Latest materialized features per station (missing values where nothing is fresh)."""
        response = self.store().get_online_features(
            features=self.feature_refs(),
            entity_rows=[{JOIN_KEY: sid} for sid in station_ids],
        )
        return response.to_df()[[JOIN_KEY, *self.features]]

    def historical_features(self, entity_df: pd.DataFrame) -> pd.DataFrame:
        """Point-in-time join: for each (station, time) the latest feature row at or before it.

        A row older than the TTL is not used, so the features are missing (NaN) there.
        ``entity_df`` needs ``station_id`` and ``event_timestamp``; extra columns (labels) are
        carried through. The result keeps the input order.
        """
        missing = {JOIN_KEY, EVENT_TIMESTAMP} - set(entity_df.columns)
        if missing:
            raise ValueError(f"entity frame lacks columns {sorted(missing)}")
        order = "__row"
        entities = entity_df.copy()
        entities[EVENT_TIMESTAMP] = _utc_series(entities[EVENT_TIMESTAMP])
        entities[order] = range(len(entities))
        job = self.store().get_historical_features(entity_df=entities, features=self.feature_refs())
        result = job.to_df().sort_values(order).set_index(order)
        result.index.name = None
        return result.reset_index(drop=True)

    def training_set(
        self, labels: pd.DataFrame, *, timestamp: str | None = None, target: str | None = None
    ) -> pd.DataFrame:
        """A point-in-time correct training frame from a label table (timestamp + target).

        Returns the label table's timestamp column (naive, as in the data module), the features
        as of that time and the target, in time order.
        """
        timestamp = timestamp or TIMESTAMP
        target = target or TARGET
        entity = pd.DataFrame(
            {
                JOIN_KEY: labels[JOIN_KEY].astype(str) if JOIN_KEY in labels else STATION_ID,
                EVENT_TIMESTAMP: labels[timestamp].to_numpy(),
                target: labels[target].to_numpy(),
            }
        )
        joined = self.historical_features(entity)
        out = pd.DataFrame({timestamp: _utc_series(joined[EVENT_TIMESTAMP]).dt.tz_localize(None)})
        for name in self.features:
            out[name] = joined[name].astype("float64")
        out[target] = joined[target].to_numpy()
        return out


def describe(repo: FeatureRepo) -> dict[str, Any]:
    """A small JSON-friendly description of the repository (for reports)."""
    return {
        "path": str(repo.path),
        "project": repo.project,
        "feature_view": FEATURE_VIEW,
        "entity": ENTITY,
        "features": list(repo.features),
        "ttl_seconds": repo.ttl.total_seconds(),
        "online_store": (repo.online.__class__.__name__ if repo.online else "SqliteOnlineStore"),
    }
