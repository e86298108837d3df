"""Keyless CI/CD: the GitHub OIDC provider and CI roles (aws), and Argo CD (both targets).

Trust-policy planning is tested directly; the components are rendered under mocks with
`mlops-bp check` on the output, and the exact children, the trust documents, the grants a
CI role receives through the existing intent methods, the Helm values and the Argo CD
projects are asserted. Every refused input names its field, the value and a fix.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from mlops_blueprints.components.cicd import (
    CI_MAX_SESSION_SECONDS,
    ArgoCd,
    ArgoCdArgs,
    GithubActionsRole,
    GithubActionsRoleArgs,
    GithubOidcProvider,
    GithubOidcProviderArgs,
    github_subjects,
    github_trust_policy,
)
from mlops_blueprints.components.cicd._plan import (
    ARGOCD_COMPONENT_RESOURCES,
    IN_CLUSTER_SERVER,
    parse_resource_kind,
)
from mlops_blueprints.components.identity import (
    AwsRolePrincipal,
    StaticCredentialsIdentity,
    StaticCredentialsIdentityArgs,
)
from mlops_blueprints.components.kubernetes import WorkloadNamespace, WorkloadNamespaceArgs
from mlops_blueprints.components.object_store import (
    S3Bucket,
    S3BucketArgs,
    SeaweedfsServer,
    SeaweedfsServerArgs,
)
from mlops_blueprints.components.registry import (
    EcrRepository,
    EcrRepositoryArgs,
    InClusterRegistry,
    InClusterRegistryArgs,
)

from mlops_blueprints import versions
from mlops_blueprints.render import Registration, RenderCapture, run_program
from mlops_blueprints.targets._seam import ObjectStoreArgs, WorkloadIdentity
from tests.components._helpers import (
    aws_model_registry,
    by_name,
    children,
    raises,
    render_checked,
    stand_in_operator,
)

pytestmark = pytest.mark.unit

PROVIDER_ARN = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
AUD = "token.actions.githubusercontent.com:aud"
SUB = "token.actions.githubusercontent.com:sub"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
RELEASE = "kubernetes:helm.sh/v3:Release"
APP_PROJECT = "kubernetes:argoproj.io/v1alpha1:AppProject"
APPLICATION = "kubernetes:argoproj.io/v1alpha1:Application"
GITOPS = "https://github.com/acme/gitops.git"
NETWORK: dict[str, Any] = {
    "vpc_id": "vpc-0abc",
    "subnet_ids": ["subnet-a", "subnet-b"],
    "allowed_cidr_blocks": ["10.0.0.0/16"],
}


def _role_args(**overrides: Any) -> GithubActionsRoleArgs:
    fields: dict[str, Any] = {
        "identity_name": "ci-build",
        "oidc_provider_arn": PROVIDER_ARN,
        "repository": "acme/churn-model",
        "branches": ("main",),
    }
    fields.update(overrides)
    return GithubActionsRoleArgs(**fields)


def _trust(capture: RenderCapture, role: str = "ci-role") -> dict[str, Any]:
    document: dict[str, Any] = json.loads(by_name(capture)[role].inputs["assumeRolePolicy"])
    return document


def _policy(registration: Registration) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(registration.inputs["policy"])
    return document


# --- trust planning ---------------------------------------------------------------------------


def test_subjects_follow_githubs_default_subject_template() -> None:
    assert github_subjects(
        repository="acme/churn-model",
        branches=("main", "release/*"),
        environments=("production",),
        tag_patterns=("v*",),
    ) == [
        "repo:acme/churn-model:environment:production",
        "repo:acme/churn-model:ref:refs/heads/main",
        "repo:acme/churn-model:ref:refs/heads/release/*",
        "repo:acme/churn-model:ref:refs/tags/v*",
    ]


def test_exact_subjects_use_string_equals_and_patterns_string_like_apart() -> None:
    subjects = github_subjects(
        repository="acme/churn-model", branches=("main",), tag_patterns=("v*",)
    )
    base = {
        "Effect": "Allow",
        "Principal": {"Federated": PROVIDER_ARN},
        "Action": "sts:AssumeRoleWithWebIdentity",
    }
    assert github_trust_policy(oidc_provider_arn=PROVIDER_ARN, subjects=subjects) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "GithubActionsExactSubjects",
                **base,
                "Condition": {
                    "StringEquals": {
                        AUD: "sts.amazonaws.com",
                        SUB: ["repo:acme/churn-model:ref:refs/heads/main"],
                    }
                },
            },
            {
                "Sid": "GithubActionsSubjectPatterns",
                **base,
                "Condition": {
                    "StringEquals": {AUD: "sts.amazonaws.com"},
                    "StringLike": {SUB: ["repo:acme/churn-model:ref:refs/tags/v*"]},
                },
            },
        ],
    }


def test_only_exact_subjects_mean_no_string_like_at_all() -> None:
    policy = github_trust_policy(
        oidc_provider_arn=PROVIDER_ARN,
        subjects=github_subjects(repository="acme/churn-model", environments=("production",)),
    )
    assert [s["Sid"] for s in policy["Statement"]] == ["GithubActionsExactSubjects"]
    assert "StringLike" not in json.dumps(policy)


def test_pull_requests_and_owner_wide_trust_are_explicit_opt_ins() -> None:
    assert github_subjects(
        repository="acme/churn-model", branches=("main",), allow_pull_requests=True
    ) == ["repo:acme/churn-model:pull_request", "repo:acme/churn-model:ref:refs/heads/main"]
    assert github_subjects(
        repository="acme/*", branches=("main",), allow_all_repositories_of_owner=True
    ) == ["repo:acme/*:ref:refs/heads/main"]


# --- GithubOidcProvider -----------------------------------------------------------------------


def test_oidc_provider_is_githubs_issuer_with_the_sts_audience(tmp_path: Any) -> None:
    capture = render_checked(lambda: GithubOidcProvider("github"), tmp_path)
    assert children(capture, "github") == {
        "github-provider": "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
    }
    inputs = by_name(capture)["github-provider"].inputs
    assert inputs["url"] == "https://token.actions.githubusercontent.com"
    assert inputs["clientIdLists"] == ["sts.amazonaws.com"]
    # No thumbprints: IAM verifies GitHub's certificate against its trusted CAs.
    assert "thumbprintLists" not in inputs


def test_oidc_provider_takes_pinned_thumbprints_where_a_partition_needs_them(
    tmp_path: Any,
) -> None:
    thumbprint = "6938fd4d98bab03faadb97b34396831e3780aea1"
    capture = render_checked(
        lambda: GithubOidcProvider("github", GithubOidcProviderArgs(thumbprints=(thumbprint,))),
        tmp_path,
    )
    assert by_name(capture)["github-provider"].inputs["thumbprintLists"] == [thumbprint]


@pytest.mark.parametrize("thumbprints", [("ABC",), ("6938FD4D98BAB03FAADB97B34396831E3780AEA1",)])
def test_oidc_provider_refuses_malformed_thumbprints(thumbprints: tuple[str, ...]) -> None:
    raises(
        lambda: GithubOidcProviderArgs(thumbprints=thumbprints),
        "thumbprints",
        thumbprints,
        "40 lowercase hex digits",
    )


# --- GithubActionsRole ------------------------------------------------------------------------


def test_role_children_session_and_trust(tmp_path: Any) -> None:
    capture = render_checked(lambda: GithubActionsRole("ci", _role_args()), tmp_path)
    assert children(capture, "ci") == {"ci-role": ROLE}
    role = by_name(capture)["ci-role"].inputs
    assert role["maxSessionDuration"] == CI_MAX_SESSION_SECONDS == 3600
    assert "permissionsBoundary" not in role
    assert _trust(capture)["Statement"] == [
        {
            "Sid": "GithubActionsExactSubjects",
            "Effect": "Allow",
            "Principal": {"Federated": PROVIDER_ARN},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    AUD: "sts.amazonaws.com",
                    SUB: ["repo:acme/churn-model:ref:refs/heads/main"],
                }
            },
        }
    ]


def test_role_trusts_the_provider_it_is_given_and_takes_a_boundary(tmp_path: Any) -> None:
    boundary = "arn:aws:iam::123456789012:policy/ci-boundary"

    def program() -> None:
        provider = GithubOidcProvider("github")
        GithubActionsRole(
            "ci",
            _role_args(
                oidc_provider_arn=provider.arn,
                environments=("production",),
                branches=(),
                permissions_boundary_arn=boundary,
                role_name="acme-churn-promote",
            ),
        )

    capture = render_checked(program, tmp_path)
    role = by_name(capture)["ci-role"].inputs
    assert role["permissionsBoundary"] == boundary
    assert role["name"] == "acme-churn-promote"
    (statement,) = _trust(capture)["Statement"]
    assert statement["Principal"] == {"Federated": PROVIDER_ARN}
    assert statement["Condition"]["StringEquals"][SUB] == [
        "repo:acme/churn-model:environment:production"
    ]


def test_role_is_an_aws_role_principal_and_not_a_workload_identity() -> None:
    def program() -> None:
        role = GithubActionsRole("ci", _role_args())
        assert isinstance(role, AwsRolePrincipal)
        assert not isinstance(role, WorkloadIdentity)
        assert role.identity_name == "ci-build"

    run_program(program, project="p", stack="s", config={})


def test_aws_grants_accept_the_ci_role_and_open_no_network_policy(tmp_path: Any) -> None:
    """ECR push on one repository, data-lake prefixes, the registry's artifact prefix."""

    def program() -> None:
        registry, artifacts = aws_model_registry("acme-artifacts")
        curated = S3Bucket("curated", S3BucketArgs(bucket_name="acme-curated"))
        images = EcrRepository("images", EcrRepositoryArgs(repository_name="mlops/churn"))
        ci = GithubActionsRole("ci", _role_args())
        images.grant_push(ci)
        curated.grant_read(ci, prefix="features/")
        artifacts.grant_write(ci, prefix="ci/")
        registry.grant_write(ci)

    capture = render_checked(program, tmp_path)
    grants = {
        r.name: r
        for r in capture.registrations
        if r.type == ROLE_POLICY and r.inputs["role"] == "ci-role"
    }
    assert sorted(grants) == [
        "artifacts-write-ci-build-ci",
        "artifacts-write-ci-build-mlflow",
        "curated-read-ci-build-features",
        "images-push-ci-build",
    ]
    ecr = {s["Sid"]: s["Resource"] for s in _policy(grants["images-push-ci-build"])["Statement"]}
    assert ecr == {
        "RegistryLogin": "*",  # ecr:GetAuthorizationToken supports no resource
        "RepositoryPullPush": ["arn:aws:ecr:us-east-1:123456789012:repository/mlops/churn"],
    }

    def objects(name: str) -> list[str]:
        (statement,) = [
            s for s in _policy(grants[name])["Statement"] if s["Sid"].startswith("Object")
        ]
        return list(statement["Resource"])

    assert objects("artifacts-write-ci-build-mlflow") == ["arn:aws:s3:::acme-artifacts/mlflow/*"]
    assert objects("artifacts-write-ci-build-ci") == ["arn:aws:s3:::acme-artifacts/ci/*"]
    assert objects("curated-read-ci-build-features") == ["arn:aws:s3:::acme-curated/features/*"]
    listing = next(
        s
        for s in _policy(grants["curated-read-ci-build-features"])["Statement"]
        if s["Sid"] == "ListBucket"
    )
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["features/*"]}}
    # No pods: no egress policy for the CI role, and the server admits only Prometheus.
    assert not [r.name for r in capture.registrations if r.type == POLICY and "ci-build" in r.name]
    assert children(capture, "registry") == {
        "registry-release": RELEASE,
        "registry-network-policy": POLICY,
        "registry-python-hooks": "kubernetes:core/v1:ConfigMap",
    }
    ingress = by_name(capture)["registry-network-policy"].inputs["spec"]["ingress"]
    assert len(ingress) == 1  # Prometheus only


