"""The AWS rule catalogue: names, mappings, levels and type tokens that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pulumi_aws
import pytest
from mlops_blueprints.policies import CONTROLS, FRAMEWORKS, Rule
from mlops_blueprints.policies.aws import (
    BUDGET_RULES,
    DATA_STORE_RULES,
    ECR_RULES,
    EKS_RULES,
    IAM_RULES,
    KMS_RULES,
    RDS_RULES,
    RULES,
    S3_RULES,
)

pytestmark = pytest.mark.policy

BY_SERVICE: dict[str, tuple[Rule, ...]] = {
    "s3": S3_RULES,
    "eks": EKS_RULES,
    "iam": IAM_RULES,
    "kms": KMS_RULES,
    "rds": RDS_RULES,
    "ecr": ECR_RULES,
    "dynamodb|elasticache": DATA_STORE_RULES,
    "aws": BUDGET_RULES,
}
SDK_ROOT = Path(pulumi_aws.__file__).parent


def test_rules_are_every_service_tuple_in_order() -> None:
    assert tuple(rule for rules in BY_SERVICE.values() for rule in rules) == RULES
    assert len({rule.name for rule in RULES}) == len(RULES)


@pytest.mark.parametrize(
    ("prefix", "rule"),
    [(prefix, rule) for prefix, rules in BY_SERVICE.items() for rule in rules],
    ids=lambda value: value.name if isinstance(value, Rule) else value,
)
def test_rule_name_starts_with_its_service(prefix: str, rule: Rule) -> None:
    assert re.match(rf"^({prefix})-", rule.name)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_rule_cites_only_catalogued_controls(rule: Rule) -> None:
    for framework, controls in rule.controls.items():
        assert framework in FRAMEWORKS
        assert controls, f"{rule.name}: empty control list for {framework}"
        for control in controls:
            assert control in CONTROLS[framework], f"{rule.name}: {framework} {control}"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_rule_is_documented(rule: Rule) -> None:
    assert rule.description.endswith(".")
    assert rule.remediation.endswith(".")
    assert len(rule.controls) >= 1


def _sdk_module_text(token: str) -> str:
    # aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock -> pulumi_aws/s3/bucket_public_access_block.py
    module, member = token.split(":")[1].split("/")
    path = SDK_ROOT / module / (re.sub(r"(?<!^)(?=[A-Z])", "_", member).lower() + ".py")
    return path.read_text() if path.is_file() else ""


@pytest.mark.parametrize(
    "token", sorted({t for rule in RULES for t in rule.resource_types}), ids=str
)
def test_resource_type_exists_in_the_aws_sdk(token: str) -> None:
    assert f'"{token}"' in _sdk_module_text(token), f"{token} is not a pulumi-aws type"


def test_level_4_only_rules() -> None:
    level4 = {rule.name for rule in RULES if rule.levels == (4,)}
    assert level4 == {
        "s3-bucket-encrypted-with-customer-managed-key",
        "s3-bucket-access-logged",
        "rds-storage-encrypted-with-customer-managed-key",
        "rds-instance-multi-az",
        "ecr-repository-encrypted-with-customer-managed-key",
        "dynamodb-table-encrypted-with-customer-managed-key",
        "aws-stack-has-budget-with-subscribers",
    }
    assert all(rule.levels in ((4,), (1, 2, 3, 4)) for rule in RULES)
