"""Keyless CI on aws: GitHub's OIDC issuer as an IAM identity provider, and roles it may assume."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.targets._seam import validate_dns_label

from .._opts import child_opts
from ._plan import (
    CI_MAX_SESSION_SECONDS,
    GITHUB_OIDC_AUDIENCE,
    GITHUB_OIDC_THUMBPRINTS,
    GITHUB_OIDC_URL,
    github_subjects,
    github_trust_policy,
    validate_oidc_provider_arn,
    validate_thumbprints,
)

if TYPE_CHECKING:
    from ..identity import AwsRolePrincipal

__all__ = [
    "GithubActionsRole",
    "GithubActionsRoleArgs",
    "GithubOidcProvider",
    "GithubOidcProviderArgs",
]

_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
_POLICY_ARN = re.compile(r"^arn:aws(?:-[a-z]+)*:iam::(?:[0-9]{12}|aws):policy/[\w+=,.@/-]+$")


@dataclass(frozen=True)
class GithubOidcProviderArgs:
    """Arguments for :class:`GithubOidcProvider`.

    - ``thumbprints`` (none): server-certificate thumbprints; IAM verifies GitHub's issuer
      with its own trusted CAs and ignores them, so the pinned default is empty.
    - ``tags``: added to the provider.
    """

    thumbprints: Sequence[str] = GITHUB_OIDC_THUMBPRINTS
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_thumbprints(self.thumbprints)


class GithubOidcProvider(pulumi.ComponentResource):
    """The account's IAM OIDC identity provider for GitHub Actions.

    Issuer ``https://token.actions.githubusercontent.com``, audience (client id)
    ``sts.amazonaws.com``. An account holds one provider per issuer: create it once, or pass
    an existing provider's ARN to :class:`GithubActionsRole` instead. Children:
    ``{name}-provider`` (IAM OpenIdConnectProvider).
    """

    arn: pulumi.Output[str]
    url: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: GithubOidcProviderArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops:cicd:GithubOidcProvider", name, None, opts)
        args = args or GithubOidcProviderArgs()
        self.provider = aws.iam.OpenIdConnectProvider(
            f"{name}-provider",
            url=GITHUB_OIDC_URL,
            client_id_lists=[GITHUB_OIDC_AUDIENCE],
            thumbprint_lists=list(args.thumbprints) or None,
            tags=args.tags,
            opts=child_opts(self),
        )
        self.arn = self.provider.arn
        self.url = self.provider.url
        self.register_outputs({"arn": self.arn, "url": self.url})


@dataclass(frozen=True)
class GithubActionsRoleArgs:
    """Arguments for :class:`GithubActionsRole`.

    - ``identity_name``: short name of this CI identity (e.g. ``ci-build``); grants name their
      policies after it, so it is unique among the principals a service grants to.
    - ``oidc_provider_arn``: the account's GitHub OIDC provider (``GithubOidcProvider.arn``).
    - ``repository``: the one GitHub repository trusted, ``OWNER/REPO``.
    - ``branches`` (none): branches whose workflow runs may assume the role (``main``; a
      pattern such as ``release/*`` needs a literal part).
    - ``environments`` (none): deployment environments whose jobs may assume the role. A job
      that names an environment presents the environment subject, not the branch.
    - ``tag_patterns`` (none): tags (or patterns such as ``v*``) whose runs may assume it.
    - ``allow_pull_requests`` (off): also trust pull-request runs of the repository, whose
      code has not been reviewed yet; an explicit, loudly named opt-in.
    - ``allow_all_repositories_of_owner`` (off): accept ``repository="OWNER/*"``, trusting
      every present and future repository of the owner; an explicit, loudly named opt-in.
    - ``permissions_boundary_arn`` (none): a managed policy capping what any grant can allow.
    - ``role_name`` (generated): a fixed IAM role name, so the ARN is known before deploy.
    - ``tags``: added to the role.
    """

    identity_name: str
    oidc_provider_arn: pulumi.Input[str]
    repository: str
    branches: Sequence[str] = ()
    environments: Sequence[str] = ()
    tag_patterns: Sequence[str] = ()
    allow_pull_requests: bool = False
    allow_all_repositories_of_owner: bool = False
    permissions_boundary_arn: pulumi.Input[str] | None = None
    role_name: str | None = None
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_dns_label(self.identity_name, field="identity_name")
        if isinstance(self.oidc_provider_arn, str):
            validate_oidc_provider_arn(self.oidc_provider_arn)
        github_subjects(
            repository=self.repository,
            branches=self.branches,
            environments=self.environments,
            tag_patterns=self.tag_patterns,
            allow_pull_requests=self.allow_pull_requests,
            allow_all_repositories_of_owner=self.allow_all_repositories_of_owner,
        )
        if isinstance(self.permissions_boundary_arn, str) and not _POLICY_ARN.match(
            self.permissions_boundary_arn
        ):
            raise BlueprintConfigError(
                "permissions_boundary_arn",
                self.permissions_boundary_arn,
                "Pass the ARN of a managed IAM policy (e.g. "
                "'arn:aws:iam::123456789012:policy/ci-boundary').",
            )
        if self.role_name is not None and not _ROLE_NAME.match(self.role_name):
            raise BlueprintConfigError(
                "role_name",
                self.role_name,
                "Use 1-64 letters, digits or '+=,.@_-' (IAM role naming rules), or leave it "
                "unset for a generated name.",
            )

    @property
    def subjects(self) -> list[str]:
        return github_subjects(
            repository=self.repository,
            branches=self.branches,
            environments=self.environments,
            tag_patterns=self.tag_patterns,
            allow_pull_requests=self.allow_pull_requests,
            allow_all_repositories_of_owner=self.allow_all_repositories_of_owner,
        )


class GithubActionsRole(pulumi.ComponentResource):
    """An IAM role GitHub Actions assumes with OIDC: no stored keys, one repository only.

    The trust policy requires the STS audience and one of the configured subjects
    (``StringEquals``; ``StringLike`` only for patterns). Sessions last at most one hour.
    The role starts with no permissions; grants attach least-privilege inline policies
    (``repository.grant_push(role)``, ``bucket.grant_write(role, prefix=...)``,
    ``model_registry.grant_write(role)``). It is not a Kubernetes workload: grants open no
    NetworkPolicy for it. Children: ``{name}-role`` (IAM Role).
    """

    role_arn: pulumi.Output[str]
    role_name: pulumi.Output[str]
    subjects: pulumi.Output[list[str]]

    def __init__(
        self, name: str, args: GithubActionsRoleArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:cicd:GithubActionsRole", name, None, opts)
        self._identity_name = args.identity_name
        self.repository = args.repository
        subjects = args.subjects
        trust = pulumi.Output.from_input(args.oidc_provider_arn).apply(
            lambda arn: json.dumps(
                github_trust_policy(oidc_provider_arn=arn, subjects=subjects), sort_keys=True
            )
        )
        self.role = aws.iam.Role(
            f"{name}-role",
            name=args.role_name,
            description=f"GitHub Actions ({args.identity_name}) for {args.repository}",
            assume_role_policy=trust,
            max_session_duration=CI_MAX_SESSION_SECONDS,
            permissions_boundary=args.permissions_boundary_arn,
            tags=args.tags,
            opts=child_opts(self),
        )
        self.role_arn = self.role.arn
        self.role_name = self.role.name
        self.subjects = pulumi.Output.from_input(subjects)
        self.register_outputs(
            {"role_arn": self.role_arn, "role_name": self.role_name, "subjects": self.subjects}
        )

    @property
    def identity_name(self) -> str:
        return self._identity_name


if TYPE_CHECKING:

    def _conforms(role: GithubActionsRole) -> AwsRolePrincipal:
        return role
