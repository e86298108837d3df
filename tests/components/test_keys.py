"""KMS keys: lockout-safe policies, intent grants, the rendered key, and the grants on moto."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st
from mlops_blueprints.components.identity import (
    IrsaIdentity,
    IrsaIdentityArgs,
    StaticCredentialsIdentity,
    StaticCredentialsIdentityArgs,
)
from mlops_blueprints.components.keys import (
    KmsKey,
    KmsKeyArgs,
    assert_not_lockout,
    autoscaling_service_linked_role_arn,
    key_policy,
    key_use_statements,
)
from mlops_blueprints.components.keys._policy import (
    ADMIN_ACTIONS,
    USE_ACTIONS,
    role_name_from_arn,
)

from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.render import RenderCapture
from tests.moto._harness import REGION, assumed_role, aws_account, is_denied

ACCOUNT = "123456789012"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/key-admin"
USER = f"arn:aws:iam::{ACCOUNT}:role/path/to/ci"
LOGS = "logs.us-east-1.amazonaws.com"
_USE_LIKE = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt",
    "kms:GenerateDataKey",
    "kms:CreateGrant",
)


# --- helpers ------------------------------------------------------------------------------


def _by_name(capture: RenderCapture) -> dict[str, Any]:
    names = [r.name for r in capture.registrations]
    assert len(names) == len(set(names)), "resource names must be unique"
    return {r.name: r for r in capture.registrations}


def _children(capture: RenderCapture, parent: str) -> dict[str, str]:
    resources = _by_name(capture)
    urn = resources[parent].urn
    return {r.name: r.type for r in capture.registrations if r.parent == urn}


def _statement(policy: dict[str, Any], sid: str) -> dict[str, Any]:
    return next(s for s in policy["Statement"] if s["Sid"] == sid)


def _action_level(document: dict[str, Any]) -> dict[str, Any]:
    """The same actions on every resource.

    moto authorises KMS (a JSON-protocol service) against the resource ``*`` only, so a
    statement naming the key ARN would never match; moto can prove which actions a grant
    allows, not which key. That the grant names exactly one key is asserted on the render.
    """
    return {**document, "Statement": [{**s, "Resource": "*"} for s in document["Statement"]]}


def _denied(call: Callable[..., Any], **kwargs: Any) -> bool:
    try:
        call(**kwargs)
    except ClientError as error:
        return is_denied(error)
    return False


# --- key_policy and its validator ---------------------------------------------------------

role_arns = st.from_regex(r"arn:aws:iam::123456789012:role/[a-z][a-z0-9-]{0,20}", fullmatch=True)
services = st.sampled_from(
    [LOGS, "logs.eu-west-1.amazonaws.com", "sns.amazonaws.com", "events.amazonaws.com"]
)


@pytest.mark.unit
@given(
    admins=st.lists(role_arns, max_size=3),
    users=st.lists(role_arns, max_size=3),
    svcs=st.lists(services, max_size=3),
)
def test_key_policy_always_keeps_the_root_and_never_lets_admins_use(
    admins: list[str], users: list[str], svcs: list[str]
) -> None:
    policy = key_policy(ACCOUNT, admins=admins, users=users, services=svcs)
    root = policy["Statement"][0]
    assert root == {
        "Sid": "EnableAccountRootAndIamPolicies",
        "Effect": "Allow",
        "Principal": {"AWS": ROOT},
        "Action": "kms:*",
        "Resource": "*",
    }
    assert_not_lockout(policy, account_id=ACCOUNT)
    json.dumps(policy)
    if admins:
        admin = _statement(policy, "KeyAdministrators")
        assert admin["Principal"] == {"AWS": sorted(set(admins))}
        assert not [a for a in admin["Action"] if a.startswith(_USE_LIKE)]
    else:
        assert all(s["Sid"] != "KeyAdministrators" for s in policy["Statement"])
    service_statements = [s for s in policy["Statement"] if s["Sid"].startswith("ServiceUse")]
    assert sorted(s["Principal"]["Service"] for s in service_statements) == sorted(set(svcs))
    assert all(s.get("Condition") for s in service_statements)


@pytest.mark.unit
def test_key_policy_users_get_use_and_grants_only_for_aws_resources() -> None:
    policy = key_policy(ACCOUNT, users=[USER])
    assert _statement(policy, "KeyUsers")["Action"] == list(USE_ACTIONS)
    grants = _statement(policy, "KeyUsersGrantsForAwsResources")
    assert grants["Action"] == ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"]
    assert grants["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}


@pytest.mark.unit
def test_key_policy_limits_services_by_context_or_source_account() -> None:
    policy = key_policy(ACCOUNT, services=[LOGS, "sns.amazonaws.com"])
    logs = next(s for s in policy["Statement"] if s["Principal"] == {"Service": LOGS})
    assert logs["Condition"] == {
        "ArnLike": {
            "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:*"
        }
    }
    sns = next(s for s in policy["Statement"] if s["Principal"] == {"Service": "sns.amazonaws.com"})
    assert sns["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


@pytest.mark.unit
def test_admin_actions_manage_but_never_use() -> None:
    assert "kms:ScheduleKeyDeletion" in ADMIN_ACTIONS
    assert "kms:PutKeyPolicy" in ADMIN_ACTIONS
    assert not [a for a in ADMIN_ACTIONS if a.startswith(_USE_LIKE) or "*" in a]


@pytest.mark.unit
def test_a_policy_without_the_root_statement_is_flagged() -> None:
    policy = key_policy(ACCOUNT, admins=[ADMIN], users=[USER])
    without_root = {**policy, "Statement": policy["Statement"][1:]}
    with pytest.raises(BlueprintConfigError) as error:
        assert_not_lockout(without_root)
    assert error.value.field == "key_policy"
    assert error.value.value == ["KeyAdministrators", "KeyUsers", "KeyUsersGrantsForAwsResources"]
    assert "account root" in error.value.fix
    assert "'kms:*'" in error.value.fix


@pytest.mark.unit
@pytest.mark.parametrize(
    "root",
    [
        # Conditioned: root access would depend on a tag or network path.
        {
            **key_policy(ACCOUNT)["Statement"][0],
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        },
        # Narrowed: the root can no longer change the policy.
        {**key_policy(ACCOUNT)["Statement"][0], "Action": ["kms:Decrypt"]},
        # Another account's root does not rescue this account.
        {
            **key_policy(ACCOUNT)["Statement"][0],
            "Principal": {"AWS": "arn:aws:iam::210987654321:root"},
        },
    ],
)
def test_a_weakened_root_statement_is_flagged(root: dict[str, Any]) -> None:
    with pytest.raises(BlueprintConfigError) as error:
        assert_not_lockout({"Version": "2012-10-17", "Statement": [root]}, account_id=ACCOUNT)
    assert error.value.field == "key_policy"


@pytest.mark.unit
@pytest.mark.parametrize(
    "deny",
    [
        {"Sid": "DenyAll", "Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*"},
        {
            "Sid": "DenyRoot",
            "Effect": "Deny",
            "Principal": {"AWS": ROOT},
            "Action": ["kms:PutKeyPolicy"],
            "Resource": "*",
        },
        {
            "Sid": "DenyOthers",
            "Effect": "Deny",
            "NotPrincipal": {"AWS": ADMIN},
            "Action": "kms:*",
            "Resource": "*",
        },
    ],
)
def test_a_deny_that_hits_the_root_is_flagged(deny: dict[str, Any]) -> None:
    policy = key_policy(ACCOUNT)
    with pytest.raises(BlueprintConfigError) as error:
        assert_not_lockout({**policy, "Statement": [*policy["Statement"], deny]})
    assert error.value.field == "key_policy"
    assert error.value.value == deny["Sid"]
    assert "locks the key out" in error.value.fix


@pytest.mark.unit
def test_key_policy_rejects_a_bad_account_or_service() -> None:
    with pytest.raises(BlueprintConfigError) as error:
        key_policy("12345")
    assert (error.value.field, error.value.value) == ("account_id", "12345")
    with pytest.raises(BlueprintConfigError) as error:
        key_policy(ACCOUNT, services=["logs.amazonaws.com"])
    assert error.value.value == "logs.amazonaws.com"
    assert "logs.<region>.amazonaws.com" in error.value.fix


@pytest.mark.unit
def test_key_use_statements_name_one_key_and_only_the_mode() -> None:
    arn = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/abc"
    (encrypt,) = key_use_statements("encrypt-decrypt", arn)
    assert encrypt["Resource"] == [arn]
    assert encrypt["Action"] == list(USE_ACTIONS)
    (decrypt,) = key_use_statements("decrypt", arn)
    assert decrypt["Action"] == ["kms:Decrypt", "kms:DescribeKey"]
    (secrets,) = key_use_statements("cluster-secrets", arn)
    assert secrets["Action"] == ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"]


@pytest.mark.unit
def test_role_names_come_from_role_arns_with_paths() -> None:
    assert role_name_from_arn(USER) == "ci"
    assert role_name_from_arn(f"arn:aws:iam::{ACCOUNT}:role/ci") == "ci"
    with pytest.raises(BlueprintConfigError) as error:
        role_name_from_arn(f"arn:aws:iam::{ACCOUNT}:user/ci")
    assert error.value.field == "principal"
    assert "IAM role ARN" in error.value.fix


# --- KmsKeyArgs validation ----------------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize(
    ("kwargs", "field", "value", "fix"),
    [
        ({"rotation_period_days": 89}, "rotation_period_days", 89, "90 to 2560 days"),
        ({"rotation_period_days": 2561}, "rotation_period_days", 2561, "90 to 2560 days"),
        ({"deletion_window_days": 6}, "deletion_window_days", 6, "7 to 30 days"),
        ({"alias": "alias/aws/ebs"}, "alias", "alias/aws/ebs", "reserved"),
        ({"alias": "bad alias"}, "alias", "bad alias", "alias/<name>"),
        (
            {"service_principals": ("my-role",)},
            "service_principals",
            "my-role",
            "service principal",
        ),
        (
            {"admin_role_arns": ("arn:aws:iam::123456789012:user/bob",)},
            "principal",
            "arn:aws:iam::123456789012:user/bob",
            "IAM role ARN",
        ),
    ],
)
def test_bad_key_args_fail_with_field_value_and_fix(
    kwargs: dict[str, Any], field: str, value: object, fix: str
) -> None:
    with pytest.raises(BlueprintConfigError) as error:
        KmsKeyArgs(**{"alias": "mlops", **kwargs})
    assert error.value.field == field
    assert error.value.value == value
    assert fix in error.value.fix


@pytest.mark.unit
def test_alias_prefix_is_added() -> None:
    assert KmsKeyArgs(alias="mlops-platform").alias == "alias/mlops-platform"
    assert KmsKeyArgs(alias="alias/mlops-platform").alias == "alias/mlops-platform"


# --- the rendered component ---------------------------------------------------------------


@pytest.mark.unit
def test_key_children_and_secure_inputs(render: Callable[..., RenderCapture]) -> None:
    def program() -> None:
        key = KmsKey(
            "platform-key",
            KmsKeyArgs(
                alias="mlops-platform",
                admin_role_arns=(ADMIN,),
                service_principals=(LOGS,),
                enable_autoscaling_volume_encryption=True,
                rotation_period_days=180,
            ),
        )
        key.grant_encrypt_decrypt(USER, grantee="ci")
        key.grant_decrypt(f"arn:aws:iam::{ACCOUNT}:role/auditor", grantee="auditor")

    capture = render(program)
    assert _children(capture, "platform-key") == {
        "platform-key-key": "aws:kms/key:Key",
        "platform-key-alias": "aws:kms/alias:Alias",
        "platform-key-encrypt-decrypt-ci": "aws:iam/rolePolicy:RolePolicy",
        "platform-key-decrypt-auditor": "aws:iam/rolePolicy:RolePolicy",
    }
    resources = _by_name(capture)
    key = resources["platform-key-key"]
    assert key.retain_on_delete is True
    inputs = {k: v for k, v in key.inputs.items() if k not in ("policy", "tags")}
    assert inputs == {
        "description": "Customer-managed key for the MLOps platform",
        "keyUsage": "ENCRYPT_DECRYPT",
        "customerMasterKeySpec": "SYMMETRIC_DEFAULT",
        "enableKeyRotation": True,
        "rotationPeriodInDays": 180,
        "deletionWindowInDays": 30,
        "bypassPolicyLockoutSafetyCheck": False,
    }
    policy = json.loads(key.inputs["policy"])
    assert_not_lockout(policy, account_id=ACCOUNT)
    assert _statement(policy, "KeyAdministrators")["Principal"] == {"AWS": [ADMIN]}
    assert _statement(policy, "KeyUsers")["Principal"] == {
        "AWS": [autoscaling_service_linked_role_arn(ACCOUNT)]
    }
    assert _statement(policy, "ServiceUse1")["Principal"] == {"Service": LOGS}
    assert resources["platform-key-alias"].inputs["name"] == "alias/mlops-platform"
    grant = resources["platform-key-encrypt-decrypt-ci"]
    assert grant.inputs["role"] == "ci"
    document = json.loads(grant.inputs["policy"])
    assert document["Statement"] == key_use_statements(
        "encrypt-decrypt", f"arn:aws:kms:us-east-1:{ACCOUNT}:key/platform-key-key"
    )
    outputs = capture.outputs[resources["platform-key"].urn]
    assert outputs["alias_name"] == "alias/mlops-platform"
    assert outputs["key_arn"].startswith("arn:aws:kms:")


@pytest.mark.unit
def test_key_grants_to_a_workload_identity(render: Callable[..., RenderCapture]) -> None:
    def program() -> None:
        key = KmsKey("platform-key", KmsKeyArgs(alias="mlops-platform"))
        identity = IrsaIdentity(
            "trainer-identity",
            IrsaIdentityArgs(
                namespace="kube-system",
                service_account_name="trainer",
                oidc_provider_arn=f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.example",
                oidc_issuer_url="https://oidc.example",
            ),
        )
        key.grant_encrypt_decrypt(identity)

    resources = _by_name(render(program))
    grant = resources["platform-key-encrypt-decrypt-trainer"]
    assert grant.inputs["role"] == "trainer-identity-role"
    assert resources["trainer-identity-role"].urn in grant.dependencies


@pytest.mark.unit
def test_key_refuses_grants_it_cannot_express(render: Callable[..., RenderCapture]) -> None:
    errors: list[BlueprintConfigError] = []

    def program() -> None:
        key = KmsKey("platform-key", KmsKeyArgs(alias="mlops-platform"))
        static = StaticCredentialsIdentity(
            "static",
            StaticCredentialsIdentityArgs(namespace="kube-system", service_account_name="s"),
        )
        for principal, grantee in ((static, None), (USER, None), (USER, "Not_A_Label")):
            try:
                key.grant_encrypt_decrypt(principal, grantee=grantee)
            except BlueprintConfigError as error:
                errors.append(error)

    render(program)
    assert [(e.field, e.value) for e in errors] == [
        ("principal", "StaticCredentialsIdentity"),
        ("grantee", None),
        ("grantee", "Not_A_Label"),
    ]
    assert "IrsaIdentity" in errors[0].fix
    assert "grantee='ci'" in errors[1].fix


# --- moto ---------------------------------------------------------------------------------


@pytest.fixture
def moto_key() -> Iterator[str]:
    """The ARN of a key with the component's policy, in a fresh moto account."""
    with aws_account():
        kms = boto3.client("kms", region_name=REGION)
        key = kms.create_key(Policy=json.dumps(key_policy(ACCOUNT, admins=[ADMIN], users=[])))
        yield key["KeyMetadata"]["Arn"]


