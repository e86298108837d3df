"""Bad input fails before any resource is registered, naming the field, the value and the fix.

Also covers the pure policy builders the components use, so their exact statements are pinned
independently of any render.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from mlops_blueprints.blueprints import CONFIG_NAMESPACE, deploy_level, parse_level
from mlops_blueprints.components.identity import (
    IrsaIdentity,
    IrsaIdentityArgs,
    StaticCredentialsIdentity,
    StaticCredentialsIdentityArgs,
)
from mlops_blueprints.components.identity._trust import irsa_trust_policy
from mlops_blueprints.components.kubernetes import WorkloadNamespaceArgs
from mlops_blueprints.components.object_store import (
    S3Bucket,
    S3BucketArgs,
    SeaweedfsServer,
    SeaweedfsServerArgs,
)
from mlops_blueprints.components.object_store._policies import (
    GrantMode,
    s3_grant_statements,
    tls_only_bucket_policy,
)
from mlops_blueprints.components.object_store._seaweedfs import seaweedfs_actions

from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.render import (
    ProgramError,
    RenderCapture,
    find_level_stack,
    load_stack_config,
    render_project,
    run_program,
)
from mlops_blueprints.targets import ObjectStoreArgs, WorkloadIdentityArgs
from mlops_blueprints.targets._seam import (
    validate_bucket_name,
    validate_dns_label,
    validate_prefix,
)

pytestmark = pytest.mark.unit

RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", "--x-s3", ".mrap")


def _assert_config_error(
    error: BlueprintConfigError, *, field: str, value: object, fix: str
) -> None:
    assert error.field == field
    assert error.value == value
    assert fix in error.fix
    # The message alone is enough to act on: it carries all three.
    assert str(error).startswith(f"{field}: invalid value {value!r}.")
    assert error.fix in str(error)


# --- bucket names -------------------------------------------------------------------------

_LABEL_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"

valid_bucket_names = st.from_regex(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", fullmatch=True).filter(
    lambda name: not name.startswith(RESERVED_PREFIXES) and not name.endswith(RESERVED_SUFFIXES)
)


@given(valid_bucket_names)
@example("abc")
@example("a" * 63)
@example("acme-mlops-dev-lake-raw")
@example("0-9")
def test_valid_bucket_names_pass(name: str) -> None:
    assert validate_bucket_name(name, field="bucket_name") == name
    assert ObjectStoreArgs(bucket_name=name, purpose="test").bucket_name == name
    assert S3BucketArgs(bucket_name=name).bucket_name == name


def _uppercased(name: str, index: int) -> str:
    letters = [i for i, c in enumerate(name) if c.isalpha()]
    assume(letters)
    at = letters[index % len(letters)]
    return name[:at] + name[at].upper() + name[at + 1 :]


def _inserted(name: str, index: int, text: str) -> str:
    at = 1 + index % (len(name) - 1)  # never at either end
    return name[:at] + text + name[at:]


invalid_bucket_names = st.one_of(
    # Uppercase anywhere.
    st.builds(_uppercased, valid_bucket_names, st.integers(min_value=0)),
    # Too short or too long.
    st.text(_LABEL_CHARS, min_size=0, max_size=2),
    st.text(_LABEL_CHARS, min_size=64, max_size=80),
    # Underscore, adjacent dots, dot-hyphen pairs, other punctuation inside.
    st.builds(
        _inserted,
        valid_bucket_names,
        st.integers(min_value=0),
        st.sampled_from(["_", "..", ".-", "-.", " ", "/", ":", "@"]),
    ),
    # Hyphen or dot at either end.
    st.builds(lambda n, c: c + n, valid_bucket_names, st.sampled_from("-.")),
    st.builds(lambda n, c: n + c, valid_bucket_names, st.sampled_from("-.")),
    # Formatted as an IPv4 address.
    st.ip_addresses(v=4).map(str),
    # Reserved prefixes and suffixes.
    st.builds(lambda p, n: (p + n)[:63], st.sampled_from(RESERVED_PREFIXES), valid_bucket_names),
    st.builds(
        lambda n, s: n[: 63 - len(s)] + s, valid_bucket_names, st.sampled_from(RESERVED_SUFFIXES)
    ),
)


@given(invalid_bucket_names)
@example("MyBucket")
@example("ab")
@example("a" * 64)
@example("192.168.5.4")
@example("xn--bucket")
@example("data-s3alias")
@example("data..lake")
@example("data_lake")
@settings(suppress_health_check=[HealthCheck.filter_too_much])
def test_invalid_bucket_names_fail_with_the_rules(name: str) -> None:
    with pytest.raises(BlueprintConfigError) as caught:
        validate_bucket_name(name, field="bucket_name")
    _assert_config_error(caught.value, field="bucket_name", value=name, fix="S3 bucket names need")
    assert "e.g. 'acme-mlops-raw'" in caught.value.fix
    with pytest.raises(BlueprintConfigError):
        S3BucketArgs(bucket_name=name)
    with pytest.raises(BlueprintConfigError):
        ObjectStoreArgs(bucket_name=name, purpose="test")


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("Data-Lake", "lowercase letters"),
        ("10.0.0.1", "not formatted as an IP address"),
        ("xn--lake", "no reserved prefix"),
        ("lake-s3alias", "no reserved prefix or suffix"),
        ("data..lake", "no adjacent dots"),
        ("data.-lake", "no adjacent dots or dot-hyphen pairs"),
    ],
)
def test_bucket_name_errors_name_the_broken_rule(name: str, rule: str) -> None:
    with pytest.raises(BlueprintConfigError) as caught:
        validate_bucket_name(name, field="bucket_name")
    assert rule in caught.value.fix


def test_ip_address_rule_matches_only_dotted_quads() -> None:
    # A name that merely contains digits and dots is fine when it is not an address.
    assert validate_bucket_name("1.2.3.4.5", field="b") == "1.2.3.4.5"
    assert validate_bucket_name("v1.2.3", field="b") == "v1.2.3"
    with pytest.raises(BlueprintConfigError):
        validate_bucket_name("1.2.3.4", field="b")


# --- grant prefixes -----------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["", "models/", "dvc/cache/", "team-a/run_1/"])
def test_good_prefixes_are_accepted(prefix: str) -> None:
    assert validate_prefix(prefix, field="prefix") == prefix


@pytest.mark.parametrize(
    ("prefix", "fix"),
    [
        ("/abs/", "relative key prefix without wildcards"),
        ("a*", "relative key prefix without wildcards"),
        ("models/*", "relative key prefix without wildcards"),
        ("../x/", "relative key prefix without wildcards"),
        ("models/../secrets/", "relative key prefix without wildcards"),
        ("with space/", "relative key prefix without wildcards"),
        ("models", "End the prefix with '/' (e.g. 'models/')"),
        ("dvc/cache", "End the prefix with '/' (e.g. 'dvc/cache/')"),
    ],
)
def test_bad_prefixes_are_rejected(prefix: str, fix: str) -> None:
    with pytest.raises(BlueprintConfigError) as caught:
        validate_prefix(prefix, field="prefix")
    _assert_config_error(caught.value, field="prefix", value=prefix, fix=fix)


# --- Kubernetes names ---------------------------------------------------------------------


@given(st.from_regex(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", fullmatch=True))
def test_dns_labels_accepted(label: str) -> None:
    assert validate_dns_label(label, field="namespace") == label
    assert WorkloadNamespaceArgs(namespace=label).namespace == label


@pytest.mark.parametrize(
    "label", ["", "Mlops", "-mlops", "mlops-", "ml_ops", "ml.ops", "a" * 64, "mlöps"]
)
def test_bad_dns_labels_are_rejected_everywhere(label: str) -> None:
    fix = "Use at most 63 lowercase letters, digits and '-'"
    with pytest.raises(BlueprintConfigError) as caught:
        WorkloadNamespaceArgs(namespace=label)
    _assert_config_error(caught.value, field="namespace", value=label, fix=fix)
    for build in (
        lambda: WorkloadIdentityArgs(namespace="mlops", service_account_name=label),
        lambda: StaticCredentialsIdentityArgs(namespace="mlops", service_account_name=label),
        lambda: IrsaIdentityArgs(
            namespace="mlops",
            service_account_name=label,
            oidc_provider_arn="arn:aws:iam::123456789012:oidc-provider/x",
            oidc_issuer_url="https://x",
        ),
    ):
        with pytest.raises(BlueprintConfigError) as caught:
            build()
        _assert_config_error(caught.value, field="service_account_name", value=label, fix=fix)


# --- levels -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "level"),
    [(1, 1), (2, 2), (3, 3), (4, 4), ("2", 2), ("L3", 3), ("l4", 4), (" 1 ", 1)],
)
def test_parse_level_accepts_levels(value: object, level: int) -> None:
    assert parse_level(value) == level


@pytest.mark.parametrize("value", [0, 5, -1, "x", "", "L", "L0", "1.5", "one", None, 2.5])
def test_parse_level_rejects_the_rest(value: object) -> None:
    with pytest.raises(BlueprintConfigError) as caught:
        parse_level(value, field="--level")
    _assert_config_error(caught.value, field="--level", value=value, fix="from 1 to 4")


def test_parse_level_rejects_superscript_digits() -> None:
    with pytest.raises(BlueprintConfigError):
        parse_level("\u00b2")


# --- program-level configuration ----------------------------------------------------------


def _level1_config(target: str) -> dict[str, str]:
    raw = load_stack_config(find_level_stack(1), target, CONFIG_NAMESPACE)
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}


@pytest.mark.parametrize(
    ("stack", "setting", "expected"),
    [
        ("kind", "target=gcp", ("target", "gcp", "Use one of: aws, kind.")),
        ("kind", "name=Acme", ("name", "Acme", "3-24 lowercase letters")),
        ("kind", "name=ab", ("name", "ab", "3-24 lowercase letters")),
        ("kind", "name=1acme", ("name", "1acme", "starting with a letter")),
        ("kind", "environment=Prod", ("environment", "Prod", "(e.g. 'prod')")),
        ("kind", "environment=" + "e" * 25, ("environment", "e" * 25, "3-24 lowercase")),
        ("aws", "aws.natStrategy=several", ("aws.natStrategy", "several", "'one-per-az'")),
        ("kind", "kind.contxt=x", ("kind.contxt", "x", "Remove this unknown setting")),
        ("kind", "kind.storageSizeGib=big", ("kind.storageSizeGib", "big", "valid integer")),
        ("aws", "aws.regoin=eu-west-1", ("aws.regoin", "eu-west-1", "Remove this unknown")),
    ],
)
def test_bad_stack_config_fails_before_rendering(
    stack: str, setting: str, expected: tuple[str, object, str], tmp_path: Path
) -> None:
    field, value, fix = expected
    out = tmp_path / "out"
    with pytest.raises(ProgramError) as caught:
        render_project(find_level_stack(1), stack=stack, sets=[setting], out_dir=out)
    cause = caught.value.cause
    assert isinstance(cause, BlueprintConfigError)
    _assert_config_error(cause, field=f"{CONFIG_NAMESPACE}:{field}", value=value, fix=fix)
    assert not (out / "inventory.json").exists()


def _run_catching(
    program: Callable[[], object], *, stack: str, config: dict[str, str]
) -> tuple[RenderCapture, BlueprintConfigError]:
    """Run ``program`` under mocks; the program catches the config error itself, so the
    capture (what was registered before the error) comes back for inspection."""
    caught: list[BlueprintConfigError] = []

    def wrapper() -> None:
        try:
            program()
        except BlueprintConfigError as error:
            caught.append(error)

    capture = run_program(wrapper, project=CONFIG_NAMESPACE, stack=stack, config=config)
    assert len(caught) == 1, "the program must fail with a BlueprintConfigError"
    return capture, caught[0]


def test_public_endpoint_without_cidrs_registers_nothing() -> None:
    config = _level1_config("aws")
    aws = json.loads(config[f"{CONFIG_NAMESPACE}:aws"])
    aws["enablePublicEndpoint"] = True
    config[f"{CONFIG_NAMESPACE}:aws"] = json.dumps(aws)
    capture, error = _run_catching(lambda: deploy_level(1), stack="aws", config=config)
    assert capture.registrations == []
    assert error.field == "public_access_cidrs"
    assert error.value == []
    assert "keep the endpoint private" in error.fix


@pytest.mark.parametrize(("key", "bad"), [("target", "gcp"), ("name", "BAD"), ("environment", "x")])
def test_level_program_registers_nothing_on_bad_config(key: str, bad: str) -> None:
    config = _level1_config("kind") | {f"{CONFIG_NAMESPACE}:{key}": bad}
    capture, error = _run_catching(lambda: deploy_level(1), stack="kind", config=config)
    assert capture.registrations == []
    assert error.field == f"{CONFIG_NAMESPACE}:{key}"
    assert error.value == bad


# --- component arguments ------------------------------------------------------------------


def test_infrequent_access_transition_needs_30_days() -> None:
    with pytest.raises(BlueprintConfigError) as caught:
        S3BucketArgs(bucket_name="acme-raw", infrequent_access_after_days=10)
    _assert_config_error(
        caught.value, field="infrequent_access_after_days", value=10, fix="use >= 30 or None"
    )
    assert S3BucketArgs(bucket_name="acme-raw", infrequent_access_after_days=30)
    assert S3BucketArgs(bucket_name="acme-raw", infrequent_access_after_days=None)


@pytest.mark.parametrize("days", [0, -5])
def test_noncurrent_retention_needs_a_day(days: int) -> None:
    for build in (
        lambda: S3BucketArgs(bucket_name="acme-raw", noncurrent_version_retention_days=days),
        lambda: ObjectStoreArgs(
            bucket_name="acme-raw", purpose="x", noncurrent_version_retention_days=days
        ),
    ):
        with pytest.raises(BlueprintConfigError) as caught:
            build()
        _assert_config_error(
            caught.value, field="noncurrent_version_retention_days", value=days, fix="at least 1"
        )


def test_seaweedfs_memory_limit_below_request_is_rejected() -> None:
    with pytest.raises(BlueprintConfigError) as caught:
        SeaweedfsServerArgs(namespace="s", memory_request_mib=512, memory_limit_mib=256)
    _assert_config_error(
        caught.value, field="memory_limit_mib", value=256, fix="at or above the request (512 MiB)"
    )
    assert SeaweedfsServerArgs(namespace="s", memory_request_mib=512, memory_limit_mib=512)


def test_seaweedfs_needs_storage() -> None:
    with pytest.raises(BlueprintConfigError) as caught:
        SeaweedfsServerArgs(namespace="s", storage_size_gib=0)
    _assert_config_error(caught.value, field="storage_size_gib", value=0, fix="at least 1 GiB")


def _irsa(name: str) -> IrsaIdentity:
    return IrsaIdentity(
        name,
        IrsaIdentityArgs(
            namespace="mlops",
            service_account_name=name,
            oidc_provider_arn="arn:aws:iam::123456789012:oidc-provider/oidc.example",
            oidc_issuer_url="https://oidc.example",
        ),
    )


def _static(name: str) -> StaticCredentialsIdentity:
    return StaticCredentialsIdentity(
        name, StaticCredentialsIdentityArgs(namespace="mlops", service_account_name=name)
    )


def test_s3_bucket_refuses_a_grant_to_a_kind_identity() -> None:
    def program() -> None:
        bucket = S3Bucket("lake", S3BucketArgs(bucket_name="acme-lake"))
        bucket.grant_read(_static("tracking"), prefix="mlflow/")

    with pytest.raises(BlueprintConfigError) as caught:
        run_program(program, project="p", stack="aws", config={})
    _assert_config_error(
        caught.value,
        field="identity",
        value="StaticCredentialsIdentity",
        fix="only grant to an AWS workload identity (IrsaIdentity)",
    )


@pytest.mark.parametrize(
    ("identity", "prefix", "field", "value"),
    [
        ("static", "mlflow/", "identity", "StaticCredentialsIdentity"),
        ("irsa", "mlflow", "prefix", "mlflow"),
        ("irsa", "/mlflow/", "prefix", "/mlflow/"),
    ],
)
def test_rejected_s3_grant_registers_no_policy(
    identity: str, prefix: str, field: str, value: str
) -> None:
    def program() -> None:
        bucket = S3Bucket("lake", S3BucketArgs(bucket_name="acme-lake"))
        who = _static("tracking") if identity == "static" else _irsa("tracking")
        bucket.grant_write(who, prefix=prefix)

    capture, error = _run_catching(program, stack="aws", config={})
    assert (error.field, error.value) == (field, value)
    types = [r.type for r in capture.registrations]
    assert "aws:s3/bucket:Bucket" in types  # the bucket itself was built...
    assert "aws:iam/rolePolicy:RolePolicy" not in types  # ...but no permission leaked


def test_seaweedfs_bucket_refuses_a_grant_to_an_aws_identity() -> None:
    def program() -> None:
        server = SeaweedfsServer("store", SeaweedfsServerArgs(namespace="mlops-storage"))
        bucket = server.bucket("lake", ObjectStoreArgs(bucket_name="acme-lake", purpose="x"))
        bucket.grant_read(_irsa("tracking"), prefix="mlflow/")

    with pytest.raises(BlueprintConfigError) as caught:
        run_program(program, project="p", stack="kind", config={})
    _assert_config_error(
        caught.value,
        field="identity",
        value="IrsaIdentity",
        fix="grants to a StaticCredentialsIdentity",
    )


def test_component_args_fail_before_the_component_registers() -> None:
    def program() -> None:
        S3Bucket("lake", S3BucketArgs(bucket_name="Acme_Lake"))

    capture, error = _run_catching(program, stack="aws", config={})
    assert capture.registrations == []
    assert (error.field, error.value) == ("bucket_name", "Acme_Lake")


# --- pure policy builders -----------------------------------------------------------------

ARN = "arn:aws:s3:::acme-lake"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd"
READ = ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging"]
WRITE = ["s3:PutObject", "s3:PutObjectTagging", "s3:AbortMultipartUpload"]


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    return {action for s in statements for action in s["Action"]}


def test_read_grant_statements() -> None:
    statements = s3_grant_statements(
        mode="read", bucket_arn=ARN, prefix="models/", kms_key_arn=None
    )
    assert statements == [
        {"Sid": "ObjectRead", "Effect": "Allow", "Action": READ, "Resource": [f"{ARN}/models/*"]},
        {
            "Sid": "ListBucket",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [ARN],
            "Condition": {"StringLike": {"s3:prefix": ["models/*"]}},
        },
    ]


def test_write_grant_statements() -> None:
    statements = s3_grant_statements(
        mode="write", bucket_arn=ARN, prefix="models/", kms_key_arn=None
    )
    assert statements == [
        {"Sid": "ObjectWrite", "Effect": "Allow", "Action": WRITE, "Resource": [f"{ARN}/models/*"]},
        {
            "Sid": "ListMultipartUploads",
            "Effect": "Allow",
            "Action": ["s3:ListBucketMultipartUploads", "s3:ListMultipartUploadParts"],
            "Resource": [ARN, f"{ARN}/models/*"],
        },
    ]


@pytest.mark.parametrize("mode", ["read", "write"])
def test_grants_never_mix_read_write_or_delete(mode: GrantMode) -> None:
    statements = s3_grant_statements(mode=mode, bucket_arn=ARN, prefix="", kms_key_arn=KEY)
    actions = _actions(statements)
    other = set(WRITE if mode == "read" else READ)
    assert not actions & other
    assert not any("Delete" in a or a.endswith("*") for a in actions)
    assert all(s["Effect"] == "Allow" for s in statements)


def test_whole_bucket_grant_has_no_prefix_condition() -> None:
    read = s3_grant_statements(mode="read", bucket_arn=ARN, prefix="", kms_key_arn=None)
    assert read[0]["Resource"] == [f"{ARN}/*"]
    assert "Condition" not in read[1]


def test_kms_statement_only_with_a_key() -> None:
    modes: tuple[GrantMode, ...] = ("read", "write")
    for mode in modes:
        without = s3_grant_statements(mode=mode, bucket_arn=ARN, prefix="a/", kms_key_arn=None)
        assert not any(a.startswith("kms:") for a in _actions(without))
    read = s3_grant_statements(mode="read", bucket_arn=ARN, prefix="a/", kms_key_arn=KEY)
    write = s3_grant_statements(mode="write", bucket_arn=ARN, prefix="a/", kms_key_arn=KEY)
    key_read = [s for s in read if s["Sid"] == "BucketKey"]
    key_write = [s for s in write if s["Sid"] == "BucketKey"]
    assert key_read == [
        {"Sid": "BucketKey", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [KEY]}
    ]
    assert key_write == [
        {
            "Sid": "BucketKey",
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": [KEY],
        }
    ]


def test_tls_only_bucket_policy() -> None:
    policy = tls_only_bucket_policy(ARN)
    assert policy["Version"] == "2012-10-17"
    statements = policy["Statement"]
    assert [s["Sid"] for s in statements] == ["DenyInsecureTransport", "DenyOutdatedTls"]
    for statement in statements:
        assert statement["Effect"] == "Deny"
        assert statement["Principal"] == "*"
        assert statement["Action"] == "s3:*"
        assert statement["Resource"] == [ARN, f"{ARN}/*"]
    assert statements[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert statements[1]["Condition"] == {"NumericLessThan": {"s3:TlsVersion": "1.2"}}


@pytest.mark.parametrize(
    "issuer",
    [
        "https://oidc.eks.us-east-1.amazonaws.com/id/ABC",
        "oidc.eks.us-east-1.amazonaws.com/id/ABC",
    ],
)
def test_irsa_trust_policy_matches_one_service_account_exactly(issuer: str) -> None:
    provider = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC"
    policy = irsa_trust_policy(
        oidc_provider_arn=provider, oidc_issuer=issuer, namespace="mlops", service_account="mlflow"
    )
    host = "oidc.eks.us-east-1.amazonaws.com/id/ABC"
    assert policy == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ServiceAccountWebIdentity",
                "Effect": "Allow",
                "Principal": {"Federated": provider},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{host}:sub": "system:serviceaccount:mlops:mlflow",
                        f"{host}:aud": "sts.amazonaws.com",
                    }
                },
            }
        ],
    }


def test_seaweedfs_actions() -> None:
    assert seaweedfs_actions(mode="read", bucket="lake", prefix="dvc/") == [
        "Read:lake/dvc/*",
        "List:lake",
    ]
    assert seaweedfs_actions(mode="read", bucket="lake", prefix="") == ["Read:lake", "List:lake"]
    assert seaweedfs_actions(mode="write", bucket="lake", prefix="dvc/") == ["Write:lake/dvc/*"]
    assert seaweedfs_actions(mode="write", bucket="lake", prefix="") == ["Write:lake"]
    with pytest.raises(ValueError, match="unknown grant mode 'delete'"):
        seaweedfs_actions(mode="delete", bucket="lake", prefix="")


def test_pulumi_is_left_usable_after_a_failed_program() -> None:
    # A failing program must not poison the next run in the same process.
    with pytest.raises(BlueprintConfigError):
        run_program(lambda: S3BucketArgs(bucket_name="X"), project="p", stack="aws", config={})
    capture = run_program(
        lambda: pulumi.export("ok", S3Bucket("b", S3BucketArgs(bucket_name="acme-b")).uri),
        project="p",
        stack="aws",
        config={},
    )
    assert capture.stack_outputs == {"ok": "s3://acme-b"}