def test_in_cluster_services_refuse_the_ci_role() -> None:
    def seaweedfs() -> None:
        ns = WorkloadNamespace("data", WorkloadNamespaceArgs(namespace="mlops-data"))
        server = SeaweedfsServer("objects", SeaweedfsServerArgs(namespace=ns.namespace_name))
        bucket = server.bucket("models", ObjectStoreArgs(bucket_name="acme-models", purpose="m"))
        bucket.grant_write(GithubActionsRole("ci", _role_args()), prefix="ci/")

    def registry() -> None:
        ns = WorkloadNamespace("data", WorkloadNamespaceArgs(namespace="mlops-data"))
        images = InClusterRegistry(
            "registry",
            InClusterRegistryArgs(
                namespace=ns.namespace_name,
                allowed_namespaces=["mlops"],
                repository_name="mlops/churn",
            ),
        )
        images.grant_push(GithubActionsRole("ci", _role_args()))

    for program, fix in (
        (seaweedfs, "grants to a StaticCredentialsIdentity"),
        (registry, "serves Kubernetes workload identities only"),
    ):
        raises(
            lambda p=program: run_program(p, project="p", stack="s", config={}),  # type: ignore[misc]
            "identity",
            "GithubActionsRole",
            fix,
        )


def test_aws_grants_still_refuse_a_kind_identity() -> None:
    def program() -> None:
        identity = StaticCredentialsIdentity(
            "trainer", StaticCredentialsIdentityArgs(namespace="mlops", service_account_name="t")
        )
        EcrRepository("images", EcrRepositoryArgs(repository_name="mlops/churn")).grant_push(
            identity
        )

    raises(
        lambda: run_program(program, project="p", stack="s", config={}),
        "identity",
        "StaticCredentialsIdentity",
        "or another IAM-role principal such as a GithubActionsRole",
    )


