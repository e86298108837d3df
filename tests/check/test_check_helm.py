"""Helm release values and versions against the upstream chart data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_blueprints.check._helm import chart_name, coalesce_values, load_allowlist
from tests.check._render import RenderedDirBuilder, describe, errors

KPS_VERSION = "88.5.3"


def monitoring(builder: RenderedDirBuilder, values: dict[str, Any]) -> str:
    return builder.release(
        "monitoring",
        chart="kube-prometheus-stack",
        version=KPS_VERSION,
        namespace="monitoring",
        create_namespace=True,
        values=values,
    )


@pytest.mark.schema
def test_unknown_key_in_release_values_is_an_error(builder: RenderedDirBuilder, check: Any) -> None:
    monitoring(builder, {"prometheus": {"prometheusSpec": {"retentionn": "15d"}}})

    report = check(builder)

    found = errors(report, "helm")
    assert not report.ok
    assert [(f.object, f.field) for f in found] == [
        ("helm release monitoring", "values.prometheus.prometheusSpec.retentionn")
    ], describe(report.findings)
    assert "unknown key 'retentionn'" in found[0].message
    assert f"kube-prometheus-stack {KPS_VERSION}" in found[0].message
    assert found[0].file == "helm/monitoring.yaml"


@pytest.mark.schema
def test_compliant_release_values_pass(builder: RenderedDirBuilder, check: Any) -> None:
    monitoring(
        builder,
        {
            "prometheus": {
                "prometheusSpec": {
                    "retention": "15d",
                    "serviceMonitorSelectorNilUsesHelmValues": False,
                    "resources": {"requests": {"cpu": "500m", "memory": "2Gi"}},
                    # storageSpec defaults to {}: the chart takes any keys below it.
                    "storageSpec": {
                        "volumeClaimTemplate": {
                            "spec": {"resources": {"requests": {"storage": "50Gi"}}}
                        }
                    },
                }
            },
            "alertmanager": {"enabled": False},
            "kubeEtcd": {"enabled": False},
        },
    )

    report = check(builder)

    assert report.ok, describe(report.findings)
    assert report.findings == ()
    assert report.objects_examined["helm"] == 1


@pytest.mark.schema
def test_map_expected_but_scalar_given_is_an_error(builder: RenderedDirBuilder, check: Any) -> None:
    monitoring(builder, {"prometheus": {"prometheusSpec": "big", "enabled": True}})

    found = errors(check(builder), "helm")

    assert [(f.field, f.message.split(",")[0]) for f in found] == [
        ("values.prometheus.prometheusSpec", "expected a map like the chart default")
    ]


@pytest.mark.schema
def test_list_expected_but_map_given_is_an_error(builder: RenderedDirBuilder, check: Any) -> None:
    monitoring(builder, {"prometheus": {"prometheusSpec": {"additionalScrapeConfigs": {}}}})

    found = errors(check(builder), "helm")

    assert [f.field for f in found] == ["values.prometheus.prometheusSpec.additionalScrapeConfigs"]


@pytest.mark.schema
def test_null_removes_a_default_and_is_not_an_error(
    builder: RenderedDirBuilder, check: Any
) -> None:
    monitoring(builder, {"prometheus": {"prometheusSpec": {"retention": None}}})

    assert check(builder).ok


@pytest.mark.schema
def test_values_schema_violation_is_an_error(builder: RenderedDirBuilder, check: Any) -> None:
    builder.release(
        "mlflow",
        chart="mlflow",
        version="1.11.5",
        namespace="mlflow",
        create_namespace=True,
        values={"image": {"pullPolicy": "Sometimes"}, "replicaCount": 1},
    )

    report = check(builder)

    found = errors(report, "helm")
    assert [(f.object, f.field) for f in found] == [
        ("helm release mlflow", "values.image.pullPolicy")
    ], describe(report.findings)
    assert found[0].message.startswith("values.schema.json: 'Sometimes' is not one of")


@pytest.mark.schema
def test_values_schema_sees_merged_defaults(builder: RenderedDirBuilder, check: Any) -> None:
    # The schema requires keys the release does not set; the chart defaults provide them.
    builder.release(
        "mlflow",
        chart="mlflow",
        version="1.11.5",
        namespace="mlflow",
        create_namespace=True,
        values={"backendStore": {"databaseMigration": True}},
    )

    report = check(builder)

    assert report.ok, describe(report.findings)


@pytest.mark.schema
def test_unknown_key_is_reported_once_even_when_the_schema_also_rejects_it(
    builder: RenderedDirBuilder, check: Any
) -> None:
    builder.release(
        "mlflow",
        chart="mlflow",
        version="1.11.5",
        namespace="mlflow",
        create_namespace=True,
        values={"replicaCountt": 2},
    )

    found = errors(check(builder), "helm")

    assert [f.field for f in found] == ["values.replicaCountt"]


@pytest.mark.schema
def test_chart_version_mismatch_is_an_error_naming_both(
    builder: RenderedDirBuilder, check: Any
) -> None:
    builder.release("karpenter", chart="karpenter", version="1.13.0", namespace="kube-system")

    found = errors(check(builder), "helm")

    assert [(f.object, f.field) for f in found] == [("helm release karpenter", "version")]
    assert "1.13.0" in found[0].message
    assert "1.14.1" in found[0].message


@pytest.mark.schema
def test_placeholder_upstream_version_is_a_warning_not_an_error(
    builder: RenderedDirBuilder, check: Any
) -> None:
    builder.release(
        "cert-manager",
        chart="cert-manager",
        version="v1.21.1",
        namespace="cert-manager",
        create_namespace=True,
        values={"crds": {"enabled": True}},
    )

    report = check(builder)

    assert report.ok, describe(report.findings)
    notes = [f for f in report.findings if f.check == "helm"]
    assert [(f.severity, f.field) for f in notes] == [("warning", "version")]
    assert "placeholder version v0.0.0" in notes[0].message


@pytest.mark.schema
def test_cert_manager_schema_is_enforced(builder: RenderedDirBuilder, check: Any) -> None:
    builder.release(
        "cert-manager",
        chart="cert-manager",
        version="v1.21.1",
        namespace="cert-manager",
        create_namespace=True,
        values={"crds": {"enabled": "yes"}},
    )

    found = errors(check(builder), "helm")

    assert [f.field for f in found] == ["values.crds.enabled"]
    assert "values.schema.json" in found[0].message


@pytest.mark.schema
def test_chart_without_upstream_data_is_an_error(builder: RenderedDirBuilder, check: Any) -> None:
    builder.release(
        "mystery",
        chart="oci://registry.example.com/charts/mystery",
        version="1.0.0",
        namespace="tools",
        create_namespace=True,
    )

    found = errors(check(builder), "helm")

    assert [(f.object, f.field) for f in found] == [("helm release mystery", "chart")]
    assert "no upstream data for chart 'mystery'" in found[0].message


@pytest.mark.schema
def test_allowlisted_free_form_keys_pass_and_neighbours_do_not(
    builder: RenderedDirBuilder, check: Any
) -> None:
    builder.release(
        "argocd",
        chart="argo-cd",
        version="10.1.1",
        namespace="argocd",
        create_namespace=True,
        values={
            "configs": {
                "cm": {"url": "https://argocd.example.com", "timeout.reconciliation": "60s"},
                "params": {"server.insecure": True},
                "cmm": {"url": "x"},
            }
        },
    )

    found = errors(check(builder), "helm")

    assert [f.field for f in found] == ["values.configs.cmm"]


@pytest.mark.schema
def test_subchart_keys_are_warnings(builder: RenderedDirBuilder, check: Any) -> None:
    monitoring(builder, {"grafana": {"adminPassword": "from-secret", "enabled": True}})

    report = check(builder)

    assert report.ok, describe(report.findings)
    assert [(f.severity, f.field) for f in report.findings] == [
        ("warning", "values.grafana.adminPassword")
    ]
    assert "'grafana'" in report.findings[0].message


@pytest.mark.schema
def test_every_allowlist_entry_is_reasoned_and_needed(upstream: Path) -> None:
    entries = load_allowlist()
    assert entries
    for entry in entries:
        assert len(entry.reason) > 40, entry
        values_file = upstream / "charts" / entry.chart / "values.yaml"
        assert values_file.is_file(), f"allowlist names unknown chart {entry.chart}"
        node: Any = yaml.safe_load(values_file.read_text()) or {}
        for key in entry.path[:-1]:
            node = node[key]
        default = node.get(entry.path[-1], "<absent>")
        # An entry is only needed where the chart does not already allow the keys.
        assert default == "<absent>" or (isinstance(default, dict) and default), entry


@pytest.mark.unit
def test_coalesce_values_merges_like_helm() -> None:
    defaults = {"a": {"b": 1, "c": {"d": 2}}, "e": [1, 2], "f": "x"}
    merged = coalesce_values(defaults, {"a": {"c": {"g": 3}}, "e": [9], "f": None, "h": 1})

    assert merged == {"a": {"b": 1, "c": {"d": 2, "g": 3}}, "e": [9], "h": 1}
    assert defaults == {"a": {"b": 1, "c": {"d": 2}}, "e": [1, 2], "f": "x"}


@pytest.mark.unit
@pytest.mark.parametrize(
    ("chart", "name"),
    [
        ("karpenter", "karpenter"),
        ("oci://public.ecr.aws/karpenter/karpenter", "karpenter"),
        ("prometheus-community/kube-prometheus-stack", "kube-prometheus-stack"),
    ],
)
def test_chart_name(chart: str, name: str) -> None:
    assert chart_name(chart) == name
