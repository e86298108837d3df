"""Pure planning for keyless CI and GitOps: GitHub OIDC trust, Argo CD values and projects.

Everything here is a plain function of validated inputs, tested directly; the components
in ``_github.py`` and ``_argocd.py`` only turn the results into resources.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from mlops_blueprints.errors import BlueprintConfigError

__all__ = [
    "ARGOCD_COMPONENT_RESOURCES",
    "ARGOCD_METRICS_PORTS",
    "CI_MAX_SESSION_SECONDS",
    "DEFAULT_NAMESPACE_RESOURCE_KINDS",
    "GITHUB_OIDC_AUDIENCE",
    "GITHUB_OIDC_HOST",
    "GITHUB_OIDC_THUMBPRINTS",
    "GITHUB_OIDC_URL",
    "IN_CLUSTER_SERVER",
    "ArgoCdChartPlan",
    "ResourceKind",
    "app_project_spec",
    "argocd_chart_values",
    "github_subjects",
    "github_trust_policy",
    "locked_default_project_spec",
    "parse_repository",
    "parse_resource_kind",
    "root_application_spec",
    "root_project_spec",
    "subject_uses_wildcards",
    "validate_destination_namespace",
    "validate_git_path",
    "validate_oidc_provider_arn",
    "validate_repo_url",
    "validate_revision",
    "validate_thumbprints",
]

# --- GitHub Actions OIDC --------------------------------------------------------------------

GITHUB_OIDC_HOST: Final = "token.actions.githubusercontent.com"
GITHUB_OIDC_URL: Final = f"https://{GITHUB_OIDC_HOST}"
# The audience configure-aws-credentials requests (its default), and the provider's client id.
GITHUB_OIDC_AUDIENCE: Final = "sts.amazonaws.com"
# The one place server-certificate thumbprints are pinned. Empty on purpose: IAM validates
# GitHub's JWKS endpoint against its own library of trusted root CAs and ignores configured
# thumbprints, and CreateOpenIDConnectProvider no longer requires the list. Pin values here
# only for a partition whose IAM still verifies thumbprints.
GITHUB_OIDC_THUMBPRINTS: Final[tuple[str, ...]] = ()
# The shortest maximum session AWS allows; a longer job assumes the role again.
CI_MAX_SESSION_SECONDS: Final = 3600

_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
_REPO = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
_ENVIRONMENT = re.compile(r"^[A-Za-z0-9._-]{1,255}$")
_THUMBPRINT = re.compile(r"^[0-9a-f]{40}$")
_PROVIDER_ARN = re.compile(
    r"^arn:aws(?:-[a-z]+)*:iam::[0-9]{12}:oidc-provider/" + re.escape(GITHUB_OIDC_HOST) + "$"
)
_WILDCARDS = ("*", "?")


def parse_repository(value: str, *, allow_all_repositories_of_owner: bool) -> tuple[str, str]:
    """``OWNER/REPO`` as ``(owner, repo)``; ``OWNER/*`` only with the explicit opt-in."""
    owner, sep, repo = value.partition("/")
    if not sep or not _OWNER.match(owner) or "/" in repo:
        raise BlueprintConfigError(
            "repository",
            value,
            "Name one GitHub repository as 'OWNER/REPO' (e.g. 'acme/churn-model'); the owner "
            "is 1-39 letters, digits or single hyphens and can never be a wildcard.",
        )
    if repo == "*":
        if not allow_all_repositories_of_owner:
            raise BlueprintConfigError(
                "repository",
                value,
                "'OWNER/*' trusts every repository of the owner, including ones created "
                "later; name one repository, or set allow_all_repositories_of_owner=True "
                "if that is really meant.",
            )
        return owner, repo
    if not _REPO.match(repo) or repo in (".", "..") or any(w in repo for w in _WILDCARDS):
        raise BlueprintConfigError(
            "repository",
            value,
            "The repository name is 1-100 letters, digits, '.', '_' or '-' and has no "
            "wildcards (e.g. 'acme/churn-model').",
        )
    if allow_all_repositories_of_owner:
        raise BlueprintConfigError(
            "allow_all_repositories_of_owner",
            True,
            f"It only applies to 'OWNER/*'; with one repository ({value!r}) leave it False.",
        )
    return owner, repo


def _validate_ref(value: str, *, field: str, kind: str) -> str:
    """A branch or tag name, or a pattern of one with IAM wildcards (``*``, ``?``).

    Git refuses ``*`` and ``?`` in ref names, so they can only be wildcards here. A pattern
    needs a literal part: a bare ``*`` would trust every branch (or tag) anyone with write
    access can push.
    """
    bad = (
        not value
        or len(value) > 255
        or value.startswith(("/", "-", "refs/"))
        or value.endswith(("/", ".", ".lock"))
        or ".." in value
        or "@{" in value
        or "//" in value
        or any(c in value for c in " ~^:\\[")
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)
    )
    if bad:
        raise BlueprintConfigError(
            field,
            value,
            f"Use a git {kind} name without the 'refs/' prefix (e.g. 'main' or 'release/1.x'); "
            "no spaces, ':', '..', '~', '^', '[' or '\\'.",
        )
    if not value.strip("*?/"):
        raise BlueprintConfigError(
            field,
            value,
            f"A pattern with no literal part trusts every {kind} anyone with write access can "
            f"push; name the {kind} (e.g. 'main') or a prefix pattern (e.g. 'release/*').",
        )
    return value


def _validate_environment(value: str) -> str:
    if not _ENVIRONMENT.match(value):
        raise BlueprintConfigError(
            "environments",
            value,
            "Name a GitHub deployment environment exactly (e.g. 'production'): letters, "
            "digits, '.', '_' or '-', no wildcards.",
        )
    return value


def github_subjects(
    *,
    repository: str,
    branches: Sequence[str] = (),
    environments: Sequence[str] = (),
    tag_patterns: Sequence[str] = (),
    allow_pull_requests: bool = False,
    allow_all_repositories_of_owner: bool = False,
) -> list[str]:
    """The ``sub`` claims (or patterns) a role trusts, sorted, validated first.

    Formats (GitHub's default subject template): ``repo:O/R:ref:refs/heads/B`` for a job on
    branch B, ``repo:O/R:ref:refs/tags/T`` for a tag, ``repo:O/R:environment:E`` for a job
    that names environment E, ``repo:O/R:pull_request`` for pull-request runs. There is no
    ``repo:O/R:*``: it would include pull-request runs, whose code is not yet reviewed.
    """
    owner, repo = parse_repository(
        repository, allow_all_repositories_of_owner=allow_all_repositories_of_owner
    )
    prefix = f"repo:{owner}/{repo}"
    subjects: list[str] = []
    for branch in branches:
        _validate_ref(branch, field="branches", kind="branch")
        subjects.append(f"{prefix}:ref:refs/heads/{branch}")
    for tag in tag_patterns:
        _validate_ref(tag, field="tag_patterns", kind="tag")
        subjects.append(f"{prefix}:ref:refs/tags/{tag}")
    for environment in environments:
        subjects.append(f"{prefix}:environment:{_validate_environment(environment)}")
    if allow_pull_requests:
        subjects.append(f"{prefix}:pull_request")
    if not subjects:
        raise BlueprintConfigError(
            "branches",
            tuple(branches),
            "Trust at least one branch, environment or tag pattern (e.g. branches=('main',)); "
            "with none, no workflow could assume the role.",
        )
    if len(set(subjects)) != len(subjects):
        raise BlueprintConfigError(
            "branches", tuple(subjects), "List each branch, tag pattern and environment once."
        )
    for subject in subjects:
        _assert_scoped(subject, owner=owner, repo=repo)
    return sorted(subjects)


def _assert_scoped(subject: str, *, owner: str, repo: str) -> None:
    """Defence in depth: every subject starts with the literal ``repo:OWNER/`` and, unless
    the owner-wide opt-in produced it, the literal ``repo:OWNER/REPO:``."""
    literal = f"repo:{owner}/" if repo == "*" else f"repo:{owner}/{repo}:"
    head = subject[: len(literal)]
    if head != literal or any(w in head for w in _WILDCARDS):
        raise BlueprintConfigError(  # pragma: no cover - unreachable after validation
            "repository", subject, "Every trusted subject must name one owner literally."
        )


def subject_uses_wildcards(subject: str) -> bool:
    return any(w in subject for w in _WILDCARDS)


def validate_oidc_provider_arn(value: str) -> str:
    """An IAM OIDC provider ARN for GitHub's issuer (not, say, the cluster's)."""
    if not _PROVIDER_ARN.match(value):
        raise BlueprintConfigError(
            "oidc_provider_arn",
            value,
            "Pass the ARN of the account's GitHub Actions OIDC provider, "
            f"'arn:aws:iam::<account>:oidc-provider/{GITHUB_OIDC_HOST}' (GithubOidcProvider.arn).",
        )
    return value


def validate_thumbprints(values: Sequence[str]) -> tuple[str, ...]:
    if len(values) > 5 or any(not _THUMBPRINT.match(v) for v in values):
        raise BlueprintConfigError(
            "thumbprints",
            tuple(values),
            "Give at most 5 SHA-1 thumbprints of 40 lowercase hex digits, or none (IAM "
            "verifies GitHub's certificate with its trusted CAs).",
        )
    return tuple(values)


def github_trust_policy(*, oidc_provider_arn: str, subjects: Sequence[str]) -> dict[str, Any]:
    """Trust the GitHub OIDC provider for ``subjects`` only, with the STS audience.

    Exact subjects are matched with ``StringEquals``; only patterns use ``StringLike``, in a
    statement of their own (condition operators in one statement are ANDed, so mixing them
    would require a subject to match both).
    """
    aud = {f"{GITHUB_OIDC_HOST}:aud": GITHUB_OIDC_AUDIENCE}
    exact = sorted(s for s in subjects if not subject_uses_wildcards(s))
    patterns = sorted(s for s in subjects if subject_uses_wildcards(s))
    statements: list[dict[str, Any]] = []
    base = {
        "Effect": "Allow",
        "Principal": {"Federated": oidc_provider_arn},
        "Action": "sts:AssumeRoleWithWebIdentity",
    }
    if exact:
        statements.append(
            {
                "Sid": "GithubActionsExactSubjects",
                **base,
                "Condition": {"StringEquals": {**aud, f"{GITHUB_OIDC_HOST}:sub": exact}},
            }
        )
    if patterns:
        statements.append(
            {
                "Sid": "GithubActionsSubjectPatterns",
                **base,
                "Condition": {
                    "StringEquals": dict(aud),
                    "StringLike": {f"{GITHUB_OIDC_HOST}:sub": patterns},
                },
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


# --- Argo CD --------------------------------------------------------------------------------

# The API server as seen from inside the cluster: Argo CD's "in-cluster" destination.
IN_CLUSTER_SERVER: Final = "https://kubernetes.default.svc"
# What model deployments need: the InferenceService and its configuration. No Secrets (they
# never belong in git), no RBAC, no Argo CD objects.
DEFAULT_NAMESPACE_RESOURCE_KINDS: Final[tuple[str, ...]] = (
    "serving.kserve.io/InferenceService",
    "ConfigMap",
)
# Kinds a model project may never deploy: they would widen what it (or Argo CD) may do.
_FORBIDDEN_GROUPS: Final = frozenset({"argoproj.io", "rbac.authorization.k8s.io"})
_SYSTEM_NAMESPACES: Final = frozenset({"kube-system", "kube-public", "kube-node-lease", "default"})

# (cpu request, memory request MiB, memory limit MiB) per chart component.
ARGOCD_COMPONENT_RESOURCES: Final[dict[str, tuple[str, int, int]]] = {
    "controller": ("250m", 512, 2048),
    "repoServer": ("100m", 256, 1024),
    "server": ("50m", 128, 512),
    "applicationSet": ("50m", 128, 512),
    "redis": ("50m", 64, 256),
    "dex": ("10m", 64, 256),
}
_SMALL_INIT: Final = ("10m", 32, 64)
# Metrics ports the chart's components listen on (values ``<component>.containerPorts``).
ARGOCD_METRICS_PORTS: Final[dict[str, int]] = {
    "controller": 8082,
    "server": 8083,
    "repoServer": 8084,
    "applicationSet": 8080,
}

_SCP_URL = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[A-Za-z0-9._~/-]+$")
_HTTPS_URL = re.compile(r"^https://[A-Za-z0-9.-]+(?::[0-9]{1,5})?/[A-Za-z0-9._~/-]+$")
_SSH_URL = re.compile(
    r"^ssh://(?:[A-Za-z0-9._-]+@)?[A-Za-z0-9.-]+(?::[0-9]{1,5})?/[A-Za-z0-9._~/-]+$"
)
_REVISION = re.compile(r"^[A-Za-z0-9._/-]{1,255}$")
_KIND = re.compile(r"^[A-Z][A-Za-z0-9]{0,62}$")
_GROUP = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def validate_repo_url(value: str, *, field: str) -> str:
    """A git repository URL over HTTPS or SSH, with no glob characters."""
    if any(c in value for c in "*?[]!") or not (
        _HTTPS_URL.match(value) or _SSH_URL.match(value) or _SCP_URL.match(value)
    ):
        raise BlueprintConfigError(
            field,
            value,
            "Use one git repository URL over HTTPS or SSH, with no wildcards (e.g. "
            "'https://github.com/acme/gitops.git' or 'git@github.com:acme/gitops.git').",
        )
    return value


def validate_revision(value: str) -> str:
    if not _REVISION.match(value) or ".." in value or value.startswith(("-", "/")):
        raise BlueprintConfigError(
            "revision",
            value,
            "Use a branch, tag or commit (e.g. 'main'); the root application tracks it.",
        )
    return value


def validate_git_path(value: str) -> str:
    parts = value.split("/")
    if (
        not value
        or value.startswith("/")
        or any(p in ("", "..") for p in parts)
        or not re.match(r"^[A-Za-z0-9._/-]+$", value)
    ):
        raise BlueprintConfigError(
            "path",
            value,
            "Use a relative directory inside the repository (e.g. 'apps' or 'clusters/prod'), "
            "without '..' or a leading '/'; use '.' for the repository root.",
        )
    return value


@dataclass(frozen=True)
class ResourceKind:
    """An API group (empty for the core group) and kind, as Argo CD whitelists name them."""

    group: str
    kind: str

    def as_dict(self) -> dict[str, str]:
        return {"group": self.group, "kind": self.kind}


def parse_resource_kind(value: str) -> ResourceKind:
    """``group/Kind`` (``Kind`` alone for the core group), with no wildcards."""
    group, sep, kind = value.rpartition("/")
    bad = (
        not _KIND.match(kind) or (sep and not _GROUP.match(group)) or any(c in value for c in "*?")
    )
    if bad:
        raise BlueprintConfigError(
            "namespace_resource_kinds",
            value,
            "Name one kind as 'group/Kind', or 'Kind' for the core group (e.g. "
            "'serving.kserve.io/InferenceService', 'ConfigMap'); no wildcards.",
        )
    if group in _FORBIDDEN_GROUPS:
        raise BlueprintConfigError(
            "namespace_resource_kinds",
            value,
            f"Kinds of {group} would let a model project widen its own permissions or create "
            "Argo CD objects; deploy only workload kinds.",
        )
    return ResourceKind(group, kind)


def validate_destination_namespace(value: str, *, argocd_namespace: str) -> str:
    if value in _SYSTEM_NAMESPACES or value == argocd_namespace:
        raise BlueprintConfigError(
            "destination_namespaces",
            value,
            "Deploy models to their own namespaces, never to Argo CD's or a system namespace "
            "(a ConfigMap there could reconfigure the cluster or Argo CD itself).",
        )
    return value


def app_project_spec(
    *,
    source_repos: Sequence[str],
    destination_namespaces: Sequence[str],
    kinds: Sequence[ResourceKind],
    description: str,
) -> dict[str, Any]:
    """An AppProject that may deploy only ``kinds`` from ``source_repos`` to the named
    namespaces of this cluster, and no cluster-scoped object at all."""
    return {
        "description": description,
        "sourceRepos": sorted(set(source_repos)),
        "destinations": [
            {"server": IN_CLUSTER_SERVER, "namespace": ns}
            for ns in sorted(set(destination_namespaces))
        ],
        "clusterResourceWhitelist": [],
        "namespaceResourceWhitelist": [k.as_dict() for k in kinds],
        "orphanedResources": {"warn": True},
    }


def root_project_spec(*, repo_url: str, argocd_namespace: str) -> dict[str, Any]:
    """The app-of-apps project: Applications, in Argo CD's namespace, from the GitOps repo."""
    return app_project_spec(
        source_repos=[repo_url],
        destination_namespaces=[argocd_namespace],
        kinds=[ResourceKind("argoproj.io", "Application")],
        description="App of apps: Application objects from the GitOps repository only.",
    )


def locked_default_project_spec() -> dict[str, Any]:
    """Argo CD's built-in ``default`` project allows every source, destination and kind; an
    Application naming it would escape the projects above. This version allows nothing."""
    return {
        "description": "Locked: use a named project.",
        "sourceRepos": [],
        "destinations": [],
        "clusterResourceWhitelist": [],
        "namespaceResourceWhitelist": [],
    }


def root_application_spec(
    *,
    project: str,
    repo_url: str,
    revision: str,
    path: str,
    argocd_namespace: str,
    enable_automated_sync: bool,
    enable_prune: bool,
    enable_self_heal: bool,
) -> dict[str, Any]:
    """The root Application: the GitOps path's Application manifests, into Argo CD's namespace."""
    sync_policy: dict[str, Any] = {"syncOptions": ["PruneLast=true"]}
    if enable_automated_sync:
        sync_policy["automated"] = {"prune": enable_prune, "selfHeal": enable_self_heal}
    return {
        "project": project,
        "source": {"repoURL": repo_url, "targetRevision": revision, "path": path},
        "destination": {"server": IN_CLUSTER_SERVER, "namespace": argocd_namespace},
        "syncPolicy": sync_policy,
    }


def _resources(cpu: str, request_mib: int, limit_mib: int) -> dict[str, Any]:
    return {
        "requests": {"cpu": cpu, "memory": f"{request_mib}Mi"},
        "limits": {"memory": f"{limit_mib}Mi"},
    }


@dataclass(frozen=True)
class ArgoCdChartPlan:
    """Inputs of :func:`argocd_chart_values`."""

    enable_metrics: bool
    monitor_labels: Mapping[str, str]
    enable_admin_user: bool = False
    dex_config: str | None = None
    external_url: str | None = None
    rbac_policy_csv: str = ""
    labels: Mapping[str, str] | None = None


def argocd_chart_values(plan: ArgoCdChartPlan) -> dict[str, Any]:
    """Values for the pinned argo-cd chart: ClusterIP only, no admin or anonymous user unless
    asked, Dex only when configured, notifications off, resources on every container, the
    chart's own NetworkPolicies off (the component declares its own), metrics optional.
    ``argocd-secret`` is not the chart's: the component creates it, so a generated admin
    password never passes through (and never makes secret) the release's values."""
    cm: dict[str, Any] = {
        "admin.enabled": plan.enable_admin_user,
        "users.anonymous.enabled": False,
        "exec.enabled": False,
        "statusbadge.enabled": False,
    }
    if plan.external_url is not None:
        cm["url"] = plan.external_url
    if plan.dex_config is not None:
        cm["dex.config"] = plan.dex_config
    values: dict[str, Any] = {
        "crds": {"install": True, "keep": True},
        "global": {
            "logging": {"format": "json"},
            "networkPolicy": {"create": False},
        },
        "configs": {
            "cm": cm,
            "rbac": {"policy.default": "", "policy.csv": plan.rbac_policy_csv},
            "secret": {"createSecret": False},
        },
        "dex": {
            "enabled": plan.dex_config is not None,
            "resources": _resources(*ARGOCD_COMPONENT_RESOURCES["dex"]),
            "initImage": {"resources": _resources(*_SMALL_INIT)},
        },
        "notifications": {"enabled": False},
        "redis": {
            "resources": _resources(*ARGOCD_COMPONENT_RESOURCES["redis"]),
            "exporter": {"enabled": False},
        },
        "redisSecretInit": {"resources": _resources(*_SMALL_INIT)},
        "controller": {"resources": _resources(*ARGOCD_COMPONENT_RESOURCES["controller"])},
        "server": {
            "resources": _resources(*ARGOCD_COMPONENT_RESOURCES["server"]),
            "service": {"type": "ClusterIP"},
            "ingress": {"enabled": False},
        },
        "repoServer": {
            "resources": _resources(*ARGOCD_COMPONENT_RESOURCES["repoServer"]),
            "copyutil": {"resources": _resources(*_SMALL_INIT)},
        },
        "applicationSet": {
            "resources": _resources(*ARGOCD_COMPONENT_RESOURCES["applicationSet"]),
        },
    }
    if plan.labels:
        values["global"]["additionalLabels"] = dict(plan.labels)
    for component in ARGOCD_METRICS_PORTS:
        values[component]["metrics"] = {
            "enabled": plan.enable_metrics,
            "serviceMonitor": {
                "enabled": plan.enable_metrics,
                "additionalLabels": dict(plan.monitor_labels) if plan.enable_metrics else {},
            },
        }
    return values