@pytest.mark.parametrize(
    ("overrides", "field", "value", "fix"),
    [
        ({"repository": "acme"}, "repository", "acme", "'OWNER/REPO'"),
        ({"repository": "*"}, "repository", "*", "can never be a wildcard"),
        ({"repository": "*/churn-model"}, "repository", "*/churn-model", "never be a wildcard"),
        ({"repository": "ac*/churn-model"}, "repository", "ac*/churn-model", "never be a wildcard"),
        ({"repository": "-acme/churn"}, "repository", "-acme/churn", "single hyphens"),
        ({"repository": "acme/churn/x"}, "repository", "acme/churn/x", "'OWNER/REPO'"),
        ({"repository": "acme/*"}, "repository", "acme/*", "allow_all_repositories_of_owner"),
        ({"repository": "acme/churn*"}, "repository", "acme/churn*", "no wildcards"),
        ({"repository": "acme/.."}, "repository", "acme/..", "no wildcards"),
        (
            {"allow_all_repositories_of_owner": True},
            "allow_all_repositories_of_owner",
            True,
            "only applies to 'OWNER/*'",
        ),
        ({"branches": ("*",)}, "branches", "*", "no literal part"),
        ({"branches": ("**",)}, "branches", "**", "no literal part"),
        ({"branches": ("refs/heads/main",)}, "branches", "refs/heads/main", "without the 'refs/'"),
        ({"branches": ("main:x",)}, "branches", "main:x", "no spaces, ':'"),
        ({"branches": ("a b",)}, "branches", "a b", "no spaces"),
        ({"branches": ("../main",)}, "branches", "../main", "'..'"),
        ({"branches": ()}, "branches", (), "at least one branch"),
        (
            {"branches": ("main", "main")},
            "branches",
            ("repo:acme/churn-model:ref:refs/heads/main",) * 2,
            "each branch",
        ),
        ({"tag_patterns": ("*",)}, "tag_patterns", "*", "no literal part"),
        ({"environments": ("prod*",)}, "environments", "prod*", "no wildcards"),
        ({"environments": ("",)}, "environments", "", "exactly"),
        ({"identity_name": "CI_Build"}, "identity_name", "CI_Build", "lowercase"),
        (
            {
                "oidc_provider_arn": "arn:aws:iam::123456789012:oidc-provider/"
                "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE"
            },
            "oidc_provider_arn",
            "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE",
            "GitHub Actions OIDC provider",
        ),
        (
            {"permissions_boundary_arn": "ci-boundary"},
            "permissions_boundary_arn",
            "ci-boundary",
            "managed IAM policy",
        ),
        ({"role_name": "a" * 65}, "role_name", "a" * 65, "1-64"),
    ],
)
def test_role_refuses_unscoped_or_malformed_input(
    overrides: dict[str, Any], field: str, value: object, fix: str
) -> None:
    raises(lambda: _role_args(**overrides), field, value, fix)


