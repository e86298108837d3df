"""Canary promotion: route a share of traffic to the challenger and decide by live metrics.

:class:`CanaryRouter` sits in front of two scorers, the champion (the registry's
``champion`` alias) and the challenger. Each request goes to the challenger with probability
``challenger_share`` and to the champion otherwise. The router records, per arm, requests,
errors, latency and the predictions it served; labelled feedback (``feedback(request_id,
labels)``) adds prediction quality. After every challenger request it asks :func:`decide`:

- **rollback** as soon as the challenger fails ``max_consecutive_errors`` requests in a row
  (a dead process is caught within a few requests), or, once it has served
  ``min_requests_to_judge`` requests, when its error rate exceeds the champion's by more than
  ``max_error_rate_increase``, its p95 latency exceeds the champion's by more than
  ``max_latency_ratio`` (plus ``latency_slack_seconds``), or its quality on labelled
  feedback falls below the champion's minus ``max_quality_drop`` by more than
  ``quality_z`` standard errors (so sampling noise on a few dozen labelled rows does not
  roll back a good model);
- **promote** when the challenger has served ``window_requests`` requests and none of the
  rollback rules fired;
- **continue** otherwise.

A request the challenger fails is answered by the champion, so callers never see a
challenger failure. On a terminal decision the router changes its own routing (the
challenger becomes the champion, or is dropped), increments
``mlops_canary_decisions_total``, logs the reason, and calls ``on_decision`` so the registry
follows (:class:`RegistryAliases` moves the MLflow aliases).

Scorers are anything with ``version``, ``predict(frame) -> probabilities`` and ``close()``:
:class:`InProcessScorer` wraps a fitted pipeline, :class:`HttpScorer` calls a scorer process
(:mod:`mlops_reference_app.scorer`, or the BentoML service) over HTTP.
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import math
import random
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from mlops_reference_app.data import FEATURES
from mlops_reference_app.metrics import AppMetrics
from mlops_reference_app.training import positive_probability

__all__ = [
    "ArmSummary",
    "CanaryConfig",
    "CanaryDecision",
    "CanaryRouter",
    "HttpScorer",
    "InProcessScorer",
    "RegistryAliases",
    "RoutedPrediction",
    "RunningQuality",
    "Scorer",
    "ScorerError",
    "auc_standard_error",
    "decide",
    "frame_from_rows",
    "router_app",
    "rows_from_frame",
]

logger = logging.getLogger(__name__)

Role = Literal["champion", "challenger"]
Action = Literal["promote", "rollback", "continue"]
CHAMPION: Role = "champion"
CHALLENGER: Role = "challenger"
# Requests whose feedback may still arrive; the oldest are forgotten beyond this.
MAX_PENDING_FEEDBACK = 100_000


class ScorerError(RuntimeError):
    """A scorer could not answer (process gone, timeout, bad response)."""


class Scorer(Protocol):
    version: str

    def predict(self, frame: pd.DataFrame) -> np.ndarray: ...

    def close(self) -> None: ...


def frame_from_rows(
    rows: Sequence[Mapping[str, Any]], features: Sequence[str] = FEATURES
) -> pd.DataFrame:
    """Rows (JSON objects) to a float frame with exactly ``features``; None becomes NaN."""
    if not rows:
        raise ValueError("no rows to score")
    missing = sorted({f for row in rows for f in features if f not in row})
    if missing:
        raise ValueError(f"rows lack features {missing}")
    frame = pd.DataFrame.from_records(list(rows), columns=list(features))
    return frame.apply(pd.to_numeric, errors="coerce").astype(float)


def rows_from_frame(
    frame: pd.DataFrame, features: Sequence[str] = FEATURES
) -> list[dict[str, Any]]:
    """A frame's feature columns as JSON-ready rows (NaN becomes None)."""
    subset = frame[list(features)].astype(float)
    return [
        {k: (None if isinstance(v, float) and math.isnan(v) else float(v)) for k, v in row.items()}
        for row in subset.to_dict(orient="records")
    ]


