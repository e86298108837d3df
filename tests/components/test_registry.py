"""Container registry: ECR on aws, the distribution registry on kind.

Pure planning (lifecycle rules, grant documents, auth files) is tested directly; the
components are rendered under mocks and the exact children, the security-relevant inputs and
`mlops-bp check` on the rendered manifests are asserted.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mlops_blueprints.components.identity import (
    StaticCredentialsIdentity,
    StaticCredentialsIdentityArgs,
)
from mlops_blueprints.components.kubernetes import WorkloadNamespace, WorkloadNamespaceArgs
from mlops_blueprints.components.registry import (
    EcrRepository,
    EcrRepositoryArgs,
    InClusterRegistry,
    InClusterRegistryArgs,
    ecr_grant_statements,
    ecr_lifecycle_policy,
)
from mlops_blueprints.components.registry._plan import (
    ECR_PULL_ACTIONS,
    ECR_PUSH_ACTIONS,
    distribution_config,
    docker_config_json,
    htpasswd_file,
)

from mlops_blueprints.render import Registration, RenderCapture, run_program
from mlops_blueprints.targets import ContainerRegistry
from mlops_blueprints.versions import IMAGES
from tests.components._helpers import assert_client_egress, pods_of
from tests.components._helpers import by_name as _by_name
from tests.components._helpers import children as _children
from tests.components._helpers import irsa as _irsa
from tests.components._helpers import raises as _raises
from tests.components._helpers import render_checked as _render

pytestmark = pytest.mark.unit

REPO_ARN = "arn:aws:ecr:us-east-1:123456789012:repository/mlops/serving"
KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"

# --- helpers ------------------------------------------------------------------------------


def _policy(registration: Registration) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(registration.inputs["policy"])
    return document


# --- pure planning ------------------------------------------------------------------------


def test_lifecycle_policy_expires_untagged_and_keeps_newest_tagged() -> None:
    assert ecr_lifecycle_policy(untagged_expiry_days=14, tagged_images_to_keep=100) == {
        "rules": [
            {
                "rulePriority": 1,
                "description": "Expire untagged images after 14 days",
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": 14,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 2,
                "description": "Keep the 100 newest tagged images",
                "selection": {
                    "tagStatus": "tagged",
                    "tagPatternList": ["*"],
                    "countType": "imageCountMoreThan",
                    "countNumber": 100,
                },
                "action": {"type": "expire"},
            },
        ]
    }


@given(days=st.integers(1, 3650), keep=st.integers(1, 10_000))
def test_lifecycle_policy_counts_follow_the_inputs(days: int, keep: int) -> None:
    rules = ecr_lifecycle_policy(untagged_expiry_days=days, tagged_images_to_keep=keep)["rules"]
    assert [r["rulePriority"] for r in rules] == [1, 2]
    assert rules[0]["selection"]["countNumber"] == days
    assert rules[1]["selection"]["countNumber"] == keep
    assert all(r["action"] == {"type": "expire"} for r in rules)
    # The tagged rule never matches untagged images, so it cannot delete fresh builds early.
    assert rules[1]["selection"]["tagStatus"] == "tagged"


@pytest.mark.parametrize(("days", "keep"), [(0, 10), (7, 0)])
def test_lifecycle_policy_rejects_zero_counts(days: int, keep: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ecr_lifecycle_policy(untagged_expiry_days=days, tagged_images_to_keep=keep)


def test_pull_grant_is_login_plus_read_on_one_repository() -> None:
    assert ecr_grant_statements(mode="pull", repository_arn=REPO_ARN) == [
        {
            "Sid": "RegistryLogin",
            "Effect": "Allow",
            "Action": ["ecr:GetAuthorizationToken"],
            "Resource": "*",
        },
        {
            "Sid": "RepositoryPull",
            "Effect": "Allow",
            "Action": [
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
                "ecr:BatchCheckLayerAvailability",
            ],
            "Resource": [REPO_ARN],
        },
    ]


def test_push_grant_adds_upload_actions_on_the_repository_only() -> None:
    statements = ecr_grant_statements(mode="push", repository_arn=REPO_ARN)
    assert statements[1] == {
        "Sid": "RepositoryPullPush",
        "Effect": "Allow",
        "Action": [*ECR_PULL_ACTIONS, *ECR_PUSH_ACTIONS],
        "Resource": [REPO_ARN],
    }
    assert set(ECR_PUSH_ACTIONS) == {
        "ecr:InitiateLayerUpload",
        "ecr:UploadLayerPart",
        "ecr:CompleteLayerUpload",
        "ecr:PutImage",
    }


@given(
    mode=st.sampled_from(["pull", "push"]),
    name=st.from_regex(r"[a-z0-9]{2,12}(/[a-z0-9]{1,12}){0,2}", fullmatch=True),
)
def test_only_registry_login_is_account_wide(mode: str, name: str) -> None:
    arn = f"arn:aws:ecr:us-east-1:123456789012:repository/{name}"
    statements = ecr_grant_statements(mode=mode, repository_arn=arn)  # type: ignore[arg-type]
    wide = [s for s in statements if s["Resource"] == "*"]
    assert [s["Action"] for s in wide] == [["ecr:GetAuthorizationToken"]]
    actions = {a for s in statements for a in s["Action"]}
    assert not any(
        a.startswith(("ecr:Delete", "ecr:BatchDelete", "ecr:Set", "ecr:Put"))
        and a != "ecr:PutImage"
        for a in actions
    )
    assert all(s["Resource"] in ("*", [arn]) for s in statements)


def test_htpasswd_file_is_sorted_bcrypt_only() -> None:
    hashes = {"zeta": "$2a$10$" + "z" * 53, "alpha": "$2y$10$" + "a" * 53}
    assert htpasswd_file(hashes) == f"alpha:{hashes['alpha']}\nzeta:{hashes['zeta']}\n"
    assert htpasswd_file({}) == ""
    with pytest.raises(ValueError, match="bcrypt"):
        htpasswd_file({"user": "{SHA}abc"})
    with pytest.raises(ValueError, match="user name"):
        htpasswd_file({"a:b": "$2a$10$x"})


def test_docker_config_json_authenticates_one_registry() -> None:
    config = json.loads(
        docker_config_json(
            registry_host="registry.ns.svc.cluster.local:5000", username="ci", password="pw"
        )
    )
    entry = config["auths"]["registry.ns.svc.cluster.local:5000"]
    assert entry == {
        "username": "ci",
        "password": "pw",
        "auth": base64.b64encode(b"ci:pw").decode(),
    }
    assert list(config["auths"]) == ["registry.ns.svc.cluster.local:5000"]


def test_distribution_config_requires_auth_and_forbids_deletes() -> None:
    config = distribution_config(realm="registry")
    assert config["auth"] == {"htpasswd": {"realm": "registry", "path": "/auth/htpasswd"}}
    assert config["storage"]["delete"] == {"enabled": False}
    assert config["http"]["addr"] == ":5000"
    assert config["version"] == "0.1"


# --- bad inputs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["A", "Mlops/Serving", "mlops//serving", "-mlops", "mlops/", "x" * 257]
)
def test_repository_name_must_follow_ecr_rules(name: str) -> None:
    _raises(lambda: EcrRepositoryArgs(repository_name=name), "repository_name", name, "lowercase")


def test_untagged_expiry_must_be_positive() -> None:
    _raises(
        lambda: EcrRepositoryArgs(repository_name="mlops/serving", untagged_expiry_days=0),
        "untagged_expiry_days",
        0,
        "at least 1 day",
    )


@pytest.mark.parametrize("keep", [0, 10_001])
def test_tagged_images_to_keep_has_bounds(keep: int) -> None:
    _raises(
        lambda: EcrRepositoryArgs(repository_name="mlops/serving", tagged_images_to_keep=keep),
        "tagged_images_to_keep",
        keep,
        "between 1 and 10000",
    )


def test_in_cluster_registry_needs_a_client_namespace() -> None:
    _raises(
        lambda: InClusterRegistryArgs(
            namespace="ns", allowed_namespaces=[], repository_name="mlops/serving"
        ),
        "allowed_namespaces",
        [],
        "at least one namespace",
    )


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "8.8.8.0/24", "10.0.0.1/8", "nonsense"])
def test_in_cluster_registry_node_networks_are_private_cidrs(cidr: str) -> None:
    _raises(
        lambda: InClusterRegistryArgs(
            namespace="ns",
            allowed_namespaces=["mlops"],
            repository_name="r1",
            allowed_node_cidrs=[cidr],
        ),
        "allowed_node_cidrs",
        cidr,
        "CIDR" if cidr in ("nonsense", "10.0.0.1/8") else "private",
    )


def test_in_cluster_registry_memory_limit_at_least_request() -> None:
    _raises(
        lambda: InClusterRegistryArgs(
            namespace="ns",
            allowed_namespaces=["mlops"],
            repository_name="r1",
            memory_request_mib=512,
            memory_limit_mib=256,
        ),
        "memory_limit_mib",
        256,
        "at or above the request (512 MiB)",
    )


# --- aws: ECR -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ecr(tmp_path_factory: pytest.TempPathFactory) -> RenderCapture:
    def program() -> None:
        namespace = WorkloadNamespace("apps", WorkloadNamespaceArgs(namespace="mlops"))
        builder = _irsa(namespace.namespace_name, "ci")
        server = _irsa(namespace.namespace_name, "serving")
        repository = EcrRepository("images", EcrRepositoryArgs(repository_name="mlops/serving"))
        assert isinstance(repository, ContainerRegistry)
        repository.grant_push(builder)
        repository.grant_pull(server)
        repository.grant_pull(server)  # the same grant twice is one grant
        EcrRepository(
            "cmk-images",
            EcrRepositoryArgs(
                repository_name="mlops/training",
                kms_key_arn=KMS_KEY,
                untagged_expiry_days=3,
                tagged_images_to_keep=20,
            ),
        )

    return _render(program, tmp_path_factory.mktemp("ecr"))


def test_ecr_children(ecr: RenderCapture) -> None:
    assert _children(ecr, "images") == {
        "images-repository": "aws:ecr/repository:Repository",
        "images-lifecycle": "aws:ecr/lifecyclePolicy:LifecyclePolicy",
        "images-push-ci": "aws:iam/rolePolicy:RolePolicy",
        "images-pull-serving": "aws:iam/rolePolicy:RolePolicy",
    }
    assert _by_name(ecr)["images"].type == "mlops:registry:EcrRepository"


def test_ecr_repository_is_immutable_scanned_encrypted_and_retained(ecr: RenderCapture) -> None:
    repository = _by_name(ecr)["images-repository"]
    assert repository.inputs == {
        "name": "mlops/serving",
        "imageTagMutability": "IMMUTABLE",
        "imageScanningConfiguration": {"scanOnPush": True},
        "encryptionConfigurations": [{"encryptionType": "KMS"}],
        "forceDelete": False,
        "tags": {},
    }
    assert repository.retain_on_delete is True
    with_key = _by_name(ecr)["cmk-images-repository"]
    assert with_key.inputs["encryptionConfigurations"] == [
        {"encryptionType": "KMS", "kmsKey": KMS_KEY}
    ]


def test_ecr_lifecycle_policy_is_rendered_from_the_plan(ecr: RenderCapture) -> None:
    resources = _by_name(ecr)
    assert json.loads(resources["images-lifecycle"].inputs["policy"]) == ecr_lifecycle_policy(
        untagged_expiry_days=14, tagged_images_to_keep=100
    )
    assert json.loads(resources["cmk-images-lifecycle"].inputs["policy"]) == ecr_lifecycle_policy(
        untagged_expiry_days=3, tagged_images_to_keep=20
    )
    assert resources["images-lifecycle"].inputs["repository"] == "mlops/serving"


def test_ecr_grants_attach_to_the_identity_role_and_name_the_repository(ecr: RenderCapture) -> None:
    resources = _by_name(ecr)
    arn = "arn:aws:ecr:us-east-1:123456789012:repository/mlops/serving"
    push = resources["images-push-ci"]
    pull = resources["images-pull-serving"]
    assert push.inputs["role"] == "ci-identity-role"
    assert pull.inputs["role"] == "serving-identity-role"
    assert _policy(push) == {
        "Version": "2012-10-17",
        "Statement": ecr_grant_statements(mode="push", repository_arn=arn),
    }
    assert _policy(pull) == {
        "Version": "2012-10-17",
        "Statement": ecr_grant_statements(mode="pull", repository_arn=arn),
    }
    assert resources["images-repository"].urn in pull.dependencies


def test_ecr_refuses_a_non_aws_identity(tmp_path: Path) -> None:
    def program() -> None:
        identity = StaticCredentialsIdentity(
            "local", StaticCredentialsIdentityArgs(namespace="mlops", service_account_name="local")
        )
        repository = EcrRepository("images", EcrRepositoryArgs(repository_name="mlops/serving"))
        _raises(
            lambda: repository.grant_pull(identity),
            "identity",
            "StaticCredentialsIdentity",
            "IrsaIdentity",
        )

    run_program(program, project="mlops-platform", stack="test", config={})


# --- kind: distribution --------------------------------------------------------------------


@pytest.fixture(scope="module")
def in_cluster(tmp_path_factory: pytest.TempPathFactory) -> RenderCapture:
    def program() -> None:
        registry_ns = WorkloadNamespace(
            "registry-ns", WorkloadNamespaceArgs(namespace="mlops-registry")
        )
        apps = WorkloadNamespace("apps", WorkloadNamespaceArgs(namespace="mlops"))
        builder = StaticCredentialsIdentity(
            "builder",
            StaticCredentialsIdentityArgs(namespace=apps.namespace_name, service_account_name="ci"),
        )
        registry = InClusterRegistry(
            "registry",
            InClusterRegistryArgs(
                namespace=registry_ns.namespace_name,
                allowed_namespaces=[apps.namespace_name],
                allowed_node_cidrs=["172.18.0.0/16"],
                repository_name="mlops/serving",
            ),
        )
        assert isinstance(registry, ContainerRegistry)
        registry.grant_push(builder)
        # A second grant to the same identity reuses its user.
        registry.grant_pull(builder)

    return _render(program, tmp_path_factory.mktemp("registry"))


def test_in_cluster_registry_children(in_cluster: RenderCapture) -> None:
    assert _children(in_cluster, "registry") == {
        "registry-http-secret": "random:index/randomPassword:RandomPassword",
        "registry-auth": "kubernetes:core/v1:Secret",
        "registry-config": "kubernetes:core/v1:ConfigMap",
        "registry-service": "kubernetes:core/v1:Service",
        "registry-statefulset": "kubernetes:apps/v1:StatefulSet",
        "registry-network-policy": "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "registry-ci-password": "random:index/randomPassword:RandomPassword",
        "registry-ci-egress": "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "registry-ci-pull-secret": "kubernetes:core/v1:Secret",
    }
    assert _by_name(in_cluster)["registry"].type == "mlops:registry:InClusterRegistry"


def test_in_cluster_registry_grant_opens_egress_for_the_pushing_pods_only(
    in_cluster: RenderCapture,
) -> None:
    assert_client_egress(
        _by_name(in_cluster)["registry-ci-egress"],
        name="ci-to-registry",
        namespace="mlops",
        identity="ci",
        to=[
            pods_of(
                "mlops-registry",
                {"app.kubernetes.io/name": "registry", "app.kubernetes.io/instance": "registry"},
            )
        ],
        port=5000,
    )


def test_in_cluster_registry_outputs_point_at_the_service(in_cluster: RenderCapture) -> None:
    outputs = in_cluster.outputs[_by_name(in_cluster)["registry"].urn]
    host = "registry.mlops-registry.svc.cluster.local"
    assert outputs == {
        "repository_url": f"{host}:5000/mlops/serving",
        "registry_host": f"{host}:5000",
        "service_host": host,
    }


def test_in_cluster_registry_pod_is_restricted_pinned_and_persistent(
    in_cluster: RenderCapture,
) -> None:
    statefulset = _by_name(in_cluster)["registry-statefulset"].inputs
    pod = statefulset["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"] == IMAGES["registry"] == "registry:3.0.0"
    assert container["args"] == ["serve", "/etc/distribution/config.yml"]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"memory": "512Mi"},
    }
    assert statefulset["spec"]["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
    }
    claim = statefulset["spec"]["volumeClaimTemplates"][0]
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert {"name": "data", "mountPath": "/var/lib/registry"} in container["volumeMounts"]
    # The HTTP secret comes from the Secret, never from the manifest.
    assert container["env"] == [
        {
            "name": "REGISTRY_HTTP_SECRET",
            "valueFrom": {"secretKeyRef": {"name": "registry-auth", "key": "http-secret"}},
        }
    ]


def test_in_cluster_registry_always_authenticates(in_cluster: RenderCapture) -> None:
    resources = _by_name(in_cluster)
    config = json.loads(resources["registry-config"].inputs["data"]["config.yml"])
    assert config == distribution_config(realm="registry")
    auth = resources["registry-auth"].inputs
    assert auth["stringData"] == {"htpasswd": "[secret]", "http-secret": "[secret]"}
    volumes = resources["registry-statefulset"].inputs["spec"]["template"]["spec"]["volumes"]
    assert {
        "name": "auth",
        "secret": {
            "secretName": "registry-auth",
            "items": [{"key": "htpasswd", "path": "htpasswd"}],
        },
    } in volumes


def test_in_cluster_registry_pull_secret_lands_in_the_identity_namespace(
    in_cluster: RenderCapture,
) -> None:
    secret = _by_name(in_cluster)["registry-ci-pull-secret"]
    assert secret.inputs["metadata"]["namespace"] == "mlops"
    assert secret.inputs["metadata"]["name"] == "ci-registry"
    assert secret.inputs["type"] == "kubernetes.io/dockerconfigjson"
    assert secret.inputs["stringData"] == {".dockerconfigjson": "[secret]"}


def test_in_cluster_registry_network_policy_admits_only_clients(in_cluster: RenderCapture) -> None:
    policy = _by_name(in_cluster)["registry-network-policy"].inputs["spec"]
    assert policy == {
        "podSelector": {
            "matchLabels": {
                "app.kubernetes.io/name": "registry",
                "app.kubernetes.io/instance": "registry",
            }
        },
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [
            {
                "from": [
                    {
                        "namespaceSelector": {
                            "matchLabels": {"kubernetes.io/metadata.name": "mlops"}
                        }
                    },
                    {"ipBlock": {"cidr": "172.18.0.0/16"}},
                ],
                "ports": [{"protocol": "TCP", "port": 5000}],
            }
        ],
        "egress": [],
    }


def test_in_cluster_registry_objects_wait_for_their_namespace(in_cluster: RenderCapture) -> None:
    resources = _by_name(in_cluster)
    registry_ns = resources["registry-ns-namespace"].urn
    apps_ns = resources["apps-namespace"].urn
    for name in ("registry-auth", "registry-config", "registry-service", "registry-statefulset"):
        assert registry_ns in resources[name].dependencies, name
    assert apps_ns in resources["registry-ci-pull-secret"].dependencies


def test_stateful_resources_are_retained_by_default(
    ecr: RenderCapture, in_cluster: RenderCapture
) -> None:
    """Images outlive the stack; nothing else is left behind on destroy."""
    assert {r.name for r in ecr.registrations if r.retain_on_delete} == {
        "images-repository",
        "cmk-images-repository",
    }
    statefulsets = [r for r in in_cluster.registrations if r.type.endswith(":StatefulSet")]
    assert [s.name for s in statefulsets] == ["registry-statefulset"]
    assert statefulsets[0].inputs["spec"]["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
    }