def test_refused_role_registers_nothing() -> None:
    def program() -> None:
        GithubActionsRole("ci", _role_args(repository="acme/*"))

    with pytest.raises(Exception, match="allow_all_repositories_of_owner"):
        run_program(program, project="p", stack="s", config={})


# --- ArgoCd -----------------------------------------------------------------------------------


def _argocd(**overrides: Any) -> ArgoCdArgs:
    fields: dict[str, Any] = {"repo_url": GITOPS, "destination_namespaces": ("serving",)}
    fields.update(overrides)
    return ArgoCdArgs(**fields)


@pytest.fixture(scope="module")
def argocd(tmp_path_factory: pytest.TempPathFactory) -> RenderCapture:
    return render_checked(lambda: ArgoCd("gitops", _argocd()), tmp_path_factory.mktemp("argocd"))


@pytest.fixture(scope="module")
def argocd_full(tmp_path_factory: pytest.TempPathFactory) -> RenderCapture:
    def program() -> None:
        ArgoCd(
            "gitops",
            _argocd(
                source_repos=("git@github.com:acme/churn-model.git",),
                prometheus_operator=stand_in_operator(),
                monitor_labels={"release": "kube-prometheus-stack"},
                enable_admin_user=True,
                dex_config="connectors: []\n",
                external_url="https://argocd.example.com",
                rbac_policy_csv="g, acme:ml-platform, role:admin\n",
                labels={"team": "ml-platform"},
            ),
        )

    return render_checked(program, tmp_path_factory.mktemp("argocd-full"))


