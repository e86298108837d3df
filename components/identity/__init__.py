"""Workload identity: IAM roles for service accounts on aws, credential Secrets on kind."""

from ._irsa import IrsaIdentity, IrsaIdentityArgs
from ._principal import AwsRolePrincipal, require_aws_role
from ._static import StaticCredentialsIdentity, StaticCredentialsIdentityArgs

__all__ = [
    "AwsRolePrincipal",
    "IrsaIdentity",
    "IrsaIdentityArgs",
    "StaticCredentialsIdentity",
    "StaticCredentialsIdentityArgs",
    "require_aws_role",
]
