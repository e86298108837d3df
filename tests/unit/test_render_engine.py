"""The render engine records exactly what a program registers and writes it faithfully."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest
import yaml

from mlops_blueprints.render import run_program, write_rendered
from mlops_blueprints.render._capture import SECRET_PLACEHOLDER

pytestmark = pytest.mark.unit


class _Toy(pulumi.ComponentResource):
    def __init__(self, name: str) -> None:
        super().__init__("mlops:test:Toy", name, None, None)
        child = pulumi.ResourceOptions(parent=self)
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket="toy-bucket",
            opts=pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True),
        )
        role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": []}),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.name,
            policy=bucket.arn.apply(
                lambda arn: json.dumps({"Statement": [{"Effect": "Allow", "Resource": arn}]})
            ),
            opts=child,
        )
        namespace = k8s.core.v1.Namespace(f"{name}-ns", metadata={"name": "toy"}, opts=child)
        k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata={"name": "web", "namespace": namespace.metadata.name},
            spec={
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
                },
            },
            opts=child,
        )
        k8s.core.v1.Secret(
            f"{name}-secret",
            metadata={"name": "creds", "namespace": "toy"},
            string_data={"token": pulumi.Output.secret("hunter2")},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace]),
        )
        k8s.helm.v3.Release(
            f"{name}-release",
            name="toy",
            chart="karpenter",
            version="1.14.1",
            repository_opts={"repo": "oci://public.ecr.aws/karpenter"},
            namespace="kube-system",
            values={"replicas": 1},
            opts=child,
        )
        self.register_outputs({"bucket": bucket.bucket})


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path]:
    def program() -> None:
        _Toy("toy")
        pulumi.export("level", pulumi.Config("mlops-platform").require("level"))

    capture = run_program(
        program, project="mlops-platform", stack="kind", config={"mlops-platform:level": "3"}
    )
    out = tmp_path_factory.mktemp("toy")
    write_rendered(capture, out)
    return capture, out


def test_inventory_lists_every_registration_with_its_options(toy: tuple[object, Path]) -> None:
    _, out = toy
    inventory = json.loads((out / "inventory.json").read_text())
    by_name = {entry["name"]: entry for entry in inventory}
    assert sorted(by_name) == sorted(
        [
            "toy",
            "toy-bucket",
            "toy-role",
            "toy-policy",
            "toy-ns",
            "toy-deployment",
            "toy-secret",
            "toy-release",
        ]
    )
    assert len(inventory) == 8
    component = by_name["toy"]
    assert component["type"] == "mlops:test:Toy"
    assert component["custom"] is False
    assert component["urn"] == "urn:pulumi:kind::mlops-platform::mlops:test:Toy::toy"
    assert component["parent"] == (
        "urn:pulumi:kind::mlops-platform::pulumi:pulumi:Stack::mlops-platform-kind"
    )
    bucket = by_name["toy-bucket"]
    assert bucket["custom"] is True
    assert bucket["protect"] is True
    assert bucket["retainOnDelete"] is True
    assert bucket["parent"] == component["urn"]
    assert (
        bucket["urn"]
        == "urn:pulumi:kind::mlops-platform::mlops:test:Toy$aws:s3/bucket:Bucket::toy-bucket"
    )
    assert bucket["inputs"] == {"bucket": "toy-bucket"}
    # Provider SDK type renames (BucketV2 -> Bucket) are not our aliases.
    assert bucket["aliases"] == []
    # Explicit depends_on and implicit Output dependencies are both recorded.
    assert by_name["toy-ns"]["urn"] in by_name["toy-secret"]["dependencies"]
    assert by_name["toy-ns"]["urn"] in by_name["toy-deployment"]["dependencies"]
    assert by_name["toy-role"]["urn"] in by_name["toy-policy"]["dependencies"]


def test_numbers_are_ints_and_secrets_masked(toy: tuple[object, Path]) -> None:
    _, out = toy
    manifests = {p.name: p for p in (out / "manifests").glob("*.yaml")}
    deployment_file = next(p for n, p in manifests.items() if "deployment-toy-web" in n)
    text = deployment_file.read_text()
    assert text.startswith(
        "# source: urn:pulumi:kind::mlops-platform::mlops:test:Toy$kubernetes:apps/v1:Deployment::toy-deployment\n"
    )
    deployment = yaml.safe_load(text)
    assert list(deployment)[:3] == ["apiVersion", "kind", "metadata"]
    assert deployment["spec"]["replicas"] == 2
    assert isinstance(deployment["spec"]["replicas"], int)
    secret_file = next(p for n, p in manifests.items() if "secret-toy-creds" in n)
    secret = yaml.safe_load(secret_file.read_text())
    assert secret["stringData"] == {"token": SECRET_PLACEHOLDER}
    assert "hunter2" not in (out / "inventory.json").read_text()
    assert len(manifests) == 3  # Namespace, Deployment, Secret; the Helm release is not an object


def test_helm_iam_graph_and_outputs(toy: tuple[object, Path]) -> None:
    _, out = toy
    release = yaml.safe_load((out / "helm" / "toy.yaml").read_text())
    assert release["chart"] == "karpenter"
    assert release["version"] == "1.14.1"
    assert release["repository"] == "oci://public.ecr.aws/karpenter"
    assert release["namespace"] == "kube-system"
    assert release["values"] == {"replicas": 1}
    policy = json.loads((out / "iam" / "toy-policy.policy.json").read_text())
    assert policy["type"] == "aws:iam/rolePolicy:RolePolicy"
    assert policy["document"]["Statement"][0]["Resource"] == "arn:aws:s3:::toy-bucket"
    trust = json.loads((out / "iam" / "toy-role.assumerolepolicy.json").read_text())
    assert trust["document"] == {"Version": "2012-10-17", "Statement": []}
    graph = (out / "graph.mmd").read_text()
    assert graph.startswith("graph TD\n")
    assert '["toy<br/><i>Toy</i>"]' in graph
    assert json.loads((out / "outputs.json").read_text()) == {"level": "3"}


def test_program_errors_propagate_unchanged() -> None:
    def program() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        run_program(program, project="p", stack="s", config={})


def test_runs_are_isolated(toy: tuple[object, Path]) -> None:
    def program() -> None:
        aws.s3.Bucket("only", bucket="only-bucket")

    capture = run_program(program, project="other", stack="dev", config={})
    assert [r.name for r in capture.registrations] == ["only"]
    assert capture.registrations[0].urn == "urn:pulumi:dev::other::aws:s3/bucket:Bucket::only"


def test_data_source_calls_are_answered() -> None:
    def program() -> None:
        identity = aws.get_caller_identity_output()
        pulumi.export("account", identity.account_id)

    capture = run_program(program, project="p", stack="s", config={})
    assert capture.stack_outputs == {"account": "123456789012"}


def test_renders_are_byte_identical_across_processes(tmp_path: Path) -> None:
    """Registration, dependency and input-key order vary with the hash seed; files must not."""
    outputs = []
    for seed in ("1", "2"):
        out = tmp_path / seed
        command = [sys.executable, "-m", "mlops_blueprints.cli", "render", "--level", "3"]
        subprocess.run(
            [*command, "--target", "aws", "--out", str(out)],
            check=True,
            capture_output=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        outputs.append(
            {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
        )
    assert len(outputs[0]) > 40
    assert outputs[0] == outputs[1]
