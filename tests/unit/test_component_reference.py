"""Component READMEs: usage first, and generated tables that match the code."""

from __future__ import annotations

import pytest

from mlops_blueprints.reference import discover_components, render_readme, stale_readmes

pytestmark = pytest.mark.unit


def test_generated_tables_are_current() -> None:
    stale = stale_readmes(write=False)
    assert not stale, f"stale component reference tables, run `mlops-bp docs`: {stale}"


def test_every_input_is_documented() -> None:
    undocumented = [
        f"{c.name}.{field}"
        for c in discover_components()
        for field, _, _, meaning in c.inputs
        if not meaning
    ]
    assert not undocumented, f"document these Args fields in the Args docstring: {undocumented}"


def test_every_readme_opens_with_usage() -> None:
    for component in discover_components():
        text = component.readme.read_text()
        assert "```python" in text, f"{component.readme} has no usage example"
        assert text.index("```python") < text.index("## Reference"), component.readme


def test_render_readme_replaces_only_its_block() -> None:
    component = next(c for c in discover_components() if c.name == "S3Bucket")
    original = "# title\n\nprose\n"
    once = render_readme(original, [component])
    assert once.startswith("# title\n\nprose\n")
    assert "| `bucket_name` | `str` | required |" in once
    edited = once.replace("| `bucket_name` | `str` | required |", "| `bucket_name` | `int` | x |")
    assert render_readme(edited, [component]) == once
