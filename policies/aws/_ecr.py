"""ECR rules: immutable tags, scan on push, a customer-managed key."""

from __future__ import annotations

from typing import Final

from pulumi_policy import ResourceValidationArgs

from .._rule import Report, Rule, prop
from ._common import KEY_MANAGEMENT_CONTROLS, blocks, is_true

__all__ = ["ECR_RULES"]

REPOSITORY: Final = "aws:ecr/repository:Repository"
KMS_ENCRYPTION_TYPES: Final = frozenset({"KMS", "KMS_DSSE"})


def _validate_immutable(args: ResourceValidationArgs, report: Report) -> None:
    mutability = prop(args.props, "imageTagMutability")
    if mutability != "IMMUTABLE":
        shown = "unset (ECR defaults to MUTABLE)" if mutability is None else repr(mutability)
        report(f"image tags can be overwritten: imageTagMutability is {shown}")


def _validate_scan_on_push(args: ResourceValidationArgs, report: Report) -> None:
    scanning = next(blocks(prop(args.props, "imageScanningConfiguration")), {})
    if not is_true(prop(scanning, "scanOnPush")):
        report("images are not scanned on push (imageScanningConfiguration.scanOnPush)")


def _validate_customer_managed_key(args: ResourceValidationArgs, report: Report) -> None:
    configurations = list(blocks(prop(args.props, "encryptionConfigurations")))
    if not any(
        prop(c, "encryptionType") in KMS_ENCRYPTION_TYPES and prop(c, "kmsKey")
        for c in configurations
    ):
        report(
            "images are not encrypted with a customer-managed KMS key "
            "(encryptionConfigurations: encryptionType KMS with kmsKey)"
        )


ECR_RULES: Final[tuple[Rule, ...]] = (
    Rule(
        name="ecr-repository-tags-immutable",
        description="Every ECR repository makes image tags immutable, so a tag names one image.",
        remediation="Set imageTagMutability IMMUTABLE; EcrRepository always does.",
        severity="medium",
        controls={
            "nist-800-53": ("CM-2", "SI-7"),
            "hipaa": ("164.312(c)(1)",),
            "eu-ai-act": ("Art. 15",),
        },
        resource_types=(REPOSITORY,),
        validate_resource=_validate_immutable,
    ),
    Rule(
        name="ecr-repository-scans-on-push",
        description="Every ECR repository scans images for vulnerabilities when they are pushed.",
        remediation=("Set imageScanningConfiguration.scanOnPush true; EcrRepository always does."),
        severity="medium",
        controls={
            "cis-eks": ("5.1.1",),
            "nist-800-53": ("RA-5", "SI-2"),
            "hipaa": ("164.308(a)(5)(ii)(B)",),
            "gdpr": ("Art. 32",),
            "eu-ai-act": ("Art. 15",),
        },
        resource_types=(REPOSITORY,),
        validate_resource=_validate_scan_on_push,
    ),
    Rule(
        name="ecr-repository-encrypted-with-customer-managed-key",
        description="Every ECR repository encrypts images with a customer-managed KMS key.",
        remediation=(
            "Set encryptionConfigurations to encryptionType KMS with kmsKey: pass "
            "EcrRepository's kms_key_arn (Level 4 passes the platform key)."
        ),
        severity="medium",
        controls=KEY_MANAGEMENT_CONTROLS,
        resource_types=(REPOSITORY,),
        validate_resource=_validate_customer_managed_key,
        levels=(4,),
    ),
)