class InProcessScorer:
    """A fitted classifier called in this process."""

    def __init__(
        self, model: Any, *, version: int | str, features: Sequence[str] = FEATURES
    ) -> None:
        self.model = model
        self.version = str(version)
        self.features = tuple(features)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        try:
            return positive_probability(self.model, frame[list(self.features)])
        except Exception as exc:
            raise ScorerError(f"model version {self.version} failed: {exc}") from exc

    def close(self) -> None:
        return None


class HttpScorer:
    """A model server reached over HTTP: ``POST /predict`` with ``{"rows": [...]}`` answering
    ``{"probabilities": [...]}``. Both the scorer process (:mod:`.scorer`) and the BentoML
    service (:mod:`.service`) speak it.
    """

    def __init__(
        self,
        url: str,
        *,
        version: int | str,
        features: Sequence[str] = FEATURES,
        timeout_seconds: float = 2.0,
        connect_timeout_seconds: float = 0.5,
    ) -> None:
        import httpx

        self.url = url.rstrip("/")
        self.version = str(version)
        self.features = tuple(features)
        self._client = httpx.Client(
            base_url=self.url,
            timeout=httpx.Timeout(timeout_seconds, connect=connect_timeout_seconds),
        )

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        import httpx

        try:
            response = self._client.post(
                "/predict", json={"rows": rows_from_frame(frame, self.features)}
            )
            response.raise_for_status()
            probabilities = response.json()["probabilities"]
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            raise ScorerError(
                f"scorer {self.url} (version {self.version}): {type(exc).__name__}: {exc}"
            ) from exc
        result = np.asarray(probabilities, dtype=float)
        if result.shape != (len(frame),):
            raise ScorerError(
                f"scorer {self.url} returned {result.shape[0]} values for {len(frame)} rows"
            )
        return result

    def close(self) -> None:
        self._client.close()


@dataclass(frozen=True)
class CanaryConfig:
    """How much traffic the challenger gets and how it is judged.

    - ``challenger_share`` (0.2): probability that a request goes to the challenger.
    - ``window_requests`` (200): challenger requests before it can be promoted.
    - ``min_requests_to_judge`` (20): challenger requests before error rate and latency
      can roll it back (a single slow or failed request proves little).
    - ``max_consecutive_errors`` (3): challenger failures in a row that roll back at once.
    - ``max_error_rate_increase`` (0.01): tolerated excess of the challenger's error rate
      over the champion's (absolute, 0.01 = one point).
    - ``max_latency_ratio`` (1.5): tolerated ratio of the challenger's p95 latency to the
      champion's.
    - ``latency_slack_seconds`` (0.005): absolute slack added to the latency bound, so
      millisecond jitter on a fast model does not decide anything.
    - ``min_labelled`` (100): labelled rows per arm (with both classes) before quality
      counts.
    - ``max_quality_drop`` (0.02): tolerated drop of the quality metric below the champion's.
    - ``quality_z`` (1.96): standard errors by which the challenger must fall below that
      bound before quality rolls it back. The rule is checked after every labelled
      request, so it is stricter than a single one-sided test needs. The standard error of
      ROC AUC is Hanley and McNeil's (1982); that of accuracy is binomial. Neighbouring
      rows of a time series are correlated, so the real noise is larger than these errors.
    - ``quality_metric`` ("roc_auc"): "roc_auc" or "accuracy", computed on feedback.
    """

    challenger_share: float = 0.2
    window_requests: int = 200
    min_requests_to_judge: int = 20
    max_consecutive_errors: int = 3
    max_error_rate_increase: float = 0.01
    max_latency_ratio: float = 1.5
    latency_slack_seconds: float = 0.005
    min_labelled: int = 100
    max_quality_drop: float = 0.02
    quality_z: float = 1.96
    quality_metric: Literal["roc_auc", "accuracy"] = "roc_auc"

    def __post_init__(self) -> None:
        problems: list[str] = []
        if not 0.0 < self.challenger_share < 1.0:
            problems.append(
                f"challenger_share={self.challenger_share} must lie in (0, 1), e.g. 0.2"
            )
        if self.min_requests_to_judge < 1:
            problems.append(f"min_requests_to_judge={self.min_requests_to_judge} must be >= 1")
        if self.window_requests < self.min_requests_to_judge:
            problems.append(
                f"window_requests={self.window_requests} must be >= min_requests_to_judge="
                f"{self.min_requests_to_judge}"
            )
        if self.max_consecutive_errors < 1:
            problems.append(f"max_consecutive_errors={self.max_consecutive_errors} must be >= 1")
        if not 0.0 <= self.max_error_rate_increase < 1.0:
            problems.append(
                f"max_error_rate_increase={self.max_error_rate_increase} must lie in [0, 1)"
            )
        if self.max_latency_ratio < 1.0:
            problems.append(f"max_latency_ratio={self.max_latency_ratio} must be >= 1")
        if self.latency_slack_seconds < 0:
            problems.append(f"latency_slack_seconds={self.latency_slack_seconds} must be >= 0")
        if self.min_labelled < 2:
            problems.append(f"min_labelled={self.min_labelled} must be >= 2")
        if not 0.0 <= self.max_quality_drop < 1.0:
            problems.append(f"max_quality_drop={self.max_quality_drop} must lie in [0, 1)")
        if self.quality_z < 0:
            problems.append(f"quality_z={self.quality_z} must be >= 0")
        if self.quality_metric not in ("roc_auc", "accuracy"):
            problems.append(f"quality_metric={self.quality_metric!r}; use 'roc_auc' or 'accuracy'")
        if problems:
            raise ValueError("invalid canary config: " + "; ".join(problems))


