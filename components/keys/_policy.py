"""KMS key policies and key-use grants as pure functions, so they can be tested directly.

The key policy always keeps the account root on ``kms:*``: that statement is what lets IAM
policies in the account grant use of the key at all, and what lets the account recover the key
if every named administrator role is deleted. ``assert_not_lockout`` checks exactly that, and
the component runs it on every policy it renders.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from mlops_blueprints.errors import BlueprintConfigError

__all__ = [
    "ADMIN_ACTIONS",
    "USE_ACTIONS",
    "KeyUse",
    "assert_not_lockout",
    "autoscaling_service_linked_role_arn",
    "key_policy",
    "key_use_statements",
    "role_name_from_arn",
    "validate_service_principal",
]

KeyUse = Literal["encrypt-decrypt", "decrypt", "cluster-secrets"]

# Managing the key, never using it: no Encrypt/Decrypt/GenerateDataKey*/ReEncrypt*, and no
# CreateGrant (a grant could hand the administrator use of the key).
ADMIN_ACTIONS: tuple[str, ...] = (
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListAliases",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListKeyRotations",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
)

USE_ACTIONS: tuple[str, ...] = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:DescribeKey",
)

# What an IAM principal gets from each intent method.
_GRANT_ACTIONS: dict[KeyUse, tuple[str, ...]] = {
    "encrypt-decrypt": USE_ACTIONS,
    "decrypt": ("kms:Decrypt", "kms:DescribeKey"),
    # What the EKS control plane needs for envelope encryption of Secrets.
    "cluster-secrets": ("kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"),
}

# AWS services acting on the key (for example CloudWatch Logs encrypting a log group).
_SERVICE_ACTIONS: tuple[str, ...] = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:DescribeKey",
)

_ACCOUNT_ID = re.compile(r"^\d{12}$")
_SERVICE_PRINCIPAL = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)*\.amazonaws\.com$")
_LOGS_PRINCIPAL = re.compile(r"^logs\.([a-z]{2}(-[a-z]+)+-\d)\.amazonaws\.com$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/(?:[\w+=,.@-]+/)*([\w+=,.@-]{1,64})$")


def validate_service_principal(value: str, *, field: str) -> str:
    """A service principal such as ``logs.us-east-1.amazonaws.com``."""
    if not _SERVICE_PRINCIPAL.match(value):
        raise BlueprintConfigError(
            field,
            value,
            "Use an AWS service principal such as 'logs.us-east-1.amazonaws.com' (IAM roles "
            "get use of the key through grant_encrypt_decrypt, not as service principals).",
        )
    if value.startswith("logs.") and not _LOGS_PRINCIPAL.match(value):
        raise BlueprintConfigError(
            field,
            value,
            "CloudWatch Logs is a regional principal: use 'logs.<region>.amazonaws.com' "
            "(e.g. 'logs.eu-west-1.amazonaws.com').",
        )
    return value


def role_name_from_arn(arn: str) -> str:
    """The role name in an IAM role ARN (the last path segment)."""
    match = _ROLE_ARN.match(arn)
    if not match:
        raise BlueprintConfigError(
            "principal",
            arn,
            "Pass an IAM role ARN such as 'arn:aws:iam::123456789012:role/ci-deployer', or an "
            "AWS workload identity.",
        )
    return match.group(1)


def autoscaling_service_linked_role_arn(account_id: str, *, partition: str = "aws") -> str:
    """The EC2 Auto Scaling service-linked role, which launches managed node group instances."""
    return (
        f"arn:{partition}:iam::{account_id}:role/aws-service-role/autoscaling.amazonaws.com/"
        "AWSServiceRoleForAutoScaling"
    )


def _root_arn(account_id: str, partition: str) -> str:
    return f"arn:{partition}:iam::{account_id}:root"


def _service_statement(
    service: str, *, account_id: str, partition: str, index: int
) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": f"ServiceUse{index}",
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": list(_SERVICE_ACTIONS),
        "Resource": "*",
    }
    logs = _LOGS_PRINCIPAL.match(service)
    if logs:
        # Logs may use the key only for log groups of this account in this region.
        statement["Condition"] = {
            "ArnLike": {
                "kms:EncryptionContext:aws:logs:arn": (
                    f"arn:{partition}:logs:{logs.group(1)}:{account_id}:log-group:*"
                )
            }
        }
    else:
        # Confused-deputy guard: only on behalf of resources in this account.
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": account_id}}
    return statement


def key_policy(
    account_id: str,
    admins: Sequence[str] = (),
    users: Sequence[str] = (),
    services: Sequence[str] = (),
    *,
    partition: str = "aws",
) -> dict[str, Any]:
    """The key policy: account root keeps ``kms:*``; admins manage; users and services use.

    - ``admins``: role ARNs that may manage the key (rotate, tag, schedule deletion, change
      the policy) but not encrypt or decrypt with it.
    - ``users``: role ARNs that may use the key, and create grants only for AWS resources
      (what EBS needs to attach encrypted volumes).
    - ``services``: service principals; CloudWatch Logs is limited to this account's log
      groups by encryption context, any other service by ``aws:SourceAccount``.
    """
    if not _ACCOUNT_ID.match(account_id):
        raise BlueprintConfigError(
            "account_id", account_id, "Use the 12-digit AWS account id that owns the key."
        )
    statements: list[dict[str, Any]] = [
        {
            "Sid": "EnableAccountRootAndIamPolicies",
            "Effect": "Allow",
            "Principal": {"AWS": _root_arn(account_id, partition)},
            "Action": "kms:*",
            "Resource": "*",
        }
    ]
    if admins:
        statements.append(
            {
                "Sid": "KeyAdministrators",
                "Effect": "Allow",
                "Principal": {"AWS": sorted(set(admins))},
                "Action": list(ADMIN_ACTIONS),
                "Resource": "*",
            }
        )
    if users:
        principals = sorted(set(users))
        statements.append(
            {
                "Sid": "KeyUsers",
                "Effect": "Allow",
                "Principal": {"AWS": principals},
                "Action": list(USE_ACTIONS),
                "Resource": "*",
            }
        )
        statements.append(
            {
                "Sid": "KeyUsersGrantsForAwsResources",
                "Effect": "Allow",
                "Principal": {"AWS": principals},
                "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
                "Resource": "*",
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            }
        )
    for index, service in enumerate(sorted(set(services)), start=1):
        validate_service_principal(service, field="services")
        statements.append(
            _service_statement(service, account_id=account_id, partition=partition, index=index)
        )
    policy = {"Version": "2012-10-17", "Statement": statements}
    assert_not_lockout(policy, account_id=account_id)
    return policy


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _principals(statement: Mapping[str, Any]) -> list[str]:
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"]
    if isinstance(principal, Mapping):
        return [str(p) for p in _as_list(principal.get("AWS"))]
    return []


def _covers_all_kms(actions: list[Any]) -> bool:
    return any(a in ("*", "kms:*") for a in actions)


def assert_not_lockout(policy: Mapping[str, Any], *, account_id: str | None = None) -> None:
    """Fail unless the account root keeps unconditional ``kms:*`` and nothing denies it.

    Without that statement a key whose administrator roles are deleted can never be managed
    again (AWS Support cannot restore access), and IAM policies cannot grant use of the key.
    """
    statements = [s for s in _as_list(policy.get("Statement")) if isinstance(s, Mapping)]
    account = re.escape(account_id) if account_id else r"\d{12}"
    root_pattern = re.compile(rf"^arn:aws[a-z-]*:iam::{account}:root$")
    root_allowed = any(
        s.get("Effect") == "Allow"
        and any(root_pattern.match(p) for p in _principals(s))
        and _covers_all_kms(_as_list(s.get("Action")))
        and "*" in _as_list(s.get("Resource"))
        and not s.get("Condition")
        and "NotPrincipal" not in s
        for s in statements
    )
    if not root_allowed:
        raise BlueprintConfigError(
            "key_policy",
            [s.get("Sid", "(no Sid)") for s in statements],
            "Keep a statement that allows the account root ('arn:aws:iam::<account>:root') "
            "'kms:*' on '*' without conditions; without it the key can be locked out for good.",
        )
    for statement in statements:
        if statement.get("Effect") != "Deny":
            continue
        if "NotPrincipal" in statement:
            excluded = _principals({"Principal": statement["NotPrincipal"]})
            hits_root = not any(root_pattern.match(p) for p in excluded)
        else:
            principals = _principals(statement)
            hits_root = "*" in principals or any(root_pattern.match(p) for p in principals)
        actions = _as_list(statement.get("Action"))
        risky = _covers_all_kms(actions) or "kms:PutKeyPolicy" in actions
        if hits_root and risky and not statement.get("Condition"):
            raise BlueprintConfigError(
                "key_policy",
                statement.get("Sid", "(no Sid)"),
                "Remove this statement: it denies the account root the right to change the "
                "key policy, which locks the key out.",
            )


def key_use_statements(mode: KeyUse, key_arn: str) -> list[dict[str, Any]]:
    """IAM statements that let a role use one key in ``mode``, and nothing more."""
    return [
        {
            "Sid": "KeyUse" + "".join(part.capitalize() for part in mode.split("-")),
            "Effect": "Allow",
            "Action": list(_GRANT_ACTIONS[mode]),
            "Resource": [key_arn],
        }
    ]
