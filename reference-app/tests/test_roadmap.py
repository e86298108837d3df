"""The main job and the benchmarks, run as a user runs them: as separate processes.

The roadmap runs in ``--fast`` mode in a temp workdir with every real tool (KFP local
runner, DVC, MLflow, Feast, BentoML build, scorer processes, evidently, Prometheus when
installed). The serving benchmark runs with a small load and must report zero errors; the
lead-time benchmark runs until one batch has released a new champion.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient
from mlops_reference_app import roadmap

pytestmark = pytest.mark.app

APP_DIR = Path(__file__).resolve().parents[1]
BENCHMARKS = APP_DIR / "benchmarks"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
HEADINGS = (
    "== Phase 1 (weeks 1-4)",
    "== Phase 2 (weeks 5-8)",
    "== Phase 3 (weeks 9-12)",
    "== Phase 4 (weeks 13-16)",
    "== Summary",
)
SUMMARY_LINES = (
    "Models:",
    "Drift:",
    "Promotions:",
    "Champion now:",
    "Serving latency",
    "Lead time",
    "Kubeflow pipeline",
    "Cost:",
    "Report:",
)


def _env() -> dict[str, str]:
    env = {**os.environ, **roadmap.QUIET_ENV}
    # Feast, imported by other tests of this session, leaves these behind.
    for name in roadmap.PROMETHEUS_ENV:
        env.pop(name, None)
    return env


def _run(args: list[str], *, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=APP_DIR,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _explain(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\nstdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}"


@pytest.fixture(scope="module")
def fast_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    workdir = tmp_path_factory.mktemp("roadmap") / "work"
    result = _run(["-m", "mlops_reference_app", str(workdir), "--fast"], timeout=900)
    assert result.returncode == 0, _explain(result)
    return workdir, result


@pytest.fixture(scope="module")
def summary(fast_run: tuple[Path, subprocess.CompletedProcess[str]]) -> dict[str, Any]:
    workdir, _ = fast_run
    return json.loads((workdir / "summary.json").read_text())


def test_fast_roadmap_prints_every_phase_then_the_summary(
    fast_run: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    _, result = fast_run
    out = result.stdout
    positions = [out.find(heading) for heading in HEADINGS]
    assert all(p >= 0 for p in positions), f"missing headings in:\n{out}"
    assert positions == sorted(positions), "phases printed out of order"
    summary_text = out[positions[-1] :]
    for line in SUMMARY_LINES:
        assert line in summary_text, f"the summary lacks {line!r}:\n{summary_text}"
    # Tool chatter goes to log files, not to the progress a reader follows.
    assert "KFP Executor" not in out
    assert "Materializing" not in out
    assert "Traceback" not in result.stderr


def test_fast_roadmap_writes_the_report_and_its_figures(
    fast_run: tuple[Path, subprocess.CompletedProcess[str]], summary: dict[str, Any]
) -> None:
    workdir, _ = fast_run
    report = (workdir / "report.md").read_text()
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    assert sorted(images) == sorted(name for name, _, _ in roadmap.FIGURES)
    for name in images:
        content = (workdir / name).read_bytes()
        assert content.startswith(PNG_MAGIC), f"{name} is not a PNG"
        assert len(content) > 5_000, f"{name} is suspiciously small"
    promotions = report.split("## Promotions", 1)[1].split("## Months", 1)[0]
    rows = [line for line in promotions.splitlines() if re.match(r"\| v\d+ \|", line)]
    assert len(rows) == len(summary["deployments"])
    months = report.split("## Months", 1)[1]
    for batch in summary["batches"]:
        assert f"| {batch['month']} |" in months


def test_fast_roadmap_summary_has_consistent_figures(
    fast_run: tuple[Path, subprocess.CompletedProcess[str]], summary: dict[str, Any]
) -> None:
    workdir, _ = fast_run
    assert set(roadmap.SUMMARY_KEYS) <= set(summary)
    batches = summary["batches"]
    assert summary["batches_streamed"] == len(batches) == roadmap.FAST_BATCHES
    months = [b["month"] for b in batches]
    assert months == sorted(months)
    assert len(set(months)) == len(months)
    per_day = summary["data"]["requests_per_day"]
    assert summary["requests_served"] == sum(b["requests"] for b in batches)
    assert all(b["requests"] == b["rows"] * per_day for b in batches)
    # One model from the Kubeflow pipeline, one challenger in phase 3, plus retrains.
    retrains = sum(1 for b in batches if b["action"] == "retrain")
    assert summary["models_trained"] == 2 + retrains
    assert summary["drift_detections"] == sum(1 for b in batches if b["dataset_drift"])
    latency = summary["serving_latency_ms"]
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"]
    assert summary["kfp_pipeline_seconds"] > 0
    assert summary["training_cpu_seconds"] > 0
    assert summary["cost_per_1k_predictions_usd"] > 0
    assert len(summary["data_version"]) == 32
    assert summary["feast"]["training_set_rows"] > 300
    assert summary["bento"]["tag"].startswith("rain_tomorrow:")
    # The registry agrees with the summary, and the data version is in the DVC remote.
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    champion = client.get_model_version_by_alias("rain-tomorrow", "champion")
    assert int(champion.version) == summary["champion_version"]
    md5 = summary["data_version"]
    assert (workdir / "dvc-remote" / "files" / "md5" / md5[:2] / md5[2:]).is_file()
    promoted = sum(1 for d in summary["deployments"] if d["outcome"] in ("champion", "promote"))
    assert promoted == summary["promotions"]
    prometheus = summary["prometheus"]
    if prometheus["available"]:
        assert prometheus["predictions_total"] == summary["requests_served"]


def test_roadmap_refuses_a_workdir_it_did_not_make(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    assert roadmap.main([str(tmp_path), "--fast"]) == 2
    assert "not made by the roadmap" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_serving_benchmark_small_load_completes_without_errors(tmp_path: Path) -> None:
    out = tmp_path / "serving.json"
    result = _run(
        [
            str(BENCHMARKS / "serving.py"),
            "--requests",
            "200",
            "--concurrency",
            "4",
            "--warmup",
            "20",
            "--json",
            str(out),
        ],
        timeout=600,
    )
    assert result.returncode == 0, _explain(result)
    figures = json.loads(out.read_text())
    assert figures["errors"] == 0
    assert [r["server"] for r in figures["results"]] == [
        "bentoml",
        "bentoml scikit-learn",
        "mlflow models serve",
    ]
    for r in figures["results"]:
        assert r["requests"] == 200
        assert r["errors"] == 0
        assert r["throughput_rps"] > 0
        assert 0 < r["p50_ms"] <= r["p95_ms"] <= r["p99_ms"]
    assert "BentoML / MLflow: throughput" in result.stdout
    assert "BentoML scoring with scikit-learn / MLflow: throughput" in result.stdout


def test_lead_time_benchmark_measures_a_release(tmp_path: Path) -> None:
    out = tmp_path / "lead.json"
    result = _run(
        [str(BENCHMARKS / "lead_time.py"), "--releases", "1", "--json", str(out)],
        timeout=600,
    )
    assert result.returncode == 0, _explain(result)
    figures = json.loads(out.read_text())
    assert figures["releases"] == 1
    released = [b for b in figures["batches"] if b["released"]]
    assert len(released) == 1
    batch = released[0]
    # The new serving process answered with the version the registry now calls champion.
    assert batch["answered_version"] == batch["champion_after"] != batch["champion_before"]
    assert batch["lead_time_seconds"] >= batch["steps"]["serve"] > 0
    assert figures["median_release_seconds"] == batch["lead_time_seconds"]
    assert "median over 1 releases" in result.stdout
