"""The report, its rendering, the policy extension point, and whole-directory behaviour."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from mlops_blueprints.check import (
    CheckReport,
    Finding,
    add_policy_findings,
    report_table,
    run_checks,
)
from mlops_blueprints.errors import UpstreamMissingError, UsageError
from tests.check._render import RenderedDirBuilder, describe, errors


def _render_text(report: CheckReport) -> str:
    console = Console(record=True, width=200, color_system=None)
    console.print(report_table(report))
    return console.export_text()


@pytest.mark.unit
def test_report_ok_counts_and_json() -> None:
    report = CheckReport(
        findings=(
            Finding(
                "kubernetes",
                "error",
                "Deployment ml/a",
                "spec.x",
                "unknown field 'x'",
                "manifests/a.yaml",
            ),
            Finding("helm", "warning", "helm release b", "version", "placeholder", None),
        ),
        objects_examined={"kubernetes": 3, "helm": 1},
    )

    assert not report.ok
    assert report.count(severity="error") == 1
    assert report.count(check="helm") == 1
    data = json.loads(json.dumps(report.to_json()))
    assert data["ok"] is False
    assert data["summary"]["kubernetes"] == {
        "objects_examined": 3,
        "error": 1,
        "warning": 0,
        "advisory": 0,
    }
    assert data["summary"]["policy"]["objects_examined"] == 0
    assert data["findings"][0] == {
        "check": "kubernetes",
        "severity": "error",
        "object": "Deployment ml/a",
        "field": "spec.x",
        "message": "unknown field 'x'",
        "file": "manifests/a.yaml",
    }
    assert CheckReport(findings=(report.findings[1],)).ok


@pytest.mark.unit
def test_report_table_shows_each_finding_and_a_summary_per_check() -> None:
    report = CheckReport(
        findings=(
            Finding(
                "crd",
                "error",
                "NodePool gpu",
                "spec.template.spec.nodeClassRef",
                "required field 'nodeClassRef' is missing",
                "manifests/np.yaml",
            ),
        ),
        objects_examined={"kubernetes": 4, "crd": 1},
    )

    text = _render_text(report)

    assert "NodePool gpu" in text
    assert "spec.template.spec.nodeClassRef" in text
    assert "FAIL" in text
    for check_name in ("kubernetes", "crd", "helm", "ordering", "policy"):
        assert check_name in text
    assert "check failed: 1 error(s)" in text
    assert "check passed" in _render_text(CheckReport(findings=()))


@pytest.mark.unit
def test_policy_findings_extend_a_report() -> None:
    base = CheckReport(findings=(), objects_examined={"kubernetes": 2})
    policy = Finding("policy", "advisory", "Deployment ml/a", "spec", "no PDB", None)

    extended = add_policy_findings(base, [policy], objects_examined=5)

    assert extended.findings == (policy,)
    assert extended.objects_examined == {"kubernetes": 2, "policy": 5}
    assert extended.ok
    blocking = add_policy_findings(
        base, [Finding("policy", "error", "x", "", "denied", None)], objects_examined=1
    )
    assert not blocking.ok
    with pytest.raises(ValueError, match="other checks: helm"):
        add_policy_findings(
            base, [Finding("helm", "error", "x", "", "m", None)], objects_examined=1
        )


@pytest.mark.schema
def test_run_checks_merges_policy_findings(builder: RenderedDirBuilder, upstream: Path) -> None:
    builder.namespace("ml")
    policy = Finding("policy", "error", "Namespace ml", "metadata.labels", "needs owner", None)

    report = run_checks(
        builder.write(), upstream=upstream, policy_findings=[policy], policy_objects_examined=1
    )

    assert report.for_check("policy") == (policy,)
    assert report.objects_examined["policy"] == 1
    assert not report.ok


@pytest.mark.schema
def test_missing_render_directory_is_a_usage_error(tmp_path: Path, upstream: Path) -> None:
    with pytest.raises(UsageError, match="is not a directory"):
        run_checks(tmp_path / "nope", upstream=upstream)


@pytest.mark.unit
def test_missing_upstream_directory_is_reported(tmp_path: Path) -> None:
    with pytest.raises(UpstreamMissingError, match="MLOPS_BP_UPSTREAM_DIR"):
        run_checks(tmp_path, upstream=tmp_path / "no-upstream")


@pytest.mark.schema
def test_unsupported_kubernetes_version_fails_fast(tmp_path: Path, upstream: Path) -> None:
    with pytest.raises(UsageError, match=r"9\.99"):
        run_checks(tmp_path, upstream=upstream, kubernetes_versions=("9.99",))
    with pytest.raises(UsageError, match="at least one"):
        run_checks(tmp_path, upstream=upstream, kubernetes_versions=())


@pytest.mark.schema
def test_unreadable_files_become_findings(tmp_path: Path, upstream: Path) -> None:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "helm").mkdir()
    (tmp_path / "manifests" / "broken.yaml").write_text("kind: [unclosed\n")
    (tmp_path / "manifests" / "not-k8s.yaml").write_text("hello: world\n")
    (tmp_path / "helm" / "bad.yaml").write_text("release: bad\n")

    report = run_checks(tmp_path, upstream=upstream)

    found = {(f.check, f.object, f.field) for f in errors(report)}
    assert found == {
        ("kubernetes", "manifests/broken.yaml", ""),
        ("kubernetes", "manifests/not-k8s.yaml", "apiVersion"),
        ("helm", "helm release bad", "chart"),
        ("ordering", "inventory.json", ""),
    }, describe(report.findings)


@pytest.mark.schema
def test_yaml_timestamps_stay_strings(tmp_path: Path, upstream: Path) -> None:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "inventory.json").write_text("[]")
    (tmp_path / "manifests" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dates\n"
        "data:\n  released: 2026-01-02\n  at: 2026-01-02T03:04:05Z\n"
    )

    report = run_checks(tmp_path, upstream=upstream)

    assert report.ok, describe(report.findings)


@pytest.mark.schema
def test_two_hundred_objects_check_in_a_few_seconds(
    builder: RenderedDirBuilder, check: Any
) -> None:
    namespace = builder.namespace("ml")
    kserve = builder.release(
        "kserve-crd",
        chart="kserve-crd",
        version="v0.20.0",
        namespace="kserve",
        create_namespace=True,
    )
    monitoring = builder.release(
        "monitoring",
        chart="kube-prometheus-stack",
        version="88.5.3",
        namespace="monitoring",
        create_namespace=True,
        values={"grafana": {"enabled": False}},
    )
    for index in range(50):
        labels = {"app": f"svc{index}"}
        builder.kube(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": f"svc{index}", "namespace": "ml", "labels": labels},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {
                            "containers": [
                                {
                                    "name": "app",
                                    "image": "nginx:1.27",
                                    "ports": [{"containerPort": 80}],
                                }
                            ]
                        },
                    },
                },
            },
            dependencies=[namespace],
        )
        builder.kube(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": f"svc{index}", "namespace": "ml"},
                "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 80}]},
            },
            dependencies=[namespace],
        )
        builder.kube(
            {
                "apiVersion": "monitoring.coreos.com/v1",
                "kind": "ServiceMonitor",
                "metadata": {"name": f"svc{index}", "namespace": "ml"},
                "spec": {"selector": {"matchLabels": labels}, "endpoints": [{"port": "http"}]},
            },
            dependencies=[namespace, monitoring],
        )
        builder.kube(
            {
                "apiVersion": "serving.kserve.io/v1beta1",
                "kind": "InferenceService",
                "metadata": {"name": f"model{index}", "namespace": "ml"},
                "spec": {
                    "predictor": {
                        "model": {
                            "modelFormat": {"name": "sklearn"},
                            "storageUri": f"s3://models/{index}",
                        }
                    }
                },
            },
            dependencies=[namespace, kserve],
        )

    started = time.perf_counter()
    report = check(builder)
    elapsed = time.perf_counter() - started

    assert report.ok, describe(report.findings)
    assert report.objects_examined["kubernetes"] == 101
    assert report.objects_examined["crd"] == 100
    assert elapsed < 10, f"checking 200 objects took {elapsed:.1f}s"