@dataclass(frozen=True)
class ArmSummary:
    """Live metrics of one arm over the canary window.

    ``requests`` counts requests routed to the arm (answered or failed); ``errors`` the
    failed ones. ``quality`` (and its standard error ``quality_se``) is None until
    ``labelled`` reaches the minimum with both classes.
    """

    role: Role
    version: str
    requests: int
    errors: int
    consecutive_errors: int
    latency_p95_seconds: float | None
    labelled: int
    quality: float | None
    last_error: str | None = None
    quality_se: float | None = None

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    @property
    def answered(self) -> int:
        return self.requests - self.errors

    def describe(self, metric: str) -> str:
        p95 = (
            "n/a"
            if self.latency_p95_seconds is None
            else f"{self.latency_p95_seconds * 1000:.1f} ms"
        )
        quality = "n/a" if self.quality is None else f"{self.quality:.3f}"
        return (
            f"{self.role} v{self.version}: {self.requests} requests, error rate "
            f"{self.error_rate:.1%}, p95 {p95}, {metric} {quality} on {self.labelled} labelled rows"
        )


@dataclass(frozen=True)
class CanaryDecision:
    """The verdict on the canary and why (``reason`` is one sentence for logs and tags)."""

    action: Action
    reason: str
    champion: ArmSummary
    challenger: ArmSummary
    decided_at: float = field(default_factory=time.time)

    @property
    def terminal(self) -> bool:
        return self.action != "continue"


