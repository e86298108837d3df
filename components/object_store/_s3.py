"""An S3 bucket with the secure posture built in."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.targets._seam import (
    ObjectStoreArgs,
    Principal,
    validate_bucket_name,
    validate_prefix,
)

from .._opts import child_opts
from ..identity import require_aws_role
from ._policies import (
    GrantMode,
    access_log_delivery_statement,
    s3_grant_statements,
    tls_only_bucket_policy,
)

__all__ = ["S3Bucket", "S3BucketArgs"]


@dataclass(frozen=True)
class S3BucketArgs:
    """Arguments for :class:`S3Bucket`.

    - ``bucket_name``: physical name; must follow the S3 naming rules (checked up front).
    - ``kms_key_arn``: a customer-managed key for SSE-KMS; when unset the bucket uses SSE-KMS
      with the AWS-managed ``aws/s3`` key. Either way a bucket key cuts KMS request costs.
    - ``noncurrent_version_retention_days`` (90): noncurrent versions expire after this.
    - ``infrequent_access_after_days`` (30): current objects move to STANDARD_IA after this;
      ``None`` keeps them in STANDARD.
    - ``access_log_bucket`` (none): send server access logs to this bucket, under
      ``<bucket_name>/``; Level 4 turns it on for every bucket.
    - ``log_delivery_source_prefix`` (none): make this bucket an access-log target for the
      account's buckets whose names start with the prefix. Log delivery only supports SSE-S3,
      so such a bucket uses SSE-S3 and cannot take ``kms_key_arn``.
    - ``tags``: added to the bucket.
    """

    bucket_name: str
    kms_key_arn: pulumi.Input[str] | None = None
    noncurrent_version_retention_days: int = 90
    infrequent_access_after_days: int | None = 30
    access_log_bucket: pulumi.Input[str] | None = None
    log_delivery_source_prefix: str | None = None
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_bucket_name(self.bucket_name, field="bucket_name")
        if self.noncurrent_version_retention_days < 1:
            raise BlueprintConfigError(
                "noncurrent_version_retention_days",
                self.noncurrent_version_retention_days,
                "Keep noncurrent versions for at least 1 day.",
            )
        # S3 refuses STANDARD_IA transitions earlier than 30 days.
        if self.infrequent_access_after_days is not None and self.infrequent_access_after_days < 30:
            raise BlueprintConfigError(
                "infrequent_access_after_days",
                self.infrequent_access_after_days,
                "S3 allows STANDARD_IA transitions after 30 days or more; use >= 30 or None.",
            )

        if self.log_delivery_source_prefix is not None:
            if self.kms_key_arn is not None:
                raise BlueprintConfigError(
                    "kms_key_arn",
                    "<set>",
                    "An access-log target bucket must use SSE-S3 (S3 log delivery cannot write "
                    "SSE-KMS objects): leave kms_key_arn unset on this bucket.",
                )
            if not self.log_delivery_source_prefix:
                raise BlueprintConfigError(
                    "log_delivery_source_prefix",
                    self.log_delivery_source_prefix,
                    "Name the bucket-name prefix of the buckets logging here (e.g. 'acme-mlops-').",
                )

    @classmethod
    def from_request(
        cls,
        request: ObjectStoreArgs,
        *,
        kms_key_arn: pulumi.Input[str] | None,
        access_log_bucket: pulumi.Input[str] | None = None,
    ) -> S3BucketArgs:
        return cls(
            bucket_name=request.bucket_name,
            kms_key_arn=kms_key_arn,
            noncurrent_version_retention_days=request.noncurrent_version_retention_days,
            access_log_bucket=access_log_bucket,
            tags={"purpose": request.purpose, **request.tags},
        )


class S3Bucket(pulumi.ComponentResource):
    """S3 bucket: versioned, owner-enforced, private, SSE-KMS, TLS-only, retained on delete.

    Children (``{name}-<suffix>``): ``bucket``, ``ownership``, ``public-access-block``,
    ``encryption``, ``versioning``, ``lifecycle``, ``access-logging`` (with
    ``access_log_bucket``), ``policy``; each grant adds a
    ``{name}-{read|write}-{identity}`` IAM role policy.
    """

    bucket_name: pulumi.Output[str]
    arn: pulumi.Output[str]
    uri: pulumi.Output[str]
    endpoint_url: pulumi.Output[str]

    def __init__(
        self, name: str, args: S3BucketArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:storage:S3Bucket", name, None, opts)
        self._name = name
        self._kms_key_arn = args.kms_key_arn
        self.bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=args.bucket_name,
            tags=args.tags,
            # Data outlives the stack: destroying the stack leaves the bucket in place.
            opts=child_opts(self, retain_on_delete=True),
        )
        self.bucket_name = self.bucket.bucket
        self.arn = self.bucket.arn
        ownership = aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=self.bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=child_opts(self),
        )
        public_access_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child_opts(self),
        )
        receives_logs = args.log_delivery_source_prefix is not None
        encryption_default: dict[str, pulumi.Input[str]] = {
            "sse_algorithm": "AES256" if receives_logs else "aws:kms"
        }
        if args.kms_key_arn is not None:
            encryption_default["kms_master_key_id"] = args.kms_key_arn
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=self.bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": encryption_default,
                    "bucket_key_enabled": not receives_logs,
                }
            ],
            opts=child_opts(self),
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=self.bucket.id,
            versioning_configuration={"status": "Enabled"},
            opts=child_opts(self),
        )
        lifecycle_rule: dict[str, object] = {
            "id": "noncurrent-expiry-and-tiering",
            "status": "Enabled",
            "filter": {},
            "noncurrent_version_expiration": {
                "noncurrent_days": args.noncurrent_version_retention_days
            },
            "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
        }
        if args.infrequent_access_after_days is not None:
            lifecycle_rule["transitions"] = [
                {"days": args.infrequent_access_after_days, "storage_class": "STANDARD_IA"}
            ]
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=self.bucket.id,
            rules=[lifecycle_rule],
            # S3 rejects lifecycle rules on a bucket whose versioning is still being set.
            opts=child_opts(self, depends_on=[versioning]),
        )
        if args.access_log_bucket is not None:
            aws.s3.BucketLogging(
                f"{name}-access-logging",
                bucket=self.bucket.id,
                target_bucket=args.access_log_bucket,
                target_prefix=f"{args.bucket_name}/",
                opts=child_opts(self),
            )
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=self.bucket.id,
            policy=self._policy_document(args.log_delivery_source_prefix),
            # A policy put before the public access block could briefly allow public access.
            opts=child_opts(self, depends_on=[public_access_block, ownership]),
        )
        self.uri = self.bucket.bucket.apply(lambda b: f"s3://{b}")
        self.endpoint_url = self.bucket.region.apply(lambda r: f"https://s3.{r}.amazonaws.com")
        self.register_outputs({"bucket_name": self.bucket_name, "arn": self.arn, "uri": self.uri})

    def _policy_document(self, log_source_prefix: str | None) -> pulumi.Output[str]:
        if log_source_prefix is None:
            document: pulumi.Output[str] = self.bucket.arn.apply(
                lambda arn: json.dumps(tls_only_bucket_policy(arn))
            )
            return document
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))

        def with_log_delivery(values: list[str]) -> str:
            policy = tls_only_bucket_policy(values[0])
            policy["Statement"].append(
                access_log_delivery_statement(
                    values[0], account_id=values[1], source_bucket_prefix=log_source_prefix
                )
            )
            return json.dumps(policy)

        return pulumi.Output.all(self.bucket.arn, account.account_id).apply(with_log_delivery)

    def grant_read(self, identity: Principal, *, prefix: str = "") -> None:
        """Allow ``identity`` to list and read objects under ``prefix`` (whole bucket if empty)."""
        self._grant("read", identity, prefix)

    def grant_write(self, identity: Principal, *, prefix: str = "") -> None:
        """Allow ``identity`` to put objects under ``prefix``; never read or delete."""
        self._grant("write", identity, prefix)

    def _grant(self, mode: GrantMode, identity: Principal, prefix: str) -> None:
        validate_prefix(prefix, field="prefix")
        role = require_aws_role(identity, service="An S3 bucket")
        document = pulumi.Output.all(self.arn, self._kms_key_arn).apply(
            lambda values: json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": s3_grant_statements(
                        mode=mode, bucket_arn=values[0], prefix=prefix, kms_key_arn=values[1]
                    ),
                }
            )
        )
        suffix = f"-{prefix.strip('/').replace('/', '-')}" if prefix else ""
        aws.iam.RolePolicy(
            f"{self._name}-{mode}-{role.identity_name}{suffix}",
            role=role.role_name,
            policy=document,
            opts=child_opts(self),
        )
