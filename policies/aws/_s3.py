"""S3 rules: every bucket private, encrypted, TLS-only, versioned, logged, without ACLs.

pulumi-aws v7 configures a bucket through separate resources (``BucketPublicAccessBlock``,
``BucketServerSideEncryptionConfiguration``, ``BucketVersioning``, ``BucketLogging``,
``BucketOwnershipControls``, ``BucketPolicy``) that name the bucket in their ``bucket``
property, so these are stack rules that link each bucket to its configuration. A
configuration is linked by that name (the bucket's ``bucket`` or ``id``); when the name is not
known it is linked through its single bucket dependency. The deprecated inline arguments of
``Bucket`` (and the ``*V2`` aliases) count as well, so a stack written the old way is judged
on what it configures rather than on how.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Final

from pulumi_policy import PolicyResource, StackValidationArgs

from .._rule import Report, Rule, StackValidate, prop
from ._common import (
    ANY_PRINCIPAL,
    KEY_MANAGEMENT_CONTROLS,
    DocumentError,
    blocks,
    condition_values,
    is_true,
    parse_document,
    statements,
    string_values,
)

__all__ = ["S3_RULES"]

BUCKET_TYPES: Final = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
PUBLIC_ACCESS_BLOCK_TYPES: Final = ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",)
ACCOUNT_PUBLIC_ACCESS_BLOCK_TYPES: Final = (
    "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock",
)
ENCRYPTION_TYPES: Final = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
VERSIONING_TYPES: Final = (
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketVersioningV2:BucketVersioningV2",
)
LOGGING_TYPES: Final = (
    "aws:s3/bucketLogging:BucketLogging",
    "aws:s3/bucketLoggingV2:BucketLoggingV2",
)
OWNERSHIP_TYPES: Final = ("aws:s3/bucketOwnershipControls:BucketOwnershipControls",)
POLICY_TYPES: Final = ("aws:s3/bucketPolicy:BucketPolicy",)

PUBLIC_ACCESS_FLAGS: Final = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)
SSE_ALGORITHMS: Final = frozenset({"AES256", "aws:kms", "aws:kms:dsse"})
KMS_ALGORITHMS: Final = frozenset({"aws:kms", "aws:kms:dsse"})
# The AWS-managed S3 key: SSE-KMS, but its policy cannot be changed or its use restricted.
AWS_MANAGED_S3_KEY_ALIAS: Final = "alias/aws/s3"
MINIMUM_TLS_VERSION: Final = 1.2


class _S3Stack:
    """The stack's buckets and, per bucket URN, the configuration resources that name it."""

    def __init__(self, resources: Sequence[PolicyResource]) -> None:
        self.resources = resources
        self.buckets = [r for r in resources if r.resource_type in BUCKET_TYPES]
        self._urns = {b.urn for b in self.buckets}
        self._by_name: dict[str, str] = {}
        for bucket in self.buckets:
            for key in ("bucket", "id"):
                value = prop(bucket.props, key)
                if isinstance(value, str) and value:
                    self._by_name.setdefault(value, bucket.urn)

    def bucket_for(self, name: Any) -> str | None:
        return self._by_name.get(name) if isinstance(name, str) else None

    def attached(self, types: Iterable[str]) -> dict[str, list[PolicyResource]]:
        wanted = frozenset(types)
        found: dict[str, list[PolicyResource]] = defaultdict(list)
        for resource in self.resources:
            if resource.resource_type in wanted:
                target = self._target(resource)
                if target is not None:
                    found[target].append(resource)
        return found

    def _target(self, resource: PolicyResource) -> str | None:
        named = self.bucket_for(prop(resource.props, "bucket"))
        if named is not None:
            return named
        # The bucket's name is not known here: fall back on the one bucket it depends on
        # (a logging configuration also depends on its target bucket, which is left out).
        others = {self.bucket_for(v) for v in string_values(prop(resource.props, "targetBucket"))}
        candidates = {d.urn for d in resource.dependencies if d.urn in self._urns} - others
        return candidates.pop() if len(candidates) == 1 else None

    def log_destinations(self) -> set[str]:
        """Buckets that receive server access logs (of other buckets)."""
        targets: set[str] = set()
        for resource in self.resources:
            if resource.resource_type in LOGGING_TYPES:
                names = string_values(prop(resource.props, "targetBucket"))
            elif resource.resource_type in BUCKET_TYPES:
                names = [
                    name
                    for key in ("logging", "loggings")
                    for block in blocks(prop(resource.props, key))
                    for name in string_values(block.get("targetBucket"))
                ]
            else:
                continue
            targets.update(urn for urn in map(self.bucket_for, names) if urn is not None)
        return targets


