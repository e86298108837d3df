"""The data lake: raw, curated and artifacts buckets on the target's object store."""

from ._data_lake import DATA_LAKE_ZONES, DataLake, DataLakeArgs

__all__ = ["DATA_LAKE_ZONES", "DataLake", "DataLakeArgs"]