def decide(champion: ArmSummary, challenger: ArmSummary, config: CanaryConfig) -> CanaryDecision:
    """The canary verdict from both arms' live metrics (pure; see the module doc)."""

    def verdict(action: Action, reason: str) -> CanaryDecision:
        return CanaryDecision(
            action=action, reason=reason, champion=champion, challenger=challenger
        )

    if challenger.consecutive_errors >= config.max_consecutive_errors:
        return verdict(
            "rollback",
            f"challenger v{challenger.version} failed {challenger.consecutive_errors} requests in "
            f"a row (last error: {challenger.last_error})",
        )
    if challenger.requests >= config.min_requests_to_judge:
        allowed = champion.error_rate + config.max_error_rate_increase
        if challenger.error_rate > allowed:
            return verdict(
                "rollback",
                f"challenger v{challenger.version} error rate {challenger.error_rate:.1%} over "
                f"{challenger.requests} requests exceeds the champion's {champion.error_rate:.1%} "
                f"plus {config.max_error_rate_increase:.1%}",
            )
        if (
            challenger.latency_p95_seconds is not None
            and champion.latency_p95_seconds is not None
            and challenger.answered >= config.min_requests_to_judge
            and champion.answered >= config.min_requests_to_judge
        ):
            bound = (
                champion.latency_p95_seconds * config.max_latency_ratio
                + config.latency_slack_seconds
            )
            if challenger.latency_p95_seconds > bound:
                return verdict(
                    "rollback",
                    f"challenger v{challenger.version} p95 latency "
                    f"{challenger.latency_p95_seconds * 1000:.1f} ms exceeds "
                    f"{config.max_latency_ratio:g} x the champion's "
                    f"{champion.latency_p95_seconds * 1000:.1f} ms plus "
                    f"{config.latency_slack_seconds * 1000:.1f} ms",
                )
    if challenger.quality is not None and champion.quality is not None:
        bound = champion.quality - config.max_quality_drop
        se = math.hypot(challenger.quality_se or 0.0, champion.quality_se or 0.0)
        if bound - challenger.quality > config.quality_z * se:
            return verdict(
                "rollback",
                f"challenger v{challenger.version} {config.quality_metric} "
                f"{challenger.quality:.3f} on {challenger.labelled} labelled rows is below the "
                f"champion's {champion.quality:.3f} (on {champion.labelled}) minus "
                f"{config.max_quality_drop:g}, by more than {config.quality_z:g} standard errors "
                f"({se:.3f})",
            )
    if challenger.requests >= config.window_requests:
        return verdict(
            "promote",
            f"challenger v{challenger.version} held up over the window: "
            f"{challenger.describe(config.quality_metric)}; "
            f"{champion.describe(config.quality_metric)}",
        )
    return verdict(
        "continue",
        f"challenger v{challenger.version} has {challenger.requests} of "
        f"{config.window_requests} requests",
    )


class RunningQuality:
    """ROC AUC and accuracy of labelled predictions, updated in O(log n) per row.

    The AUC counts concordant (positive, negative) pairs as rows arrive, ties counting one
    half, so it equals the batch ROC AUC exactly without re-sorting every row on each
    feedback.
    """

    def __init__(self) -> None:
        self._positives: list[float] = []  # sorted scores of class-1 rows
        self._negatives: list[float] = []  # sorted scores of class-0 rows
        self._concordant = 0.0
        self._correct = 0

    @property
    def labelled(self) -> int:
        return len(self._positives) + len(self._negatives)

    def add(self, probability: float, label: int) -> None:
        score = float(probability)
        if label == 1:
            below = bisect.bisect_left(self._negatives, score)
            ties = bisect.bisect_right(self._negatives, score) - below
            self._concordant += below + 0.5 * ties
            bisect.insort(self._positives, score)
        elif label == 0:
            above = len(self._positives) - bisect.bisect_right(self._positives, score)
            ties = len(self._positives) - above - bisect.bisect_left(self._positives, score)
            self._concordant += above + 0.5 * ties
            bisect.insort(self._negatives, score)
        else:
            raise ValueError(f"label {label!r} is not 0 or 1")
        self._correct += int((score >= 0.5) == (label == 1))

    def value(self, config: CanaryConfig) -> tuple[float, float] | None:
        """(quality, standard error), or None with too few rows or one class."""
        positives, negatives = len(self._positives), len(self._negatives)
        if self.labelled < config.min_labelled or not positives or not negatives:
            return None
        if config.quality_metric == "accuracy":
            accuracy = self._correct / self.labelled
            return accuracy, math.sqrt(accuracy * (1.0 - accuracy) / self.labelled)
        auc = self._concordant / (positives * negatives)
        return auc, auc_standard_error(auc, positives, negatives)


@dataclass
class _Arm:
    role: Role
    scorer: Scorer
    requests: int = 0
    errors: int = 0
    consecutive_errors: int = 0
    last_error: str | None = None
    latencies: list[float] = field(default_factory=list)
    quality: RunningQuality = field(default_factory=RunningQuality)

    def summary(self, config: CanaryConfig) -> ArmSummary:
        latency = float(np.percentile(self.latencies, 95)) if self.latencies else None
        quality = self.quality.value(config)
        return ArmSummary(
            role=self.role,
            version=self.scorer.version,
            requests=self.requests,
            errors=self.errors,
            consecutive_errors=self.consecutive_errors,
            latency_p95_seconds=latency,
            labelled=self.quality.labelled,
            quality=None if quality is None else quality[0],
            last_error=self.last_error,
            quality_se=None if quality is None else quality[1],
        )


