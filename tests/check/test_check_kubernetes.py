"""Built-in Kubernetes objects against the bundled OpenAPI schemas (strict)."""

from __future__ import annotations

import copy
from typing import Any

import kubernetes_validate
import pytest

from mlops_blueprints.check._kube import check_builtin_objects, resolve_schema_version
from mlops_blueprints.check._rendered import Manifest
from mlops_blueprints.errors import UsageError
from tests.check._render import RenderedDirBuilder, describe, errors

pytestmark = pytest.mark.schema


def deployment(**container_extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "trainer", "namespace": "ml", "labels": {"app": "trainer"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "trainer"}},
            "template": {
                "metadata": {"labels": {"app": "trainer"}},
                "spec": {
                    "containers": [
                        {
                            "name": "trainer",
                            "image": "python:3.12-slim",
                            "imagePullPolicy": "IfNotPresent",
                            "ports": [{"containerPort": 8080, "name": "http"}],
                            "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}},
                            **container_extra,
                        }
                    ]
                },
            },
        },
    }


def test_unknown_field_in_deployment_is_an_error_naming_object_and_field(
    builder: RenderedDirBuilder, check: Any
) -> None:
    namespace = builder.namespace("ml")
    builder.kube(deployment(imagePullPolicyy="Always"), dependencies=[namespace])

    report = check(builder)

    found = errors(report, "kubernetes")
    assert not report.ok
    assert len(found) == 1, describe(report.findings)
    assert found[0].object == "Deployment ml/trainer"
    assert found[0].field == "spec.template.spec.containers[0].imagePullPolicyy"
    assert "unknown field 'imagePullPolicyy'" in found[0].message
    assert found[0].file is not None
    assert found[0].file.startswith("manifests/")


def test_compliant_deployment_passes(builder: RenderedDirBuilder, check: Any) -> None:
    namespace = builder.namespace("ml")
    builder.kube(deployment(), dependencies=[namespace])

    report = check(builder)

    assert report.ok, describe(report.findings)
    assert report.findings == ()
    assert report.objects_examined["kubernetes"] == 2


def test_wrong_type_is_reported_at_the_field(builder: RenderedDirBuilder, check: Any) -> None:
    namespace = builder.namespace("ml")
    body = deployment()
    body["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "8080"
    builder.kube(body, dependencies=[namespace])

    found = errors(check(builder), "kubernetes")

    assert [(f.field, f.message) for f in found] == [
        (
            "spec.template.spec.containers[0].ports[0].containerPort",
            "expected integer, got string '8080'",
        )
    ]


def test_every_error_of_an_object_is_reported_not_just_the_first(
    builder: RenderedDirBuilder, check: Any
) -> None:
    namespace = builder.namespace("ml")
    body = deployment(imagePullPolicyy="Always", extraThing=1)
    del body["spec"]["selector"]
    builder.kube(body, dependencies=[namespace])

    fields = {f.field for f in errors(check(builder), "kubernetes")}

    assert fields == {
        "spec.selector",
        "spec.template.spec.containers[0].imagePullPolicyy",
        "spec.template.spec.containers[0].extraThing",
    }


def test_removed_api_version_is_an_error(builder: RenderedDirBuilder, check: Any) -> None:
    namespace = builder.namespace("ml")
    body = deployment()
    body["apiVersion"] = "extensions/v1beta1"
    builder.kube(body, dependencies=[namespace])

    found = errors(check(builder), "kubernetes")

    assert len(found) == 1, describe(found)
    assert found[0].field == "apiVersion"
    assert "extensions/v1beta1 Deployment" in found[0].message
    assert "1.35, 1.36" in found[0].message


def test_int_or_string_and_quantities_accept_both_forms(
    builder: RenderedDirBuilder, check: Any
) -> None:
    namespace = builder.namespace("ml")
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "api", "namespace": "ml"},
        "spec": {
            "selector": {"app": "api"},
            "ports": [
                {"name": "http", "port": 80, "targetPort": "http"},
                {"name": "grpc", "port": 9000, "targetPort": 9000},
            ],
        },
    }
    body = deployment()
    body["spec"]["template"]["spec"]["containers"][0]["resources"] = {
        "limits": {"cpu": 2, "memory": "4Gi", "nvidia.com/gpu": 1}
    }
    builder.kube(service, dependencies=[namespace])
    builder.kube(body, dependencies=[namespace])

    report = check(builder)

    assert report.ok, describe(report.findings)


