"""API access: no wildcard roles, no cluster-admin service accounts, tokens only where needed."""

from __future__ import annotations

from typing import Any

import pytest
from mlops_blueprints.policies._analyze import AnalyzedResource
from mlops_blueprints.policies.kubernetes import NEEDS_API_ACCESS_ANNOTATION, RULES

from ._helpers import assert_complies, assert_violates, resource
from ._kubernetes import (
    CLUSTER_SERVING_RUNTIME,
    INFERENCE_SERVICE,
    SERVICE_ACCOUNT,
    SERVING_RUNTIME,
    TEMPLATED_KINDS,
    container,
    pod_spec,
    workload,
)

pytestmark = pytest.mark.policy

RULE = {rule.name: rule for rule in RULES}
WILDCARDS = RULE["k8s-rbac-roles-without-wildcards"]
CLUSTER_ADMIN = RULE["k8s-service-accounts-not-cluster-admin"]
POD_TOKENS = RULE["k8s-pods-skip-service-account-token"]
SA_TOKENS = RULE["k8s-service-accounts-skip-token-automount"]

RBAC = "kubernetes:rbac.authorization.k8s.io/v1"
READ_PODS: dict[str, Any] = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}


def role(kind: str, *rules: dict[str, Any]) -> AnalyzedResource:
    metadata: dict[str, Any] = {"name": "reader"}
    if kind == "Role":
        metadata["namespace"] = "mlops"
    return resource(
        f"{RBAC}:{kind}", f"reader-{kind.lower()}", {"metadata": metadata, "rules": list(rules)}
    )


@pytest.mark.parametrize("kind", ["Role", "ClusterRole"])
def test_named_verbs_and_resources_comply(kind: str) -> None:
    # apiGroups are not the rule's concern: a wildcard group with named resources is narrow.
    assert_complies(WILDCARDS, role(kind, READ_PODS, {**READ_PODS, "apiGroups": ["*"]}))


@pytest.mark.parametrize("kind", ["Role", "ClusterRole"])
@pytest.mark.parametrize(
    ("rule", "fragment"),
    [
        ({**READ_PODS, "verbs": ["*"]}, "rule 1 grants verbs *"),
        ({**READ_PODS, "resources": ["*"]}, "rule 1 covers resources *"),
        ({**READ_PODS, "resources": ["pods/*"]}, "rule 1 covers resources pods/*"),
        ({**READ_PODS, "resources": ["*/scale"]}, "*/scale"),
    ],
)
def test_wildcard_verbs_or_resources_are_findings(
    kind: str, rule: dict[str, Any], fragment: str
) -> None:
    found = assert_violates(WILDCARDS, role(kind, READ_PODS, rule))
    assert f"{kind} 'reader'" in found.message
    assert fragment in found.message


def binding(
    kind: str, role_kind: str, role_name: str, *subjects: dict[str, Any]
) -> AnalyzedResource:
    metadata: dict[str, Any] = {"name": "runner"}
    if kind == "RoleBinding":
        metadata["namespace"] = "kubeflow"
    return resource(
        f"{RBAC}:{kind}",
        f"runner-{kind.lower()}",
        {
            "metadata": metadata,
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": role_kind,
                "name": role_name,
            },
            "subjects": list(subjects),
        },
    )


RUNNER = {"kind": "ServiceAccount", "name": "pipeline-runner-mlops", "namespace": "kubeflow"}


@pytest.mark.parametrize("kind", ["RoleBinding", "ClusterRoleBinding"])
@pytest.mark.parametrize(
    "subject",
    [
        RUNNER,
        {
            "kind": "Group",
            "name": "system:serviceaccounts",
            "apiGroup": "rbac.authorization.k8s.io",
        },
        {"kind": "Group", "name": "system:serviceaccounts:kubeflow"},
    ],
    ids=["service-account", "all-service-accounts", "namespace-service-accounts"],
)
def test_cluster_admin_for_service_accounts_is_a_finding(
    kind: str, subject: dict[str, Any]
) -> None:
    found = assert_violates(CLUSTER_ADMIN, binding(kind, "ClusterRole", "cluster-admin", subject))
    assert f"{kind} 'runner' grants cluster-admin" in found.message
    assert str(subject["name"]) in found.message


