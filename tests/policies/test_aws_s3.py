"""S3 stack rules: each bucket linked to its separate configuration resources."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mlops_blueprints.policies import AnalyzedResource, Rule
from mlops_blueprints.policies.aws import S3_RULES

from tests.policies._helpers import assert_complies, assert_violates, resource, violations

pytestmark = pytest.mark.policy

RULES = {rule.name: rule for rule in S3_RULES}
PUBLIC_ACCESS = RULES["s3-bucket-blocks-public-access"]
ENCRYPTED = RULES["s3-bucket-encrypted-at-rest"]
CUSTOMER_KEY = RULES["s3-bucket-encrypted-with-customer-managed-key"]
TLS_ONLY = RULES["s3-bucket-denies-insecure-transport"]
TLS_1_2 = RULES["s3-bucket-requires-tls-1-2"]
VERSIONED = RULES["s3-bucket-versioning-enabled"]
LOGGED = RULES["s3-bucket-access-logged"]
NO_ACLS = RULES["s3-bucket-acls-disabled"]

KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/platform"
FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def tls_policy(bucket: str, *, tls_floor: str = "1.2", principal: Any = "*") -> str:
    resources = [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": principal,
                    "Action": "s3:*",
                    "Resource": resources,
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
                {
                    "Sid": "DenyOutdatedTls",
                    "Effect": "Deny",
                    "Principal": principal,
                    "Action": "s3:*",
                    "Resource": resources,
                    "Condition": {"NumericLessThan": {"s3:TlsVersion": tls_floor}},
                },
            ],
        }
    )


def bucket_parts(
    name: str = "lake",
    *,
    physical: str | None = "acme-lake",
    log_to: str | None = "acme-logs",
    sse: dict[str, Any] | None = None,
) -> dict[str, AnalyzedResource]:
    """A bucket and its configuration resources, as S3Bucket renders them (all compliant)."""
    bucket_props: dict[str, Any] = {"tags": {"purpose": name}}
    if physical is not None:
        bucket_props["bucket"] = physical
    bucket = resource("aws:s3/bucket:Bucket", f"{name}-bucket", bucket_props)
    ref = physical if physical is not None else f"{name}-bucket-id"
    deps = [bucket.urn]
    default = sse or {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY_ARN}
    parts = {
        "bucket": bucket,
        "public-access-block": resource(
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            f"{name}-public-access-block",
            {"bucket": ref, **dict.fromkeys(FLAGS, True)},
            dependencies=deps,
        ),
        "encryption": resource(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            f"{name}-encryption",
            {"bucket": ref, "rules": [{"applyServerSideEncryptionByDefault": default}]},
            dependencies=deps,
        ),
        "versioning": resource(
            "aws:s3/bucketVersioning:BucketVersioning",
            f"{name}-versioning",
            {"bucket": ref, "versioningConfiguration": {"status": "Enabled"}},
            dependencies=deps,
        ),
        "ownership": resource(
            "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
            f"{name}-ownership",
            {"bucket": ref, "rule": {"objectOwnership": "BucketOwnerEnforced"}},
            dependencies=deps,
        ),
        "policy": resource(
            "aws:s3/bucketPolicy:BucketPolicy",
            f"{name}-policy",
            {"bucket": ref, "policy": tls_policy(physical or "lake")},
            dependencies=deps,
        ),
    }
    if log_to is not None:
        parts["logging"] = resource(
            "aws:s3/bucketLogging:BucketLogging",
            f"{name}-access-logging",
            {"bucket": ref, "targetBucket": log_to, "targetPrefix": f"{ref}/"},
            dependencies=deps,
        )
    return parts


def log_bucket_parts() -> dict[str, AnalyzedResource]:
    """The access-log destination: SSE-S3 (log delivery cannot write SSE-KMS), not logged."""
    return bucket_parts("logs", physical="acme-logs", log_to=None, sse={"sseAlgorithm": "AES256"})


def stack(**replace: AnalyzedResource | None) -> tuple[AnalyzedResource, list[AnalyzedResource]]:
    """The lake bucket (subject) plus everything else, with parts replaced or (None) removed."""
    parts = bucket_parts()
    for key, value in replace.items():
        if value is None:
            del parts[key.replace("_", "-")]
        else:
            parts[key.replace("_", "-")] = value
    others = [p for k, p in parts.items() if k != "bucket"] + list(log_bucket_parts().values())
    return parts["bucket"], others


def with_props(subject: AnalyzedResource, **props: Any) -> AnalyzedResource:
    return resource(
        subject.type, subject.name, {**subject.props, **props}, dependencies=subject.dependencies
    )


@pytest.mark.parametrize("rule", S3_RULES, ids=lambda r: r.name)
def test_platform_bucket_and_log_bucket_comply(rule: Rule) -> None:
    bucket, others = stack()
    assert_complies(rule, bucket, *others)


@pytest.mark.parametrize("rule", S3_RULES, ids=lambda r: r.name)
def test_configuration_found_by_dependency_when_name_is_unknown(rule: Rule) -> None:
    # An auto-named bucket: its configurations name it by an id the render cannot resolve.
    parts = bucket_parts(physical=None)
    logs = log_bucket_parts()
    assert_complies(rule, *parts.values(), *logs.values())


@pytest.mark.parametrize("rule", S3_RULES, ids=lambda r: r.name)
def test_bucket_without_any_configuration_violates(rule: Rule) -> None:
    bare = resource("aws:s3/bucket:Bucket", "bare-bucket", {"bucket": "acme-bare"})
    _, others = stack()
    assert_violates(rule, bare, *others)


def test_configuration_of_another_bucket_does_not_count() -> None:
    bucket, others = stack(public_access_block=None)
    second = bucket_parts("other", physical="acme-other")
    found = violations(PUBLIC_ACCESS, bucket, *others, *second.values())
    assert [(v.rule, v.urn) for v in found] == [(PUBLIC_ACCESS.name, bucket.urn)]


# --- public access -------------------------------------------------------------------------


@pytest.mark.parametrize("flag", FLAGS)
def test_public_access_block_with_a_flag_off_violates(flag: str) -> None:
    block = bucket_parts()["public-access-block"]
    bucket, others = stack(public_access_block=with_props(block, **{flag: False}))
    found = assert_violates(PUBLIC_ACCESS, bucket, *others)
    assert flag in found.message


def test_account_public_access_block_covers_every_bucket() -> None:
    bucket, others = stack(public_access_block=None)
    account = resource(
        "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock",
        "account-block",
        dict.fromkeys(FLAGS, True),
    )
    assert_complies(PUBLIC_ACCESS, bucket, *others, account)
    partial = with_props(account, ignorePublicAcls=False)
    assert_violates(PUBLIC_ACCESS, bucket, *others, partial)


# --- encryption ----------------------------------------------------------------------------


def encryption(default: dict[str, Any]) -> AnalyzedResource:
    return with_props(
        bucket_parts()["encryption"], rules=[{"applyServerSideEncryptionByDefault": default}]
    )


@pytest.mark.parametrize(
    "default",
    [{"sseAlgorithm": "AES256"}, {"sseAlgorithm": "aws:kms"}, {"sseAlgorithm": "aws:kms:dsse"}],
)
def test_any_default_encryption_is_encrypted_at_rest(default: dict[str, Any]) -> None:
    bucket, others = stack(encryption=encryption(default))
    assert_complies(ENCRYPTED, bucket, *others)


def test_unknown_algorithm_is_not_encryption() -> None:
    bucket, others = stack(encryption=encryption({"sseAlgorithm": "none"}))
    assert_violates(ENCRYPTED, bucket, *others)


def test_inline_encryption_on_a_v2_bucket_counts() -> None:
    v2 = resource(
        "aws:s3/bucketV2:BucketV2",
        "old-bucket",
        {
            "bucket": "acme-old",
            "serverSideEncryptionConfigurations": [
                {"rules": [{"applyServerSideEncryptionByDefault": [{"sseAlgorithm": "AES256"}]}]}
            ],
        },
    )
    assert_complies(ENCRYPTED, v2)
    assert_violates(ENCRYPTED, with_props(v2, serverSideEncryptionConfigurations=[]))


@pytest.mark.parametrize(
    ("default", "complies"),
    [
        ({"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY_ARN}, True),
        ({"sseAlgorithm": "aws:kms:dsse", "kmsMasterKeyId": KEY_ARN}, True),
        ({"sseAlgorithm": "aws:kms"}, False),
        ({"sseAlgorithm": "aws:kms", "kmsMasterKeyId": "alias/aws/s3"}, False),
        (
            {
                "sseAlgorithm": "aws:kms",
                "kmsMasterKeyId": "arn:aws:kms:us-east-1:123456789012:alias/aws/s3",
            },
            False,
        ),
        ({"sseAlgorithm": "AES256"}, False),
    ],
)
def test_customer_managed_key(default: dict[str, Any], complies: bool) -> None:
    bucket, others = stack(encryption=encryption(default))
    if complies:
        assert_complies(CUSTOMER_KEY, bucket, *others)
    else:
        assert_violates(CUSTOMER_KEY, bucket, *others)


def test_log_destination_is_exempt_from_customer_managed_key() -> None:
    logs = log_bucket_parts()
    source = bucket_parts()
    assert_complies(CUSTOMER_KEY, *logs.values(), *source.values())
    # Without a bucket logging to it, the same SSE-S3 bucket needs a customer-managed key.
    unlinked = [p for k, p in source.items() if k != "logging"]
    assert_violates(
        CUSTOMER_KEY, logs["bucket"], *[p for k, p in logs.items() if k != "bucket"], *unlinked
    )


# --- bucket policy -------------------------------------------------------------------------


def policy(document: Any) -> AnalyzedResource:
    text = document if isinstance(document, str) else json.dumps(document)
    return with_props(bucket_parts()["policy"], policy=text)


def deny(**fields: Any) -> dict[str, Any]:
    statement = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": ["arn:aws:s3:::acme-lake", "arn:aws:s3:::acme-lake/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    statement.update(fields)
    return {"Version": "2012-10-17", "Statement": [statement]}


@pytest.mark.parametrize(
    "document",
    [
        deny(),
        deny(Principal={"AWS": "*"}),
        deny(Action=["*"]),
        deny(Resource="*"),
        deny(Condition={"Bool": {"aws:SecureTransport": False}}),
        deny(Condition={"BoolIfExists": {"aws:securetransport": "false"}}),
    ],
    ids=["plain", "aws-star", "all-actions", "all-resources", "json-false", "if-exists"],
)
def test_tls_only_policies_comply(document: dict[str, Any]) -> None:
    bucket, others = stack(policy=policy(document))
    assert_complies(TLS_ONLY, bucket, *others)


@pytest.mark.parametrize(
    "document",
    [
        deny(Effect="Allow"),
        deny(Principal={"AWS": "arn:aws:iam::123456789012:root"}),
        deny(Action="s3:GetObject"),
        deny(Resource="arn:aws:s3:::acme-lake/*"),
        deny(Resource="arn:aws:s3:::acme-lake"),
        deny(Condition={"Bool": {"aws:SecureTransport": "true"}}),
        deny(Condition=None),
    ],
    ids=["allow", "one-principal", "one-action", "objects-only", "bucket-only", "true", "none"],
)
def test_policies_that_do_not_deny_plain_http_violate(document: dict[str, Any]) -> None:
    bucket, others = stack(policy=policy(document))
    found = assert_violates(TLS_ONLY, bucket, *others)
    assert "without TLS" in found.message


def test_missing_bucket_policy_violates() -> None:
    bucket, others = stack(policy=None)
    assert_violates(TLS_ONLY, bucket, *others)


def test_unparseable_bucket_policy_violates() -> None:
    bucket, others = stack(policy=policy("{not json"))
    found = assert_violates(TLS_ONLY, bucket, *others)
    assert "not valid JSON" in found.message


def test_inline_bucket_policy_counts() -> None:
    bucket, others = stack(policy=None)
    inline = with_props(bucket, policy=tls_policy("acme-lake"))
    assert_complies(TLS_ONLY, inline, *others)


@pytest.mark.parametrize(("floor", "complies"), [("1.2", True), ("1.3", True), ("1.0", False)])
def test_tls_version_floor(floor: str, complies: bool) -> None:
    bucket, others = stack(policy=policy(tls_policy("acme-lake", tls_floor=floor)))
    if complies:
        assert_complies(TLS_1_2, bucket, *others)
    else:
        assert_violates(TLS_1_2, bucket, *others)


# --- versioning, logging, ownership --------------------------------------------------------


@pytest.mark.parametrize("status", ["Suspended", "Disabled"])
def test_versioning_not_enabled_violates(status: str) -> None:
    versioning = with_props(
        bucket_parts()["versioning"], versioningConfiguration={"status": status}
    )
    bucket, others = stack(versioning=versioning)
    assert_violates(VERSIONED, bucket, *others)


def test_inline_versioning_counts() -> None:
    bucket, others = stack(versioning=None)
    assert_violates(VERSIONED, bucket, *others)
    assert_complies(VERSIONED, with_props(bucket, versioning={"enabled": True}), *others)


def test_bucket_without_logging_violates_but_log_destination_is_exempt() -> None:
    bucket, others = stack(logging=None)
    found = violations(LOGGED, bucket, *others)
    # With nothing logging to it, the log bucket is no longer a destination: it violates too.
    assert sorted(v.resource_name for v in found) == ["lake-bucket", "logs-bucket"]
    assert_complies(LOGGED, *bucket_parts().values(), *log_bucket_parts().values())


def test_inline_logging_counts() -> None:
    bucket, others = stack(logging=None)
    inline = with_props(bucket, logging={"targetBucket": "acme-logs", "targetPrefix": "lake/"})
    assert_complies(LOGGED, inline, *others)


@pytest.mark.parametrize("ownership", ["ObjectWriter", "BucketOwnerPreferred"])
def test_ownership_other_than_enforced_violates(ownership: str) -> None:
    controls = with_props(bucket_parts()["ownership"], rule={"objectOwnership": ownership})
    bucket, others = stack(ownership=controls)
    found = assert_violates(NO_ACLS, bucket, *others)
    assert "BucketOwnerEnforced" in found.message