def _label(bucket: PolicyResource) -> str:
    name = prop(bucket.props, "bucket")
    return f"bucket {name!r}" if isinstance(name, str) and name else f"bucket {bucket.name!r}"


# --- public access -------------------------------------------------------------------------


def _missing_flags(props: Mapping[str, Any]) -> list[str]:
    return [flag for flag in PUBLIC_ACCESS_FLAGS if not is_true(prop(props, flag))]


def _validate_public_access(args: StackValidationArgs, report: Report) -> None:
    stack = _S3Stack(args.resources)
    account_wide = any(
        r.resource_type in ACCOUNT_PUBLIC_ACCESS_BLOCK_TYPES and not _missing_flags(r.props)
        for r in args.resources
    )
    if account_wide:
        return
    blocks_by_bucket = stack.attached(PUBLIC_ACCESS_BLOCK_TYPES)
    for bucket in stack.buckets:
        linked = blocks_by_bucket.get(bucket.urn, [])
        if not linked:
            report(f"{_label(bucket)} has no BucketPublicAccessBlock", urn=bucket.urn)
            continue
        missing = min((_missing_flags(b.props) for b in linked), key=len)
        if missing:
            report(
                f"{_label(bucket)}: public access block leaves {', '.join(missing)} off",
                urn=bucket.urn,
            )


# --- encryption ----------------------------------------------------------------------------


def _encryption_defaults(
    bucket: PolicyResource, linked: list[PolicyResource]
) -> list[Mapping[str, Any]]:
    """Every ``applyServerSideEncryptionByDefault`` block that applies to the bucket."""
    rules: list[Mapping[str, Any]] = []
    for configuration in linked:
        rules.extend(blocks(prop(configuration.props, "rules")))
    for key in ("serverSideEncryptionConfiguration", "serverSideEncryptionConfigurations"):
        for inline in blocks(prop(bucket.props, key)):
            rules.extend(blocks(inline.get("rule")))
            rules.extend(blocks(inline.get("rules")))
    return [
        default
        for rule in rules
        for default in blocks(rule.get("applyServerSideEncryptionByDefault"))
    ]


def _validate_encrypted(args: StackValidationArgs, report: Report) -> None:
    stack = _S3Stack(args.resources)
    configurations = stack.attached(ENCRYPTION_TYPES)
    for bucket in stack.buckets:
        defaults = _encryption_defaults(bucket, configurations.get(bucket.urn, []))
        algorithms = [prop(d, "sseAlgorithm") for d in defaults]
        if not any(a in SSE_ALGORITHMS for a in algorithms):
            report(
                f"{_label(bucket)} has no default server-side encryption "
                "(BucketServerSideEncryptionConfiguration)",
                urn=bucket.urn,
            )


def _is_customer_managed(default: Mapping[str, Any]) -> bool:
    if prop(default, "sseAlgorithm") not in KMS_ALGORITHMS:
        return False
    key = prop(default, "kmsMasterKeyId")
    if not isinstance(key, str) or not key:
        return False
    return not (key == AWS_MANAGED_S3_KEY_ALIAS or key.endswith(f":{AWS_MANAGED_S3_KEY_ALIAS}"))