@pytest.mark.parametrize(
    ("role_kind", "role_name", "subject"),
    [
        ("Role", "pipeline-runner", RUNNER),  # as Pipelines binds its runner
        ("ClusterRole", "view", RUNNER),
        ("Role", "cluster-admin", RUNNER),  # a namespaced Role that happens to share the name
        ("ClusterRole", "cluster-admin", {"kind": "User", "name": "alice"}),
        ("ClusterRole", "cluster-admin", {"kind": "Group", "name": "platform-admins"}),
    ],
)
def test_other_bindings_comply(role_kind: str, role_name: str, subject: dict[str, Any]) -> None:
    assert_complies(CLUSTER_ADMIN, binding("RoleBinding", role_kind, role_name, subject))


# --- service-account tokens -------------------------------------------------------------


@pytest.mark.parametrize("kind", TEMPLATED_KINDS)
def test_pods_that_opt_out_of_the_token_comply(kind: str) -> None:
    assert_complies(POD_TOKENS, workload(kind))


@pytest.mark.parametrize("kind", TEMPLATED_KINDS)
@pytest.mark.parametrize("setting", [None, True])
def test_pods_that_mount_the_token_are_findings(kind: str, setting: bool | None) -> None:
    spec = pod_spec()
    if setting is None:
        del spec["automountServiceAccountToken"]
    else:
        spec["automountServiceAccountToken"] = setting
    found = assert_violates(POD_TOKENS, workload(kind, spec))
    assert f"mounts a service-account token (automountServiceAccountToken is {setting!r})" in (
        found.message
    )
    assert NEEDS_API_ACCESS_ANNOTATION in found.message


@pytest.mark.parametrize("kind", TEMPLATED_KINDS)
def test_an_annotated_pod_may_mount_the_token(kind: str) -> None:
    spec = pod_spec(automountServiceAccountToken=True)
    reason = {NEEDS_API_ACCESS_ANNOTATION: "watches InferenceServices"}
    assert_complies(POD_TOKENS, workload(kind, spec, pod_annotations=reason))


def test_the_annotation_may_sit_on_the_workload_object() -> None:
    spec = pod_spec(automountServiceAccountToken=True)
    reason = {NEEDS_API_ACCESS_ANNOTATION: "leader election"}
    assert_complies(POD_TOKENS, workload("kubernetes:apps/v1:Deployment", spec, annotations=reason))


def test_an_empty_reason_does_not_count() -> None:
    spec = pod_spec(automountServiceAccountToken=True)
    blank = {NEEDS_API_ACCESS_ANNOTATION: " "}
    assert_violates(
        POD_TOKENS, workload("kubernetes:apps/v1:Deployment", spec, pod_annotations=blank)
    )


@pytest.mark.parametrize("kind", [SERVING_RUNTIME, CLUSTER_SERVING_RUNTIME])
def test_serving_runtimes_leave_the_token_to_each_inference_service(kind: str) -> None:
    runtime = workload(kind, {"containers": [container("kserve-container")]}, namespace=None)
    assert_complies(POD_TOKENS, runtime)


def test_every_inference_service_component_is_checked() -> None:
    isvc = workload(INFERENCE_SERVICE, name="churn")
    props = dict(isvc.props)
    props["spec"] = {**props["spec"], "transformer": {"containers": [container("t")]}}
    subject = AnalyzedResource(type=isvc.type, name=isvc.name, urn=isvc.urn, props=props)
    found = assert_violates(POD_TOKENS, subject)
    assert "InferenceService mlops/churn transformer" in found.message
    assert "predictor" not in found.message


def service_account(
    automount: bool | None, annotations: dict[str, str] | None = None
) -> AnalyzedResource:
    props: dict[str, Any] = {"metadata": {"name": "mlflow", "namespace": "mlops"}}
    if automount is not None:
        props["automountServiceAccountToken"] = automount
    if annotations:
        props["metadata"]["annotations"] = annotations
    return resource(SERVICE_ACCOUNT, "mlflow-service-account", props)


def test_a_service_account_without_token_automount_complies() -> None:
    # As the identity components create them (IRSA role annotation included).
    role_arn = {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/mlflow"}
    assert_complies(SA_TOKENS, service_account(False, role_arn))


@pytest.mark.parametrize("automount", [None, True])
def test_a_service_account_that_hands_out_its_token_is_a_finding(automount: bool | None) -> None:
    found = assert_violates(SA_TOKENS, service_account(automount))
    assert "ServiceAccount mlops/mlflow" in found.message


def test_an_annotated_service_account_may_automount() -> None:
    reason = {NEEDS_API_ACCESS_ANNOTATION: "Argo executor reports step results"}
    assert_complies(SA_TOKENS, service_account(True, reason))
