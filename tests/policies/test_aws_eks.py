"""EKS cluster rules: endpoint exposure, Secrets encryption, control-plane logs, version."""

from __future__ import annotations

from typing import Any

import pytest
from mlops_blueprints.policies import AnalyzedResource, Rule
from mlops_blueprints.policies.aws import EKS_RULES, SUPPORTED_EKS_VERSIONS

from mlops_blueprints.versions import EKS_KUBERNETES_VERSION, EKS_SUPPORTED_KUBERNETES_VERSIONS
from tests.policies._helpers import assert_complies, assert_violates, resource

pytestmark = pytest.mark.policy

RULES = {rule.name: rule for rule in EKS_RULES}
PRIVATE = RULES["eks-cluster-endpoint-private"]
NOT_OPEN = RULES["eks-cluster-public-endpoint-not-open-to-internet"]
SECRETS = RULES["eks-cluster-secrets-encrypted-with-kms"]
LOGS = RULES["eks-cluster-control-plane-logging-enabled"]
VERSION = RULES["eks-cluster-kubernetes-version-supported"]


def cluster(**overrides: Any) -> AnalyzedResource:
    """The cluster as EksCluster renders it, with top-level or vpcConfig fields replaced
    (``None`` leaves a field out)."""
    vpc = {
        "endpointPrivateAccess": True,
        "endpointPublicAccess": False,
        "subnetIds": ["subnet-a", "subnet-b"],
    }
    vpc.update(overrides.pop("vpc", {}))
    vpc = {k: v for k, v in vpc.items() if v is not None}
    props: dict[str, Any] = {
        "name": "acme-eks",
        "version": EKS_KUBERNETES_VERSION,
        "enabledClusterLogTypes": ["api", "audit", "authenticator"],
        "encryptionConfig": {
            "provider": {"keyArn": "arn:aws:kms:us-east-1:123456789012:key/platform"},
            "resources": ["secrets"],
        },
        "vpcConfig": vpc,
    }
    props.update(overrides)
    return resource(
        "aws:eks/cluster:Cluster", "cluster", {k: v for k, v in props.items() if v is not None}
    )


def test_supported_versions_are_the_pinned_ones() -> None:
    assert SUPPORTED_EKS_VERSIONS == EKS_SUPPORTED_KUBERNETES_VERSIONS
    assert EKS_KUBERNETES_VERSION in SUPPORTED_EKS_VERSIONS


@pytest.mark.parametrize("rule", EKS_RULES, ids=lambda r: r.name)
def test_platform_cluster_complies(rule: Rule) -> None:
    assert_complies(rule, cluster())


def test_public_endpoint_limited_to_listed_ranges_complies() -> None:
    limited = cluster(vpc={"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]})
    assert_complies(PRIVATE, limited)
    assert_complies(NOT_OPEN, limited)


@pytest.mark.parametrize(
    ("vpc", "fragment"),
    [
        ({"endpointPrivateAccess": False}, "endpointPrivateAccess"),
        ({"endpointPrivateAccess": None}, "endpointPrivateAccess"),
        ({"endpointPublicAccess": True}, "explicit publicAccessCidrs"),
        ({"endpointPublicAccess": None}, "explicit publicAccessCidrs"),
    ],
    ids=["private-off", "private-unset", "public-no-cidrs", "public-unset"],
)
def test_endpoint_not_private_violates(vpc: dict[str, Any], fragment: str) -> None:
    found = assert_violates(PRIVATE, cluster(vpc=vpc))
    assert fragment in found.message


@pytest.mark.parametrize(
    ("cidrs", "fragment"),
    [
        (["0.0.0.0/0"], "0.0.0.0/0"),
        (["203.0.113.0/24", "::/0"], "::/0"),
        (None, "unset"),
    ],
)
def test_public_endpoint_open_to_internet_violates(cidrs: list[str] | None, fragment: str) -> None:
    vpc: dict[str, Any] = {"endpointPublicAccess": True}
    if cidrs is not None:
        vpc["publicAccessCidrs"] = cidrs
    found = assert_violates(NOT_OPEN, cluster(vpc=vpc))
    assert fragment in found.message


def test_open_ranges_do_not_matter_while_public_endpoint_is_off() -> None:
    assert_complies(NOT_OPEN, cluster(vpc={"publicAccessCidrs": ["0.0.0.0/0"]}))


@pytest.mark.parametrize(
    "encryption",
    [
        None,
        {"provider": {"keyArn": ""}, "resources": ["secrets"]},
        {"provider": {"keyArn": "arn:aws:kms:us-east-1:1:key/k"}, "resources": []},
    ],
    ids=["unset", "no-key", "no-secrets"],
)
def test_secrets_not_encrypted_violates(encryption: dict[str, Any] | None) -> None:
    assert_violates(SECRETS, cluster(encryptionConfig=encryption))


def test_secrets_encryption_as_a_list_block_complies() -> None:
    listed = [{"provider": {"keyArn": "arn:aws:kms:us-east-1:1:key/k"}, "resources": ["secrets"]}]
    assert_complies(SECRETS, cluster(encryptionConfig=listed))


@pytest.mark.parametrize(
    ("types", "missing"),
    [
        (None, "api, audit, authenticator"),
        (["api", "authenticator"], "audit"),
        (["api", "audit", "scheduler"], "authenticator"),
    ],
)
def test_missing_control_plane_logs_violate(types: list[str] | None, missing: str) -> None:
    found = assert_violates(LOGS, cluster(enabledClusterLogTypes=types))
    assert found.message.endswith(missing)


def test_more_log_types_comply() -> None:
    every = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
    assert_complies(LOGS, cluster(enabledClusterLogTypes=every))


@pytest.mark.parametrize("version", ["1.20", "1.99", None])
def test_unsupported_or_unpinned_version_violates(version: str | None) -> None:
    found = assert_violates(VERSION, cluster(version=version))
    assert SUPPORTED_EKS_VERSIONS[0] in found.message


@pytest.mark.parametrize("version", EKS_SUPPORTED_KUBERNETES_VERSIONS)
def test_every_supported_version_complies(version: str) -> None:
    assert_complies(VERSION, cluster(version=version))
