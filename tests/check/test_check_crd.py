"""Custom resources against their CRD's openAPIV3Schema (upstream or from the render)."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from mlops_blueprints.check._crd import FORMAT_CHECKER, structural_to_json_schema
from tests.check._render import RenderedDirBuilder, describe, errors


def kserve_platform(builder: RenderedDirBuilder) -> tuple[str, str]:
    """The namespace and the release installing the KServe CRDs."""
    crds = builder.release(
        "kserve-crd",
        chart="kserve-crd",
        version="v0.20.0",
        namespace="kserve",
        create_namespace=True,
    )
    return builder.namespace("ml"), crds


def karpenter(builder: RenderedDirBuilder) -> str:
    return builder.release(
        "karpenter",
        chart="karpenter",
        version="1.14.1",
        namespace="kube-system",
        values={"settings": {"clusterName": "mlops"}},
    )


def inference_service(**predictor: Any) -> dict[str, Any]:
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {
            "name": "iris",
            "namespace": "ml",
            "annotations": {"serving.kserve.io/deploymentMode": "RawDeployment"},
        },
        "spec": {
            "predictor": {
                "minReplicas": 1,
                "maxReplicas": 3,
                "model": {
                    "modelFormat": {"name": "sklearn"},
                    "storageUri": "s3://models/iris",
                    "resources": {"limits": {"cpu": "1", "memory": "2Gi"}},
                },
                **predictor,
            }
        },
    }


def node_pool(*, with_node_class_ref: bool = True) -> dict[str, Any]:
    template_spec: dict[str, Any] = {
        "requirements": [
            {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]}
        ],
        "taints": [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}],
        "expireAfter": "720h",
    }
    if with_node_class_ref:
        template_spec["nodeClassRef"] = {
            "group": "karpenter.k8s.aws",
            "kind": "EC2NodeClass",
            "name": "default",
        }
    return {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {"name": "gpu"},
        "spec": {
            "template": {"metadata": {"labels": {"workload": "gpu"}}, "spec": template_spec},
            "limits": {"cpu": 1000, "nvidia.com/gpu": 8},
            "disruption": {
                "consolidationPolicy": "WhenEmptyOrUnderutilized",
                "consolidateAfter": "1m",
            },
        },
    }


def ec2_node_class(**spec_extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "karpenter.k8s.aws/v1",
        "kind": "EC2NodeClass",
        "metadata": {"name": "default"},
        "spec": {
            "amiSelectorTerms": [{"alias": "al2023@latest"}],
            "role": "KarpenterNodeRole-mlops",
            "subnetSelectorTerms": [{"tags": {"karpenter.sh/discovery": "mlops"}}],
            "securityGroupSelectorTerms": [{"tags": {"karpenter.sh/discovery": "mlops"}}],
            **spec_extra,
        },
    }


def service_monitor(target_port: Any) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "api", "namespace": "ml"},
        "spec": {
            "selector": {"matchLabels": {"app": "api"}},
            "endpoints": [{"targetPort": target_port, "interval": "30s"}],
        },
    }


@pytest.mark.schema
def test_wrong_type_in_inference_service_is_an_error(
    builder: RenderedDirBuilder, check: Any
) -> None:
    namespace, crds = kserve_platform(builder)
    builder.kube(inference_service(minReplicas="two"), dependencies=[namespace, crds])

    report = check(builder)

    found = errors(report, "crd")
    assert not report.ok
    assert [(f.object, f.field) for f in found] == [
        ("InferenceService ml/iris", "spec.predictor.minReplicas")
    ], describe(report.findings)
    assert found[0].message == "expected integer, got string 'two'"


@pytest.mark.schema
def test_compliant_inference_service_passes(builder: RenderedDirBuilder, check: Any) -> None:
    namespace, crds = kserve_platform(builder)
    builder.kube(inference_service(), dependencies=[namespace, crds])

    report = check(builder)

    assert report.ok, describe(report.findings)
    assert report.objects_examined["crd"] == 1


@pytest.mark.schema
def test_node_pool_missing_required_field_is_an_error(
    builder: RenderedDirBuilder, check: Any
) -> None:
    installer = karpenter(builder)
    builder.kube(node_pool(with_node_class_ref=False), dependencies=[installer])

    found = errors(check(builder), "crd")

    assert [(f.object, f.field, f.message) for f in found] == [
        (
            "NodePool gpu",
            "spec.template.spec.nodeClassRef",
            "required field 'nodeClassRef' is missing",
        )
    ]


@pytest.mark.schema
def test_compliant_node_pool_and_node_class_pass(builder: RenderedDirBuilder, check: Any) -> None:
    installer = karpenter(builder)
    node_class = builder.kube(ec2_node_class(), dependencies=[installer])
    builder.kube(node_pool(), dependencies=[installer, node_class])

    report = check(builder)

    assert report.ok, describe(report.findings)
    assert report.objects_examined["crd"] == 2


@pytest.mark.schema
def test_custom_resource_with_unknown_crd_is_an_error(
    builder: RenderedDirBuilder, check: Any
) -> None:
    builder.kube(
        {
            "apiVersion": "widgets.example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w"},
            "spec": {"size": 3},
        }
    )

    report = check(builder)

    found = errors(report, "crd")
    assert [(f.object, f.field) for f in found] == [("Widget w", "kind")]
    assert "no CRD defines Widget in group 'widgets.example.com'" in found[0].message
    assert found[0].severity == "error"


@pytest.mark.schema
def test_crd_from_the_render_validates_its_custom_resources(
    builder: RenderedDirBuilder, check: Any
) -> None:
    crd = builder.kube(
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.widgets.example.com"},
            "spec": {
                "group": "widgets.example.com",
                "names": {
                    "kind": "Widget",
                    "plural": "widgets",
                    "singular": "widget",
                    "listKind": "WidgetList",
                },
                "scope": "Cluster",
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "schema": {
                            "openAPIV3Schema": {
                                "type": "object",
                                "properties": {
                                    "spec": {
                                        "type": "object",
                                        "properties": {"size": {"type": "integer"}},
                                    }
                                },
                            }
                        },
                    }
                ],
            },
        }
    )
    builder.kube(
        {
            "apiVersion": "widgets.example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w"},
            "spec": {"size": "big"},
        },
        dependencies=[crd],
    )

    report = check(builder)

    assert [(f.check, f.object, f.field) for f in errors(report)] == [
        ("crd", "Widget w", "spec.size")
    ], describe(report.findings)


@pytest.mark.schema
def test_int_or_string_fields_accept_names_and_numbers(
    builder: RenderedDirBuilder, check: Any
) -> None:
    namespace = builder.namespace("ml")
    stack = builder.release(
        "monitoring",
        chart="kube-prometheus-stack",
        version="88.5.3",
        namespace="monitoring",
        create_namespace=True,
    )
    by_name = service_monitor("http")
    by_number = service_monitor(8080)
    by_number["metadata"]["name"] = "api-by-port"
    wrong = service_monitor(True)
    wrong["metadata"]["name"] = "api-wrong"
    for body in (by_name, by_number, wrong):
        builder.kube(body, dependencies=[namespace, stack])

    found = errors(check(builder))

    assert [(f.object, f.field) for f in found] == [
        ("ServiceMonitor ml/api-wrong", "spec.endpoints[0].targetPort")
    ], describe(found)
    assert "expected integer or string, got boolean" in found[0].message


@pytest.mark.schema
def test_unknown_fields_are_allowed_only_below_preserve_unknown_fields(
    builder: RenderedDirBuilder, check: Any
) -> None:
    installer = karpenter(builder)
    # spec.kubelet preserves unknown fields upstream: anything may go there.
    builder.kube(
        ec2_node_class(kubelet={"maxPods": 110, "cpuCFSQuota": True, "custom": {"a": 1}}),
        dependencies=[installer],
    )
    strict = ec2_node_class(bogusSetting=True)
    strict["metadata"]["name"] = "strict"
    builder.kube(strict, dependencies=[installer])

    found = errors(check(builder))

    assert [(f.object, f.field) for f in found] == [("EC2NodeClass strict", "spec.bogusSetting")]
    assert "unknown field 'bogusSetting'" in found[0].message


@pytest.mark.schema
def test_metadata_is_checked_minimally(builder: RenderedDirBuilder, check: Any) -> None:
    installer = karpenter(builder)
    body = ec2_node_class()
    body["metadata"] = {"labels": {"replicas": 3}}
    builder.kube(body, dependencies=[installer], resource_name="nameless")

    found = errors(check(builder), "crd")

    assert sorted((f.field, f.message) for f in found) == [
        ("metadata.labels.replicas", "expected string, got integer 3"),
        ("metadata.name", "required field 'name' is missing"),
    ]


@pytest.mark.schema
def test_unserved_version_is_an_error(builder: RenderedDirBuilder, check: Any) -> None:
    installer = karpenter(builder)
    body = node_pool()
    body["apiVersion"] = "karpenter.sh/v1beta1"
    builder.kube(body, dependencies=[installer])

    found = errors(check(builder), "crd")

    assert [(f.object, f.field) for f in found] == [("NodePool gpu", "apiVersion")]
    assert "does not serve v1beta1; served versions: v1" in found[0].message


# --- the structural-schema translation, on small synthetic schemas ---------------------------


def _validate(schema: dict[str, Any], spec: Any) -> list[str]:
    translated = structural_to_json_schema({"type": "object", "properties": {"spec": schema}})
    validator = jsonschema.Draft202012Validator(translated, format_checker=FORMAT_CHECKER)
    document = {"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "x"}, "spec": spec}
    return sorted(error.validator for error in validator.iter_errors(document))


@pytest.mark.unit
def test_translation_int_or_string() -> None:
    schema = {
        "x-kubernetes-int-or-string": True,
        "anyOf": [{"type": "integer"}, {"type": "string"}],
    }
    assert _validate(schema, 3) == []
    assert _validate(schema, "50%") == []
    assert _validate(schema, 1.0) == []
    assert _validate(schema, [1]) != []


@pytest.mark.unit
def test_translation_nullable_and_enum() -> None:
    schema = {"type": "string", "nullable": True, "enum": ["a", "b"]}
    assert _validate(schema, None) == []
    assert _validate(schema, "a") == []
    assert _validate(schema, "c") == ["enum"]
    assert _validate({"type": "string", "enum": ["a"]}, None) != []


@pytest.mark.unit
def test_translation_unknown_fields_and_preserve() -> None:
    strict = {"type": "object", "properties": {"a": {"type": "string"}}}
    assert _validate(strict, {"a": "x"}) == []
    assert _validate(strict, {"a": "x", "b": 1}) == ["additionalProperties"]
    assert _validate({"type": "object"}, {"b": 1}) == ["additionalProperties"]
    preserved = {**strict, "x-kubernetes-preserve-unknown-fields": True}
    assert _validate(preserved, {"a": "x", "b": {"c": 1}}) == []
    assert _validate(preserved, {"a": 1}) == ["type"]
    free_map = {"type": "object", "additionalProperties": {"type": "string"}}
    assert _validate(free_map, {"any": "x"}) == []
    assert _validate(free_map, {"any": 1}) == ["type"]


@pytest.mark.unit
def test_translation_embedded_resource() -> None:
    schema = {
        "type": "object",
        "x-kubernetes-embedded-resource": True,
        "x-kubernetes-preserve-unknown-fields": True,
    }
    assert (
        _validate(
            schema,
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "c", "labels": {"a": "b"}},
                "data": {"k": "v"},
            },
        )
        == []
    )
    assert _validate(schema, {"data": {"k": "v"}}) == ["required", "required"]
    assert _validate(
        schema, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"labels": {"a": 1}}}
    ) == ["type"]


@pytest.mark.unit
def test_translation_bounds_patterns_and_formats() -> None:
    assert _validate({"type": "integer", "minimum": 0, "exclusiveMinimum": True}, 0) == [
        "exclusiveMinimum"
    ]
    assert _validate({"type": "integer", "minimum": 0, "exclusiveMinimum": True}, 1) == []
    # RE2 accepts inline flags mid-pattern; the translation moves them to the front.
    case_insensitive = {"type": "string", "pattern": "^(?i)(abort|warn)?$"}
    assert _validate(case_insensitive, "ABORT") == []
    assert _validate(case_insensitive, "retry") == ["pattern"]
    assert _validate({"type": "integer", "format": "int32"}, 2**31) == ["format"]
    assert _validate({"type": "integer", "format": "int32"}, 2**31 - 1) == []
    assert _validate({"type": "string", "format": "date-time"}, "2026-01-02T03:04:05Z") == []
    assert _validate({"type": "string", "format": "date-time"}, "yesterday") == ["format"]
    assert _validate({"type": "string", "format": "byte"}, "aGVsbG8=") == []
    assert _validate({"type": "string", "format": "byte"}, "not base64!") == ["format"]
    # Formats the API server does not define stay unchecked.
    assert _validate({"type": "string", "format": "duration"}, "5m") == []


@pytest.mark.unit
def test_translation_junctors_do_not_add_unknown_field_rules() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
        "anyOf": [{"required": ["a"]}, {"required": ["b"]}],
    }
    assert _validate(schema, {"a": "x", "b": "y"}) == []
    assert _validate(schema, {}) == ["anyOf"]
