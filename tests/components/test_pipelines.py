"""Kubeflow Pipelines standalone: upstream manifests by pinned URL, platform configuration ours.

The upstream install is two opaque kustomize Directory resources under mocks; what the
component adds (launcher configuration, runner binding, grants) is rendered and checked.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from mlops_blueprints.components.identity import (
    StaticCredentialsIdentity,
    StaticCredentialsIdentityArgs,
)
from mlops_blueprints.components.object_store import S3Bucket, S3BucketArgs
from mlops_blueprints.components.pipelines import (
    Pipelines,
    PipelinesArgs,
    compile_probe_pipeline,
    compiled_pipeline_root,
    launcher_config,
    pipeline_root,
    upstream_kustomize_url,
    verify_pipeline_root,
)

from mlops_blueprints.check import run_checks
from mlops_blueprints.render import RenderCapture, run_program, write_rendered
from mlops_blueprints.versions import KFP_VERSION
from tests.components._helpers import by_name, children, irsa, raises

pytestmark = pytest.mark.unit

KFP = "https://github.com/kubeflow/pipelines/manifests/kustomize"


class _FakeStore:
    """An in-cluster S3-compatible store that records grants (stands in for the kind bucket)."""

    def __init__(self) -> None:
        self.grants: list[tuple[str, str, str]] = []

    @property
    def bucket_name(self) -> pulumi.Output[str]:
        return pulumi.Output.from_input("mlops-lake")

    @property
    def uri(self) -> pulumi.Output[str]:
        return pulumi.Output.from_input("s3://mlops-lake")

    @property
    def endpoint_url(self) -> pulumi.Output[str]:
        return pulumi.Output.from_input("http://seaweedfs.mlops-data.svc.cluster.local:8333")

    def grant_read(self, identity: Any, *, prefix: str = "") -> None:
        self.grants.append(("read", identity.identity_name, prefix))

    def grant_write(self, identity: Any, *, prefix: str = "") -> None:
        self.grants.append(("write", identity.identity_name, prefix))


def _render_and_check(program: Any, out: Path) -> tuple[RenderCapture, list[str]]:
    capture = run_program(program, project="mlops-platform", stack="test", config={})
    write_rendered(capture, out)
    report = run_checks(out, upstream=Path(os.environ["MLOPS_BP_UPSTREAM_DIR"]))
    assert all(f.check == "ordering" for f in report.findings), report.findings
    return capture, sorted(
        f.object for f in report.findings if "needs Namespace kubeflow" in f.message
    )


# `mlops-bp check` accepts the kustomize Directory (inventory only, no manifest), but cannot
# see the Namespace it creates, so every object in `kubeflow` is reported as lacking one.
# These are the only findings; no schema, CRD or policy finding is raised.
KUBEFLOW_ORDERING_FINDINGS = [
    "ConfigMap kubeflow/kfp-launcher",
    "RoleBinding kubeflow/kfp-runner-pipeline-runner",
]


def _aws_program() -> None:
    lake = S3Bucket("lake", S3BucketArgs(bucket_name="acme-mlops-lake"))
    runner = irsa("kubeflow", name="kfp-runner")
    Pipelines("kfp", PipelinesArgs(pipeline_root_store=lake, runner_identity=runner))


def _kind_program(store: _FakeStore) -> Any:
    def program() -> None:
        runner = StaticCredentialsIdentity(
            "runner",
            StaticCredentialsIdentityArgs(namespace="kubeflow", service_account_name="kfp-runner"),
        )
        Pipelines(
            "kfp",
            PipelinesArgs(
                pipeline_root_store=store,  # type: ignore[arg-type]
                runner_identity=runner,
                pipeline_root_prefix="runs/",
            ),
        )

    return program


# --- pure planning ------------------------------------------------------------------------


def test_upstream_urls_are_pinned_to_the_release_tag() -> None:
    assert upstream_kustomize_url("manifests/kustomize/env/platform-agnostic") == (
        f"{KFP}/env/platform-agnostic?ref={KFP_VERSION}"
    )
    assert KFP_VERSION.count(".") == 2
    assert "latest" not in KFP_VERSION


def test_pipeline_root_is_under_the_prefix_of_the_bucket() -> None:
    assert pipeline_root("acme-mlops-lake", "pipelines/") == "s3://acme-mlops-lake/pipelines"
    assert pipeline_root("b", "team/a/") == "s3://b/team/a"


def test_launcher_config_on_aws_uses_the_web_identity_chain() -> None:
    data = launcher_config(
        bucket_name="acme-mlops-lake",
        prefix="pipelines/",
        endpoint_url="https://s3.eu-west-1.amazonaws.com",
        credentials_secret_name=None,
    )
    assert data["defaultPipelineRoot"] == "s3://acme-mlops-lake/pipelines"
    assert yaml.safe_load(data["providers"]) == {
        "s3": {
            "default": {
                "endpoint": "s3.eu-west-1.amazonaws.com",
                "region": "eu-west-1",
                "disableSSL": False,
                "forcePathStyle": False,
                "credentials": {"fromEnv": True},
            }
        }
    }


def test_launcher_config_in_cluster_uses_the_identity_secret() -> None:
    data = launcher_config(
        bucket_name="lake",
        prefix="runs/",
        endpoint_url="http://seaweedfs.data.svc.cluster.local:8333",
        credentials_secret_name="kfp-runner-credentials",
    )
    assert yaml.safe_load(data["providers"])["s3"]["default"] == {
        "endpoint": "seaweedfs.data.svc.cluster.local:8333",
        "region": "us-east-1",
        "disableSSL": True,
        "forcePathStyle": True,
        "credentials": {
            "fromEnv": False,
            "secretRef": {
                "secretName": "kfp-runner-credentials",
                "accessKeyKey": "AWS_ACCESS_KEY_ID",
                "secretKeyKey": "AWS_SECRET_ACCESS_KEY",
            },
        },
    }


def test_launcher_config_rejects_a_non_http_endpoint() -> None:
    with pytest.raises(ValueError, match="http"):
        launcher_config(
            bucket_name="b",
            prefix="p/",
            endpoint_url="s3.amazonaws.com",
            credentials_secret_name=None,
        )


# --- compile ------------------------------------------------------------------------------


def test_compiled_pipeline_carries_the_component_pipeline_root() -> None:
    root = pipeline_root("acme-mlops-lake", "pipelines/")
    compiled = verify_pipeline_root(root)
    assert compiled_pipeline_root(compiled) == "s3://acme-mlops-lake/pipelines"
    assert "pipeline-root-probe" in compiled


def test_compiled_root_reader_sees_a_different_root() -> None:
    compiled = compile_probe_pipeline("s3://other-bucket/x")
    assert compiled_pipeline_root(compiled) == "s3://other-bucket/x"
    assert compiled_pipeline_root("pipelineInfo: {name: p}\n") is None


# --- rendered component -------------------------------------------------------------------


def test_aws_children_and_what_check_reports(tmp_path: Path) -> None:
    capture, findings = _render_and_check(_aws_program, tmp_path)
    assert children(capture, "kfp") == {
        "kfp-cluster-scoped": "kubernetes:kustomize/v2:Directory",
        "kfp-install": "kubernetes:kustomize/v2:Directory",
        "kfp-launcher-config": "kubernetes:core/v1:ConfigMapPatch",
        "kfp-runner-binding": "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
    }
    assert findings == sorted(
        [
            *KUBEFLOW_ORDERING_FINDINGS,
            "NetworkPolicy kubeflow/kfp-runner-aws-apis",
            "ServiceAccount kubeflow/kfp-runner",
        ]
    )


def test_upstream_directories_are_pinned_and_ordered(tmp_path: Path) -> None:
    capture, _ = _render_and_check(_aws_program, tmp_path)
    regs = by_name(capture)
    cluster, install = regs["kfp-cluster-scoped"], regs["kfp-install"]
    assert cluster.inputs["directory"] == (f"{KFP}/cluster-scoped-resources?ref={KFP_VERSION}")
    assert install.inputs["directory"] == f"{KFP}/env/platform-agnostic?ref={KFP_VERSION}"
    assert cluster.urn in install.dependencies
    inventory = (tmp_path / "inventory.json").read_text()
    assert f"env/platform-agnostic?ref={KFP_VERSION}" in inventory


def test_launcher_patch_points_at_the_lake_with_web_identity(tmp_path: Path) -> None:
    capture, _ = _render_and_check(_aws_program, tmp_path)
    patch = by_name(capture)["kfp-launcher-config"]
    assert patch.inputs["metadata"]["name"] == "kfp-launcher"
    assert patch.inputs["metadata"]["namespace"] == "kubeflow"
    assert patch.inputs["metadata"]["annotations"] == {"pulumi.com/patchForce": "true"}
    assert by_name(capture)["kfp-install"].urn in patch.dependencies
    data = patch.inputs["data"]
    assert data["defaultPipelineRoot"] == "s3://acme-mlops-lake/pipelines"
    assert yaml.safe_load(data["providers"])["s3"]["default"]["credentials"] == {"fromEnv": True}


def test_runner_identity_is_bound_to_the_upstream_runner_role(tmp_path: Path) -> None:
    capture, _ = _render_and_check(_aws_program, tmp_path)
    binding = by_name(capture)["kfp-runner-binding"]
    assert binding.inputs["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "pipeline-runner",
    }
    assert binding.inputs["subjects"] == [
        {"kind": "ServiceAccount", "name": "kfp-runner", "namespace": "kubeflow"}
    ]


def test_runner_gets_read_write_on_the_prefix_only(tmp_path: Path) -> None:
    capture, _ = _render_and_check(_aws_program, tmp_path)
    policies = [r for r in capture.registrations if r.type == "aws:iam/rolePolicy:RolePolicy"]
    resources = {
        resource
        for policy in policies
        for statement in yaml.safe_load(policy.inputs["policy"])["Statement"]
        for resource in (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
    }
    assert policies
    object_arns = {r for r in resources if r.endswith("*")}
    assert object_arns == {"arn:aws:s3:::acme-mlops-lake/pipelines/*"}


def test_in_cluster_store_uses_the_identity_credentials_secret(tmp_path: Path) -> None:
    store = _FakeStore()
    capture, findings = _render_and_check(_kind_program(store), tmp_path)
    assert KUBEFLOW_ORDERING_FINDINGS[0] in findings
    assert store.grants == [("read", "kfp-runner", "runs/"), ("write", "kfp-runner", "runs/")]
    data = by_name(capture)["kfp-launcher-config"].inputs["data"]
    assert data["defaultPipelineRoot"] == "s3://mlops-lake/runs"
    default = yaml.safe_load(data["providers"])["s3"]["default"]
    assert default["endpoint"] == "seaweedfs.mlops-data.svc.cluster.local:8333"
    assert default["credentials"]["secretRef"]["secretName"] == "kfp-runner-credentials"


def test_grants_can_be_left_to_the_caller(tmp_path: Path) -> None:
    store = _FakeStore()

    def program() -> None:
        runner = irsa("kubeflow", name="kfp-runner")
        Pipelines(
            "kfp",
            PipelinesArgs(
                pipeline_root_store=store,  # type: ignore[arg-type]
                runner_identity=runner,
                grant_runner_access=False,
            ),
        )

    _render_and_check(program, tmp_path)
    assert store.grants == []


# --- bad input ----------------------------------------------------------------------------


def _args(**overrides: Any) -> Any:
    def build() -> PipelinesArgs:
        fields: dict[str, Any] = {
            "pipeline_root_store": _FakeStore(),
            "runner_identity": _StubIdentity(),
        }
        fields.update(overrides)
        return PipelinesArgs(**fields)

    return build


class _StubIdentity:
    identity_name = "kfp-runner"
    pod_labels = {"mlops-blueprints.io/identity": "kfp-runner"}
    credentials_secret_name = None

    @property
    def namespace(self) -> pulumi.Output[str]:
        return pulumi.Output.from_input("kubeflow")

    @property
    def service_account_name(self) -> pulumi.Output[str]:
        return pulumi.Output.from_input("kfp-runner")


@pytest.mark.parametrize(
    ("field", "value", "fix"),
    [
        ("pipeline_root_prefix", "pipelines", "End the prefix with '/'"),
        ("pipeline_root_prefix", "/pipelines/", "relative key prefix"),
        ("pipeline_root_prefix", "runs/*/", "without wildcards"),
        ("pipeline_root_prefix", "", "their own prefix"),
        ("namespace", "kfp", "cluster-wide roles"),
        ("pipeline_root_store", "s3://bucket", "bucket_name, endpoint_url"),
        ("runner_identity", "pipeline-runner", "workload identity"),
        ("labels", {"": "x"}, "non-empty string keys"),
    ],
)
def test_bad_input_is_rejected_before_any_resource(field: str, value: Any, fix: str) -> None:
    expected = value
    raises(_args(**{field: value}), field, expected, fix)
