"""Generate the inputs/outputs tables of every component's README from the code.

Inputs come from the component's ``...Args`` dataclass: field names, types and defaults from
the dataclass, meanings from the Args docstring bullets (``- ``field`` (default): meaning``).
Outputs are the ``pulumi.Output`` attributes the component class annotates. Tables live between
``<!-- BEGIN GENERATED: Name -->`` and ``<!-- END GENERATED: Name -->`` markers in the
sub-package README, so prose around them is kept. ``mlops-bp docs --check`` fails when a table
is stale.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import re
from dataclasses import dataclass
from pathlib import Path

import pulumi

__all__ = ["ComponentReference", "discover_components", "render_readme", "stale_readmes"]

_BULLET = re.compile(
    r"^\s*-\s+``(?P<field>\w+)``(?:\s*\((?P<default>[^)]*)\))?\s*:\s*(?P<text>.*)$"
)


@dataclass(frozen=True)
class ComponentReference:
    """One component: where it lives and the rows of its tables."""

    name: str
    type_token: str
    package: str
    readme: Path
    inputs: tuple[tuple[str, str, str, str], ...]  # field, type, default, meaning
    outputs: tuple[tuple[str, str], ...]  # attribute, type


def _field_docs(doc: str) -> dict[str, str]:
    docs: dict[str, str] = {}
    current: str | None = None
    for line in doc.splitlines():
        match = _BULLET.match(line)
        if match:
            current = match["field"]
            docs[current] = match["text"].strip()
        elif current and line.strip() and not line.strip().startswith("-"):
            docs[current] += " " + line.strip()
        else:
            current = None
    return docs


def _type_text(annotation: object) -> str:
    text = (
        annotation
        if isinstance(annotation, str)
        else getattr(annotation, "__name__", str(annotation))
    )
    text = str(text).replace("pulumi.Input", "Input").replace("pulumi.Output", "Output")
    return text.replace("typing.", "").replace("|", "\\|")


def _default_text(field: dataclasses.Field[object]) -> str:
    if field.default is not dataclasses.MISSING:
        return f"`{field.default!r}`"
    if field.default_factory is not dataclasses.MISSING:
        return f"`{field.default_factory()!r}`"
    return "required"


def _args_class(component: type[pulumi.ComponentResource]) -> type | None:
    module = inspect.getmodule(component)
    candidate = getattr(module, f"{component.__name__}Args", None)
    return (
        candidate if dataclasses.is_dataclass(candidate) and isinstance(candidate, type) else None
    )


def _type_token(component: type[pulumi.ComponentResource]) -> str:
    source = inspect.getsource(component.__init__)
    match = re.search(r'super\(\).__init__\(\s*"([^"]+)"', source)
    return match[1] if match else "?"


def _outputs(component: type[pulumi.ComponentResource]) -> tuple[tuple[str, str], ...]:
    rows = []
    for attr, annotation in inspect.get_annotations(component).items():
        text = str(annotation)
        if "Output" in text:
            rows.append((attr, _type_text(text)))
    return tuple(rows)


def discover_components() -> list[ComponentReference]:
    """Every component class in ``mlops_blueprints.components``, sorted by package and name."""
    package = importlib.import_module("mlops_blueprints.components")
    found: dict[str, ComponentReference] = {}
    for info in pkgutil.iter_modules(package.__path__, prefix=f"{package.__name__}."):
        if not info.ispkg:
            continue
        subpackage = importlib.import_module(info.name)
        readme = Path(subpackage.__file__ or "").resolve().parent / "README.md"
        for attr in getattr(subpackage, "__all__", []):
            obj = getattr(subpackage, attr)
            if not (inspect.isclass(obj) and issubclass(obj, pulumi.ComponentResource)):
                continue
            args_cls = _args_class(obj)
            inputs: list[tuple[str, str, str, str]] = []
            if args_cls is not None:
                docs = _field_docs(inspect.getdoc(args_cls) or "")
                for field in dataclasses.fields(args_cls):
                    # Annotations are kept as written (postponed evaluation): the source text.
                    inputs.append(
                        (
                            field.name,
                            _type_text(field.type),
                            _default_text(field),
                            docs.get(field.name, ""),
                        )
                    )
            found[obj.__name__] = ComponentReference(
                name=obj.__name__,
                type_token=_type_token(obj),
                package=info.name,
                readme=readme,
                inputs=tuple(inputs),
                outputs=_outputs(obj),
            )
    return sorted(found.values(), key=lambda c: (c.package, c.name))


def _table(component: ComponentReference) -> str:
    lines = [f"### `{component.name}` (`{component.type_token}`)", ""]
    if component.inputs:
        lines += ["| input | type | default | meaning |", "|---|---|---|---|"]
        lines += [f"| `{f}` | `{t}` | {d} | {m} |" for f, t, d, m in component.inputs]
    else:
        lines.append("Inputs: keyword arguments only (see the class docstring).")
    lines.append("")
    if component.outputs:
        lines += ["| output | type |", "|---|---|"]
        lines += [f"| `{name}` | `{t}` |" for name, t in component.outputs]
    else:
        lines.append("Outputs: none beyond the child resources.")
    return "\n".join(lines)


def render_readme(text: str, components: list[ComponentReference]) -> str:
    """``text`` with every generated block replaced, and blocks appended for new components."""
    for component in components:
        begin = f"<!-- BEGIN GENERATED: {component.name} -->"
        end = f"<!-- END GENERATED: {component.name} -->"
        block = f"{begin}\n{_table(component)}\n{end}"
        pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
        if pattern.search(text):
            # A function replacement keeps backslashes in the table literal.
            text = pattern.sub(lambda _match: block, text)  # noqa: B023 - used at once
        else:
            if "## Reference" not in text:
                text = (
                    text.rstrip()
                    + "\n\n## Reference\n\nGenerated from the code by `mlops-bp docs`.\n"
                )
            text = text.rstrip() + "\n\n" + block + "\n"
    return text


def stale_readmes(*, write: bool) -> list[Path]:
    """READMEs whose generated tables differ from the code; rewrite them when ``write``."""
    by_readme: dict[Path, list[ComponentReference]] = {}
    for component in discover_components():
        by_readme.setdefault(component.readme, []).append(component)
    stale = []
    for readme, components in sorted(by_readme.items()):
        current = readme.read_text() if readme.exists() else f"# {readme.parent.name}\n"
        wanted = render_readme(current, components)
        if wanted != current:
            stale.append(readme)
            if write:
                readme.write_text(wanted)
    return stale