def _values(capture: RenderCapture) -> dict[str, Any]:
    values: dict[str, Any] = by_name(capture)["gitops-release"].inputs["values"]
    return values


def _spec(capture: RenderCapture, name: str) -> dict[str, Any]:
    spec: dict[str, Any] = by_name(capture)[name].inputs["spec"]
    return spec


def test_argocd_children(argocd: RenderCapture, argocd_full: RenderCapture) -> None:
    expected = {
        "gitops-namespace": "mlops:kubernetes:WorkloadNamespace",
        "gitops-internal": POLICY,
        "gitops-kube-api-egress": POLICY,
        "gitops-git-egress": POLICY,
        "gitops-secret": "kubernetes:core/v1:Secret",
        "gitops-release": RELEASE,
        "gitops-default-project": APP_PROJECT,
        "gitops-root-project": APP_PROJECT,
        "gitops-project": APP_PROJECT,
        "gitops-root-app": APPLICATION,
    }
    assert children(argocd, "gitops") == expected
    assert children(argocd_full, "gitops") == {
        **expected,
        "gitops-metrics-ingress": POLICY,
        "gitops-admin-password": "random:index/randomPassword:RandomPassword",
    }


def test_argocd_release_is_pinned_private_and_minimal(argocd: RenderCapture) -> None:
    release = by_name(argocd)["gitops-release"].inputs
    chart = versions.CHARTS["argo-cd"]
    assert (
        (release["chart"], release["version"])
        == (chart.chart, chart.version)
        == (
            "argo-cd",
            "10.1.1",
        )
    )
    assert release["name"] == "argocd"
    assert release["namespace"] == "argocd"
    values = _values(argocd)
    assert values["server"]["service"] == {"type": "ClusterIP"}
    assert values["server"]["ingress"] == {"enabled": False}
    assert values["configs"]["cm"] == {
        "admin.enabled": False,
        "users.anonymous.enabled": False,
        "exec.enabled": False,
        "statusbadge.enabled": False,
    }
    assert values["configs"]["rbac"]["policy.default"] == ""
    assert values["configs"]["secret"] == {"createSecret": False}
    assert values["dex"]["enabled"] is False
    assert values["notifications"] == {"enabled": False}
    assert values["global"]["networkPolicy"] == {"create": False}
    assert values["crds"] == {"install": True, "keep": True}
    for component, (cpu, request, limit) in ARGOCD_COMPONENT_RESOURCES.items():
        assert values[component]["resources"] == {
            "requests": {"cpu": cpu, "memory": f"{request}Mi"},
            "limits": {"memory": f"{limit}Mi"},
        }, component
    for component in ("controller", "server", "repoServer", "applicationSet"):
        assert values[component]["metrics"]["enabled"] is False
        assert values[component]["metrics"]["serviceMonitor"]["enabled"] is False
    # The admin user is off and its Secret carries no password.
    assert by_name(argocd)["gitops-secret"].inputs.get("stringData", {}) == {}


