"""Workload identity: IAM roles for service accounts on aws, credential Secrets on kind."""

from ._irsa import IrsaIdentity, IrsaIdentityArgs
from ._static import StaticCredentialsIdentity, StaticCredentialsIdentityArgs

__all__ = [
    "IrsaIdentity",
    "IrsaIdentityArgs",
    "StaticCredentialsIdentity",
    "StaticCredentialsIdentityArgs",
]
