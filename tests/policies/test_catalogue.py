"""The rule set as a whole, and its generated catalogue in docs/policies.md."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from mlops_blueprints.policies import ALL_RULES, CONTROLS, FRAMEWORKS
from mlops_blueprints.policies._catalogue import (
    BEGIN_MARKER,
    END_MARKER,
    catalogue_markdown,
    catalogue_path,
    render_catalogue_page,
    stale_catalogue,
)

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.policy


def test_there_are_at_least_forty_rules_with_unique_names() -> None:
    counts = Counter(rule.name for rule in ALL_RULES)

    assert len(ALL_RULES) >= 40
    assert [name for name, count in counts.items() if count > 1] == []


def test_every_rule_cites_only_controls_listed_in_controls() -> None:
    unknown = [
        f"{rule.name}: {framework} {control}"
        for rule in ALL_RULES
        for framework, controls in rule.controls.items()
        for control in controls
        if control not in CONTROLS.get(framework, {})
    ]

    assert unknown == [], "add the control to policies/_frameworks.py or fix the citation"


def test_every_framework_is_cited_by_some_rule() -> None:
    cited = {framework for rule in ALL_RULES for framework in rule.controls}

    assert set(FRAMEWORKS) - cited == set()


def test_every_rule_has_description_remediation_and_types() -> None:
    for rule in ALL_RULES:
        assert rule.description.strip().endswith("."), rule.name
        assert len(rule.remediation) > 20, rule.name
        assert all(":" in t for t in rule.resource_types), rule.name


def test_the_catalogue_in_docs_is_current() -> None:
    assert catalogue_path() == REPO_ROOT / "docs" / "policies.md"
    stale = stale_catalogue(write=False)

    assert stale == [], "the policy catalogue is stale: run `mlops-bp docs`"


def test_the_catalogue_lists_every_rule_with_its_controls_and_titles() -> None:
    text = catalogue_markdown(ALL_RULES)

    for rule in ALL_RULES:
        assert f"### `{rule.name}`" in text
        assert rule.remediation in text
        for framework, controls in rule.controls.items():
            for control in controls:
                assert f"{control} ({CONTROLS[framework][control]})" in text
    for title in FRAMEWORKS.values():
        assert f"### {title}" in text


def test_regenerating_keeps_the_prose_and_replaces_only_the_block(tmp_path: Path) -> None:
    page = tmp_path / "policies.md"
    page.write_text("# Policy rules\n\nHand-written prose.\n")

    assert stale_catalogue(write=False, path=page) == [page]
    assert stale_catalogue(write=True, path=page) == [page]
    written = page.read_text()
    assert written.startswith("# Policy rules\n\nHand-written prose.\n")
    assert written.count(BEGIN_MARKER) == written.count(END_MARKER) == 1
    assert stale_catalogue(write=False, path=page) == []
    edited = written.replace("critical", "CRITICAL", 1)
    page.write_text(edited)
    assert stale_catalogue(write=False, path=page) == [page]
    assert render_catalogue_page(edited, ALL_RULES) == written