def test_argocd_namespace_is_restricted_and_denies_by_default(argocd: RenderCapture) -> None:
    labels = by_name(argocd)["gitops-namespace-namespace"].inputs["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert by_name(argocd)["gitops-namespace-default-deny"].inputs["spec"]["policyTypes"] == [
        "Ingress",
        "Egress",
    ]


def test_argocd_network_policies(argocd: RenderCapture, argocd_full: RenderCapture) -> None:
    internet = [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.0.0/16"]}}]
    assert _spec(argocd, "gitops-internal") == {
        "podSelector": {},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [{"from": [{"podSelector": {}}]}],
        "egress": [{"to": [{"podSelector": {}}]}],
    }
    api = _spec(argocd, "gitops-kube-api-egress")
    assert api["podSelector"]["matchExpressions"][0]["values"] == [
        "argocd-application-controller",
        "argocd-applicationset-controller",
        "argocd-redis-secret-init",
        "argocd-server",
    ]
    assert api["egress"] == [
        {
            "to": internet,
            "ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}],
        }
    ]
    git = _spec(argocd, "gitops-git-egress")
    assert git["podSelector"]["matchExpressions"][0]["values"] == ["argocd-repo-server"]
    assert git["egress"][0]["ports"] == [
        {"protocol": "TCP", "port": 443},
        {"protocol": "TCP", "port": 22},
    ]
    # Dex, when configured, reaches its identity provider.
    names = _spec(argocd_full, "gitops-kube-api-egress")["podSelector"]["matchExpressions"][0]
    assert "argocd-dex-server" in names["values"]
    metrics = _spec(argocd_full, "gitops-metrics-ingress")
    assert metrics["ingress"] == [
        {
            "from": [
                {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}
                    },
                    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
                }
            ],
            "ports": [{"protocol": "TCP", "port": p} for p in (8080, 8082, 8083, 8084)],
        }
    ]


def test_argocd_projects_name_everything_explicitly(argocd: RenderCapture) -> None:
    project = _spec(argocd, "gitops-project")
    assert project["sourceRepos"] == [GITOPS]
    assert project["destinations"] == [{"server": IN_CLUSTER_SERVER, "namespace": "serving"}]
    assert project["clusterResourceWhitelist"] == []
    assert project["namespaceResourceWhitelist"] == [
        {"group": "serving.kserve.io", "kind": "InferenceService"},
        {"group": "", "kind": "ConfigMap"},
    ]
    root = _spec(argocd, "gitops-root-project")
    assert root["sourceRepos"] == [GITOPS]
    assert root["destinations"] == [{"server": IN_CLUSTER_SERVER, "namespace": "argocd"}]
    assert root["namespaceResourceWhitelist"] == [{"group": "argoproj.io", "kind": "Application"}]
    assert root["clusterResourceWhitelist"] == []
    default = by_name(argocd)["gitops-default-project"].inputs
    assert default["metadata"]["name"] == "default"
    assert default["metadata"]["annotations"] == {"pulumi.com/patchForce": "true"}
    assert default["spec"]["sourceRepos"] == default["spec"]["destinations"] == []
    # Nothing anywhere is a wildcard.
    for name in ("gitops-project", "gitops-root-project", "gitops-default-project"):
        assert "*" not in json.dumps(_spec(argocd, name))


