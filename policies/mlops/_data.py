"""Rules on ML data: data-lake classification, PII discovery, the online feature store, and
the encryption of the pipeline root.

Which resources are which is read from what the platform records: data-lake buckets are S3
buckets under the ``DataLake`` component (or tagged ``purpose: data-lake-<zone>``), the
online store is tagged ``purpose: online feature store`` (or named ``...online-features``),
and the pipeline root is the ``defaultPipelineRoot`` of the ``kfp-launcher`` ConfigMap.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from pulumi_policy import ResourceValidationArgs, StackValidationArgs

from .._rule import Report, Rule, iter_list, prop

__all__ = [
    "CLASSIFICATION_TAG",
    "DATA_CLASSIFICATIONS",
    "ONLINE_STORE_NAME",
    "ONLINE_STORE_PURPOSE",
    "PERSONAL_DATA_CLASSIFICATIONS",
    "PIPELINE_LAUNCHER_CONFIGMAP",
    "RULES",
]

S3_BUCKET: Final = "aws:s3/bucket:Bucket"
_SSE_TYPES: Final = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
MACIE_JOB: Final = "aws:macie2/classificationJob:ClassificationJob"
DYNAMODB_TABLE: Final = "aws:dynamodb/table:Table"
ELASTICACHE_GROUP: Final = "aws:elasticache/replicationGroup:ReplicationGroup"
_CONFIGMAP_TYPES: Final = ("kubernetes:core/v1:ConfigMap", "kubernetes:core/v1:ConfigMapPatch")

# The tag that says what a data-lake bucket holds. ``pii`` is personal data (GDPR, DPDP;
# health data included), which Level 4 requires to be covered by sensitive-data discovery.
CLASSIFICATION_TAG: Final = "mlops-blueprints.io/data-classification"
DATA_CLASSIFICATIONS: Final = ("public", "internal", "confidential", "pii")
PERSONAL_DATA_CLASSIFICATIONS: Final = frozenset({"pii"})

_DATA_LAKE_COMPONENT: Final = "mlops:storage:DataLake$"
_DATA_LAKE_PURPOSE_PREFIX: Final = "data-lake-"

ONLINE_STORE_PURPOSE: Final = "online feature store"
ONLINE_STORE_NAME: Final = "online-features"

PIPELINE_LAUNCHER_CONFIGMAP: Final = "kfp-launcher"
_SSE_ALGORITHMS: Final = frozenset({"aws:kms", "aws:kms:dsse", "AES256"})


def _tags(props: Mapping[str, Any]) -> Mapping[str, Any]:
    tags = prop(props, "tags")
    return tags if isinstance(tags, Mapping) else {}


def _is_data_lake_bucket(urn: str, props: Mapping[str, Any]) -> bool:
    purpose = _tags(props).get("purpose")
    return _DATA_LAKE_COMPONENT in urn or (
        isinstance(purpose, str) and purpose.startswith(_DATA_LAKE_PURPOSE_PREFIX)
    )


def _bucket_name(props: Mapping[str, Any]) -> str | None:
    name = prop(props, "bucket")
    return name if isinstance(name, str) and name else None


# --- classification --------------------------------------------------------------------------


def _validate_classification(args: ResourceValidationArgs, report: Report) -> None:
    if not _is_data_lake_bucket(args.urn, args.props):
        return
    value = _tags(args.props).get(CLASSIFICATION_TAG)
    if value is None:
        report(f"data-lake bucket has no {CLASSIFICATION_TAG} tag")
    elif value not in DATA_CLASSIFICATIONS:
        report(
            f"data-lake bucket's {CLASSIFICATION_TAG} is {value!r}; use one of "
            f"{', '.join(DATA_CLASSIFICATIONS)}"
        )


DATA_LAKE_CLASSIFIED = Rule(
    name="data-lake-bucket-declares-data-classification",
    description=(
        "Every data-lake bucket carries a mlops-blueprints.io/data-classification tag "
        "(public, internal, confidential or pii), so what data each zone holds is recorded "
        "where access, retention and scanning decisions are made."
    ),
    remediation=(
        "Tag each zone's bucket with its classification through the DataLake component's "
        "tags (one classification per zone; raw and curated usually 'pii' or "
        "'confidential')."
    ),
    severity="medium",
    controls={
        "nist-800-53": ("RA-2", "CM-8"),
        "gdpr": ("Art. 30",),
        "dpdp": ("Sec. 8(4)",),
        "eu-ai-act": ("Art. 10",),
    },
    resource_types=(S3_BUCKET,),
    validate_resource=_validate_classification,
)


# --- PII discovery at Level 4 -----------------------------------------------------------------


def _job_is_active(props: Mapping[str, Any]) -> bool:
    return prop(props, "jobType") == "SCHEDULED" and prop(props, "jobStatus") not in (
        "CANCELLED",
        "USER_PAUSED",
    )


def _job_names(props: Mapping[str, Any]) -> set[str]:
    names: set[str] = set()
    for definition in iter_list(prop(props, "s3JobDefinition", "bucketDefinitions")):
        names |= {str(b) for b in iter_list(prop(definition, "buckets"))}
    return names


def _job_tag_pairs(props: Mapping[str, Any]) -> set[tuple[str, str]]:
    """``(key, value)`` tags whose buckets an ``EQ`` tag criterion includes."""
    pairs: set[tuple[str, str]] = set()
    criteria = prop(props, "s3JobDefinition", "bucketCriteria", "includes", "ands")
    for condition in iter_list(criteria):
        criterion = prop(condition, "tagCriterion")
        if not isinstance(criterion, Mapping) or prop(criterion, "comparator", default="EQ") != (
            "EQ"
        ):
            continue
        for tag in iter_list(prop(criterion, "tagValues")):
            key, value = prop(tag, "key"), prop(tag, "value")
            if isinstance(key, str) and isinstance(value, str):
                pairs.add((key, value))
    return pairs


def _validate_pii_scanned(args: StackValidationArgs, report: Report) -> None:
    named: set[str] = set()
    tagged: set[tuple[str, str]] = set()
    for resource in args.resources:
        if resource.resource_type == MACIE_JOB and _job_is_active(resource.props):
            named |= _job_names(resource.props)
            tagged |= _job_tag_pairs(resource.props)
    for resource in args.resources:
        if resource.resource_type != S3_BUCKET:
            continue
        tags = _tags(resource.props)
        classification = tags.get(CLASSIFICATION_TAG)
        if classification not in PERSONAL_DATA_CLASSIFICATIONS:
            continue
        name = _bucket_name(resource.props)
        if name in named or (CLASSIFICATION_TAG, str(classification)) in tagged:
            continue
        report(
            f"bucket {name or resource.name} is classified {classification} but no scheduled "
            f"Macie classification job ({MACIE_JOB}) covers it",
            resource.urn,
        )


PII_SCANNED = Rule(
    name="pii-bucket-scanned-for-sensitive-data",
    description=(
        "At Level 4 every bucket classified pii is covered by a scheduled, active Amazon "
        "Macie classification job (naming the bucket, or including it by its classification "
        "tag), so personal data is discovered where it actually lands."
    ),
    remediation=(
        "Create an aws.macie2.ClassificationJob with job_type SCHEDULED whose "
        "s3_job_definition names the bucket (bucket_definitions) or includes "
        "mlops-blueprints.io/data-classification=pii (bucket_criteria); Macie must be "
        "enabled in the account."
    ),
    severity="high",
    controls={
        "nist-800-53": ("RA-5", "CM-8"),
        "gdpr": ("Art. 30", "Art. 35"),
        "dpdp": ("Sec. 8(4)", "Sec. 10"),
        "eu-ai-act": ("Art. 10",),
    },
    resource_types=(S3_BUCKET, MACIE_JOB),
    validate_stack=_validate_pii_scanned,
    levels=(4,),
)


# --- online feature store ---------------------------------------------------------------------


def _online_store_name(type_: str, props: Mapping[str, Any]) -> str | None:
    """The store's name when ``props`` describe the online feature store, else ``None``."""
    key = "name" if type_ == DYNAMODB_TABLE else "replicationGroupId"
    name = prop(props, key)
    name = name if isinstance(name, str) else ""
    if _tags(props).get("purpose") == ONLINE_STORE_PURPOSE or ONLINE_STORE_NAME in name:
        return name or "(unnamed)"
    return None


