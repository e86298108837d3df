"""Model reuse on recurring distributions: retrain only for a distribution not seen before.

Seasonal data comes back: this January looks like last January. Instead of retraining for
every new window, the application keeps a store of (fingerprint of the training window,
model version) pairs. When a new window's fingerprint lies within a threshold of a stored
one, the stored model is offered to the validation gate and, if it passes, promoted again;
otherwise a new model is trained and its fingerprint stored.

Fingerprint. One histogram per feature on fixed bin edges. The edges are the quantiles of
the first window the store saw (so every bin of that window holds about the same share),
with open outer bins so any later value lands somewhere, plus one bin for missing values.
Fixed edges make histograms of different windows comparable bin by bin.

Distance. The mean over features of the Jensen-Shannon distance between the two
histograms (base 2, so each term lies in [0, 1]; identical windows are at distance 0).
The mean population stability index is available as ``metric="psi"`` (unbounded, 0 for
identical windows; 0.1 is the usual "no shift" bound, 0.25 "major shift").

Calendar features (names starting with ``day_of_year``) are left out of the fingerprint by
default: they encode the date itself, which would turn "same distribution" into "same time
of year" by construction. The match must come from the measured inputs.

Everything here is pure except :func:`reuse_or_retrain`, which calls the callables it is
given (the roadmap wires ``retrain`` to the training pipeline and ``gate`` to the
validation gate).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = [
    "CALENDAR_PREFIXES",
    "DEFAULT_BINS",
    "DEFAULT_MATCH_THRESHOLD",
    "DEFAULT_MAX_CANDIDATES",
    "Fingerprint",
    "ModelStore",
    "ReuseDecision",
    "StoredModel",
    "distance",
    "fingerprint",
    "fingerprint_features",
    "fit_edges",
    "jensen_shannon",
    "population_stability_index",
    "reuse_or_retrain",
]

DEFAULT_BINS = 5
# Mean Jensen-Shannon distance under which two windows count as the same distribution. On
# the Seattle weather data (5 bins, three-month windows, calendar features left out) the
# same season in different years lies 0.15 +/- 0.04 apart, neighbouring seasons 0.18 and
# opposite seasons 0.35 (at least 0.10: spring and autumn look alike).
DEFAULT_MATCH_THRESHOLD = 0.2
# Stored models within the threshold offered to the gate, nearest first, before retraining.
DEFAULT_MAX_CANDIDATES = 3
CALENDAR_PREFIXES: tuple[str, ...] = ("day_of_year",)
# Added to every bin before the PSI's logarithm, so an empty bin gives a finite term.
PSI_EPSILON = 1e-4

Metric = Literal["js", "psi"]
Edges = Mapping[str, Sequence[float]]


def fingerprint_features(
    features: Iterable[str], *, exclude_prefixes: Sequence[str] = CALENDAR_PREFIXES
) -> tuple[str, ...]:
    """The features a fingerprint describes: ``features`` less the calendar encodings."""
    return tuple(f for f in features if not any(f.startswith(p) for p in exclude_prefixes))


def fit_edges(
    frame: pd.DataFrame, features: Sequence[str], *, bins: int = DEFAULT_BINS
) -> dict[str, tuple[float, ...]]:
    """Inner bin edges per feature: the ``bins``-quantiles of ``frame`` (duplicates merged).

    A feature with few distinct values (a 0/1 flag, mostly-zero precipitation) gets fewer
    edges, placed between its values. A column with no values at all gets no edges (one bin).
    """
    if bins < 2:
        raise ValueError(f"bins={bins} must be at least 2")
    edges: dict[str, tuple[float, ...]] = {}
    for feature in features:
        values = pd.to_numeric(frame[feature], errors="coerce").dropna().to_numpy(dtype=float)
        if values.size == 0:
            edges[feature] = ()
            continue
        distinct = np.unique(values)
        if distinct.size <= bins:
            # Midpoints between neighbouring values: every value gets its own bin.
            inner = (distinct[:-1] + distinct[1:]) / 2.0
        else:
            quantiles = np.quantile(values, np.linspace(0.0, 1.0, bins + 1)[1:-1])
            inner = np.unique(quantiles)
        edges[feature] = tuple(float(e) for e in inner)
    return edges


@dataclass(frozen=True)
class Fingerprint:
    """Per-feature histograms of one window on fixed edges.

    - ``features``: the features described, in order.
    - ``histograms``: for each feature, the share of rows in each bin (the last bin counts
      missing values); each histogram sums to 1.
    - ``rows``: rows in the window.
    """

    features: tuple[str, ...]
    histograms: tuple[tuple[float, ...], ...]
    rows: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "histograms": [list(h) for h in self.histograms],
            "rows": self.rows,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fingerprint:
        return cls(
            features=tuple(data["features"]),
            histograms=tuple(tuple(float(x) for x in h) for h in data["histograms"]),
            rows=int(data["rows"]),
        )


def fingerprint(frame: pd.DataFrame, edges: Edges) -> Fingerprint:
    """The fingerprint of ``frame`` on ``edges`` (see :func:`fit_edges`)."""
    if frame.empty:
        raise ValueError("cannot fingerprint an empty window")
    histograms: list[tuple[float, ...]] = []
    for feature, inner in edges.items():
        if feature not in frame.columns:
            raise ValueError(f"window lacks feature {feature!r} the fingerprint edges name")
        values = pd.to_numeric(frame[feature], errors="coerce").to_numpy(dtype=float)
        missing = np.isnan(values)
        present = values[~missing]
        counts = np.zeros(len(inner) + 2, dtype=float)
        if present.size:
            # Bin i holds edges[i-1] <= x < edges[i], with open ends.
            which = np.searchsorted(np.asarray(inner, dtype=float), present, side="right")
            counts[: len(inner) + 1] = np.bincount(which, minlength=len(inner) + 1)
        counts[-1] = float(missing.sum())
        histograms.append(tuple(float(c) for c in counts / len(values)))
    return Fingerprint(features=tuple(edges), histograms=tuple(histograms), rows=len(frame))


def jensen_shannon(p: Sequence[float], q: Sequence[float]) -> float:
    """Jensen-Shannon distance (base 2) between two histograms: 0 if equal, at most 1."""
    a = np.asarray(p, dtype=float)
    b = np.asarray(q, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"histograms differ in length: {a.size} and {b.size}")
    a = a / a.sum()
    b = b / b.sum()
    m = (a + b) / 2.0

    def kl(x: np.ndarray) -> float:
        mask = x > 0
        return float(np.sum(x[mask] * np.log2(x[mask] / m[mask])))

    divergence = max(0.0, (kl(a) + kl(b)) / 2.0)
    return float(min(1.0, math.sqrt(divergence)))


def population_stability_index(p: Sequence[float], q: Sequence[float]) -> float:
    """PSI between two histograms: ``sum((p - q) * ln(p / q))`` with smoothed bins."""
    a = np.asarray(p, dtype=float) + PSI_EPSILON
    b = np.asarray(q, dtype=float) + PSI_EPSILON
    if a.shape != b.shape:
        raise ValueError(f"histograms differ in length: {a.size} and {b.size}")
    a = a / a.sum()
    b = b / b.sum()
    return float(np.sum((a - b) * np.log(a / b)))


def distance(a: Fingerprint, b: Fingerprint, *, metric: Metric = "js") -> float:
    """Mean per-feature distance between two fingerprints on the same edges."""
    if a.features != b.features:
        raise ValueError(f"fingerprints describe different features: {a.features} and {b.features}")
    if not a.features:
        return 0.0
    if metric not in ("js", "psi"):
        raise ValueError(f"metric={metric!r}; use 'js' or 'psi'")
    measure = jensen_shannon if metric == "js" else population_stability_index
    return float(np.mean([measure(p, q) for p, q in zip(a.histograms, b.histograms, strict=True)]))


@dataclass(frozen=True)
class StoredModel:
    """One entry of the store: a model version and the fingerprint of its training window.

    - ``version``: the registry version (or any identifier the caller uses).
    - ``fingerprint``: the fingerprint of the window it was trained on.
    - ``label``: free text for people (e.g. the window's dates).
    """

    version: int | str
    fingerprint: Fingerprint
    label: str = ""


@dataclass
class ModelStore:
    """Fixed fingerprint edges and the (fingerprint, version) pairs seen so far.

    Build it with :meth:`from_reference` on the first training window; persist it with
    :meth:`to_json` (e.g. as a run artifact) and restore with :meth:`from_json`.
    """

    edges: dict[str, tuple[float, ...]]
    entries: list[StoredModel] = field(default_factory=list)
    metric: Metric = "js"

    @classmethod
    def from_reference(
        cls,
        frame: pd.DataFrame,
        features: Sequence[str],
        *,
        bins: int = DEFAULT_BINS,
        metric: Metric = "js",
        exclude_prefixes: Sequence[str] = CALENDAR_PREFIXES,
    ) -> ModelStore:
        chosen = fingerprint_features(features, exclude_prefixes=exclude_prefixes)
        if not chosen:
            raise ValueError(f"no features left to fingerprint from {list(features)}")
        return cls(edges=fit_edges(frame, chosen, bins=bins), metric=metric)

    def fingerprint(self, frame: pd.DataFrame) -> Fingerprint:
        return fingerprint(frame, self.edges)

    def add(
        self, version: int | str, window: Fingerprint | pd.DataFrame, label: str = ""
    ) -> StoredModel:
        fp = window if isinstance(window, Fingerprint) else self.fingerprint(window)
        entry = StoredModel(version=version, fingerprint=fp, label=label)
        self.entries.append(entry)
        return entry

    def ranked(self, fp: Fingerprint) -> list[tuple[StoredModel, float]]:
        """Every entry with its distance to ``fp``, nearest first (newest first on ties)."""
        scored = [
            (entry, distance(fp, entry.fingerprint, metric=self.metric), -i)
            for i, entry in enumerate(self.entries)
        ]
        scored.sort(key=lambda t: (t[1], t[2]))
        return [(entry, d) for entry, d, _ in scored]

    def nearest(self, fp: Fingerprint) -> tuple[StoredModel, float] | None:
        ranked = self.ranked(fp)
        return ranked[0] if ranked else None

    def to_json(self) -> str:
        return json.dumps(
            {
                "metric": self.metric,
                "edges": {k: list(v) for k, v in self.edges.items()},
                "entries": [
                    {"version": e.version, "label": e.label, "fingerprint": e.fingerprint.to_dict()}
                    for e in self.entries
                ],
            }
        )

    @classmethod
    def from_json(cls, text: str) -> ModelStore:
        data = json.loads(text)
        return cls(
            edges={k: tuple(float(x) for x in v) for k, v in data["edges"].items()},
            entries=[
                StoredModel(
                    version=e["version"],
                    fingerprint=Fingerprint.from_dict(e["fingerprint"]),
                    label=e.get("label", ""),
                )
                for e in data["entries"]
            ],
            metric=data.get("metric", "js"),
        )


@dataclass(frozen=True)
class ReuseDecision:
    """What :func:`reuse_or_retrain` did.

    - ``action``: ``"reuse"`` (a stored model passed the gate and was promoted) or
      ``"retrain"`` (a new model was trained and stored).
    - ``version``: the version now in force.
    - ``distance``: distance to the nearest stored fingerprint (None with an empty store).
    - ``candidates``: stored versions within the threshold that were offered to the gate,
      nearest first.
    - ``rejected``: those the gate turned down.
    - ``reason``: one sentence for logs and run tags.
    """

    action: Literal["reuse", "retrain"]
    version: int | str
    distance: float | None
    candidates: tuple[int | str, ...]
    rejected: tuple[int | str, ...]
    reason: str


def reuse_or_retrain(
    window: pd.DataFrame,
    store: ModelStore,
    *,
    retrain: Callable[[pd.DataFrame], int | str],
    gate: Callable[[int | str, pd.DataFrame], bool] | None = None,
    promote: Callable[[int | str], None] | None = None,
    threshold: float = DEFAULT_MATCH_THRESHOLD,
    max_candidates: int = DEFAULT_MAX_CANDIDATES,
    label: str = "",
) -> ReuseDecision:
    """Promote a stored model whose training distribution matches ``window``, or retrain.

    Stored models within ``threshold`` of the window's fingerprint (at most
    ``max_candidates``, nearest first) are offered to ``gate(version, window)``; the first
    one it accepts is promoted with ``promote(version)``. Without a match, or when the gate
    rejects every candidate, ``retrain(window)`` trains a new model and returns its version,
    which is stored with the window's fingerprint. The retraining path validates and
    promotes its own model (the training pipeline runs the gate), so ``promote`` is not
    called for it. ``gate=None`` accepts every candidate.
    """
    if threshold < 0:
        raise ValueError(f"threshold={threshold} must be >= 0")
    fp = store.fingerprint(window)
    ranked = store.ranked(fp)
    nearest = ranked[0][1] if ranked else None
    candidates = [entry for entry, d in ranked if d <= threshold][: max(0, max_candidates)]
    rejected: list[int | str] = []
    for entry in candidates:
        if gate is None or gate(entry.version, window):
            if promote is not None:
                promote(entry.version)
            d = next(d for e, d in ranked if e is entry)
            return ReuseDecision(
                action="reuse",
                version=entry.version,
                distance=nearest,
                candidates=tuple(c.version for c in candidates),
                rejected=tuple(rejected),
                reason=(
                    f"window matches stored version {entry.version} at distance {d:.3f} "
                    f"(threshold {threshold:.3f}) and passed the gate"
                ),
            )
        rejected.append(entry.version)
    version = retrain(window)
    store.add(version, fp, label=label)
    if not ranked:
        reason = "no stored model yet; trained a new one"
    elif not candidates:
        reason = (
            f"nearest stored version {ranked[0][0].version} is at distance {nearest:.3f}, "
            f"above the threshold {threshold:.3f}; trained a new one"
        )
    else:
        reason = (
            f"the gate rejected stored versions {rejected} within the threshold "
            f"{threshold:.3f}; trained a new one"
        )
    return ReuseDecision(
        action="retrain",
        version=version,
        distance=nearest,
        candidates=tuple(c.version for c in candidates),
        rejected=tuple(rejected),
        reason=reason,
    )