def test_argocd_root_application(argocd: RenderCapture) -> None:
    app = by_name(argocd)["gitops-root-app"]
    assert app.inputs["metadata"]["name"] == "root"
    assert app.inputs["spec"] == {
        "project": "root",
        "source": {"repoURL": GITOPS, "targetRevision": "main", "path": "apps"},
        "destination": {"server": IN_CLUSTER_SERVER, "namespace": "argocd"},
        "syncPolicy": {
            "syncOptions": ["PruneLast=true"],
            "automated": {"prune": True, "selfHeal": True},
        },
    }


def test_argocd_custom_resources_wait_for_the_release(argocd: RenderCapture) -> None:
    found = by_name(argocd)
    release = found["gitops-release"].urn
    for name in ("gitops-default-project", "gitops-root-project", "gitops-project"):
        assert release in found[name].dependencies, name
    app = found["gitops-root-app"].dependencies
    assert release in app
    assert found["gitops-root-project"].urn in app
    # The release starts after its egress and settings Secret exist.
    for name in ("gitops-internal", "gitops-kube-api-egress", "gitops-git-egress", "gitops-secret"):
        assert found[name].urn in found["gitops-release"].dependencies, name


def test_argocd_manual_sync_without_prune_or_self_heal(tmp_path: Any) -> None:
    capture = render_checked(
        lambda: ArgoCd(
            "gitops",
            _argocd(enable_automated_sync=False, enable_prune=False, enable_self_heal=False),
        ),
        tmp_path,
    )
    assert _spec(capture, "gitops-root-app")["syncPolicy"] == {"syncOptions": ["PruneLast=true"]}


def test_argocd_options(argocd_full: RenderCapture) -> None:
    values = _values(argocd_full)
    found = by_name(argocd_full)
    for component in ("controller", "server", "repoServer", "applicationSet"):
        assert values[component]["metrics"] == {
            "enabled": True,
            "serviceMonitor": {
                "enabled": True,
                "additionalLabels": {"release": "kube-prometheus-stack"},
            },
        }
    assert found["prometheus"].urn in found["gitops-release"].dependencies
    cm = values["configs"]["cm"]
    assert cm["admin.enabled"] is True
    assert cm["url"] == "https://argocd.example.com"
    assert cm["dex.config"] == "connectors: []\n"
    assert values["dex"]["enabled"] is True
    assert values["configs"]["rbac"]["policy.csv"] == "g, acme:ml-platform, role:admin\n"
    assert values["global"]["additionalLabels"] == {"team": "ml-platform"}
    # The admin password reaches the cluster as a bcrypt hash in argocd-secret only.
    secret = found["gitops-secret"].inputs
    assert secret["metadata"]["name"] == "argocd-secret"
    assert secret["metadata"]["labels"]["app.kubernetes.io/part-of"] == "argocd"
    assert set(secret["stringData"]) == {"admin.password"}
    assert "argocdServerAdminPassword" not in json.dumps(values)
    assert _spec(argocd_full, "gitops-project")["sourceRepos"] == sorted(
        [GITOPS, "git@github.com:acme/churn-model.git"]
    )


