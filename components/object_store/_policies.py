"""Least-privilege S3 statements, as pure functions so they can be tested directly."""

from __future__ import annotations

from typing import Any, Literal

__all__ = [
    "GrantMode",
    "access_log_delivery_statement",
    "s3_grant_statements",
    "tls_only_bucket_policy",
]

GrantMode = Literal["read", "write"]

_ACTIONS: dict[GrantMode, list[str]] = {
    "read": ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging"],
    # Writing never includes reading or deleting: each is its own grant.
    "write": ["s3:PutObject", "s3:PutObjectTagging", "s3:AbortMultipartUpload"],
}


def s3_grant_statements(
    *, mode: GrantMode, bucket_arn: str, prefix: str, kms_key_arn: str | None
) -> list[dict[str, Any]]:
    """Statements that allow ``mode`` on ``prefix`` of one bucket, and nothing more."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": f"Object{mode.capitalize()}",
            "Effect": "Allow",
            "Action": _ACTIONS[mode],
            "Resource": [f"{bucket_arn}/{prefix}*"],
        }
    ]
    if mode == "read":
        listing: dict[str, Any] = {
            "Sid": "ListBucket",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [bucket_arn],
        }
        if prefix:
            listing["Condition"] = {"StringLike": {"s3:prefix": [f"{prefix}*"]}}
        statements.append(listing)
    else:
        statements.append(
            {
                "Sid": "ListMultipartUploads",
                "Effect": "Allow",
                "Action": ["s3:ListBucketMultipartUploads", "s3:ListMultipartUploadParts"],
                "Resource": [bucket_arn, f"{bucket_arn}/{prefix}*"],
            }
        )
    if kms_key_arn:
        kms_actions = ["kms:Decrypt"] if mode == "read" else ["kms:GenerateDataKey", "kms:Decrypt"]
        statements.append(
            {
                "Sid": "BucketKey",
                "Effect": "Allow",
                "Action": kms_actions,
                "Resource": [kms_key_arn],
            }
        )
    return statements


def tls_only_bucket_policy(bucket_arn: str) -> dict[str, Any]:
    """Deny every request that does not use TLS 1.2 or newer."""
    resources = [bucket_arn, f"{bucket_arn}/*"]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": resources,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Sid": "DenyOutdatedTls",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": resources,
                "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}},
            },
        ],
    }


def access_log_delivery_statement(
    log_bucket_arn: str, *, account_id: str, source_bucket_prefix: str
) -> dict[str, Any]:
    """Let S3 log delivery write server access logs for this account's ``source_bucket_prefix*``
    buckets, and nothing else (the confused-deputy conditions pin account and source)."""
    return {
        "Sid": "AllowServerAccessLogDelivery",
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"{log_bucket_arn}/*",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": account_id},
            "ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{source_bucket_prefix}*"},
        },
    }
