"""Feature store: Feast's feature server, registry and scheduled materialization."""

from ._feature_store import FeatureStore, FeatureStoreArgs
from ._plan import feature_store_yaml, registry_path, validate_project, validate_schedule

__all__ = [
    "FeatureStore",
    "FeatureStoreArgs",
    "feature_store_yaml",
    "registry_path",
    "validate_project",
    "validate_schedule",
]
