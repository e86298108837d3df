"""The validation gate: may a candidate model replace the champion?

A model repository's CI runs it after its tests and data checks::

    python -m mlops_blueprints.gate --candidate candidate-metrics.json --thresholds gate.json \\
        --mlflow-model churn --summary "$GITHUB_STEP_SUMMARY"

``candidate-metrics.json`` is a flat JSON object of metric name to number (what the
repository's evaluation step writes). ``gate.json`` names the metrics that matter::

    {
      "metrics": {
        "roc_auc": {"direction": "higher", "min": 0.80, "max_regression": 0.005},
        "p95_latency_ms": {"direction": "lower", "max": 50}
      },
      "require_champion": false
    }

Each metric must be present and finite in the candidate, within its absolute bound
(``min`` for higher-is-better, ``max`` for lower-is-better; either may be given), and no
worse than the champion's value by more than ``max_regression`` (0 by default: not worse at
all). The champion's metrics come from a JSON file (``--champion``) or from the MLflow run
behind the registered model's alias (``--mlflow-model``, ``--alias`` champion; the tracking
server is ``MLFLOW_TRACKING_URI``, and MLflow itself is needed only for this option). With no
champion yet, only the absolute bounds apply, unless ``require_champion`` is true.

Exit status: 0 the candidate passes, 1 it fails, 2 the input is unusable. The module uses the
standard library only, so CI may install this package without its dependencies.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "Check",
    "GateConfigError",
    "GateResult",
    "MetricRule",
    "build_parser",
    "champion_metrics_from_mlflow",
    "evaluate",
    "main",
    "parse_metrics",
    "parse_rules",
    "render_markdown",
]

Direction = Literal["higher", "lower"]
_RULE_KEYS = frozenset({"direction", "min", "max", "max_regression"})


class GateConfigError(ValueError):
    """A thresholds or metrics file the gate cannot use; the message says what to fix."""


@dataclass(frozen=True)
class MetricRule:
    """What one metric must satisfy; ``max_regression`` is in the metric's own units."""

    direction: Direction
    minimum: float | None = None
    maximum: float | None = None
    max_regression: float = 0.0


@dataclass(frozen=True)
class Check:
    metric: str
    requirement: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class GateResult:
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)


