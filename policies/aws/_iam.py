"""IAM rules: no full-admin grants, no broad managed policies, scoped web-identity trusts,
no permissions attached to IAM users."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from pulumi_policy import ResourceValidationArgs

from .._rule import Framework, Report, Rule, iter_list, prop
from ._common import (
    DocumentError,
    actions_match,
    condition_values,
    parse_document,
    statements,
    string_values,
)

__all__ = ["IAM_RULES", "is_broad_managed_policy"]

ROLE: Final = "aws:iam/role:Role"
# Identity-based policy documents, in ``policy`` (a Role also has ``inlinePolicies``).
POLICY_DOCUMENT_TYPES: Final = (
    "aws:iam/policy:Policy",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/groupPolicy:GroupPolicy",
    "aws:iam/userPolicy:UserPolicy",
)
ATTACHMENT_TYPES: Final = (
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
)
EXCLUSIVE_ATTACHMENT_TYPES: Final = (
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive",
    "aws:iam/groupPolicyAttachmentsExclusive:GroupPolicyAttachmentsExclusive",
    "aws:iam/userPolicyAttachmentsExclusive:UserPolicyAttachmentsExclusive",
)
USER_POLICY_TYPES: Final = (
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    "aws:iam/userPoliciesExclusive:UserPoliciesExclusive",
    "aws:iam/userPolicyAttachmentsExclusive:UserPolicyAttachmentsExclusive",
    "aws:iam/policyAttachment:PolicyAttachment",
)

WEB_IDENTITY_ACTION: Final = "sts:AssumeRoleWithWebIdentity"
GITHUB_ISSUER: Final = "token.actions.githubusercontent.com"
GITHUB_AUDIENCE: Final = "sts.amazonaws.com"
COGNITO_ISSUER: Final = "cognito-identity.amazonaws.com"
# Operators under which a condition on a single-valued claim actually narrows the match
# (a ``ForAllValues:`` test passes when the claim is absent; negations narrow nothing).
NARROWING_OPERATORS: Final = frozenset(
    {
        "StringEquals",
        "StringLike",
        "StringEqualsIgnoreCase",
        "ForAnyValue:StringEquals",
        "ForAnyValue:StringLike",
    }
)
# Subject prefixes that name no one in particular: a pattern that has its first wildcard
# right after one of them admits every repository or every service account.
UNSPECIFIC_SUBJECT_PREFIXES: Final = frozenset({"", "repo:", "system:serviceaccount:"})


# --- wildcard grants -----------------------------------------------------------------------


def _documents(args: ResourceValidationArgs) -> Iterator[tuple[str, Any]]:
    if args.resource_type == ROLE:
        for index, inline in enumerate(iter_list(prop(args.props, "inlinePolicies"))):
            if isinstance(inline, Mapping):
                label = inline.get("name") or f"inlinePolicies[{index}]"
                yield f"inline policy {label!r}", inline.get("policy")
    else:
        yield "policy", prop(args.props, "policy")


def _grants_everything(statement: Mapping[str, Any]) -> str | None:
    if str(statement.get("Effect", "")).lower() != "allow":
        return None
    resources = string_values(statement.get("Resource"))
    on_everything = "*" in resources or "NotResource" in statement
    if not on_everything:
        return None
    if {"*", "*:*"} & set(string_values(statement.get("Action"))):
        return "allows Action '*' on Resource '*'"
    if "NotAction" in statement:
        return "allows every action but its NotAction list on Resource '*'"
    return None


def _validate_no_full_admin(args: ResourceValidationArgs, report: Report) -> None:
    for label, value in _documents(args):
        try:
            document = parse_document(value)
        except DocumentError as error:
            report(f"{label} is {error}; it cannot be verified")
            continue
        for index, statement in enumerate(statements(document)):
            problem = _grants_everything(statement)
            if problem:
                sid = statement.get("Sid") or f"#{index}"
                report(f"{label}, statement {sid}: {problem}")


# --- managed policies ----------------------------------------------------------------------


def is_broad_managed_policy(arn: str) -> bool:
    """AdministratorAccess (and its variants), PowerUserAccess and every ``*FullAccess``."""
    name = arn.rsplit("/", 1)[-1]
    return (
        name == "AdministratorAccess"
        or name.startswith("AdministratorAccess-")
        or name == "PowerUserAccess"
        or name.endswith("FullAccess")
    )


def _validate_no_broad_managed(args: ResourceValidationArgs, report: Report) -> None:
    if args.resource_type == ROLE:
        arns = string_values(prop(args.props, "managedPolicyArns"))
    elif args.resource_type in EXCLUSIVE_ATTACHMENT_TYPES:
        arns = string_values(prop(args.props, "policyArns"))
    else:
        arns = string_values(prop(args.props, "policyArn"))
    broad = [arn for arn in arns if is_broad_managed_policy(arn)]
    if broad:
        report(f"attaches broad managed policies: {', '.join(broad)}")


# --- web identity trust --------------------------------------------------------------------


def _narrowing(operator: str) -> bool:
    return operator in NARROWING_OPERATORS


def _specific_subject(operator: str, value: str) -> bool:
    if "Like" not in operator:
        return bool(value)
    cut = min((i for i in (value.find("*"), value.find("?")) if i >= 0), default=len(value))
    return value[:cut].lower() not in UNSPECIFIC_SUBJECT_PREFIXES


def _trust_problems(statement: Mapping[str, Any]) -> list[str]:
    conditions = list(condition_values(statement))
    issuers = string_values(prop(statement, "Principal", "Federated"))
    if any(COGNITO_ISSUER in issuer for issuer in issuers):
        if not any(_narrowing(op) and key == f"{COGNITO_ISSUER}:aud" for op, key, _ in conditions):
            return [f"no {COGNITO_ISSUER}:aud condition naming the identity pool"]
        return []
    problems = []
    subjects = [(op, values) for op, key, values in conditions if key.endswith(":sub")]
    if not any(
        _narrowing(op) and values and all(_specific_subject(op, v) for v in values)
        for op, values in subjects
    ):
        problems.append("no ':sub' condition that names specific subjects")
    github = any(GITHUB_ISSUER in issuer for issuer in issuers) or any(
        key.startswith(f"{GITHUB_ISSUER}:") for _, key, _ in conditions
    )
    if github and not any(
        _narrowing(op) and key == f"{GITHUB_ISSUER}:aud" and values == [GITHUB_AUDIENCE]
        for op, key, values in conditions
    ):
        problems.append(f"no {GITHUB_ISSUER}:aud condition equal to {GITHUB_AUDIENCE}")
    return problems


def _validate_web_identity(args: ResourceValidationArgs, report: Report) -> None:
    try:
        document = parse_document(prop(args.props, "assumeRolePolicy"))
    except DocumentError as error:
        report(f"assumeRolePolicy is {error}; it cannot be verified")
        return
    for index, statement in enumerate(statements(document)):
        if str(statement.get("Effect", "")).lower() != "allow":
            continue
        if not actions_match(string_values(statement.get("Action")), WEB_IDENTITY_ACTION):
            continue
        if not string_values(prop(statement, "Principal", "Federated")):
            continue
        problems = _trust_problems(statement)
        if problems:
            sid = statement.get("Sid") or f"#{index}"
            report(f"web-identity trust {sid}: {'; '.join(problems)}")


# --- users ---------------------------------------------------------------------------------


def _validate_no_user_policies(args: ResourceValidationArgs, report: Report) -> None:
    kind = args.resource_type.rsplit(":", 1)[-1]
    if args.resource_type == "aws:iam/policyAttachment:PolicyAttachment":
        users = string_values(prop(args.props, "users"))
        if users:
            report(f"PolicyAttachment attaches a policy to IAM users: {', '.join(users)}")
    elif kind == "UserPoliciesExclusive":
        if string_values(prop(args.props, "policyNames")):
            report("UserPoliciesExclusive keeps inline policies on an IAM user")
    elif kind == "UserPolicyAttachmentsExclusive":
        if string_values(prop(args.props, "policyArns")):
            report("UserPolicyAttachmentsExclusive keeps managed policies on an IAM user")
    else:
        report(f"{kind} gives permissions to an IAM user directly")


_LEAST_PRIVILEGE: Final[Mapping[Framework, tuple[str, ...]]] = {
    "nist-800-53": ("AC-3", "AC-6"),
    "hipaa": ("164.308(a)(4)", "164.312(a)(1)"),
    "gdpr": ("Art. 25", "Art. 32"),
    "dpdp": ("Sec. 8(5)",),
    "eu-ai-act": ("Art. 15",),
}

IAM_RULES: Final[tuple[Rule, ...]] = (
    Rule(
        name="iam-policy-grants-no-full-admin",
        description=(
            "No identity policy (managed, role, group, user or role inline) allows every "
            "action on every resource."
        ),
        remediation=(
            "Name the actions and resources the identity needs; grant through component "
            "intents (grant_read/grant_write) rather than hand-written policies."
        ),
        severity="critical",
        controls=_LEAST_PRIVILEGE,
        resource_types=(*POLICY_DOCUMENT_TYPES, ROLE),
        validate_resource=_validate_no_full_admin,
    ),
    Rule(
        name="iam-broad-managed-policies-not-attached",
        description=(
            "No AdministratorAccess, PowerUserAccess or *FullAccess managed policy is "
            "attached to a role, group or user."
        ),
        remediation=(
            "Attach a narrower AWS-managed policy (ReadOnly, PullOnly) or a least-privilege "
            "policy of your own."
        ),
        severity="high",
        controls=_LEAST_PRIVILEGE,
        resource_types=(*ATTACHMENT_TYPES, *EXCLUSIVE_ATTACHMENT_TYPES, ROLE),
        validate_resource=_validate_no_broad_managed,
    ),
    Rule(
        name="iam-web-identity-trust-restricts-subject",
        description=(
            "Every OIDC web-identity trust names its subjects in a ':sub' condition (and, for "
            "GitHub Actions, requires the sts.amazonaws.com audience)."
        ),
        remediation=(
            "Add StringEquals (or a specific StringLike) on '<issuer>:sub'; IrsaIdentity "
            "pins the service account and GithubActionsRole the repository and refs."
        ),
        severity="critical",
        controls={
            "cis-eks": ("5.2.1",),
            "nist-800-53": ("AC-3", "IA-9"),
            "hipaa": ("164.312(a)(1)", "164.312(d)"),
            "gdpr": ("Art. 32",),
            "dpdp": ("Sec. 8(5)",),
            "eu-ai-act": ("Art. 15",),
        },
        resource_types=(ROLE,),
        validate_resource=_validate_web_identity,
    ),
    Rule(
        name="iam-policies-not-attached-to-users",
        description=(
            "No permissions are given to IAM users directly (no user inline policies or "
            "user policy attachments); access goes through roles."
        ),
        remediation=(
            "Grant through a role (IrsaIdentity for workloads, GithubActionsRole for CI) "
            "or an IAM group."
        ),
        severity="medium",
        controls={
            "nist-800-53": ("AC-2", "AC-6"),
            "hipaa": ("164.308(a)(4)",),
            "gdpr": ("Art. 32",),
            "dpdp": ("Sec. 8(5)",),
        },
        resource_types=USER_POLICY_TYPES,
        validate_resource=_validate_no_user_policies,
    ),
)