@pytest.mark.moto
def test_encrypt_decrypt_grant_holds_on_moto(moto_key: str) -> None:
    key_arn = moto_key
    document = {
        "Version": "2012-10-17",
        "Statement": key_use_statements("encrypt-decrypt", key_arn),
    }
    with assumed_role("key-user", [_action_level(document)]) as session:
        kms = session.client("kms")
        blob = kms.encrypt(KeyId=key_arn, Plaintext=b"model-weights")["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"model-weights"
        assert kms.generate_data_key(KeyId=key_arn, KeySpec="AES_256")["Plaintext"]
        # Neighbours: managing the key, deleting it, rewriting its policy, granting it on.
        assert _denied(kms.schedule_key_deletion, KeyId=key_arn, PendingWindowInDays=7)
        assert _denied(kms.put_key_policy, KeyId=key_arn, PolicyName="default", Policy="{}")
        assert _denied(kms.disable_key, KeyId=key_arn)
        assert _denied(
            kms.create_grant,
            KeyId=key_arn,
            GranteePrincipal=f"arn:aws:iam::{ACCOUNT}:role/other",
            Operations=["Decrypt"],
        )


@pytest.mark.moto
def test_decrypt_grant_cannot_encrypt_on_moto(moto_key: str) -> None:
    key_arn = moto_key
    kms_admin = boto3.client("kms", region_name=REGION)
    blob = kms_admin.encrypt(KeyId=key_arn, Plaintext=b"secret")["CiphertextBlob"]
    document = {"Version": "2012-10-17", "Statement": key_use_statements("decrypt", key_arn)}
    with assumed_role("key-reader", [_action_level(document)]) as session:
        kms = session.client("kms")
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"
        assert _denied(kms.encrypt, KeyId=key_arn, Plaintext=b"x")
        assert _denied(kms.generate_data_key, KeyId=key_arn, KeySpec="AES_256")
        assert _denied(kms.schedule_key_deletion, KeyId=key_arn, PendingWindowInDays=7)
