"""Every dashboard query and every rule runs on a real Prometheus server.

A small exporter thread serves synthetic series for every metric of the catalogue, with the
names, labels and bucket spellings of the real exporters (KServe's and BentoML's Python clients
write ``le="1.0"``, Knative's Go exporter ``le="1"``). Prometheus scrapes it every second and
loads all generated rule files. The test then requires every rule to evaluate without error,
and every dashboard panel and variable query, with Grafana's variables substituted, to succeed
without warnings and to return data.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from mlops_blueprints.components.monitoring._catalogue import METRIC_SOURCES
from mlops_blueprints.components.monitoring._dashboards import (
    DASHBOARDS,
    dashboard_queries,
    dashboards,
)
from mlops_blueprints.components.monitoring._rules import (
    RULE_FILES,
    kube_state_metrics_label,
    rule_groups,
)
from mlops_blueprints.components.monitoring._thresholds import (
    LATENCY_BUCKET_BOUNDS_SECONDS,
    AlertThresholds,
)

from tests.services._require import unavailable

pytestmark = pytest.mark.slow

PROMETHEUS = "/usr/bin/prometheus"
# Produced by Prometheus itself for every scrape target, so not fed by the exporter.
SELF_PRODUCED = {"up"}
RATE_INTERVAL = "5m"

# --- synthetic exporter ---------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    name: str
    labels: dict[str, str]
    value: Callable[[float], float]  # seconds since the exporter started -> sample value


def _counter(per_second: float, start: float = 0.0) -> Callable[[float], float]:
    return lambda elapsed: start + per_second * (elapsed + 60.0)


def _gauge(value: float) -> Callable[[float], float]:
    return lambda _: value


def _python_le(bound: float) -> str:
    return repr(float(bound))


def _go_le(bound: float) -> str:
    return f"{bound:g}"


def _histogram(
    name: str,
    labels: dict[str, str],
    per_second: float,
    *,
    le: Callable[[float], str],
    typical_seconds: float,
) -> list[Series]:
    """Buckets, count and sum of a latency histogram with exponentially distributed latency."""
    series = []
    for bound in LATENCY_BUCKET_BOUNDS_SECONDS:
        share = 1.0 - math.exp(-bound / typical_seconds)
        series.append(
            Series(f"{name}_bucket", {**labels, "le": le(bound)}, _counter(per_second * share))
        )
    series += [
        Series(f"{name}_bucket", {**labels, "le": "+Inf"}, _counter(per_second)),
        Series(f"{name}_count", labels, _counter(per_second)),
        Series(f"{name}_sum", labels, _counter(per_second * typical_seconds)),
    ]
    return series


def synthetic_series() -> list[Series]:
    bentoml = {
        "namespace": "models",
        "service": "churn-predictor",
        "pod": "churn-predictor-6b7f-x1",
        "endpoint": "/predict",
        "service_name": "churn",
        "service_version": "v3",
        "runner_name": "",
    }
    knative = {
        "namespace": "models",
        "pod": "fraud-predictor-00002-deployment-5c-z9",
        "k8s_namespace_name": "models",
        "kn_service_name": "fraud-predictor",
        "kn_configuration_name": "fraud-predictor",
        "kn_revision_name": "fraud-predictor-00002",
        "service_name": "fraud-predictor",
    }
    kserve = {
        "namespace": "models",
        "service": "iris-predictor",
        "pod": "iris-predictor-7d9c-k2",
        "model_name": "iris",
    }
    gpu_busy = {
        "gpu": "0",
        "UUID": "GPU-1b2c3d4e-0000-1111-2222-333344445555",
        "device": "nvidia0",
        "modelName": "NVIDIA A10G",
        "Hostname": "ip-10-0-20-11",
        "namespace": "models",
        "pod": "llm-predictor-0",
        "container": "kserve-container",
    }
    gpu_idle = {
        "gpu": "0",
        "UUID": "GPU-9f8e7d6c-0000-1111-2222-333344445555",
        "device": "nvidia0",
        "modelName": "NVIDIA A10G",
        "Hostname": "ip-10-0-20-12",
    }
    neuron = {
        "instance_id": "i-0abc1234def567890",
        "instance_type": "inf2.xlarge",
        "availability_zone": "us-east-1a",
        "region": "us-east-1",
        "subnet_id": "subnet-0123456789abcdef0",
        "runtime_tag": "4711",
    }
    drift = {"namespace": "models", "model": "churn"}
    argo = {"namespace": "kubeflow"}
    cpu_node = {"node": "ip-10-0-10-5", "instance_type": "m6i.xlarge", "region": "us-east-1"}
    gpu_node = {"node": "ip-10-0-20-11", "instance_type": "g5.xlarge", "region": "us-east-1"}
    team, model, level = (
        kube_state_metrics_label(f"mlops-blueprints.io/{key}") for key in ("team", "model", "level")
    )
    pods = [
        (
            "models",
            "churn-predictor-6b7f-x1",
            cpu_node["node"],
            0.5,
            2**30,
            0,
            "risk",
            "churn",
            "3",
        ),
        ("models", "llm-predictor-0", gpu_node["node"], 2.0, 8 * 2**30, 1, "genai", "llm", "3"),
        ("mlops", "mlflow-6d9f8b-qk2", cpu_node["node"], 0.25, 2**29, 0, "platform", "", "1"),
        ("default", "scratch-pod", cpu_node["node"], 0.1, 2**28, 0, "", "", ""),
    ]

    series: list[Series] = []
    # Serving: BentoML (churn), Knative queue-proxy (fraud), KServe model server (iris).
    for code, rate in (("200", 12.0), ("500", 0.1)):
        series.append(
            Series(
                "bentoml_service_request_total",
                {**bentoml, "http_response_code": code},
                _counter(rate),
            )
        )
    series += _histogram(
        "bentoml_service_request_duration_seconds",
        {**bentoml, "http_response_code": "200"},
        12.0,
        le=_python_le,
        typical_seconds=0.04,
    )
    series.append(Series("bentoml_service_request_in_progress", bentoml, _gauge(3)))
    series += _histogram(
        "kn_serving_invocation_duration_seconds",
        {**knative, "http_response_status_code": "200"},
        8.0,
        le=_go_le,
        typical_seconds=0.08,
    )
    series.append(
        Series(
            "kn_serving_invocation_duration_seconds_count",
            {**knative, "http_response_status_code": "503"},
            _counter(0.2),
        )
    )
    series.append(Series("kn_serving_queue_depth", knative, _gauge(4)))
    for step, typical in (("predict", 0.02), ("preprocess", 0.002), ("postprocess", 0.001)):
        series += _histogram(
            f"request_{step}_seconds", kserve, 20.0, le=_python_le, typical_seconds=typical
        )
    # Accelerators.
    for labels, util, used in ((gpu_busy, 63.0, 18000.0), (gpu_idle, 0.0, 0.0)):
        series += [
            Series("DCGM_FI_DEV_GPU_UTIL", labels, _gauge(util)),
            Series("DCGM_FI_DEV_FB_USED", labels, _gauge(used)),
            Series("DCGM_FI_DEV_FB_FREE", labels, _gauge(22731.0 - used)),
            Series("DCGM_FI_DEV_XID_ERRORS", labels, _gauge(0)),
            Series("DCGM_FI_DEV_POWER_USAGE", labels, _gauge(60.0 + util)),
            Series("DCGM_FI_DEV_GPU_TEMP", labels, _gauge(40.0 + util / 4)),
        ]
    for core, ratio in (("0", 0.71), ("1", 0.05)):
        series.append(
            Series("neuroncore_utilization_ratio", {**neuron, "neuroncore": core}, _gauge(ratio))
        )
    for location, used in (("host", 9.0e6), ("neuron_device", 6.3e9)):
        series.append(
            Series(
                "neuron_runtime_memory_used_bytes",
                {**neuron, "memory_location": location},
                _gauge(used),
            )
        )
    series.append(
        Series("execution_errors_total", {**neuron, "error_type": "transient"}, _counter(0.01))
    )
    # The reference application's drift monitor.
    for feature, score in (("tenure", 0.62), ("monthly_charges", 0.12), ("contract", 0.05)):
        series.append(
            Series("mlops_feature_drift_score", {**drift, "feature": feature}, _gauge(score))
        )
    series.append(Series("mlops_dataset_drift_share", drift, _gauge(1 / 3)))
    for metric, score in (("roc_auc", 0.81), ("accuracy", 0.77)):
        series.append(
            Series("mlops_model_quality_score", {**drift, "metric": metric}, _gauge(score))
        )
    series.append(
        Series(
            "ALERTS",
            {
                **drift,
                "alertname": "FeatureDriftDetected",
                "alertstate": "firing",
                "feature": "tenure",
            },
            _gauge(1),
        )
    )
    # Pipelines.
    for phase, rate in (("Succeeded", 0.02), ("Failed", 0.005), ("Error", 0.001)):
        series.append(
            Series("argo_workflows_total_count", {**argo, "phase": phase}, _counter(rate, 10))
        )
    # Cost: OpenCost prices and allocations, kube-state-metrics pod labels.
    for node, total, gpu_price in ((cpu_node, 0.192, 0.0), (gpu_node, 1.006, 0.85)):
        series += [
            Series("node_total_hourly_cost", node, _gauge(total)),
            Series("node_cpu_hourly_cost", node, _gauge(0.031611)),
            Series("node_ram_hourly_cost", node, _gauge(0.004237)),
            Series("node_gpu_hourly_cost", node, _gauge(gpu_price)),
        ]
    for namespace, pod, node_name, cpus, memory, gpus, owner, model_name, level_value in pods:
        container = {"namespace": namespace, "pod": pod, "container": "main", "node": node_name}
        series += [
            Series("container_cpu_allocation", container, _gauge(cpus)),
            Series("container_memory_allocation_bytes", container, _gauge(memory)),
        ]
        if gpus:
            series.append(Series("container_gpu_allocation", container, _gauge(gpus)))
        pod_labels = {"namespace": namespace, "pod": pod, "uid": f"uid-{pod}"}
        for label, value in ((team, owner), (model, model_name), (level, level_value)):
            if value:
                pod_labels[label] = value
        series.append(Series("kube_pod_labels", pod_labels, _gauge(1)))
    return series


def _exposition(series: list[Series], elapsed: float) -> str:
    lines = []
    for s in series:
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()) if v)
        lines.append(f"{s.name}{{{labels}}} {s.value(elapsed)!r}")
    return "\n".join(lines) + "\n"


def test_synthetic_feed_covers_the_catalogue() -> None:
    fed = {s.name.removesuffix("_sum") for s in synthetic_series()}
    assert set(METRIC_SOURCES) - SELF_PRODUCED <= fed


# --- a real Prometheus ----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def exporter() -> Iterator[str]:
    series = synthetic_series()
    started = time.monotonic()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = _exposition(series, time.monotonic() - started).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _get(base: str, path: str, **params: str) -> dict[str, Any]:
    url = f"{base}{path}?{urllib.parse.urlencode(params)}" if params else f"{base}{path}"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:  # 400/422 bodies carry the PromQL error
        return json.loads(error.read())


@pytest.fixture(scope="module")
def prometheus(exporter: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = PROMETHEUS if Path(PROMETHEUS).exists() else shutil.which("prometheus")
    if binary is None:
        unavailable("prometheus is not installed (apt-get install prometheus)")
    workdir = tmp_path_factory.mktemp("prometheus")
    rules_dir = workdir / "rules"
    rules_dir.mkdir()
    for name, groups in rule_groups(AlertThresholds(), include=frozenset(RULE_FILES)).items():
        (rules_dir / f"{name}.yaml").write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules_dir / "*.yaml")],
        "scrape_configs": [
            {
                "job_name": "synthetic",
                "honor_labels": True,
                "static_configs": [{"targets": [exporter]}],
            }
        ],
    }
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = _free_port()
    log = (workdir / "prometheus.log").open("w")
    server = subprocess.Popen(
        [
            binary,
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 45
        while True:
            assert server.poll() is None, (workdir / "prometheus.log").read_text()[-3000:]
            try:
                # Ready once rates exist: several scrapes and rule evaluations have happened.
                result = _get(
                    base, "/api/v1/query", query="mlops:serving_latency_seconds:p95_rate5m"
                )
                if len(result.get("data", {}).get("result", [])) == 3:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, (workdir / "prometheus.log").read_text()[-3000:]
            time.sleep(0.5)
        time.sleep(2)  # one more evaluation round for rules that read recorded series
        yield base
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


# --- rules ----------------------------------------------------------------------------------


def test_every_rule_evaluates_without_error(prometheus: str) -> None:
    groups = _get(prometheus, "/api/v1/rules")["data"]["groups"]
    expected = rule_groups(AlertThresholds(), include=frozenset(RULE_FILES))
    assert {g["name"] for g in groups} == {g["name"] for gs in expected.values() for g in gs}
    problems = [
        f"{group['name']}/{rule['name']}: {rule['health']} {rule.get('lastError', '')}"
        for group in groups
        for rule in group["rules"]
        if rule["health"] != "ok"
    ]
    assert problems == []


def test_recorded_slis_unify_the_three_serving_sources(prometheus: str) -> None:
    result = _get(prometheus, "/api/v1/query", query="mlops:serving_requests:rate5m")
    services = {
        (r["metric"]["namespace"], r["metric"]["service"]) for r in result["data"]["result"]
    }
    assert services == {
        ("models", "churn-predictor"),  # BentoML
        ("models", "fraud-predictor"),  # Knative queue-proxy
        ("models", "iris-predictor"),  # KServe model server
    }
    errors = _get(prometheus, "/api/v1/query", query="mlops:serving_request_errors:ratio_rate5m")
    ratios = {r["metric"]["service"]: float(r["value"][1]) for r in errors["data"]["result"]}
    # KServe's model server exports no status codes, so it has no error ratio.
    assert set(ratios) == {"churn-predictor", "fraud-predictor"}
    assert ratios["churn-predictor"] == pytest.approx(0.1 / 12.1, rel=0.05)
    assert ratios["fraud-predictor"] == pytest.approx(0.2 / 8.2, rel=0.05)


# --- dashboards -----------------------------------------------------------------------------

ALL_QUERIES = [
    (name, where, query)
    for name, board in dashboards(frozenset(DASHBOARDS)).items()
    for where, query in dashboard_queries(board)
]


def grafana_substitute(query: str) -> str:
    """What Grafana sends for "All": ``$__rate_interval`` a duration, other variables ``.*``."""
    query = query.replace("$__rate_interval", RATE_INTERVAL)
    for match in re.finditer(r"\$(\w+)", query):
        before = query[: match.start()]
        assert re.search(r'=~"[^"]*$', before), f"${match.group(1)} is not inside a =~ matcher"
    return re.sub(r"\$(\w+)", ".*", query)


def test_grafana_substitution() -> None:
    assert grafana_substitute('rate(x{a=~"$ns"}[$__rate_interval])') == 'rate(x{a=~".*"}[5m])'
    with pytest.raises(AssertionError):
        grafana_substitute('x{a="$ns"}')


@pytest.mark.parametrize(
    ("dashboard", "where", "query"), ALL_QUERIES, ids=[f"{d}:{w}" for d, w, _ in ALL_QUERIES]
)
def test_dashboard_query(prometheus: str, dashboard: str, where: str, query: str) -> None:
    selector = grafana_substitute(query)
    if where.startswith("variable"):
        label = re.search(r"label_values\(.*,\s*(\w+)\)\s*$", _variable_query(dashboard, where))
        assert label is not None
        response = _get(
            prometheus, f"/api/v1/label/{label.group(1)}/values", **{"match[]": selector}
        )
        assert response["status"] == "success", response
        assert not response.get("warnings"), response["warnings"]
        assert [v for v in response["data"] if v], f"{dashboard} {where}: no values"
        return
    response = _get(prometheus, "/api/v1/query", query=selector)
    assert response["status"] == "success", response
    assert not response.get("warnings"), response["warnings"]
    result = response["data"]["result"]
    assert result, f"{dashboard} {where} returned no data: {selector}"
    for sample in result:
        assert not math.isnan(float(sample["value"][1])), (dashboard, where, sample)


def _variable_query(dashboard: str, where: str) -> str:
    board = dashboards(frozenset({dashboard}))[dashboard]
    name = where.removeprefix("variable ")
    variable = next(v for v in board["templating"]["list"] if v["name"] == name)
    return str(variable["query"]["query"])


def test_a_broken_query_is_reported(prometheus: str) -> None:
    """The harness can fail: a PromQL error comes back as an error, not as empty data."""
    response = _get(prometheus, "/api/v1/query", query="sum by (le (rate(x[5m]))")
    assert response["status"] == "error"
    assert response["errorType"] == "bad_data"
