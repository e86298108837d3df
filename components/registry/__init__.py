"""Container registry: an ECR repository on aws, an in-cluster distribution registry on kind."""

from ._distribution import InClusterRegistry, InClusterRegistryArgs
from ._ecr import EcrRepository, EcrRepositoryArgs
from ._plan import ecr_grant_statements, ecr_lifecycle_policy

__all__ = [
    "EcrRepository",
    "EcrRepositoryArgs",
    "InClusterRegistry",
    "InClusterRegistryArgs",
    "ecr_grant_statements",
    "ecr_lifecycle_policy",
]
