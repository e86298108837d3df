"""What an AWS data service can grant to: any principal that is an IAM role.

Two kinds of principal hold an IAM role: a Kubernetes workload identity (``IrsaIdentity``:
a role trusted by one service account) and an identity outside the cluster, such as a CI
role trusted by GitHub's OIDC issuer (``GithubActionsRole``). AWS grants only need the role;
whether there are pods whose egress must be opened is a separate question, answered by
``isinstance(principal, WorkloadIdentity)``.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import pulumi

from mlops_blueprints.errors import BlueprintConfigError

__all__ = ["AwsRolePrincipal", "require_aws_role"]


@runtime_checkable
class AwsRolePrincipal(Protocol):
    """A principal backed by one IAM role that grants attach inline policies to."""

    @property
    def identity_name(self) -> str:
        """Short, unique name used in the names of the grants' child resources."""
        ...

    @property
    def role_name(self) -> pulumi.Output[str]: ...

    @property
    def role_arn(self) -> pulumi.Output[str]: ...


def require_aws_role(principal: object, *, service: str) -> AwsRolePrincipal:
    """``principal`` as an IAM-role principal, or a configuration error naming the service."""
    # An Output lifts every attribute access, so it would pass the protocol check.
    if isinstance(principal, pulumi.Output) or not isinstance(principal, AwsRolePrincipal):
        raise BlueprintConfigError(
            "identity",
            type(principal).__name__,
            f"{service} can only grant to an AWS workload identity (IrsaIdentity) or another "
            "IAM-role principal such as a GithubActionsRole, from the same target.",
        )
    return principal