def auc_standard_error(auc: float, positives: int, negatives: int) -> float:
    """Hanley and McNeil's (1982) standard error of a ROC AUC."""
    q1 = auc / (2.0 - auc)
    q2 = 2.0 * auc * auc / (1.0 + auc)
    variance = (
        auc * (1.0 - auc) + (positives - 1) * (q1 - auc * auc) + (negatives - 1) * (q2 - auc * auc)
    ) / (positives * negatives)
    return math.sqrt(max(variance, 0.0))


@dataclass(frozen=True)
class RoutedPrediction:
    """A router answer: which arm served it (``fallback`` when the challenger failed)."""

    request_id: str
    probabilities: np.ndarray
    role: Role
    version: str
    fallback: bool = False


class CanaryRouter:
    """Routes requests between champion and challenger and promotes or rolls back by itself.

    ``on_decision`` is called once per terminal decision, after the router has switched its
    own routing; an exception from it is logged and kept in ``callback_error`` (requests keep
    being served). ``seed`` makes the routing reproducible.
    """

    def __init__(
        self,
        champion: Scorer,
        challenger: Scorer | None = None,
        *,
        model_name: str,
        config: CanaryConfig | None = None,
        metrics: AppMetrics | None = None,
        on_decision: Callable[[CanaryDecision], None] | None = None,
        seed: int | None = 0,
    ) -> None:
        self.model_name = model_name
        self.config = config or CanaryConfig()
        self.metrics = metrics if metrics is not None else AppMetrics()
        self.on_decision = on_decision
        self.callback_error: BaseException | None = None
        self.decisions: list[CanaryDecision] = []
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self._pending: OrderedDict[str, tuple[_Arm, list[float]]] = OrderedDict()
        self._champion = _Arm(CHAMPION, champion)
        self._challenger: _Arm | None = None
        self._export_version(self._champion)
        self.metrics.canary_share.labels(model=model_name).set(0.0)
        if challenger is not None:
            self.start_canary(challenger)

    # -- state ------------------------------------------------------------------------

    @property
    def champion(self) -> Scorer:
        return self._champion.scorer

    @property
    def challenger(self) -> Scorer | None:
        return self._challenger.scorer if self._challenger else None

    @property
    def state(self) -> Literal["canary", "stable"]:
        return "canary" if self._challenger is not None else "stable"

    @property
    def last_decision(self) -> CanaryDecision | None:
        return self.decisions[-1] if self.decisions else None

    def start_canary(self, challenger: Scorer) -> None:
        """Begin a new canary; the champion's window restarts too, so both are compared fresh."""
        with self._lock:
            if self._challenger is not None:
                raise RuntimeError(
                    f"a canary of version {self._challenger.scorer.version} is running; wait for "
                    "its decision before starting another"
                )
            self._champion = _Arm(CHAMPION, self._champion.scorer)
            self._challenger = _Arm(CHALLENGER, challenger)
            self._pending.clear()
            self._export_version(self._challenger)
            self.metrics.canary_share.labels(model=self.model_name).set(
                self.config.challenger_share
            )
        logger.info(
            "canary started: challenger v%s gets %.0f%% of traffic beside champion v%s",
            challenger.version,
            self.config.challenger_share * 100,
            self._champion.scorer.version,
        )

    def summaries(self) -> tuple[ArmSummary, ArmSummary | None]:
        with self._lock:
            return (
                self._champion.summary(self.config),
                self._challenger.summary(self.config) if self._challenger else None,
            )

    # -- serving ----------------------------------------------------------------------

    def predict(self, frame: pd.DataFrame, *, request_id: str | None = None) -> RoutedPrediction:
        """Score ``frame``; raises :class:`ScorerError` only if the champion fails."""
        rid = request_id or uuid.uuid4().hex
        with self._lock:
            arm = self._champion
            if self._challenger is not None and self._rng.random() < self.config.challenger_share:
                arm = self._challenger
        if arm.role == CHALLENGER:
            try:
                return self._serve(arm, frame, rid)
            except ScorerError as exc:
                logger.warning(
                    "challenger v%s failed, champion answers: %s", arm.scorer.version, exc
                )
            finally:
                self._maybe_decide(arm)
            champion = self._champion
            result = self._serve(champion, frame, rid)
            return RoutedPrediction(
                rid, result.probabilities, CHAMPION, result.version, fallback=True
            )
        return self._serve(arm, frame, rid)

    def _serve(self, arm: _Arm, frame: pd.DataFrame, rid: str) -> RoutedPrediction:
        version = arm.scorer.version
        labels = {"model": self.model_name, "role": arm.role, "version": version}
        started = time.perf_counter()
        try:
            probabilities = np.asarray(arm.scorer.predict(frame), dtype=float)
        except ScorerError as exc:
            with self._lock:
                arm.requests += 1
                arm.errors += 1
                arm.consecutive_errors += 1
                arm.last_error = str(exc)
            self.metrics.request_errors.labels(**labels).inc()
            raise
        elapsed = time.perf_counter() - started
        with self._lock:
            arm.requests += 1
            arm.consecutive_errors = 0
            arm.latencies.append(elapsed)
            self._pending[rid] = (arm, probabilities.tolist())
            while len(self._pending) > MAX_PENDING_FEEDBACK:
                self._pending.popitem(last=False)
        self.metrics.request_duration.labels(**labels).observe(elapsed)
        positives = int((probabilities >= 0.5).sum())
        if positives:
            self.metrics.predictions.labels(**labels, predicted_class="1").inc(positives)
        if len(probabilities) - positives:
            self.metrics.predictions.labels(**labels, predicted_class="0").inc(
                len(probabilities) - positives
            )
        return RoutedPrediction(rid, probabilities, arm.role, version)

    def feedback(self, request_id: str, labels: Sequence[int]) -> bool:
        """Attach true labels to an answered request; False if the request is unknown."""
        with self._lock:
            entry = self._pending.pop(request_id, None)
            if entry is None:
                return False
            arm, probabilities = entry
            if len(labels) != len(probabilities):
                raise ValueError(
                    f"request {request_id} scored {len(probabilities)} rows but got "
                    f"{len(labels)} labels"
                )
            checked = [int(y) for y in labels]
            if any(y not in (0, 1) for y in checked):
                raise ValueError(f"labels of request {request_id} must be 0 or 1, got {checked}")
            for probability, label in zip(probabilities, checked, strict=True):
                arm.quality.add(probability, label)
            champion_arm = self._champion
            quality = arm.quality.value(self.config) if arm is champion_arm else None
        if quality is not None:  # only the champion's quality is exported
            self.metrics.set_quality(self.model_name, {self.config.quality_metric: quality[0]})
        if arm.role == CHALLENGER:
            self._maybe_decide(arm)
        return True

    # -- decisions --------------------------------------------------------------------

    def evaluate(self) -> CanaryDecision | None:
        """Decide now (and apply a terminal decision); None when no canary runs."""
        with self._lock:
            arm = self._challenger
        return self._maybe_decide(arm) if arm is not None else None

    def _maybe_decide(self, arm: _Arm) -> CanaryDecision | None:
        with self._lock:
            if self._challenger is not arm:
                return None  # this canary already ended
            decision = decide(
                self._champion.summary(self.config), arm.summary(self.config), self.config
            )
            if not decision.terminal:
                return decision
            self.decisions.append(decision)
            retired: Scorer | None
            if decision.action == "promote":
                retired = self._champion.scorer
                self._champion = _Arm(CHAMPION, arm.scorer)
            else:
                retired = arm.scorer
            self._challenger = None
            self._pending.clear()
            self.metrics.canary_share.labels(model=self.model_name).set(0.0)
            self.metrics.canary_decisions.labels(
                model=self.model_name, decision=decision.action
            ).inc()
            self._export_version(self._champion)
            with contextlib.suppress(KeyError):
                self.metrics.model_version.remove(self.model_name, CHALLENGER)
        logger.info("canary %s: %s", decision.action, decision.reason)
        try:
            retired.close()
        except Exception:
            logger.debug("closing the retired scorer failed", exc_info=True)
        if self.on_decision is not None:
            try:
                self.on_decision(decision)
            except Exception as exc:
                self.callback_error = exc
                logger.exception("applying the canary decision failed")
        return decision

    def _export_version(self, arm: _Arm) -> None:
        try:
            value = float(arm.scorer.version)
        except ValueError:
            value = math.nan
        self.metrics.model_version.labels(model=self.model_name, role=arm.role).set(value)