def test_int_or_string_rejects_other_types(builder: RenderedDirBuilder, check: Any) -> None:
    namespace = builder.namespace("ml")
    builder.kube(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "api", "namespace": "ml"},
            "spec": {"ports": [{"port": 80, "targetPort": True}]},
        },
        dependencies=[namespace],
    )

    found = errors(check(builder), "kubernetes")

    assert [(f.object, f.field) for f in found] == [("Service ml/api", "spec.ports[0].targetPort")]
    assert "expected string or integer, got boolean" in found[0].message


def test_whole_floats_and_nulls_are_accepted_like_the_api_server() -> None:
    # Pulumi hands numbers over as floats, and an explicit null means "unset".
    body = deployment()
    body["spec"]["replicas"] = 3.0
    body["spec"]["revisionHistoryLimit"] = None
    body["spec"]["template"]["spec"]["containers"][0]["ports"][0]["hostPort"] = None
    manifest = Manifest(file="manifests/x.yaml", body=body, source_urn=None)

    findings, examined = check_builtin_objects([manifest], kubernetes_versions=("1.35",))

    assert examined == 1
    assert findings == [], describe(findings)


def test_a_fractional_number_is_not_an_integer() -> None:
    body = deployment()
    body["spec"]["replicas"] = 1.5
    manifest = Manifest(file="manifests/x.yaml", body=body, source_urn=None)

    findings, _ = check_builtin_objects([manifest], kubernetes_versions=("1.35",))

    assert [f.field for f in findings] == ["spec.replicas"]


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda body: body["spec"].pop("selector"), id="missing-required"),
        pytest.param(
            lambda body: body["spec"]["template"]["spec"]["containers"][0].update(bogus=1),
            id="unknown-field",
        ),
        pytest.param(lambda body: body["spec"].update(replicas="two"), id="wrong-type"),
        pytest.param(lambda body: None, id="valid"),
    ],
)
def test_agrees_with_kubernetes_validate(mutate: Any) -> None:
    """Same schemas, same verdict: the first error kubernetes-validate raises is among ours."""
    body = deployment()
    mutate(body)
    manifest = Manifest(file="manifests/x.yaml", body=copy.deepcopy(body), source_urn=None)

    ours, _ = check_builtin_objects([manifest], kubernetes_versions=("1.36",))
    try:
        kubernetes_validate.validate(body, "1.36", strict=True)
        theirs = None
    except kubernetes_validate.ValidationError as error:
        theirs = ".".join(str(part) for part in error.path)

    if theirs is None:
        assert ours == []
    else:
        ours_normalised = {f.field.replace("[", ".").replace("]", "") for f in ours}
        assert any(field.startswith(theirs) for field in ours_normalised), (theirs, ours)


def test_unsupported_kubernetes_version_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"Kubernetes 9\.99 is not covered"):
        resolve_schema_version("9.99")
    assert resolve_schema_version("v1.36.2") == "1.36"


def test_hand_written_manifest_without_source_comment_is_still_checked(
    builder: RenderedDirBuilder, check: Any
) -> None:
    namespace = builder.namespace("ml")
    builder.kube(
        deployment(imagePullPolicyy="Always"), dependencies=[namespace], source_comment=False
    )

    found = errors(check(builder), "kubernetes")

    assert [f.object for f in found] == ["Deployment ml/trainer"]
