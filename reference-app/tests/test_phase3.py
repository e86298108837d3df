"""Phase 3: canary promotion with automatic promote/rollback, and Prometheus monitoring.

The canary tests use real models trained on the weather data and a real MLflow registry
(sqlite). The reliability test runs the champion and the challenger as real server
processes and kills the challenger mid-canary. The monitoring test starts a real Prometheus
server that scrapes the router and a scorer process, then queries Prometheus's HTTP API.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from _require import free_port, unavailable
from mlops_reference_app import data, tracking, training
from mlops_reference_app.canary import (
    ArmSummary,
    CanaryConfig,
    CanaryDecision,
    CanaryRouter,
    HttpScorer,
    InProcessScorer,
    RegistryAliases,
    RunningQuality,
    ScorerError,
    auc_standard_error,
    decide,
    router_app,
)
from mlops_reference_app.cost import ComputeUsage, CostTracker
from mlops_reference_app.drift import DriftMonitor
from mlops_reference_app.metrics import AppMetrics
from mlops_reference_app.scorer import ScorerProcess, start_scorer
from mlops_reference_app.settings import AppSettings

pytestmark = pytest.mark.app

for _name in ("DO_NOT_TRACK", "MLFLOW_DISABLE_TELEMETRY", "BENTOML_DO_NOT_TRACK"):
    os.environ.setdefault(_name, "true")

MODEL = "rain-tomorrow"


# -- fixtures ------------------------------------------------------------------------------


@dataclass
class Registry:
    settings: AppSettings
    champion: int
    challenger: int
    champion_model: Any
    challenger_model: Any
    traffic: pd.DataFrame  # 2014-2015 rows: never seen by either model


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """Two real versions in a sqlite registry: champion (2012) and challenger (2012-2013)."""
    weather = data.load_weather()
    settings = AppSettings.embedded(tmp_path_factory.mktemp("phase3"))
    versions = []
    for end in ("2013-01-01", "2014-01-01"):
        window = data.window(weather, "2012-01-01", end)
        trained = training.train(window)
        run_id = tracking.log_training_run(
            settings, trained, data_version=f"test-{end}", params={"window_end": end}
        )
        versions.append(tracking.register(settings, run_id))
    tracking.set_alias(settings, versions[0], tracking.CHAMPION)
    tracking.set_alias(settings, versions[1], tracking.CHALLENGER)
    return Registry(
        settings=settings,
        champion=versions[0],
        challenger=versions[1],
        champion_model=tracking.load_model(settings, tracking.CHAMPION),
        challenger_model=tracking.load_model(settings, tracking.CHALLENGER),
        traffic=data.window(weather, "2014-01-01", "2016-01-01"),
    )


def _requests(traffic: pd.DataFrame, n: int, rows: int = 5) -> Iterator[pd.DataFrame]:
    for i in range(n):
        start = (i * rows) % (len(traffic) - rows)
        yield traffic.iloc[start : start + rows]


class _Slow:
    """A scorer that answers correctly but late."""

    def __init__(self, inner: InProcessScorer, delay: float) -> None:
        self.inner, self.delay, self.version = inner, delay, inner.version

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        time.sleep(self.delay)
        return self.inner.predict(frame)

    def close(self) -> None:
        pass


class _Inverted:
    """A scorer whose probabilities are upside down: fast, error-free, and wrong."""

    def __init__(self, inner: InProcessScorer) -> None:
        self.inner, self.version = inner, inner.version

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return 1.0 - self.inner.predict(frame)

    def close(self) -> None:
        pass


# -- the decision rules (pure) ---------------------------------------------------------------


def _arm(role: str, **kw: Any) -> ArmSummary:
    base: dict[str, Any] = {
        "role": role,
        "version": "1" if role == "champion" else "2",
        "requests": 100,
        "errors": 0,
        "consecutive_errors": 0,
        "latency_p95_seconds": 0.004,
        "labelled": 0,
        "quality": None,
    }
    return ArmSummary(**{**base, **kw})


def test_decide_promotes_a_healthy_challenger_only_after_the_window() -> None:
    config = CanaryConfig(window_requests=100, min_requests_to_judge=20)
    early = decide(_arm("champion"), _arm("challenger", requests=99), config)
    assert early.action == "continue"
    assert "99 of 100" in early.reason
    done = decide(_arm("champion"), _arm("challenger"), config)
    assert done.action == "promote"
    assert "held up over the window" in done.reason


@pytest.mark.parametrize(
    ("challenger", "fragment"),
    [
        (
            {"consecutive_errors": 3, "errors": 3, "requests": 5, "last_error": "ConnectError"},
            "3 requests in a row",
        ),
        ({"errors": 5, "requests": 50}, "error rate 10.0%"),
        ({"latency_p95_seconds": 0.050}, "p95 latency 50.0 ms"),
        ({"quality": 0.60, "quality_se": 0.02, "labelled": 400}, "roc_auc 0.600"),
    ],
)
def test_decide_rolls_back_on_each_rule(challenger: dict[str, Any], fragment: str) -> None:
    champion = _arm("champion", quality=0.70, quality_se=0.02, labelled=400)
    decision = decide(champion, _arm("challenger", **challenger), CanaryConfig(window_requests=100))
    assert decision.action == "rollback"
    assert fragment in decision.reason


def test_decide_tolerates_noise_within_the_bounds() -> None:
    config = CanaryConfig(window_requests=100)
    champion = _arm("champion", errors=1, quality=0.70, quality_se=0.06, labelled=40)
    challenger = _arm(
        "challenger",
        errors=2,
        latency_p95_seconds=0.004 * 1.5 + 0.004,
        quality=0.60,
        quality_se=0.06,
        labelled=40,
    )
    # 0.10 below the champion, but on 40 labelled rows that is within sampling noise.
    assert decide(champion, challenger, config).action == "promote"
    # The same gap measured on many rows (small standard errors) is a real regression.
    precise = decide(
        replace(champion, quality_se=0.01), replace(challenger, quality_se=0.01), config
    )
    assert precise.action == "rollback"
    # A single early error is not enough to judge (below min_requests_to_judge).
    assert (
        decide(
            champion, _arm("challenger", requests=5, errors=1, consecutive_errors=1), config
        ).action
        == "continue"
    )


def test_auc_standard_error_matches_hanley_mcneil() -> None:
    # A = 0.5 with 50 positives and 50 negatives: sqrt((0.25 + 49/12 + 49/12) / 2500).
    assert auc_standard_error(0.5, 50, 50) == pytest.approx(0.05802, abs=1e-4)
    assert auc_standard_error(0.9, 50, 50) < auc_standard_error(0.7, 50, 50)
    assert auc_standard_error(0.7, 500, 500) < auc_standard_error(0.7, 50, 50)


def test_running_quality_equals_the_batch_metrics_after_every_row() -> None:
    from sklearn.metrics import accuracy_score, roc_auc_score

    rng = np.random.default_rng(7)
    labels = rng.integers(0, 2, 400)
    # Rounded scores make many ties, which count one half in a ROC AUC.
    scores = np.round(np.clip(0.3 * labels + rng.random(400) * 0.7, 0, 1), 2)
    running = RunningQuality()
    by_auc = CanaryConfig(min_labelled=2)
    by_accuracy = CanaryConfig(min_labelled=2, quality_metric="accuracy")
    assert running.value(by_auc) is None
    for n, (score, label) in enumerate(zip(scores, labels, strict=True), start=1):
        running.add(float(score), int(label))
        seen = labels[:n]
        if len(set(seen.tolist())) < 2:
            assert running.value(by_auc) is None
            continue
        auc, se = running.value(by_auc)  # type: ignore[misc]
        assert auc == pytest.approx(roc_auc_score(seen, scores[:n]), abs=1e-12)
        assert se == pytest.approx(auc_standard_error(auc, int(seen.sum()), n - int(seen.sum())))
        accuracy, _ = running.value(by_accuracy)  # type: ignore[misc]
        assert accuracy == pytest.approx(accuracy_score(seen, scores[:n] >= 0.5), abs=1e-12)
    assert running.labelled == 400
    assert running.value(CanaryConfig(min_labelled=401)) is None
    with pytest.raises(ValueError, match="label 2 is not 0 or 1"):
        running.add(0.4, 2)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("challenger_share", 0.0),
        ("challenger_share", 1.0),
        ("window_requests", 5),
        ("max_latency_ratio", 0.9),
    ],
)
def test_canary_config_rejects_bad_values(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=field):
        CanaryConfig(**{field: value})


# -- the router with in-process scorers and the real registry --------------------------------


def test_healthy_challenger_is_promoted_and_aliases_follow(registry: Registry) -> None:
    metrics = AppMetrics()
    decisions: list[CanaryDecision] = []
    aliases = RegistryAliases(registry.settings)
    router = CanaryRouter(
        InProcessScorer(registry.champion_model, version=registry.champion),
        InProcessScorer(registry.challenger_model, version=registry.challenger),
        model_name=MODEL,
        config=CanaryConfig(challenger_share=0.3, window_requests=60),
        metrics=metrics,
        on_decision=lambda d: (decisions.append(d), aliases(d)),
    )
    served = {"champion": 0, "challenger": 0}
    for frame in _requests(registry.traffic, 400):
        result = router.predict(frame)
        served[result.role] += 1
        router.feedback(result.request_id, frame[data.TARGET].tolist())
        if router.state == "stable":
            break
    assert [d.action for d in decisions] == ["promote"], decisions
    decision = decisions[0]
    assert decision.challenger.requests == 60
    assert decision.challenger.quality is not None
    assert decision.champion.quality is not None
    # The share is honoured (60 challenger requests out of roughly 200).
    assert 0.2 < served["challenger"] / sum(served.values()) < 0.4
    assert router.champion.version == str(registry.challenger)
    assert tracking.champion_version(registry.settings) == registry.challenger
    assert tracking.alias_version(registry.settings, tracking.CHALLENGER) is None
    assert (
        metrics.sample("mlops_canary_decisions_total", {"model": MODEL, "decision": "promote"})
        == 1.0
    )
    assert (
        metrics.sample("mlops_model_version", {"model": MODEL, "role": "champion"})
        == registry.challenger
    )
    assert metrics.sample("mlops_canary_traffic_share", {"model": MODEL}) == 0.0
    # Put the registry back for the other tests.
    tracking.set_alias(registry.settings, registry.champion, tracking.CHAMPION)
    tracking.set_alias(registry.settings, registry.challenger, tracking.CHALLENGER)


def test_slow_challenger_is_rolled_back_on_latency(registry: Registry) -> None:
    router = CanaryRouter(
        InProcessScorer(registry.champion_model, version=registry.champion),
        _Slow(InProcessScorer(registry.challenger_model, version=registry.challenger), 0.03),
        model_name=MODEL,
        config=CanaryConfig(challenger_share=0.5, window_requests=200, min_requests_to_judge=20),
    )
    for frame in _requests(registry.traffic, 200):
        router.predict(frame)
        if router.state == "stable":
            break
    decision = router.last_decision
    assert decision is not None
    assert decision.action == "rollback"
    assert "p95 latency" in decision.reason
    assert router.champion.version == str(registry.champion)


def test_wrong_challenger_is_rolled_back_on_labelled_feedback(registry: Registry) -> None:
    metrics = AppMetrics()
    router = CanaryRouter(
        InProcessScorer(registry.champion_model, version=registry.champion),
        _Inverted(InProcessScorer(registry.challenger_model, version=registry.challenger)),
        model_name=MODEL,
        config=CanaryConfig(challenger_share=0.5, window_requests=400),
        metrics=metrics,
    )
    for frame in _requests(registry.traffic, 400):
        result = router.predict(frame)
        router.feedback(result.request_id, frame[data.TARGET].tolist())
        if router.state == "stable":
            break
    decision = router.last_decision
    assert decision is not None
    assert decision.action == "rollback"
    assert "roc_auc" in decision.reason
    assert decision.challenger.quality < 0.5 < decision.champion.quality
    # The champion's live quality is exported under the drift/quality metric contract.
    assert (
        0.5
        < metrics.sample("mlops_model_quality_score", {"model": MODEL, "metric": "roc_auc"})
        <= 1.0
    )


# -- reliability: real processes, the challenger dies mid-canary -----------------------------


@pytest.fixture(scope="module")
def scorers(
    registry: Registry, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ScorerProcess]]:
    logs = tmp_path_factory.mktemp("scorer-logs")
    started: dict[str, ScorerProcess] = {}
    try:
        for role, version in (("champion", registry.champion), ("challenger", registry.challenger)):
            started[role] = start_scorer(
                tracking_uri=registry.settings.tracking_uri,
                model_name=MODEL,
                version=version,
                port=free_port(),
                role=role,
                log_path=logs / f"{role}.log",
            )
        yield started
    finally:
        for process in started.values():
            process.stop()


def test_challenger_process_dies_mid_canary_champion_keeps_serving(
    registry: Registry, scorers: dict[str, ScorerProcess]
) -> None:
    champion_proc, challenger_proc = scorers["champion"], scorers["challenger"]
    # The processes serve the registry's real models.
    sample = registry.traffic.iloc[:5]
    np.testing.assert_allclose(
        HttpScorer(champion_proc.url, version=registry.champion).predict(sample),
        training.positive_probability(registry.champion_model, sample[list(data.FEATURES)]),
        rtol=1e-9,
    )
    router = CanaryRouter(
        HttpScorer(champion_proc.url, version=registry.champion),
        HttpScorer(challenger_proc.url, version=registry.challenger),
        model_name=MODEL,
        config=CanaryConfig(challenger_share=0.3, window_requests=150),
        on_decision=RegistryAliases(registry.settings),
    )
    answered, fallbacks, before_kill = 0, 0, {"challenger": 0, "champion": 0}
    requests = list(_requests(registry.traffic, 200))
    for i, frame in enumerate(requests):
        if i == 60:
            assert router.state == "canary"
            challenger_proc.kill()
            assert not challenger_proc.alive()
        result = router.predict(frame)  # must never raise: the champion is alive
        assert result.probabilities.shape == (len(frame),)
        assert np.all((result.probabilities >= 0) & (result.probabilities <= 1))
        answered += 1
        fallbacks += result.fallback
        if i < 60:
            before_kill[result.role] += 1
    assert answered == len(requests)
    assert before_kill["challenger"] > 5  # the challenger really served before it died
    decision = router.last_decision
    assert decision is not None
    assert decision.action == "rollback", decision
    assert "in a row" in decision.reason
    assert fallbacks == router.config.max_consecutive_errors
    assert router.state == "stable"
    assert router.champion.version == str(registry.champion)
    # The registry was rolled back: champion untouched, challenger alias gone and tagged.
    assert tracking.champion_version(registry.settings) == registry.champion
    assert tracking.alias_version(registry.settings, tracking.CHALLENGER) is None
    from mlflow import MlflowClient

    tags = (
        MlflowClient(registry.settings.tracking_uri)
        .get_model_version(MODEL, str(registry.challenger))
        .tags
    )
    assert tags["canary"] == "rolled_back"
    assert "in a row" in tags["canary_reason"]
    tracking.set_alias(registry.settings, registry.challenger, tracking.CHALLENGER)


# -- monitoring: a real Prometheus scrapes the router and a scorer process -------------------


class _Server:
    """uvicorn in a thread, for the router's ASGI app."""

    def __init__(self, app: Any, port: int) -> None:
        import uvicorn

        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{port}"

    def __enter__(self) -> _Server:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("router app did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def _prometheus(tmp: Path, targets: list[str], port: int) -> subprocess.Popen[bytes]:
    binary = shutil.which("prometheus") or "/usr/bin/prometheus"
    if not Path(binary).exists():
        unavailable("prometheus is not installed (apt-get install prometheus)")
    listed = ", ".join(f"'{t}'" for t in targets)
    config = tmp / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"scrape_configs:\n  - job_name: reference-app\n    static_configs:\n      - targets: [{listed}]\n"
    )
    log = (tmp / "prometheus.log").open("wb")
    return subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _query(prom: str, expr: str, *, want: int = 1, timeout: float = 30.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    result: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        try:
            body = httpx.get(f"{prom}/api/v1/query", params={"query": expr}, timeout=5).json()
            result = body["data"]["result"]
            if len(result) >= want:
                return result
        except (httpx.HTTPError, KeyError, ValueError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"Prometheus returned {len(result)} series for {expr!r} (wanted {want})")


def test_prometheus_scrapes_router_and_scorer_metrics(
    registry: Registry, scorers: dict[str, ScorerProcess], tmp_path: Path
) -> None:
    metrics = AppMetrics()
    weather = data.load_weather()
    router = CanaryRouter(
        InProcessScorer(registry.champion_model, version=registry.champion),
        model_name=MODEL,
        metrics=metrics,
    )
    drift = DriftMonitor(
        data.window(weather, "2012-01-01", "2013-01-01"),
        model_name=MODEL,
        features=data.FEATURES,
        metrics=metrics,
    )
    report = drift.observe(data.window(weather, "2014-06-01", "2014-09-01"))
    cost = CostTracker(model_name=MODEL, metrics=metrics)
    cost.record_pipeline("training", ComputeUsage(cpu_seconds=12.5, wall_seconds=9.0))
    scorer = scorers["champion"]
    with _Server(router_app(router), free_port()) as app:
        for frame in _requests(registry.traffic, 40):
            rows = [
                {k: float(v) for k, v in r.items()}
                for r in frame[list(data.FEATURES)].to_dict("records")
            ]
            body = httpx.post(f"{app.url}/predict", json={"rows": rows}).json()
            assert len(body["probabilities"]) == len(rows)
            httpx.post(
                f"{app.url}/feedback",
                json={"request_id": body["request_id"], "labels": frame[data.TARGET].tolist()},
            )
            httpx.post(f"{scorer.url}/predict", json={"rows": rows}).raise_for_status()
        prom_port = free_port()
        prom = _prometheus(
            tmp_path,
            [app.url.removeprefix("http://"), scorer.url.removeprefix("http://")],
            prom_port,
        )
        base = f"http://127.0.0.1:{prom_port}"
        try:
            up = _query(base, 'up{job="reference-app"} == 1', want=2)
            assert len(up) == 2
            drift_series = _query(
                base, f'mlops_feature_drift_score{{model="{MODEL}"}}', want=len(data.FEATURES)
            )
            scraped = {s["metric"]["feature"]: float(s["value"][1]) for s in drift_series}
            assert scraped == pytest.approx(report.scores)
            share = _query(base, f'mlops_dataset_drift_share{{model="{MODEL}"}}')
            assert float(share[0]["value"][1]) == pytest.approx(report.drift_share)
            quality = _query(base, f'mlops_model_quality_score{{model="{MODEL}",metric="roc_auc"}}')
            assert 0.5 < float(quality[0]["value"][1]) <= 1.0
            # Latency histograms from both the router and the scorer process.
            p95 = _query(
                base,
                "histogram_quantile(0.95, sum by (instance, le) (mlops_request_duration_seconds_bucket))",
                want=2,
            )
            assert all(0 < float(s["value"][1]) < 5 for s in p95)
            router_target = app.url.removeprefix("http://")
            count = _query(base, f'sum(mlops_predictions_total{{instance="{router_target}"}})')
            assert float(count[0]["value"][1]) == 40 * 5
            versions = _query(
                base, f'mlops_model_version{{model="{MODEL}",role="champion"}}', want=2
            )
            assert {float(s["value"][1]) for s in versions} == {float(registry.champion)}
            cost_series = _query(base, f'mlops_cost_per_1k_predictions_usd{{model="{MODEL}"}}')
            assert float(cost_series[0]["value"][1]) > 0
            compute = _query(
                base, f'mlops_pipeline_compute_seconds{{model="{MODEL}",pipeline="training"}}'
            )
            assert float(compute[0]["value"][1]) == 12.5
            errors = _query(base, "sum(mlops_request_errors_total) or vector(0)")
            assert float(errors[0]["value"][1]) == 0
        finally:
            prom.terminate()
            prom.wait(timeout=20)


def test_scorer_error_is_counted_and_raised(registry: Registry) -> None:
    metrics = AppMetrics()
    dead = HttpScorer(f"http://127.0.0.1:{free_port()}", version=registry.challenger)
    router = CanaryRouter(dead, model_name=MODEL, metrics=metrics)
    with pytest.raises(ScorerError, match="ConnectError"):
        router.predict(registry.traffic.iloc[:3])
    labels = {"model": MODEL, "role": "champion", "version": str(registry.challenger)}
    assert metrics.sample("mlops_request_errors_total", labels) == 1.0
