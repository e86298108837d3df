"""Helpers shared by the component tests: render and check, look-ups, error assertions."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mlops_blueprints.components.identity import IrsaIdentity, IrsaIdentityArgs

from mlops_blueprints.check import run_checks
from mlops_blueprints.errors import BlueprintConfigError
from mlops_blueprints.render import Registration, RenderCapture, run_program, write_rendered

OIDC_ARN = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE"
OIDC_URL = "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE"


def render_checked(program: Callable[[], object], out: Path) -> RenderCapture:
    """Render ``program`` under mocks into ``out`` and require `mlops-bp check` to pass."""
    capture = run_program(program, project="mlops-platform", stack="test", config={})
    write_rendered(capture, out)
    report = run_checks(out, upstream=Path(os.environ["MLOPS_BP_UPSTREAM_DIR"]))
    assert report.ok, [f"{f.object}: {f.field}: {f.message}" for f in report.findings]
    return capture


def by_name(capture: RenderCapture) -> dict[str, Registration]:
    names = [r.name for r in capture.registrations]
    assert len(names) == len(set(names)), "resource names must be unique"
    return {r.name: r for r in capture.registrations}


def children(capture: RenderCapture, parent: str) -> dict[str, str]:
    urn = by_name(capture)[parent].urn
    return {r.name: r.type for r in capture.registrations if r.parent == urn}


def raises(call: Callable[[], object], field: str, value: object, fix: str) -> None:
    with pytest.raises(BlueprintConfigError) as caught:
        call()
    assert caught.value.field == field
    assert caught.value.value == value
    assert fix in caught.value.fix


def irsa(namespace: object, name: str = "ci") -> IrsaIdentity:
    return IrsaIdentity(
        f"{name}-identity",
        IrsaIdentityArgs(
            namespace=namespace,  # type: ignore[arg-type]
            service_account_name=name,
            oidc_provider_arn=OIDC_ARN,
            oidc_issuer_url=OIDC_URL,
        ),
    )


def assert_client_egress(
    policy: Registration,
    *,
    name: str,
    namespace: str,
    identity: str,
    to: list[dict[str, Any]],
    port: int,
) -> None:
    """A grant's egress NetworkPolicy: only the identity's pods, only to the service's port."""
    assert policy.type == "kubernetes:networking.k8s.io/v1:NetworkPolicy"
    assert policy.inputs["metadata"]["name"] == name
    assert policy.inputs["metadata"]["namespace"] == namespace
    assert policy.inputs["spec"] == {
        "podSelector": {"matchLabels": {"mlops-blueprints.io/identity": identity}},
        "policyTypes": ["Egress"],
        "egress": [{"to": to, "ports": [{"protocol": "TCP", "port": port}]}],
    }


def pods_of(namespace: str, selector: dict[str, str]) -> dict[str, Any]:
    """The NetworkPolicy peer for the ``selector`` pods of ``namespace``."""
    return {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
        "podSelector": {"matchLabels": selector},
    }


def stand_in_operator(name: str = "prometheus") -> Any:
    """A kube-prometheus-stack release standing in for the one that installs the monitoring
    CRDs, for components that take ``prometheus_operator``."""
    import pulumi_kubernetes as k8s  # noqa: PLC0415 - only some tests render Kubernetes objects

    from mlops_blueprints import versions  # noqa: PLC0415

    chart = versions.CHARTS["kube-prometheus-stack"]
    return k8s.helm.v3.Release(
        name,
        name=name,
        namespace="monitoring",
        create_namespace=True,
        chart=chart.chart,
        version=chart.version,
        repository_opts={"repo": chart.repository},
        values={},
    )


def aws_model_registry(artifacts_bucket: str) -> tuple[Any, Any]:
    """An MLflow ModelRegistry on RDS and an S3 artifacts bucket (``artifacts``), as the aws
    target wires it: returns (registry, artifacts bucket)."""
    from mlops_blueprints.components.database import (  # noqa: PLC0415
        RdsPostgres,
        RdsPostgresArgs,
    )
    from mlops_blueprints.components.kubernetes import (  # noqa: PLC0415
        WorkloadNamespace,
        WorkloadNamespaceArgs,
    )
    from mlops_blueprints.components.model_registry import (  # noqa: PLC0415
        ModelRegistry,
        ModelRegistryArgs,
    )
    from mlops_blueprints.components.object_store import S3Bucket, S3BucketArgs  # noqa: PLC0415

    apps = WorkloadNamespace("apps", WorkloadNamespaceArgs(namespace="mlops"))
    server = irsa(apps.namespace_name, "mlflow")
    database = RdsPostgres(
        "tracking-db",
        RdsPostgresArgs(
            identifier="acme-db",
            vpc_id="vpc-0abc",
            subnet_ids=["subnet-a", "subnet-b"],
            allowed_cidr_blocks=["10.0.0.0/16"],
        ),
    )
    artifacts = S3Bucket("artifacts", S3BucketArgs(bucket_name=artifacts_bucket))
    database.grant_connect(server)
    artifacts.grant_read(server, prefix="mlflow/")
    artifacts.grant_write(server, prefix="mlflow/")
    registry = ModelRegistry(
        "registry",
        ModelRegistryArgs(
            namespace=apps.namespace_name,
            identity=server,
            database=database,
            artifact_store=artifacts,
        ),
    )
    return registry, artifacts