class RegistryAliases:
    """``on_decision`` callback that makes the MLflow registry follow the canary.

    Promote: ``champion`` moves to the challenger's version. Both outcomes: the
    ``challenger`` alias is deleted and the challenger's version is tagged ``canary`` with
    the action and ``canary_reason`` with the reason.
    """

    def __init__(self, settings: Any) -> None:
        self.settings = settings

    def __call__(self, decision: CanaryDecision) -> None:
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        from mlops_reference_app import tracking

        client = MlflowClient(
            tracking_uri=self.settings.tracking_uri, registry_uri=self.settings.registry_uri
        )
        name = self.settings.model_name
        version = decision.challenger.version
        if decision.action == "promote":
            tracking.set_alias(self.settings, int(version), tracking.CHAMPION)
        with contextlib.suppress(MlflowException):  # already gone
            client.delete_registered_model_alias(name, tracking.CHALLENGER)
        outcome = "promoted" if decision.action == "promote" else "rolled_back"
        client.set_model_version_tag(name, version, "canary", outcome)
        client.set_model_version_tag(name, version, "canary_reason", decision.reason[:4000])


def router_app(router: CanaryRouter, *, features: Sequence[str] = FEATURES) -> Any:
    """An ASGI app in front of ``router``: ``POST /predict``, ``POST /feedback``,
    ``GET /canary``, ``GET /metrics``, ``GET /healthz``.
    """
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from mlops_reference_app.metrics import CONTENT_TYPE

    def _summary(s: ArmSummary | None) -> dict[str, Any] | None:
        if s is None:
            return None
        return {
            "version": s.version,
            "requests": s.requests,
            "errors": s.errors,
            "error_rate": s.error_rate,
            "latency_p95_seconds": s.latency_p95_seconds,
            "labelled": s.labelled,
            "quality": s.quality,
        }

    async def predict(request: Request) -> Response:
        body = await request.json()
        try:
            frame = frame_from_rows(body["rows"], features)
        except (KeyError, TypeError, ValueError) as exc:
            return JSONResponse({"error": f"bad request: {exc}"}, status_code=400)
        try:
            from starlette.concurrency import run_in_threadpool

            result = await run_in_threadpool(
                router.predict, frame, request_id=body.get("request_id")
            )
        except ScorerError as exc:
            return JSONResponse({"error": str(exc)}, status_code=503)
        return JSONResponse(
            {
                "request_id": result.request_id,
                "probabilities": result.probabilities.tolist(),
                "role": result.role,
                "version": result.version,
                "fallback": result.fallback,
            }
        )

    async def feedback(request: Request) -> Response:
        body = await request.json()
        try:
            known = router.feedback(str(body["request_id"]), [int(y) for y in body["labels"]])
        except (KeyError, TypeError, ValueError) as exc:
            return JSONResponse({"error": f"bad request: {exc}"}, status_code=400)
        return JSONResponse({"accepted": known}, status_code=200 if known else 404)

    async def canary(request: Request) -> Response:
        champion, challenger = router.summaries()
        last = router.last_decision
        return JSONResponse(
            {
                "state": router.state,
                "champion": _summary(champion),
                "challenger": _summary(challenger),
                "last_decision": None
                if last is None
                else {
                    "action": last.action,
                    "reason": last.reason,
                    "version": last.challenger.version,
                },
            }
        )

    async def metrics(request: Request) -> Response:
        return Response(router.metrics.exposition(), media_type=CONTENT_TYPE)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/predict", predict, methods=["POST"]),
            Route("/feedback", feedback, methods=["POST"]),
            Route("/canary", canary, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )
