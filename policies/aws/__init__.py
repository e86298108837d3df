"""Policy rules for AWS resources: S3, EKS, IAM, KMS, RDS, ECR, DynamoDB, ElastiCache, budgets.

``RULES`` holds every rule of the domain, in a stable order (by service, then as declared).
"""

from __future__ import annotations

from typing import Final

from .._rule import Rule
from ._budgets import BUDGET_RULES
from ._data_stores import DATA_STORE_RULES
from ._ecr import ECR_RULES
from ._eks import EKS_RULES, REQUIRED_CONTROL_PLANE_LOGS, SUPPORTED_EKS_VERSIONS
from ._iam import IAM_RULES
from ._kms import KMS_RULES
from ._rds import RDS_RULES
from ._s3 import S3_RULES

__all__ = [
    "BUDGET_RULES",
    "DATA_STORE_RULES",
    "ECR_RULES",
    "EKS_RULES",
    "IAM_RULES",
    "KMS_RULES",
    "RDS_RULES",
    "REQUIRED_CONTROL_PLANE_LOGS",
    "RULES",
    "S3_RULES",
    "SUPPORTED_EKS_VERSIONS",
]

RULES: Final[tuple[Rule, ...]] = (
    *S3_RULES,
    *EKS_RULES,
    *IAM_RULES,
    *KMS_RULES,
    *RDS_RULES,
    *ECR_RULES,
    *DATA_STORE_RULES,
    *BUDGET_RULES,
)