def _validate_online_encrypted(args: ResourceValidationArgs, report: Report) -> None:
    if _online_store_name(args.resource_type, args.props) is None:
        return
    if args.resource_type == DYNAMODB_TABLE:
        # DynamoDB always encrypts; disabled means an AWS-owned key, invisible to the account.
        if prop(args.props, "serverSideEncryption", "enabled") is not True:
            report("serverSideEncryption.enabled is not true: the table uses an AWS-owned key")
        return
    if prop(args.props, "atRestEncryptionEnabled") is not True:
        report("atRestEncryptionEnabled is not true")
    if prop(args.props, "transitEncryptionEnabled") is not True:
        report("transitEncryptionEnabled is not true")


ONLINE_STORE_ENCRYPTED = Rule(
    name="online-feature-store-encrypted",
    description=(
        "The online feature store is encrypted with KMS: a DynamoDB table with server-side "
        "encryption enabled, or an ElastiCache replication group encrypted at rest and in "
        "transit."
    ),
    remediation=(
        "Use the target's key-value store (DynamoDbTable or ElasticacheRedis), which enables "
        "KMS encryption at rest and TLS in transit; do not override them."
    ),
    severity="high",
    controls={
        "nist-800-53": ("SC-28", "SC-8", "SC-13"),
        "hipaa": ("164.312(a)(2)(iv)", "164.312(e)(2)(ii)"),
        "gdpr": ("Art. 32",),
        "dpdp": ("Sec. 8(5)",),
        "eu-ai-act": ("Art. 15",),
    },
    resource_types=(DYNAMODB_TABLE, ELASTICACHE_GROUP),
    validate_resource=_validate_online_encrypted,
)


def _validate_online_customer_key(args: ResourceValidationArgs, report: Report) -> None:
    if _online_store_name(args.resource_type, args.props) is None:
        return
    if args.resource_type == DYNAMODB_TABLE:
        path: tuple[str, ...] = ("serverSideEncryption", "kmsKeyArn")
    else:
        path = ("kmsKeyId",)
    key = prop(args.props, *path)
    if not isinstance(key, str) or not key:
        report(f"{'.'.join(path)} is not set: the store is encrypted with an AWS-managed key")


ONLINE_STORE_CUSTOMER_KEY = Rule(
    name="online-feature-store-uses-customer-managed-key",
    description=(
        "At Level 4 the online feature store is encrypted with the platform's "
        "customer-managed KMS key, so key use is auditable and access can be revoked."
    ),
    remediation=(
        "Pass the platform key as kms_key_arn to DynamoDbTable or ElasticacheRedis (the aws "
        "target does this when customer_managed_keys is on, as Level 4 sets)."
    ),
    severity="medium",
    controls={
        "nist-800-53": ("SC-12", "SC-28"),
        "hipaa": ("164.312(a)(2)(iv)",),
        "gdpr": ("Art. 32",),
        "dpdp": ("Sec. 8(5)",),
    },
    resource_types=(DYNAMODB_TABLE, ELASTICACHE_GROUP),
    validate_resource=_validate_online_customer_key,
    levels=(4,),
)


# --- pipeline root ----------------------------------------------------------------------------


def _encrypts(props: Mapping[str, Any]) -> bool:
    for rule in iter_list(prop(props, "rules")):
        if prop(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm") in _SSE_ALGORITHMS:
            return True
    return False


def _inline_encryption(props: Mapping[str, Any]) -> bool:
    # The deprecated inline block on the bucket itself (a single ``rule`` object).
    return (
        prop(
            props,
            "serverSideEncryptionConfiguration",
            "rule",
            "applyServerSideEncryptionByDefault",
            "sseAlgorithm",
        )
        in _SSE_ALGORITHMS
    )


def _validate_pipeline_root(args: StackValidationArgs, report: Report) -> None:
    buckets: dict[str, Any] = {}
    encrypted: set[str] = set()
    for resource in args.resources:
        if resource.resource_type == S3_BUCKET:
            name = _bucket_name(resource.props)
            if name:
                buckets[name] = resource
                if _inline_encryption(resource.props):
                    encrypted.add(name)
        elif resource.resource_type in _SSE_TYPES and _encrypts(resource.props):
            name = _bucket_name(resource.props)
            if name:
                encrypted.add(name)
    for resource in args.resources:
        if resource.resource_type not in _CONFIGMAP_TYPES:
            continue
        if prop(resource.props, "metadata", "name") != PIPELINE_LAUNCHER_CONFIGMAP:
            continue
        root = prop(resource.props, "data", "defaultPipelineRoot")
        if not isinstance(root, str) or not root:
            continue
        parts = urlsplit(root)
        if parts.scheme != "s3" or not parts.netloc:
            report(
                f"pipeline root {root} is not an s3:// location, so its encryption cannot be shown",
                resource.urn,
            )
        elif parts.netloc not in buckets:
            report(
                f"pipeline root {root} is on bucket {parts.netloc}, which this stack does not "
                "create as an S3 bucket, so its server-side encryption cannot be shown",
                resource.urn,
            )
        elif parts.netloc not in encrypted:
            report(
                f"pipeline root {root} is on bucket {parts.netloc}, which has no default "
                "server-side encryption",
                resource.urn,
            )


PIPELINE_ROOT_ENCRYPTED = Rule(
    name="pipeline-root-on-encrypted-bucket",
    description=(
        "The Kubeflow Pipelines root (kfp-launcher defaultPipelineRoot), where every run's "
        "datasets, models and metrics land, is an S3 bucket of the stack with default "
        "server-side encryption."
    ),
    remediation=(
        "Point Pipelines at the data lake's artifacts bucket (created by the target's object "
        "store with a BucketServerSideEncryptionConfiguration), not at a bucket outside the "
        "stack or an unencrypted S3-compatible server."
    ),
    severity="high",
    controls={
        "nist-800-53": ("SC-28", "SC-13"),
        "hipaa": ("164.312(a)(2)(iv)",),
        "gdpr": ("Art. 32",),
        "dpdp": ("Sec. 8(5)",),
        "eu-ai-act": ("Art. 15",),
    },
    resource_types=(*_CONFIGMAP_TYPES, S3_BUCKET, *_SSE_TYPES),
    validate_stack=_validate_pipeline_root,
)

RULES: Final[tuple[Rule, ...]] = (
    DATA_LAKE_CLASSIFIED,
    PII_SCANNED,
    ONLINE_STORE_ENCRYPTED,
    ONLINE_STORE_CUSTOMER_KEY,
    PIPELINE_ROOT_ENCRYPTED,
)
