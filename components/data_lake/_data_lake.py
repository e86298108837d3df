"""Three buckets with one naming scheme, requested through the target seam."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pulumi

from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.targets._seam import ObjectStore, ObjectStoreArgs, Target

__all__ = [
    "CLASSIFICATION_TAG",
    "DATA_CLASSIFICATIONS",
    "DATA_LAKE_ZONES",
    "DataClassification",
    "DataLake",
    "DataLakeArgs",
]

# raw: data as it arrived; curated: cleaned, versioned training data; artifacts: models,
# pipeline outputs and experiment artifacts.
DATA_LAKE_ZONES: tuple[str, ...] = ("raw", "curated", "artifacts")
CLASSIFICATION_TAG = "mlops-blueprints.io/data-classification"
DataClassification = Literal["public", "internal", "confidential", "pii"]
DATA_CLASSIFICATIONS: tuple[DataClassification, ...] = ("public", "internal", "confidential", "pii")
# Source and prepared data may hold business records; artifacts are models and reports.
DEFAULT_CLASSIFICATIONS: dict[str, DataClassification] = {
    "raw": "confidential",
    "curated": "confidential",
    "artifacts": "internal",
}


@dataclass(frozen=True)
class DataLakeArgs:
    """Arguments for :class:`DataLake`.

    - ``target``: the deployment target that provides the object store.
    - ``bucket_prefix``: buckets are named ``<bucket_prefix>-<zone>`` (S3 rules apply).
    - ``noncurrent_version_retention_days`` (90): how long overwritten versions are kept.
    - ``classifications`` (raw and curated confidential, artifacts internal): each zone's
      data classification (``public``, ``internal``, ``confidential`` or ``pii``), tagged as
      ``mlops-blueprints.io/data-classification``; a ``pii`` zone needs PII scanning at
      Level 4.
    - ``tags``: added to every bucket.
    """

    target: Target
    bucket_prefix: str
    noncurrent_version_retention_days: int = 90
    classifications: dict[str, DataClassification] = field(
        default_factory=lambda: dict(DEFAULT_CLASSIFICATIONS)
    )
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for zone, classification in self.classifications.items():
            if zone not in DATA_LAKE_ZONES:
                raise BlueprintConfigError(
                    f"classifications.{zone}",
                    classification,
                    f"Classify the zones {', '.join(DATA_LAKE_ZONES)} only.",
                )
            if classification not in DATA_CLASSIFICATIONS:
                raise BlueprintConfigError(
                    f"classifications.{zone}",
                    classification,
                    f"Use one of: {', '.join(DATA_CLASSIFICATIONS)}.",
                )

    def zone_request(self, zone: str) -> ObjectStoreArgs:
        classification = self.classifications.get(zone, DEFAULT_CLASSIFICATIONS[zone])
        return ObjectStoreArgs(
            bucket_name=f"{self.bucket_prefix}-{zone}",
            purpose=f"data-lake-{zone}",
            noncurrent_version_retention_days=self.noncurrent_version_retention_days,
            tags={**self.tags, CLASSIFICATION_TAG: classification},
        )


class DataLake(pulumi.ComponentResource):
    """The platform's buckets, one per zone: ``raw``, ``curated`` and ``artifacts``.

    Children: ``{name}-raw``, ``{name}-curated``, ``{name}-artifacts``, each the target's
    object store component (an S3 bucket on aws, a SeaweedFS bucket on kind).
    """

    def __init__(
        self, name: str, args: DataLakeArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:storage:DataLake", name, None, opts)
        # Validate every zone's request before registering anything.
        requests = {zone: args.zone_request(zone) for zone in DATA_LAKE_ZONES}
        self.zones: dict[str, ObjectStore] = {
            zone: args.target.object_store(
                f"{name}-{zone}", request, pulumi.ResourceOptions(parent=self)
            )
            for zone, request in requests.items()
        }
        self.register_outputs({f"{zone}_uri": store.uri for zone, store in self.zones.items()})

    @property
    def raw(self) -> ObjectStore:
        return self.zones["raw"]

    @property
    def curated(self) -> ObjectStore:
        return self.zones["curated"]

    @property
    def artifacts(self) -> ObjectStore:
        return self.zones["artifacts"]
