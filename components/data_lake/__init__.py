"""The data lake: raw, curated and artifacts buckets on the target's object store."""

from ._data_lake import (
    CLASSIFICATION_TAG,
    DATA_CLASSIFICATIONS,
    DATA_LAKE_ZONES,
    DataClassification,
    DataLake,
    DataLakeArgs,
)

__all__ = [
    "CLASSIFICATION_TAG",
    "DATA_CLASSIFICATIONS",
    "DATA_LAKE_ZONES",
    "DataClassification",
    "DataLake",
    "DataLakeArgs",
]