def _number(value: object, *, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise GateConfigError(f"{where}: expected a number, got {value!r}")
    return float(value)


def parse_rules(document: object) -> tuple[dict[str, MetricRule], bool]:
    """The rules of a thresholds document, and whether a champion is required."""
    if not isinstance(document, dict) or not isinstance(document.get("metrics"), dict):
        raise GateConfigError('thresholds: expected {"metrics": {"<name>": {...}, ...}}')
    unknown = set(document) - {"metrics", "require_champion"}
    if unknown:
        raise GateConfigError(f"thresholds: unknown keys {sorted(unknown)}")
    require_champion = document.get("require_champion", False)
    if not isinstance(require_champion, bool):
        raise GateConfigError("thresholds.require_champion: expected true or false")
    if not document["metrics"]:
        raise GateConfigError("thresholds.metrics: name at least one metric")
    rules: dict[str, MetricRule] = {}
    for name, spec in document["metrics"].items():
        where = f"thresholds.metrics.{name}"
        if not isinstance(spec, dict):
            raise GateConfigError(f"{where}: expected an object")
        if set(spec) - _RULE_KEYS:
            raise GateConfigError(f"{where}: unknown keys {sorted(set(spec) - _RULE_KEYS)}")
        direction = spec.get("direction")
        if direction not in ("higher", "lower"):
            raise GateConfigError(f"{where}.direction: use 'higher' or 'lower' (is better)")
        minimum = None if spec.get("min") is None else _number(spec["min"], where=f"{where}.min")
        maximum = None if spec.get("max") is None else _number(spec["max"], where=f"{where}.max")
        regression = _number(spec.get("max_regression", 0), where=f"{where}.max_regression")
        if regression < 0 or not math.isfinite(regression):
            raise GateConfigError(f"{where}.max_regression: use a finite number >= 0")
        if minimum is not None and maximum is not None and minimum > maximum:
            raise GateConfigError(f"{where}: min ({minimum}) is above max ({maximum})")
        rules[str(name)] = MetricRule(direction, minimum, maximum, regression)
    return rules, require_champion


def parse_metrics(document: object, *, source: str) -> dict[str, float]:
    """A flat ``{name: number}`` object (NaN and infinities are kept, and fail the gate)."""
    if not isinstance(document, dict):
        raise GateConfigError(f"{source}: expected a JSON object of metric name to number")
    return {str(k): _number(v, where=f"{source}.{k}") for k, v in document.items()}


def evaluate(
    candidate: Mapping[str, float],
    champion: Mapping[str, float] | None,
    rules: Mapping[str, MetricRule],
    *,
    require_champion: bool = False,
) -> GateResult:
    """Every check of every rule, in rule order; the gate passes when all pass."""
    checks: list[Check] = []
    if champion is None and require_champion:
        checks.append(Check("*", "a champion exists", False, "no champion to compare with"))
    for name, rule in rules.items():
        value = candidate.get(name)
        if value is None or not math.isfinite(value):
            checks.append(Check(name, "present and finite", False, f"candidate: {value!r}"))
            continue
        if rule.minimum is not None:
            checks.append(Check(name, f">= {rule.minimum:g}", value >= rule.minimum, f"{value:g}"))
        if rule.maximum is not None:
            checks.append(Check(name, f"<= {rule.maximum:g}", value <= rule.maximum, f"{value:g}"))
        best = None if champion is None else champion.get(name)
        if best is None or not math.isfinite(best):
            continue  # nothing to compare with (no champion, or it predates the metric)
        if rule.direction == "higher":
            floor = best - rule.max_regression
            checks.append(
                Check(
                    name,
                    f">= champion {best:g} - {rule.max_regression:g}",
                    value >= floor,
                    f"{value:g}",
                )
            )
        else:
            ceiling = best + rule.max_regression
            checks.append(
                Check(
                    name,
                    f"<= champion {best:g} + {rule.max_regression:g}",
                    value <= ceiling,
                    f"{value:g}",
                )
            )
    return GateResult(tuple(checks))


def render_markdown(result: GateResult, *, champion: str) -> str:
    """A Markdown report for the job summary."""
    verdict = "passed" if result.passed else "FAILED"
    lines = [
        f"### Validation gate {verdict}",
        "",
        f"Champion: {champion}",
        "",
        "| metric | requirement | candidate | result |",
        "|---|---|---|---|",
    ]
    for check in result.checks:
        mark = "pass" if check.passed else "**fail**"
        lines.append(f"| `{check.metric}` | {check.requirement} | {check.detail} | {mark} |")
    return "\n".join(lines) + "\n"


def champion_metrics_from_mlflow(model: str, alias: str) -> dict[str, float] | None:
    """The metrics of the run behind ``models:/<model>@<alias>``, or None when the model or
    alias does not exist yet. Reads ``MLFLOW_TRACKING_URI`` (and MLflow's auth variables)."""
    try:
        # Optional and slow to import: only this option needs it.
        from mlflow import MlflowClient  # noqa: PLC0415
        from mlflow.exceptions import MlflowException  # noqa: PLC0415
    except ImportError as error:
        raise GateConfigError(
            "--mlflow-model needs MLflow: pip install mlflow-skinny (or pass --champion)"
        ) from error
    client = MlflowClient()
    try:
        version = client.get_model_version_by_alias(model, alias)
    except MlflowException as error:
        missing = error.error_code == "RESOURCE_DOES_NOT_EXIST" or (
            error.error_code == "INVALID_PARAMETER_VALUE" and "alias" in str(error).lower()
        )
        if missing:
            return None
        raise
    if not version.run_id:
        return None
    metrics: dict[str, float] = dict(client.get_run(version.run_id).data.metrics)
    return metrics


def _load_json(path: str, *, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise GateConfigError(f"{what} {path}: {error}") from error


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mlops_blueprints.gate",
        description="Compare a candidate model's metrics with thresholds and the champion.",
    )
    parser.add_argument("--candidate", required=True, help="candidate metrics JSON file")
    parser.add_argument("--thresholds", required=True, help="gate thresholds JSON file")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--champion", help="champion metrics JSON file")
    source.add_argument("--mlflow-model", help="registered model whose alias is the champion")
    parser.add_argument("--alias", default="champion", help="alias of the champion version")
    parser.add_argument("--summary", help="append the Markdown report to this file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        rules, require_champion = parse_rules(_load_json(args.thresholds, what="thresholds"))
        candidate = parse_metrics(_load_json(args.candidate, what="candidate"), source="candidate")
        champion: dict[str, float] | None = None
        label = "none"
        if args.champion:
            champion = parse_metrics(_load_json(args.champion, what="champion"), source="champion")
            label = f"`{args.champion}`"
        elif args.mlflow_model:
            champion = champion_metrics_from_mlflow(args.mlflow_model, args.alias)
            label = f"`models:/{args.mlflow_model}@{args.alias}`" + (
                "" if champion is not None else " (not set yet)"
            )
    except GateConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    result = evaluate(candidate, champion, rules, require_champion=require_champion)
    report = render_markdown(result, champion=label)
    print(report, end="")
    if args.summary:
        with Path(args.summary).open("a", encoding="utf-8") as summary:
            summary.write(report)
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