def _validate_customer_managed_key(args: StackValidationArgs, report: Report) -> None:
    stack = _S3Stack(args.resources)
    configurations = stack.attached(ENCRYPTION_TYPES)
    # S3 server access log delivery writes only SSE-S3 objects, so a log destination keeps
    # SSE-S3 (the encrypted-at-rest rule still holds it to default encryption).
    exempt = stack.log_destinations()
    for bucket in stack.buckets:
        if bucket.urn in exempt:
            continue
        defaults = _encryption_defaults(bucket, configurations.get(bucket.urn, []))
        if not defaults or not all(_is_customer_managed(d) for d in defaults):
            report(
                f"{_label(bucket)} is not encrypted by default with a customer-managed KMS key "
                "(sseAlgorithm aws:kms with kmsMasterKeyId)",
                urn=bucket.urn,
            )


# --- bucket policy -------------------------------------------------------------------------


def _policy_documents(
    bucket: PolicyResource, linked: list[PolicyResource]
) -> Iterator[Mapping[str, Any] | DocumentError]:
    for value in [prop(p.props, "policy") for p in linked] + [prop(bucket.props, "policy")]:
        try:
            document = parse_document(value)
        except DocumentError as error:
            yield error
            continue
        if document is not None:
            yield document


def _applies_to_everyone_and_everything(statement: Mapping[str, Any]) -> bool:
    """A Deny for any principal, every S3 action, the bucket and its objects."""
    if str(statement.get("Effect", "")).lower() != "deny":
        return False
    principal = statement.get("Principal")
    if isinstance(principal, Mapping):
        principal = principal.get("AWS")
    if ANY_PRINCIPAL not in string_values(principal):
        return False
    actions = [a.lower() for a in string_values(statement.get("Action"))]
    if not {"*", "s3:*"} & set(actions):
        return False
    resources = string_values(statement.get("Resource"))
    covers_objects = any(r == "*" or r.endswith("/*") for r in resources)
    covers_bucket = any(r == "*" or (r.startswith("arn:") and "/" not in r) for r in resources)
    return covers_objects and covers_bucket


def _denies_plain_http(statement: Mapping[str, Any]) -> bool:
    return _applies_to_everyone_and_everything(statement) and any(
        operator in ("Bool", "BoolIfExists")
        and key == "aws:securetransport"
        and "false" in (v.lower() for v in values)
        for operator, key, values in condition_values(statement)
    )


def _denies_old_tls(statement: Mapping[str, Any]) -> bool:
    if not _applies_to_everyone_and_everything(statement):
        return False
    for operator, key, values in condition_values(statement):
        if operator == "NumericLessThan" and key == "s3:tlsversion":
            try:
                if all(float(v) >= MINIMUM_TLS_VERSION for v in values):
                    return True
            except ValueError:
                continue
    return False


def _policy_rule_validator(
    test: Callable[[Mapping[str, Any]], bool], missing: str
) -> StackValidate:
    def validate(args: StackValidationArgs, report: Report) -> None:
        stack = _S3Stack(args.resources)
        policies = stack.attached(POLICY_TYPES)
        for bucket in stack.buckets:
            documents = list(_policy_documents(bucket, policies.get(bucket.urn, [])))
            errors = [d for d in documents if isinstance(d, DocumentError)]
            if errors:
                report(f"{_label(bucket)}: bucket policy is {errors[0]}", urn=bucket.urn)
                continue
            if not any(
                test(statement)
                for document in documents
                if not isinstance(document, DocumentError)
                for statement in statements(document)
            ):
                report(f"{_label(bucket)}: {missing}", urn=bucket.urn)

    return validate


# --- versioning, logging, ownership --------------------------------------------------------


def _validate_versioning(args: StackValidationArgs, report: Report) -> None:
    stack = _S3Stack(args.resources)
    versioning = stack.attached(VERSIONING_TYPES)
    for bucket in stack.buckets:
        enabled = any(
            prop(block, "status") == "Enabled"
            for v in versioning.get(bucket.urn, [])
            for block in blocks(prop(v.props, "versioningConfiguration"))
        ) or any(is_true(prop(b, "enabled")) for b in blocks(prop(bucket.props, "versioning")))
        if not enabled:
            report(f"{_label(bucket)} has no BucketVersioning with status Enabled", urn=bucket.urn)


