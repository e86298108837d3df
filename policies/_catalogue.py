"""The rule catalogue in ``docs/policies.md``, generated from the rules themselves.

Every rule with its description, severity, levels, remediation and controls per framework
(with the control titles from ``CONTROLS``), then an index per framework: control -> rules.
The catalogue sits between ``<!-- BEGIN GENERATED: policy-catalogue -->`` and
``<!-- END GENERATED: policy-catalogue -->`` in the page, so the prose around it is kept;
``mlops-bp docs --check`` fails when it is stale.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from ._frameworks import CONTROLS
from ._rule import ALL_LEVELS, FRAMEWORKS, Framework, Rule

__all__ = [
    "BEGIN_MARKER",
    "END_MARKER",
    "catalogue_markdown",
    "catalogue_path",
    "render_catalogue_page",
    "stale_catalogue",
]

BEGIN_MARKER: Final = "<!-- BEGIN GENERATED: policy-catalogue -->"
END_MARKER: Final = "<!-- END GENERATED: policy-catalogue -->"
_PAGE_TITLE: Final = "# Policy rules\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _levels(rule: Rule) -> str:
    if tuple(sorted(rule.levels)) == ALL_LEVELS:
        return "all"
    return ", ".join(f"L{level}" for level in sorted(rule.levels))


def _control(framework: Framework, control: str) -> str:
    title = CONTROLS.get(framework, {}).get(control, "")
    return f"{control} ({title})" if title else control


def _anchor(name: str) -> str:
    return f"rule-{name}"


def _summary(rules: Sequence[Rule]) -> list[str]:
    lines = [
        f"{len(rules)} rules. Severity, levels and frameworks at a glance; details below.",
        "",
        "| rule | severity | levels | frameworks |",
        "|---|---|---|---|",
    ]
    for rule in rules:
        frameworks = ", ".join(f for f in FRAMEWORKS if f in rule.controls)
        lines.append(
            f"| [`{rule.name}`](#{_anchor(rule.name)}) | {rule.severity} | {_levels(rule)} "
            f"| {frameworks} |"
        )
    return lines


def _details(rule: Rule) -> list[str]:
    kind = "stack rule" if rule.is_stack_rule else "resource rule"
    lines = [
        f'<a id="{_anchor(rule.name)}"></a>',
        f"### `{rule.name}`",
        "",
        rule.description,
        "",
        f"- Severity: {rule.severity}; levels: {_levels(rule)}; {kind}",
        "- Examines: " + ", ".join(f"`{t}`" for t in rule.resource_types),
        f"- Remediation: {rule.remediation}",
        "- Controls:",
    ]
    for framework in FRAMEWORKS:
        controls = rule.controls.get(framework)
        if controls:
            cited = "; ".join(_control(framework, control) for control in controls)
            lines.append(f"  - {framework}: {cited}")
    return [*lines, ""]


def _index(rules: Sequence[Rule]) -> list[str]:
    lines = ["## Index by framework", ""]
    for framework, title in FRAMEWORKS.items():
        cited: dict[str, list[str]] = {}
        for rule in rules:
            for control in rule.controls.get(framework, ()):
                cited.setdefault(control, []).append(rule.name)
        known = list(CONTROLS.get(framework, {}))
        order = sorted(cited, key=lambda c: (known.index(c) if c in known else len(known), c))
        lines += [f"### {title} (`{framework}`)", ""]
        if not order:
            lines += ["No rule cites this framework yet.", ""]
            continue
        lines += ["| control | title | rules |", "|---|---|---|"]
        for control in order:
            names = ", ".join(f"[`{name}`](#{_anchor(name)})" for name in sorted(cited[control]))
            control_title = _cell(CONTROLS.get(framework, {}).get(control, ""))
            lines.append(f"| {control} | {control_title} | {names} |")
        lines.append("")
    return lines


def catalogue_markdown(rules: Sequence[Rule]) -> str:
    """The generated block: summary table, one section per rule, index per framework."""
    ordered = sorted(rules, key=lambda rule: rule.name)
    lines = [
        "## Catalogue",
        "",
        "Generated from `policies/` by `mlops-bp docs`; do not edit by hand.",
        "",
        *_summary(ordered),
        "",
        "## Rules",
        "",
    ]
    for rule in ordered:
        lines += _details(rule)
    lines += _index(ordered)
    return "\n".join(lines).rstrip() + "\n"


def render_catalogue_page(text: str, rules: Sequence[Rule]) -> str:
    """``text`` with its generated block replaced (appended when it has none)."""
    block = f"{BEGIN_MARKER}\n{catalogue_markdown(rules)}{END_MARKER}"
    pattern = re.compile(re.escape(BEGIN_MARKER) + r".*?" + re.escape(END_MARKER), re.DOTALL)
    if pattern.search(text):
        return pattern.sub(lambda _match: block, text)
    return text.rstrip() + "\n\n" + block + "\n"


def catalogue_path() -> Path | None:
    """``docs/policies.md`` of the checkout this package lives in (None when installed)."""
    root = Path(__file__).resolve().parent.parent
    docs = root / "docs"
    return docs / "policies.md" if docs.is_dir() and (root / "pyproject.toml").is_file() else None


def stale_catalogue(
    *, write: bool, rules: Sequence[Rule] | None = None, path: Path | None = None
) -> list[Path]:
    """``[path]`` when the page's catalogue differs from the rules (rewritten when ``write``)."""
    target = path or catalogue_path()
    if target is None:
        return []
    if rules is None:
        from mlops_blueprints.policies import ALL_RULES  # noqa: PLC0415 - the package aggregates

        rules = ALL_RULES
    current = target.read_text() if target.exists() else _PAGE_TITLE
    wanted = render_catalogue_page(current, rules)
    if wanted == current:
        return []
    if write:
        target.write_text(wanted)
    return [target]
