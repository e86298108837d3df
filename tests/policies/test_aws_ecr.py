"""ECR rules: immutable tags, scan on push, a customer-managed key."""

from __future__ import annotations

from typing import Any

import pytest
from mlops_blueprints.policies import AnalyzedResource, Rule
from mlops_blueprints.policies.aws import ECR_RULES

from tests.policies._helpers import assert_complies, assert_violates, resource

pytestmark = pytest.mark.policy

RULES = {rule.name: rule for rule in ECR_RULES}
IMMUTABLE = RULES["ecr-repository-tags-immutable"]
SCANNED = RULES["ecr-repository-scans-on-push"]
CUSTOMER_KEY = RULES["ecr-repository-encrypted-with-customer-managed-key"]
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/platform"


def repository(**overrides: Any) -> AnalyzedResource:
    """The repository as EcrRepository renders it at Level 4 (``None`` leaves a field out)."""
    props: dict[str, Any] = {
        "name": "acme/models",
        "imageTagMutability": "IMMUTABLE",
        "imageScanningConfiguration": {"scanOnPush": True},
        "encryptionConfigurations": [{"encryptionType": "KMS", "kmsKey": KEY_ARN}],
    }
    props.update(overrides)
    return resource(
        "aws:ecr/repository:Repository", "repo", {k: v for k, v in props.items() if v is not None}
    )


@pytest.mark.parametrize("rule", ECR_RULES, ids=lambda r: r.name)
def test_level4_repository_complies(rule: Rule) -> None:
    assert_complies(rule, repository())


@pytest.mark.parametrize("mutability", ["MUTABLE", "IMMUTABLE_WITH_EXCLUSION", None])
def test_mutable_tags_violate(mutability: str | None) -> None:
    found = assert_violates(IMMUTABLE, repository(imageTagMutability=mutability))
    assert "imageTagMutability" in found.message


@pytest.mark.parametrize("scanning", [{"scanOnPush": False}, {}, None])
def test_no_scan_on_push_violates(scanning: dict[str, Any] | None) -> None:
    assert_violates(SCANNED, repository(imageScanningConfiguration=scanning))


@pytest.mark.parametrize(
    "configurations",
    [
        None,
        [{"encryptionType": "AES256"}],
        [{"encryptionType": "KMS"}],
        [{"encryptionType": "KMS", "kmsKey": ""}],
    ],
    ids=["unset", "aes256", "aws-managed-key", "empty-key"],
)
def test_no_customer_managed_key_violates(configurations: list[dict[str, Any]] | None) -> None:
    assert_violates(CUSTOMER_KEY, repository(encryptionConfigurations=configurations))


def test_dual_layer_kms_with_a_key_complies() -> None:
    dsse = [{"encryptionType": "KMS_DSSE", "kmsKey": KEY_ARN}]
    assert_complies(CUSTOMER_KEY, repository(encryptionConfigurations=dsse))
