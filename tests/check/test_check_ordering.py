"""Creation order from inventory.json: CRDs before their resources, namespaces before contents."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_blueprints.check._ordering import DependencyGraph
from mlops_blueprints.check._rendered import InventoryEntry
from tests.check._render import RenderedDirBuilder, describe, errors


def config_map(name: str, namespace: str = "ml") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": {"key": "value"},
    }


def node_class() -> dict[str, Any]:
    return {
        "apiVersion": "karpenter.k8s.aws/v1",
        "kind": "EC2NodeClass",
        "metadata": {"name": "default"},
        "spec": {
            "amiSelectorTerms": [{"alias": "al2023@latest"}],
            "role": "KarpenterNodeRole-mlops",
            "subnetSelectorTerms": [{"tags": {"karpenter.sh/discovery": "mlops"}}],
            "securityGroupSelectorTerms": [{"tags": {"karpenter.sh/discovery": "mlops"}}],
        },
    }


def karpenter(builder: RenderedDirBuilder, **options: Any) -> str:
    return builder.release(
        "karpenter", chart="karpenter", version="1.14.1", namespace="kube-system", **options
    )


@pytest.mark.schema
def test_custom_resource_without_dependency_on_its_crd_installer_is_an_error(
    builder: RenderedDirBuilder, check: Any
) -> None:
    installer = karpenter(builder)
    urn = builder.kube(node_class())

    report = check(builder)

    found = errors(report, "ordering")
    assert not report.ok
    assert [(f.object, f.field) for f in found] == [("EC2NodeClass default", "dependencies")]
    assert urn in found[0].message
    assert "EC2NodeClass.karpenter.k8s.aws" in found[0].message
    assert installer in found[0].message
    assert "helm release karpenter (chart karpenter)" in found[0].message


@pytest.mark.schema
def test_custom_resource_depending_on_its_crd_installer_passes(
    builder: RenderedDirBuilder, check: Any
) -> None:
    installer = karpenter(builder)
    builder.kube(node_class(), dependencies=[installer])

    report = check(builder)

    assert report.ok, describe(report.findings)
    assert report.objects_examined["ordering"] == 2


@pytest.mark.schema
def test_custom_resource_whose_crd_nothing_installs_is_an_error(
    builder: RenderedDirBuilder, check: Any
) -> None:
    builder.kube(node_class())

    found = errors(check(builder), "ordering")

    assert [f.object for f in found] == ["EC2NodeClass default"]
    assert "nothing in the render provides it" in found[0].message


@pytest.mark.schema
def test_disabled_chart_crds_do_not_count(builder: RenderedDirBuilder, check: Any) -> None:
    # cert-manager installs its CRDs only when crds.enabled (default false) is set.
    namespace = builder.namespace("ml")
    manager = builder.release(
        "cert-manager",
        chart="cert-manager",
        version="v1.21.1",
        namespace="cert-manager",
        create_namespace=True,
    )
    builder.kube(
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Issuer",
            "metadata": {"name": "selfsigned", "namespace": "ml"},
            "spec": {"selfSigned": {}},
        },
        dependencies=[namespace, manager],
    )

    found = errors(check(builder), "ordering")

    assert [f.object for f in found] == ["Issuer ml/selfsigned"]
    assert "nothing in the render provides it" in found[0].message


@pytest.mark.schema
def test_skip_crds_disables_a_charts_crds_folder(builder: RenderedDirBuilder, check: Any) -> None:
    installer = karpenter(builder, extra_inputs={"skipCrds": True})
    builder.kube(node_class(), dependencies=[installer])

    found = errors(check(builder), "ordering")

    assert [f.object for f in found] == ["EC2NodeClass default"]


@pytest.mark.schema
def test_crd_object_in_the_render_is_an_installer(builder: RenderedDirBuilder, check: Any) -> None:
    crd = builder.kube(
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "ec2nodeclasses.karpenter.k8s.aws"},
            "spec": {
                "group": "karpenter.k8s.aws",
                "names": {"kind": "EC2NodeClass", "plural": "ec2nodeclasses"},
                "scope": "Cluster",
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "schema": {
                            "openAPIV3Schema": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            }
                        },
                    }
                ],
            },
        }
    )
    builder.kube(node_class(), dependencies=[crd])

    report = check(builder)

    assert report.ok, describe(report.findings)


def knative_service(namespace: str = "ml") -> dict[str, Any]:
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "hello", "namespace": namespace},
        "spec": {"template": {"spec": {"containers": [{"image": "ghcr.io/example/hello:1"}]}}},
    }


@pytest.mark.schema
def test_config_group_applying_a_known_crd_file_is_an_installer(
    builder: RenderedDirBuilder, check: Any
) -> None:
    namespace = builder.namespace("ml")
    crds = builder.resource(
        "kubernetes:yaml/v2:ConfigGroup",
        "knative-crds",
        inputs={
            "files": [
                "https://github.com/knative/serving/releases/download/knative-v1.23.0/"
                "serving-crds.yaml"
            ]
        },
        custom=False,
    )
    builder.kube(knative_service(), dependencies=[namespace, crds])
    unordered = knative_service()
    unordered["metadata"]["name"] = "unordered"
    builder.kube(unordered, dependencies=[namespace])

    found = errors(check(builder))

    assert [(f.check, f.object) for f in found] == [("ordering", "Service ml/unordered")]
    assert "ConfigGroup knative-crds" in found[0].message


@pytest.mark.schema
def test_config_group_with_inline_crd_yaml_is_an_installer(
    builder: RenderedDirBuilder, check: Any
) -> None:
    crd_yaml = (
        "apiVersion: apiextensions.k8s.io/v1\n"
        "kind: CustomResourceDefinition\n"
        "metadata: {name: services.serving.knative.dev}\n"
        "spec:\n"
        "  group: serving.knative.dev\n"
        "  names: {kind: Service, plural: services}\n"
        "  scope: Namespaced\n"
        "  versions: [{name: v1, served: true, storage: true}]\n"
    )
    namespace = builder.namespace("ml")
    crds = builder.resource(
        "kubernetes:yaml/v2:ConfigGroup",
        "knative-inline",
        inputs={"yaml": crd_yaml},
        custom=False,
    )
    builder.kube(knative_service(), dependencies=[namespace, crds])

    report = check(builder)

    assert report.ok, describe(report.findings)


@pytest.mark.schema
def test_namespaced_object_without_dependency_on_its_namespace_is_an_error(
    builder: RenderedDirBuilder, check: Any
) -> None:
    namespace = builder.namespace("ml")
    urn = builder.kube(config_map("settings"))

    report = check(builder)

    found = errors(report, "ordering")
    assert [(f.object, f.field) for f in found] == [("ConfigMap ml/settings", "dependencies")]
    assert urn in found[0].message
    assert f"Namespace ml ({namespace})" in found[0].message


@pytest.mark.schema
def test_namespaced_object_depending_on_its_namespace_passes(
    builder: RenderedDirBuilder, check: Any
) -> None:
    namespace = builder.namespace("ml")
    builder.kube(config_map("settings"), dependencies=[namespace])

    report = check(builder)

    assert report.ok, describe(report.findings)


@pytest.mark.schema
def test_dependency_through_a_component_counts_for_all_its_descendants(
    builder: RenderedDirBuilder, check: Any
) -> None:
    platform = builder.component("platform", type_="mlops:platform:Base")
    namespaces = builder.component("namespaces", type_="mlops:platform:Namespaces", parent=platform)
    builder.namespace("ml", parent=namespaces)
    builder.kube(config_map("settings"), dependencies=[platform])

    report = check(builder)

    assert report.ok, describe(report.findings)


@pytest.mark.schema
def test_dependency_through_another_resource_counts(
    builder: RenderedDirBuilder, check: Any
) -> None:
    namespace = builder.namespace("ml")
    first = builder.kube(config_map("first"), dependencies=[namespace])
    builder.kube(config_map("second"), dependencies=[first])

    assert check(builder).ok


@pytest.mark.schema
def test_a_sibling_in_the_same_component_is_not_a_dependency(
    builder: RenderedDirBuilder, check: Any
) -> None:
    group = builder.component("app", type_="mlops:app:Service")
    builder.namespace("ml", parent=group)
    builder.kube(config_map("settings"), parent=group)

    found = errors(check(builder), "ordering")

    assert [f.object for f in found] == ["ConfigMap ml/settings"]


@pytest.mark.schema
def test_namespace_that_nothing_creates_is_an_error(
    builder: RenderedDirBuilder, check: Any
) -> None:
    builder.kube(config_map("settings", namespace="ghost"))

    found = errors(check(builder), "ordering")

    assert [f.object for f in found] == ["ConfigMap ghost/settings"]
    assert "namespace 'ghost' is not a system namespace" in found[0].message


@pytest.mark.schema
def test_system_namespaces_and_cluster_scoped_objects_need_nothing(
    builder: RenderedDirBuilder, check: Any
) -> None:
    builder.kube(config_map("settings", namespace="kube-system"))
    builder.kube({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "no-namespace"}})
    builder.kube(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "reader"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
        }
    )

    report = check(builder)

    assert report.ok, describe(report.findings)


@pytest.mark.schema
def test_helm_release_needs_its_namespace_unless_it_creates_it(
    builder: RenderedDirBuilder, check: Any
) -> None:
    builder.namespace("mlflow")
    builder.release("mlflow", chart="mlflow", version="1.11.5", namespace="mlflow")
    builder.release(
        "opencost", chart="opencost", version="2.5.17", namespace="opencost", create_namespace=True
    )

    found = errors(check(builder), "ordering")

    assert [(f.object, f.field) for f in found] == [("helm release mlflow", "dependencies")]
    assert "Namespace mlflow" in found[0].message


@pytest.mark.schema
def test_objects_may_rely_on_a_release_that_creates_their_namespace(
    builder: RenderedDirBuilder, check: Any
) -> None:
    release = builder.release(
        "opencost", chart="opencost", version="2.5.17", namespace="opencost", create_namespace=True
    )
    builder.kube(config_map("extra", namespace="opencost"), dependencies=[release])

    assert check(builder).ok


@pytest.mark.schema
def test_cluster_scoped_custom_resources_use_the_crd_scope(
    builder: RenderedDirBuilder, check: Any
) -> None:
    # EC2NodeClass is cluster-scoped (CRD scope: Cluster): no namespace needed, even if set.
    installer = karpenter(builder)
    body = node_class()
    body["metadata"]["namespace"] = "ignored"
    builder.kube(body, dependencies=[installer])

    assert errors(check(builder), "ordering") == []


@pytest.mark.unit
def test_dependency_graph_expands_components_and_follows_chains() -> None:
    def entry(
        urn: str,
        *,
        parent: str | None = None,
        custom: bool = True,
        dependencies: tuple[str, ...] = (),
    ) -> InventoryEntry:
        return InventoryEntry(
            urn=urn,
            type="t",
            name=urn,
            parent=parent,
            custom=custom,
            protect=False,
            inputs={},
            dependencies=dependencies,
            provider=None,
        )

    graph = DependencyGraph(
        [
            entry("comp", custom=False),
            entry("inner", parent="comp", custom=False),
            entry("leaf", parent="inner", dependencies=("base",)),
            entry("base"),
            entry("user", dependencies=("comp",)),
            entry("loner"),
            entry("cycle-a", dependencies=("cycle-b",)),
            entry("cycle-b", dependencies=("cycle-a",)),
        ]
    )

    assert graph.depends_on("user") == {"comp", "inner", "leaf", "base"}
    assert graph.depends_on("loner") == frozenset()
    assert graph.depends_on("leaf") == {"base"}
    assert graph.depends_on("cycle-a") == {"cycle-a", "cycle-b"}