def _validate_access_logging(args: StackValidationArgs, report: Report) -> None:
    stack = _S3Stack(args.resources)
    logging = stack.attached(LOGGING_TYPES)
    # AWS advises against logging a log destination (each delivery would log itself again).
    exempt = stack.log_destinations()
    for bucket in stack.buckets:
        if bucket.urn in exempt:
            continue
        logged = any(
            string_values(prop(entry.props, "targetBucket"))
            for entry in logging.get(bucket.urn, [])
        ) or any(
            string_values(block.get("targetBucket"))
            for key in ("logging", "loggings")
            for block in blocks(prop(bucket.props, key))
        )
        if not logged:
            report(f"{_label(bucket)} has no server access logging", urn=bucket.urn)


def _validate_ownership(args: StackValidationArgs, report: Report) -> None:
    stack = _S3Stack(args.resources)
    controls = stack.attached(OWNERSHIP_TYPES)
    for bucket in stack.buckets:
        enforced = any(
            prop(rule, "objectOwnership") == "BucketOwnerEnforced"
            for c in controls.get(bucket.urn, [])
            for rule in blocks(prop(c.props, "rule"))
        )
        if not enforced:
            report(
                f"{_label(bucket)} has no BucketOwnershipControls with BucketOwnerEnforced "
                "(ACLs stay active)",
                urn=bucket.urn,
            )


