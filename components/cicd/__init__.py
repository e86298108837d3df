"""Keyless CI/CD: GitHub Actions OIDC roles on aws, and GitOps delivery with Argo CD."""

from ._argocd import ArgoCd, ArgoCdArgs
from ._github import (
    GithubActionsRole,
    GithubActionsRoleArgs,
    GithubOidcProvider,
    GithubOidcProviderArgs,
)
from ._plan import (
    CI_MAX_SESSION_SECONDS,
    DEFAULT_NAMESPACE_RESOURCE_KINDS,
    GITHUB_OIDC_AUDIENCE,
    GITHUB_OIDC_HOST,
    GITHUB_OIDC_THUMBPRINTS,
    GITHUB_OIDC_URL,
    argocd_chart_values,
    github_subjects,
    github_trust_policy,
)

__all__ = [
    "CI_MAX_SESSION_SECONDS",
    "DEFAULT_NAMESPACE_RESOURCE_KINDS",
    "GITHUB_OIDC_AUDIENCE",
    "GITHUB_OIDC_HOST",
    "GITHUB_OIDC_THUMBPRINTS",
    "GITHUB_OIDC_URL",
    "ArgoCd",
    "ArgoCdArgs",
    "GithubActionsRole",
    "GithubActionsRoleArgs",
    "GithubOidcProvider",
    "GithubOidcProviderArgs",
    "argocd_chart_values",
    "github_subjects",
    "github_trust_policy",
]
