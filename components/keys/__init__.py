"""Encryption keys: customer-managed KMS keys with lockout-safe policies and intent grants."""

from ._kms import KeyPrincipal, KmsKey, KmsKeyArgs
from ._policy import (
    KeyUse,
    assert_not_lockout,
    autoscaling_service_linked_role_arn,
    key_policy,
    key_use_statements,
)

__all__ = [
    "KeyPrincipal",
    "KeyUse",
    "KmsKey",
    "KmsKeyArgs",
    "assert_not_lockout",
    "autoscaling_service_linked_role_arn",
    "key_policy",
    "key_use_statements",
]