@pytest.mark.parametrize(
    ("overrides", "field", "value", "fix"),
    [
        ({"repo_url": ""}, "repo_url", "", "HTTPS or SSH"),
        ({"repo_url": "http://github.com/acme/gitops.git"}, "repo_url", None, "HTTPS or SSH"),
        ({"repo_url": "ftp://example.com/gitops"}, "repo_url", None, "HTTPS or SSH"),
        ({"repo_url": "https://github.com/acme/*"}, "repo_url", None, "no wildcards"),
        ({"repo_url": "*"}, "repo_url", "*", "no wildcards"),
        ({"source_repos": ("*",)}, "source_repos", "*", "no wildcards"),
        (
            {"source_repos": ("https://github.com/acme/*",)},
            "source_repos",
            "https://github.com/acme/*",
            "no wildcards",
        ),
        ({"destination_namespaces": ()}, "destination_namespaces", (), "Name the namespaces"),
        ({"destination_namespaces": ("*",)}, "destination_namespaces", "*", "lowercase"),
        (
            {"destination_namespaces": ("argocd",)},
            "destination_namespaces",
            "argocd",
            "never to Argo CD's",
        ),
        (
            {"destination_namespaces": ("kube-system",)},
            "destination_namespaces",
            "kube-system",
            "system namespace",
        ),
        ({"path": "../apps"}, "path", "../apps", "without '..'"),
        ({"path": "/apps"}, "path", "/apps", "leading '/'"),
        ({"path": ""}, "path", "", "relative directory"),
        ({"revision": ""}, "revision", "", "branch, tag or commit"),
        ({"revision": "main branch"}, "revision", "main branch", "branch, tag or commit"),
        ({"namespace_resource_kinds": ("*",)}, "namespace_resource_kinds", "*", "no wildcards"),
        ({"namespace_resource_kinds": ()}, "namespace_resource_kinds", (), "at least one kind"),
        (
            {"namespace_resource_kinds": ("rbac.authorization.k8s.io/RoleBinding",)},
            "namespace_resource_kinds",
            "rbac.authorization.k8s.io/RoleBinding",
            "widen its own permissions",
        ),
        (
            {"namespace_resource_kinds": ("argoproj.io/Application",)},
            "namespace_resource_kinds",
            "argoproj.io/Application",
            "Argo CD objects",
        ),
        (
            {"namespace_resource_kinds": ("ConfigMap", "ConfigMap")},
            "namespace_resource_kinds",
            ("ConfigMap", "ConfigMap"),
            "each kind once",
        ),
        ({"project_name": "default"}, "project_name", "default", "'default'"),
        ({"root_app_name": "models"}, "project_name", "models", "different names"),
        (
            {"enable_automated_sync": False},
            "enable_automated_sync",
            False,
            "enable_prune=False",
        ),
        ({"dex_config": "connectors: []"}, "external_url", None, "set external_url"),
        ({"dex_config": "  "}, "dex_config", "  ", "Dex's connector configuration"),
        (
            {"external_url": "http://argocd.example.com"},
            "external_url",
            "http://argocd.example.com",
            "https URL",
        ),
        ({"monitoring_namespace": "Monitoring"}, "monitoring_namespace", "Monitoring", "lowercase"),
        ({"labels": {"app.kubernetes.io/name": "x"}}, "labels", None, "sets the app.kubernetes"),
        ({"labels": {"bad key!": "x"}}, "labels", {"bad key!": "x"}, "label syntax"),
    ],
)
def test_argocd_refuses_bad_input(
    overrides: dict[str, Any], field: str, value: object, fix: str
) -> None:
    if value is None and field in overrides:
        value = overrides[field]
    raises(lambda: _argocd(**overrides), field, value, fix)


def test_argocd_metrics_need_monitor_labels() -> None:
    def program() -> None:
        _argocd(prometheus_operator=stand_in_operator())

    raises(
        lambda: run_program(program, project="p", stack="s", config={}),
        "monitor_labels",
        {},
        "labels your Prometheus selects",
    )


@pytest.mark.parametrize(
    ("value", "group", "kind"),
    [
        ("ConfigMap", "", "ConfigMap"),
        ("serving.kserve.io/InferenceService", "serving.kserve.io", "InferenceService"),
        ("apps/Deployment", "apps", "Deployment"),
    ],
)
def test_resource_kinds_parse_as_argo_cd_names_them(value: str, group: str, kind: str) -> None:
    parsed = parse_resource_kind(value)
    assert (parsed.group, parsed.kind) == (group, kind)


def test_argocd_renders_the_same_on_both_targets_flavours(argocd: RenderCapture) -> None:
    """Nothing in ArgoCd asks the target for anything: no aws or kind resource appears."""
    types = {r.type for r in argocd.registrations}
    assert not [t for t in types if t.startswith(("aws:", "random:"))]
