"""IAM rules: wildcard grants, broad managed policies, web-identity trusts, user policies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mlops_blueprints.policies import AnalyzedResource
from mlops_blueprints.policies.aws import IAM_RULES
from mlops_blueprints.policies.aws._iam import is_broad_managed_policy

from tests.policies._helpers import assert_complies, assert_violates, resource, violations

pytestmark = pytest.mark.policy

RULES = {rule.name: rule for rule in IAM_RULES}
NO_ADMIN = RULES["iam-policy-grants-no-full-admin"]
NO_BROAD = RULES["iam-broad-managed-policies-not-attached"]
TRUST = RULES["iam-web-identity-trust-restricts-subject"]
NO_USERS = RULES["iam-policies-not-attached-to-users"]

EKS_ISSUER = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE"
GITHUB = "token.actions.githubusercontent.com"
ACCOUNT = "123456789012"


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: Any, resource_: Any = "*", **more: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource_, **more}


SCOPED = allow(["s3:GetObject"], "arn:aws:s3:::acme-lake/mlflow/*")


# --- wildcard grants -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "type_",
    [
        "aws:iam/policy:Policy",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/groupPolicy:GroupPolicy",
        "aws:iam/userPolicy:UserPolicy",
    ],
)
def test_full_admin_in_any_policy_document_violates(type_: str) -> None:
    admin = resource(type_, "grant", {"policy": document(SCOPED, allow("*"))})
    found = assert_violates(NO_ADMIN, admin)
    assert "#1" in found.message
    assert_complies(NO_ADMIN, resource(type_, "grant", {"policy": document(SCOPED)}))


def test_full_admin_in_a_role_inline_policy_violates() -> None:
    role = resource(
        "aws:iam/role:Role",
        "role",
        {
            "assumeRolePolicy": document(),
            "inlinePolicies": [
                {"name": "reads", "policy": document(SCOPED)},
                {"name": "everything", "policy": document(allow(["*:*"], ["*"], Sid="All"))},
            ],
        },
    )
    found = assert_violates(NO_ADMIN, role)
    assert "'everything'" in found.message
    assert "All" in found.message


@pytest.mark.parametrize(
    "statement",
    [
        allow("*", "*"),
        allow(["s3:GetObject", "*"], ["arn:aws:s3:::x", "*"]),
        {"Effect": "Allow", "NotAction": ["iam:*"], "Resource": "*"},
        {"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:s3:::x"},
        {"Effect": "allow", "Action": "*", "Resource": "*"},
    ],
    ids=["star", "star-among-others", "not-action", "not-resource", "lower-case-effect"],
)
def test_grants_of_everything_violate(statement: dict[str, Any]) -> None:
    grant = resource("aws:iam/rolePolicy:RolePolicy", "grant", {"policy": document(statement)})
    assert_violates(NO_ADMIN, grant)


@pytest.mark.parametrize(
    "statement",
    [
        allow("*", "arn:aws:s3:::acme-lake/*"),
        allow("s3:*", "*"),
        allow("kms:*", "*"),
        {"Effect": "Deny", "Action": "*", "Resource": "*"},
        allow("pricing:GetProducts", "*"),
    ],
    ids=["star-on-one-resource", "service-star", "kms-star", "deny", "read-only-star"],
)
def test_narrower_grants_are_not_full_admin(statement: dict[str, Any]) -> None:
    grant = resource("aws:iam/rolePolicy:RolePolicy", "grant", {"policy": document(statement)})
    assert_complies(NO_ADMIN, grant)


def test_policy_given_as_an_object_is_read() -> None:
    as_object = {"Version": "2012-10-17", "Statement": allow("*")}
    assert_violates(NO_ADMIN, resource("aws:iam/policy:Policy", "p", {"policy": as_object}))


def test_unparseable_policy_violates() -> None:
    broken = resource("aws:iam/policy:Policy", "p", {"policy": '{"Statement": ['})
    found = assert_violates(NO_ADMIN, broken)
    assert "not valid JSON" in found.message


# --- managed policies ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arn", "broad"),
    [
        ("arn:aws:iam::aws:policy/AdministratorAccess", True),
        ("arn:aws:iam::aws:policy/AdministratorAccess-Amplify", True),
        ("arn:aws:iam::aws:policy/PowerUserAccess", True),
        ("arn:aws:iam::aws:policy/AmazonS3FullAccess", True),
        ("arn:aws:iam::aws:policy/AWSLambda_FullAccess", True),
        ("arn:aws-us-gov:iam::aws:policy/IAMFullAccess", True),
        ("arn:aws:iam::aws:policy/AmazonEKSClusterPolicy", False),
        ("arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly", False),
        ("arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore", False),
        ("arn:aws:iam::aws:policy/job-function/ViewOnlyAccess", False),
    ],
)
def test_broad_managed_policy_names(arn: str, broad: bool) -> None:
    assert is_broad_managed_policy(arn) is broad


@pytest.mark.parametrize(
    ("type_", "props"),
    [
        ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", {"role": "r"}),
        ("aws:iam/groupPolicyAttachment:GroupPolicyAttachment", {"group": "g"}),
        ("aws:iam/userPolicyAttachment:UserPolicyAttachment", {"user": "u"}),
        ("aws:iam/policyAttachment:PolicyAttachment", {"roles": ["r"]}),
    ],
)
def test_broad_managed_policy_attachment_violates(type_: str, props: dict[str, Any]) -> None:
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    found = assert_violates(NO_BROAD, resource(type_, "attach", {**props, "policyArn": admin}))
    assert admin in found.message
    narrow = {**props, "policyArn": "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"}
    assert_complies(NO_BROAD, resource(type_, "attach", narrow))


def test_broad_managed_policy_on_a_role_or_exclusive_set_violates() -> None:
    full = "arn:aws:iam::aws:policy/AmazonS3FullAccess"
    role = resource(
        "aws:iam/role:Role", "role", {"assumeRolePolicy": document(), "managedPolicyArns": [full]}
    )
    assert_violates(NO_BROAD, role)
    exclusive = resource(
        "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive",
        "exclusive",
        {"roleName": "r", "policyArns": [full]},
    )
    assert_violates(NO_BROAD, exclusive)


# --- web identity trust --------------------------------------------------------------------


def web_identity(issuer: str, conditions: dict[str, Any] | None, **more: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{issuer}"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        **more,
    }
    if conditions is not None:
        statement["Condition"] = conditions
    return statement


def role(*statements: dict[str, Any]) -> AnalyzedResource:
    return resource("aws:iam/role:Role", "role", {"assumeRolePolicy": document(*statements)})


IRSA = web_identity(
    EKS_ISSUER,
    {
        "StringEquals": {
            f"{EKS_ISSUER}:sub": "system:serviceaccount:mlops:mlflow",
            f"{EKS_ISSUER}:aud": "sts.amazonaws.com",
        }
    },
)
GITHUB_ROLE = web_identity(
    GITHUB,
    {
        "StringEquals": {
            f"{GITHUB}:aud": "sts.amazonaws.com",
            f"{GITHUB}:sub": ["repo:acme/churn-model:ref:refs/heads/main"],
        }
    },
)


@pytest.mark.parametrize(
    "statement",
    [
        IRSA,
        GITHUB_ROLE,
        web_identity(
            GITHUB,
            {
                "StringEquals": {f"{GITHUB}:aud": "sts.amazonaws.com"},
                "StringLike": {f"{GITHUB}:sub": "repo:acme/churn-model:*"},
            },
        ),
        web_identity(
            EKS_ISSUER, {"StringLike": {f"{EKS_ISSUER}:sub": "system:serviceaccount:ml:*"}}
        ),
        web_identity(
            "cognito-identity.amazonaws.com",
            {"StringEquals": {"cognito-identity.amazonaws.com:aud": "us-east-1:pool"}},
        ),
        {
            "Effect": "Allow",
            "Principal": {"Service": "eks.amazonaws.com"},
            "Action": "sts:AssumeRole",
        },
    ],
    ids=["irsa", "github", "github-repo-pattern", "namespace-pattern", "cognito", "service"],
)
def test_scoped_trusts_comply(statement: dict[str, Any]) -> None:
    assert_complies(TRUST, role(statement))


@pytest.mark.parametrize(
    ("statement", "fragment"),
    [
        (web_identity(EKS_ISSUER, None), ":sub"),
        (
            web_identity(EKS_ISSUER, {"StringEquals": {f"{EKS_ISSUER}:aud": "sts.amazonaws.com"}}),
            ":sub",
        ),
        (web_identity(EKS_ISSUER, {"StringLike": {f"{EKS_ISSUER}:sub": "*"}}), ":sub"),
        (
            web_identity(
                EKS_ISSUER, {"StringLike": {f"{EKS_ISSUER}:sub": "system:serviceaccount:*"}}
            ),
            ":sub",
        ),
        (
            web_identity(
                EKS_ISSUER, {"StringNotEquals": {f"{EKS_ISSUER}:sub": "system:serviceaccount:x:y"}}
            ),
            ":sub",
        ),
        (
            web_identity(
                EKS_ISSUER,
                {"ForAllValues:StringEquals": {f"{EKS_ISSUER}:sub": "system:serviceaccount:x:y"}},
            ),
            ":sub",
        ),
        (
            web_identity(
                GITHUB,
                {"StringLike": {f"{GITHUB}:sub": "repo:*", f"{GITHUB}:aud": "sts.amazonaws.com"}},
            ),
            ":sub",
        ),
        (
            web_identity(
                GITHUB, {"StringEquals": {f"{GITHUB}:sub": "repo:acme/app:ref:refs/heads/main"}}
            ),
            ":aud",
        ),
        (
            web_identity(
                GITHUB,
                {
                    "StringEquals": {
                        f"{GITHUB}:sub": "repo:acme/app:environment:prod",
                        f"{GITHUB}:aud": "sigstore",
                    }
                },
            ),
            ":aud",
        ),
        (web_identity("cognito-identity.amazonaws.com", None), "identity pool"),
    ],
    ids=[
        "no-condition",
        "audience-only",
        "any-subject",
        "any-service-account",
        "negated",
        "for-all-values",
        "any-repository",
        "github-no-audience",
        "github-wrong-audience",
        "cognito-no-pool",
    ],
)
def test_unscoped_trusts_violate(statement: dict[str, Any], fragment: str) -> None:
    found = assert_violates(TRUST, role(statement))
    assert fragment in found.message


def test_trust_with_action_wildcard_is_checked() -> None:
    found = violations(TRUST, role(web_identity(EKS_ISSUER, None, Action=["sts:AssumeRole*"])))
    assert [v.rule for v in found] == [TRUST.name]


def test_condition_keys_are_case_insensitive() -> None:
    upper = web_identity(
        EKS_ISSUER, {"StringEquals": {f"{EKS_ISSUER}:SUB": "system:serviceaccount:a:b"}}
    )
    assert_complies(TRUST, role(upper))


# --- users ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_", "props"),
    [
        ("aws:iam/userPolicy:UserPolicy", {"user": "alice", "policy": document(SCOPED)}),
        (
            "aws:iam/userPolicyAttachment:UserPolicyAttachment",
            {"user": "alice", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
        ),
        ("aws:iam/policyAttachment:PolicyAttachment", {"users": ["alice"], "policyArn": "arn:x"}),
        (
            "aws:iam/userPoliciesExclusive:UserPoliciesExclusive",
            {"userName": "alice", "policyNames": ["p"]},
        ),
        (
            "aws:iam/userPolicyAttachmentsExclusive:UserPolicyAttachmentsExclusive",
            {"userName": "alice", "policyArns": ["arn:x"]},
        ),
    ],
    ids=["inline", "attachment", "policy-attachment", "inline-exclusive", "attachment-exclusive"],
)
def test_permissions_on_users_violate(type_: str, props: dict[str, Any]) -> None:
    assert_violates(NO_USERS, resource(type_, "user-grant", props))


@pytest.mark.parametrize(
    ("type_", "props"),
    [
        ("aws:iam/policyAttachment:PolicyAttachment", {"roles": ["r"], "policyArn": "arn:x"}),
        (
            "aws:iam/userPoliciesExclusive:UserPoliciesExclusive",
            {"userName": "alice", "policyNames": []},
        ),
        ("aws:iam/rolePolicy:RolePolicy", {"role": "r", "policy": document(SCOPED)}),
    ],
    ids=["roles-only", "exclusive-empty", "role-policy"],
)
def test_permissions_elsewhere_comply(type_: str, props: dict[str, Any]) -> None:
    assert_complies(NO_USERS, resource(type_, "grant", props))
