"""KMS rules: keys rotate, and their policies keep the lockout safety check."""

from __future__ import annotations

from typing import Final

from pulumi_policy import ResourceValidationArgs

from .._rule import Report, Rule, prop
from ._common import KEY_MANAGEMENT_CONTROLS, is_true

__all__ = ["KMS_RULES"]

KEY: Final = "aws:kms/key:Key"
# Every resource that can set a key policy, and with it the lockout safety bypass.
KEY_POLICY_TYPES: Final = (
    KEY,
    "aws:kms/keyPolicy:KeyPolicy",
    "aws:kms/replicaKey:ReplicaKey",
    "aws:kms/externalKey:ExternalKey",
    "aws:kms/replicaExternalKey:ReplicaExternalKey",
)
# Only symmetric encryption keys with KMS-generated material can rotate automatically.
ROTATABLE_SPECS: Final = frozenset({"SYMMETRIC_DEFAULT"})
ROTATABLE_USAGES: Final = frozenset({"ENCRYPT_DECRYPT"})


def _validate_rotation(args: ResourceValidationArgs, report: Report) -> None:
    spec = prop(args.props, "customerMasterKeySpec")
    usage = prop(args.props, "keyUsage")
    if spec not in (None, *ROTATABLE_SPECS) or usage not in (None, *ROTATABLE_USAGES):
        return  # asymmetric and HMAC keys cannot rotate automatically
    if prop(args.props, "customKeyStoreId"):
        return  # keys in a custom key store (CloudHSM, external) cannot rotate automatically
    if not is_true(prop(args.props, "enableKeyRotation")):
        report("automatic key rotation is off (enableKeyRotation)")


def _validate_lockout_check(args: ResourceValidationArgs, report: Report) -> None:
    if is_true(prop(args.props, "bypassPolicyLockoutSafetyCheck")):
        report(
            "bypassPolicyLockoutSafetyCheck is true: a policy that locks every principal out "
            "of the key would be accepted"
        )


KMS_RULES: Final[tuple[Rule, ...]] = (
    Rule(
        name="kms-key-rotation-enabled",
        description=(
            "Every symmetric encryption KMS key with KMS-generated material rotates automatically."
        ),
        remediation=(
            "Set enableKeyRotation true (and rotationPeriodInDays); KmsKey always does, "
            "every rotation_period_days."
        ),
        severity="medium",
        controls=KEY_MANAGEMENT_CONTROLS,
        resource_types=(KEY,),
        validate_resource=_validate_rotation,
    ),
    Rule(
        name="kms-key-policy-keeps-lockout-safety-check",
        description=(
            "No KMS key or key policy bypasses the check that stops a policy from locking "
            "every principal out of the key."
        ),
        remediation="Leave bypassPolicyLockoutSafetyCheck unset or false; KmsKey sets false.",
        severity="high",
        controls={
            "nist-800-53": ("AC-3", "SC-12"),
            "hipaa": ("164.312(a)(1)",),
            "gdpr": ("Art. 32",),
            "dpdp": ("Sec. 8(5)",),
        },
        resource_types=KEY_POLICY_TYPES,
        validate_resource=_validate_lockout_check,
    ),
)
