"""The validation gate the workflow templates run: rules, verdicts, the command line.

Fetching the champion from a real MLflow registry is tested in
tests/services/test_gate_mlflow.py.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlops_blueprints.gate import (
    GateConfigError,
    MetricRule,
    evaluate,
    main,
    parse_metrics,
    parse_rules,
    render_markdown,
)

pytestmark = pytest.mark.unit

RULES = {
    "metrics": {
        "roc_auc": {"direction": "higher", "min": 0.8, "max_regression": 0.01},
        "p95_latency_ms": {"direction": "lower", "max": 50},
    }
}


def _rules(document: dict[str, Any] = RULES) -> dict[str, MetricRule]:
    return parse_rules(document)[0]


def test_rules_parse() -> None:
    rules, require = parse_rules({**RULES, "require_champion": True})
    assert require is True
    assert rules == {
        "roc_auc": MetricRule("higher", minimum=0.8, maximum=None, max_regression=0.01),
        "p95_latency_ms": MetricRule("lower", minimum=None, maximum=50.0, max_regression=0.0),
    }


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "expected"),
        ({"metrics": {}}, "at least one metric"),
        ({"metrics": {"a": {"direction": "up"}}}, "'higher' or 'lower'"),
        ({"metrics": {"a": {"direction": "higher", "min": "0.8"}}}, "expected a number"),
        ({"metrics": {"a": {"direction": "higher", "min": True}}}, "expected a number"),
        ({"metrics": {"a": {"direction": "higher", "max_regression": -1}}}, ">= 0"),
        ({"metrics": {"a": {"direction": "higher", "min": 2, "max": 1}}}, "above max"),
        ({"metrics": {"a": {"direction": "higher", "threshold": 1}}}, "unknown keys"),
        ({"metrics": {"a": {"direction": "higher"}}, "extra": 1}, "unknown keys"),
        ({"metrics": {"a": {"direction": "higher"}}, "require_champion": "yes"}, "true or false"),
    ],
)
def test_bad_rules_are_refused(document: object, message: str) -> None:
    with pytest.raises(GateConfigError, match=message):
        parse_rules(document)


def test_metrics_must_be_a_flat_object_of_numbers() -> None:
    assert parse_metrics({"a": 1, "b": 0.5}, source="c") == {"a": 1.0, "b": 0.5}
    with pytest.raises(GateConfigError, match=r"c\.a: expected a number"):
        parse_metrics({"a": "0.9"}, source="c")
    with pytest.raises(GateConfigError, match="expected a JSON object"):
        parse_metrics([0.9], source="c")


def test_a_better_candidate_passes_every_check() -> None:
    result = evaluate(
        {"roc_auc": 0.9, "p95_latency_ms": 30},
        {"roc_auc": 0.88, "p95_latency_ms": 35},
        _rules(),
    )
    assert result.passed
    assert [(c.metric, c.requirement) for c in result.checks] == [
        ("roc_auc", ">= 0.8"),
        ("roc_auc", ">= champion 0.88 - 0.01"),
        ("p95_latency_ms", "<= 50"),
        ("p95_latency_ms", "<= champion 35 + 0"),
    ]


@pytest.mark.parametrize(
    ("candidate", "failing"),
    [
        ({"roc_auc": 0.86, "p95_latency_ms": 30}, [("roc_auc", ">= champion 0.88 - 0.01")]),
        (
            {"roc_auc": 0.79, "p95_latency_ms": 30},
            [("roc_auc", ">= 0.8"), ("roc_auc", ">= champion 0.88 - 0.01")],
        ),
        ({"roc_auc": 0.9, "p95_latency_ms": 36}, [("p95_latency_ms", "<= champion 35 + 0")]),
        (
            {"roc_auc": 0.9, "p95_latency_ms": 51},
            [("p95_latency_ms", "<= 50"), ("p95_latency_ms", "<= champion 35 + 0")],
        ),
        ({"p95_latency_ms": 30}, [("roc_auc", "present and finite")]),
        ({"roc_auc": math.nan, "p95_latency_ms": 30}, [("roc_auc", "present and finite")]),
    ],
)
def test_a_worse_or_incomplete_candidate_fails(
    candidate: dict[str, float], failing: list[tuple[str, str]]
) -> None:
    result = evaluate(candidate, {"roc_auc": 0.88, "p95_latency_ms": 35}, _rules())
    assert not result.passed
    assert [(c.metric, c.requirement) for c in result.checks if not c.passed] == failing


def test_without_a_champion_only_absolute_bounds_apply() -> None:
    result = evaluate({"roc_auc": 0.81, "p95_latency_ms": 49}, None, _rules())
    assert result.passed
    assert all("champion" not in c.requirement for c in result.checks)
    required = evaluate(
        {"roc_auc": 0.81, "p95_latency_ms": 49}, None, _rules(), require_champion=True
    )
    assert not required.passed


def test_a_champion_without_the_metric_is_not_compared() -> None:
    result = evaluate({"roc_auc": 0.81, "p95_latency_ms": 49}, {"roc_auc": 0.8}, _rules())
    assert result.passed
    assert [c.requirement for c in result.checks if c.metric == "p95_latency_ms"] == ["<= 50"]


@given(
    champion=st.floats(-1e6, 1e6),
    delta=st.floats(0, 1e3),
    slack=st.floats(0, 1e3),
    direction=st.sampled_from(["higher", "lower"]),
)
def test_champion_comparison_follows_the_direction_and_the_allowed_regression(
    champion: float, delta: float, slack: float, direction: str
) -> None:
    rules = {"m": MetricRule(direction, max_regression=slack)}  # type: ignore[arg-type]
    sign = 1 if direction == "higher" else -1
    better = champion + sign * delta
    assert evaluate({"m": better}, {"m": champion}, rules).passed
    worse = champion - sign * (slack + delta + 1)
    assert not evaluate({"m": worse}, {"m": champion}, rules).passed


def test_markdown_report() -> None:
    result = evaluate({"roc_auc": 0.7, "p95_latency_ms": 30}, None, _rules())
    report = render_markdown(result, champion="none")
    assert report.startswith("### Validation gate FAILED\n")
    assert "| `roc_auc` | >= 0.8 | 0.7 | **fail** |" in report
    assert "| `p95_latency_ms` | <= 50 | 30 | pass |" in report


def _write(path: Path, data: object) -> str:
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def test_command_line_exit_codes_and_summary(tmp_path: Path) -> None:
    thresholds = _write(tmp_path / "gate.json", RULES)
    champion = _write(tmp_path / "champion.json", {"roc_auc": 0.88, "p95_latency_ms": 35})
    good = _write(tmp_path / "good.json", {"roc_auc": 0.9, "p95_latency_ms": 30})
    bad = _write(tmp_path / "bad.json", {"roc_auc": 0.85, "p95_latency_ms": 30})
    summary = tmp_path / "summary.md"
    common = ["--thresholds", thresholds, "--champion", champion, "--summary", str(summary)]
    assert main(["--candidate", good, *common]) == 0
    assert main(["--candidate", bad, *common]) == 1
    text = summary.read_text(encoding="utf-8")
    assert "Validation gate passed" in text
    assert "Validation gate FAILED" in text
    assert main(["--candidate", str(tmp_path / "missing.json"), *common]) == 2
    assert main(["--candidate", _write(tmp_path / "s.json", {"roc_auc": "x"}), *common]) == 2


def test_runs_as_a_module_without_third_party_imports(tmp_path: Path) -> None:
    """CI installs the package without dependencies: the gate must need none."""
    thresholds = _write(tmp_path / "gate.json", RULES)
    candidate = _write(tmp_path / "c.json", {"roc_auc": 0.9, "p95_latency_ms": 30})
    probe = (
        "import sys, runpy; "
        "sys.argv = ['gate', '--candidate', sys.argv[1], '--thresholds', sys.argv[2]]; "
        "code = 0\n"
        "try:\n    runpy.run_module('mlops_blueprints.gate', run_name='__main__')\n"
        "except SystemExit as e:\n    code = e.code\n"
        "third = sorted(m.split('.')[0] for m in sys.modules "
        "if m.split('.')[0] in {'pulumi', 'pulumi_aws', 'pulumi_kubernetes', 'mlflow', "
        "'yaml', 'typer', 'pydantic'})\n"
        "print(code, third)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, candidate, thresholds],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert out.strip().splitlines()[-1] == "0 []"
