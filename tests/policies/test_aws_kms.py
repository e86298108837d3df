"""KMS rules: automatic rotation, and no bypass of the policy lockout safety check."""

from __future__ import annotations

from typing import Any

import pytest
from mlops_blueprints.policies import AnalyzedResource
from mlops_blueprints.policies.aws import KMS_RULES

from tests.policies._helpers import assert_complies, assert_violates, resource

pytestmark = pytest.mark.policy

RULES = {rule.name: rule for rule in KMS_RULES}
ROTATION = RULES["kms-key-rotation-enabled"]
LOCKOUT = RULES["kms-key-policy-keeps-lockout-safety-check"]


def key(**overrides: Any) -> AnalyzedResource:
    """The key as KmsKey renders it (``None`` leaves a field out)."""
    props: dict[str, Any] = {
        "bypassPolicyLockoutSafetyCheck": False,
        "customerMasterKeySpec": "SYMMETRIC_DEFAULT",
        "keyUsage": "ENCRYPT_DECRYPT",
        "enableKeyRotation": True,
        "rotationPeriodInDays": 365,
        "deletionWindowInDays": 30,
    }
    props.update(overrides)
    return resource("aws:kms/key:Key", "key", {k: v for k, v in props.items() if v is not None})


def test_platform_key_complies() -> None:
    assert_complies(ROTATION, key())
    assert_complies(LOCKOUT, key())


@pytest.mark.parametrize("rotation", [False, None])
def test_key_without_rotation_violates(rotation: bool | None) -> None:
    assert_violates(ROTATION, key(enableKeyRotation=rotation))


def test_defaults_are_a_symmetric_key_that_must_rotate() -> None:
    assert_violates(
        ROTATION, key(customerMasterKeySpec=None, keyUsage=None, enableKeyRotation=None)
    )


@pytest.mark.parametrize(
    "overrides",
    [
        {"customerMasterKeySpec": "RSA_2048", "keyUsage": "SIGN_VERIFY"},
        {"customerMasterKeySpec": "HMAC_256", "keyUsage": "GENERATE_VERIFY_MAC"},
        {"customKeyStoreId": "cks-1234567890abcdef0"},
    ],
    ids=["asymmetric", "hmac", "custom-key-store"],
)
def test_keys_that_cannot_rotate_are_not_held_to_it(overrides: dict[str, Any]) -> None:
    assert_complies(ROTATION, key(enableKeyRotation=False, **overrides))


@pytest.mark.parametrize(
    "type_",
    [
        "aws:kms/key:Key",
        "aws:kms/keyPolicy:KeyPolicy",
        "aws:kms/replicaKey:ReplicaKey",
        "aws:kms/externalKey:ExternalKey",
    ],
)
def test_lockout_bypass_violates_on_every_policy_holder(type_: str) -> None:
    assert_violates(LOCKOUT, resource(type_, "k", {"bypassPolicyLockoutSafetyCheck": True}))
    assert_complies(LOCKOUT, resource(type_, "k", {"bypassPolicyLockoutSafetyCheck": False}))
    assert_complies(LOCKOUT, resource(type_, "k", {}))