S3_RULES: Final[tuple[Rule, ...]] = (
    Rule(
        name="s3-bucket-blocks-public-access",
        description=(
            "Every S3 bucket has a public access block with all four settings on (or the "
            "account has one)."
        ),
        remediation=(
            "Add a BucketPublicAccessBlock with blockPublicAcls, blockPublicPolicy, "
            "ignorePublicAcls and restrictPublicBuckets true; S3Bucket always creates one."
        ),
        severity="critical",
        controls={
            "nist-800-53": ("AC-3", "AC-4", "SC-7"),
            "hipaa": ("164.312(a)(1)",),
            "gdpr": ("Art. 25", "Art. 32"),
            "dpdp": ("Sec. 8(5)",),
            "eu-ai-act": ("Art. 15",),
        },
        resource_types=BUCKET_TYPES + PUBLIC_ACCESS_BLOCK_TYPES + ACCOUNT_PUBLIC_ACCESS_BLOCK_TYPES,
        validate_stack=_validate_public_access,
    ),
    Rule(
        name="s3-bucket-encrypted-at-rest",
        description="Every S3 bucket has default server-side encryption (SSE-S3 or SSE-KMS).",
        remediation=(
            "Add a BucketServerSideEncryptionConfiguration with sseAlgorithm aws:kms; S3Bucket "
            "always does (SSE-KMS, or SSE-S3 for an access-log destination)."
        ),
        severity="high",
        controls={
            "nist-800-53": ("SC-13", "SC-28"),
            "hipaa": ("164.312(a)(2)(iv)",),
            "gdpr": ("Art. 32",),
            "dpdp": ("Sec. 8(5)",),
            "eu-ai-act": ("Art. 15",),
        },
        resource_types=BUCKET_TYPES + ENCRYPTION_TYPES,
        validate_stack=_validate_encrypted,
    ),
    Rule(
        name="s3-bucket-encrypted-with-customer-managed-key",
        description=(
            "Every S3 bucket, except server access log destinations (which S3 log delivery "
            "can only write with SSE-S3), encrypts by default with a customer-managed KMS key."
        ),
        remediation=(
            "Set sseAlgorithm aws:kms and kmsMasterKeyId to a customer-managed key: pass "
            "S3Bucket's kms_key_arn (Level 4 passes the platform key)."
        ),
        severity="medium",
        controls=KEY_MANAGEMENT_CONTROLS,
        resource_types=BUCKET_TYPES + ENCRYPTION_TYPES + LOGGING_TYPES,
        validate_stack=_validate_customer_managed_key,
        levels=(4,),
    ),
    Rule(
        name="s3-bucket-denies-insecure-transport",
        description=(
            "Every S3 bucket's policy denies all S3 actions on the bucket and its objects "
            "to any principal when aws:SecureTransport is false."
        ),
        remediation=(
            "Add a Deny statement for Principal '*', Action 's3:*', the bucket and bucket/* "
            "with Condition Bool aws:SecureTransport 'false'; S3Bucket's policy has it."
        ),
        severity="high",
        controls={
            "nist-800-53": ("SC-8", "SC-13"),
            "hipaa": ("164.312(e)(1)", "164.312(e)(2)(ii)"),
            "gdpr": ("Art. 32",),
            "dpdp": ("Sec. 8(5)",),
            "eu-ai-act": ("Art. 15",),
        },
        resource_types=BUCKET_TYPES + POLICY_TYPES,
        validate_stack=_policy_rule_validator(
            _denies_plain_http, "bucket policy does not deny requests without TLS"
        ),
    ),
    Rule(
        name="s3-bucket-requires-tls-1-2",
        description=(
            "Every S3 bucket's policy denies all S3 actions to any principal over TLS older "
            "than 1.2."
        ),
        remediation=(
            "Add a Deny statement for Principal '*', Action 's3:*', the bucket and bucket/* "
            "with Condition NumericLessThan s3:TlsVersion '1.2'; S3Bucket's policy has it."
        ),
        severity="medium",
        controls={
            "nist-800-53": ("SC-8", "SC-13"),
            "hipaa": ("164.312(e)(2)(ii)",),
            "gdpr": ("Art. 32",),
            "dpdp": ("Sec. 8(5)",),
        },
        resource_types=BUCKET_TYPES + POLICY_TYPES,
        validate_stack=_policy_rule_validator(
            _denies_old_tls, "bucket policy does not deny TLS versions below 1.2"
        ),
    ),
    Rule(
        name="s3-bucket-versioning-enabled",
        description="Every S3 bucket keeps object versions (versioning status Enabled).",
        remediation=(
            "Add a BucketVersioning with versioningConfiguration.status Enabled; S3Bucket "
            "always does and expires noncurrent versions after noncurrent_version_retention_days."
        ),
        severity="medium",
        controls={
            "nist-800-53": ("CP-9", "SI-7"),
            "hipaa": ("164.308(a)(7)", "164.312(c)(1)"),
            "gdpr": ("Art. 32",),
            "dpdp": ("Sec. 8(5)",),
            "eu-ai-act": ("Art. 15",),
        },
        resource_types=BUCKET_TYPES + VERSIONING_TYPES,
        validate_stack=_validate_versioning,
    ),
    Rule(
        name="s3-bucket-access-logged",
        description=(
            "Every S3 bucket except a server access log destination sends server access logs "
            "to another bucket."
        ),
        remediation=(
            "Add a BucketLogging with a targetBucket: pass S3Bucket's access_log_bucket "
            "(Level 4 sends every bucket's logs to the access-log bucket)."
        ),
        severity="medium",
        controls={
            "nist-800-53": ("AU-2", "AU-12"),
            "hipaa": ("164.312(b)",),
            "gdpr": ("Art. 32", "Art. 33"),
            "dpdp": ("Sec. 8(6)",),
            "eu-ai-act": ("Art. 12",),
        },
        resource_types=BUCKET_TYPES + LOGGING_TYPES,
        validate_stack=_validate_access_logging,
        levels=(4,),
    ),
    Rule(
        name="s3-bucket-acls-disabled",
        description=(
            "Every S3 bucket enforces bucket-owner object ownership, which turns ACLs off so "
            "only policies grant access."
        ),
        remediation=(
            "Add a BucketOwnershipControls with rule.objectOwnership BucketOwnerEnforced; "
            "S3Bucket always does."
        ),
        severity="medium",
        controls={
            "nist-800-53": ("AC-3", "AC-6"),
            "hipaa": ("164.312(a)(1)",),
            "gdpr": ("Art. 25", "Art. 32"),
            "dpdp": ("Sec. 8(5)",),
        },
        resource_types=BUCKET_TYPES + OWNERSHIP_TYPES,
        validate_stack=_validate_ownership,
    ),
)
