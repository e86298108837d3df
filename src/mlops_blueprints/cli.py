"""``mlops-bp``: render, check and verify the platform offline.

Exit codes: 0 success, 1 a check or the program failed, 2 bad usage (one line, no traceback).
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mlops_blueprints.errors import BlueprintConfigError, UsageError

__all__ = ["app", "main"]

TARGETS = ("aws", "kind")
app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Render, check and verify MLOps Blueprints stacks offline.",
)
upstream_app = typer.Typer(no_args_is_help=True, help="Upstream schemas the checks use.")
app.add_typer(upstream_app, name="upstream")
console = Console(highlight=False)
# Errors stay on one line however narrow the terminal: soft wrap, no hard breaks.
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _usage_error(message: str) -> NoReturn:
    # User input is printed literally, never read as Rich markup.
    err_console.print(f"[bold red]error:[/] {escape(_one_line(message))}")
    raise typer.Exit(2)


def _validated_level(level: str) -> int:
    from mlops_blueprints.blueprints import parse_level

    try:
        return parse_level(level, field="--level")
    except BlueprintConfigError:
        _usage_error(f"--level {level!r} is not a maturity level: use 1, 2, 3 or 4")


def _validated_target(target: str) -> str:
    if target not in TARGETS:
        _usage_error(f"--target {target!r} is not a target: use one of {', '.join(TARGETS)}")
    return target


def _summary_table(result: object) -> Table:
    from mlops_blueprints.render import RenderResult

    assert isinstance(result, RenderResult)
    table = Table(title=f"{result.project} / {result.stack}: resources by component")
    table.add_column("component")
    table.add_column("resource type")
    table.add_column("count", justify="right")
    for component, types in sorted(result.files.by_component.items()):
        for index, (rtype, count) in enumerate(sorted(types.items())):
            table.add_row(component if index == 0 else "", rtype, str(count))
    return table


def _render(
    *, level: int | None, stack_dir: Path | None, target: str, sets: list[str], out: Path
) -> object:
    from pulumi.config import ConfigMissingError, ConfigTypeError

    from mlops_blueprints.render import ProgramError, find_level_stack, render_project

    try:
        project_dir = stack_dir if stack_dir is not None else find_level_stack(level or 1)
        return render_project(project_dir, stack=target, sets=sets, out_dir=out)
    except UsageError as error:
        _usage_error(str(error))
    except ProgramError as error:
        cause = error.cause
        if isinstance(cause, BlueprintConfigError):
            _usage_error(f"configuration: {cause}")
        if isinstance(cause, ConfigTypeError | ConfigMissingError):
            _usage_error(
                f"configuration: {cause}; set an object value field by field "
                "(--set key.field=value) or fix it in the stack's Pulumi.<stack>.yaml"
            )
        err_console.print(
            f"[bold red]error:[/] the stack program in {escape(str(error.project_dir))} failed: "
            f"{escape(_one_line(f'{type(cause).__name__}: {cause}'))}"
        )
        raise typer.Exit(1) from None


@app.command()
def render(
    level: Annotated[str, typer.Option("--level", "-l", help="Maturity level, 1-4.")] = "1",
    target: Annotated[str, typer.Option("--target", "-t", help="aws or kind.")] = "kind",
    stack: Annotated[
        Path | None,
        typer.Option("--stack", help="Any Pulumi Python project folder instead of a level."),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Config override key=value (key.path=value for objects)."),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output folder.")] = None,
) -> None:
    """Run a stack program under mocks and write inventory, manifests, Helm values, IAM, graph."""
    level_number = _validated_level(level)
    _validated_target(target)
    out_dir = out or Path("rendered") / f"level{level_number}-{target}"
    result = _render(
        level=level_number, stack_dir=stack, target=target, sets=set_ or [], out=out_dir
    )
    from mlops_blueprints.render import RenderResult

    assert isinstance(result, RenderResult)
    console.print(_summary_table(result))
    files = result.files
    console.print(
        f"[bold green]rendered[/] {files.resources} resources in {files.components} components: "
        f"{files.manifests} manifests, {files.helm_releases} Helm releases, "
        f"{files.policy_documents} policy documents -> {out_dir} "
        f"({result.elapsed_seconds:.2f} s)"
    )


def _upstream_or_exit() -> Path:
    from mlops_blueprints.upstream import upstream_dir

    try:
        return upstream_dir()
    except UsageError as error:
        _usage_error(str(error))


@app.command()
def check(
    out: Annotated[Path, typer.Argument(help="A rendered folder (from `mlops-bp render`).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Validate a rendered folder: upstream schemas, charts, ordering and the policy rules.

    The policy rules of the render's level run with the enforcement and suppressions of the
    stack config it recorded (mandatory violations fail the check); the report ends with the
    suppressions and the compliance matrix.
    """
    from mlops_blueprints.check import report_table, run_checks

    if not (out / "inventory.json").is_file():
        _usage_error(
            f"{out} is not a rendered folder (no inventory.json): run `mlops-bp render` first"
        )
    upstream = _upstream_or_exit()
    try:
        report = run_checks(out, upstream=upstream, policies=True)
    except BlueprintConfigError as error:
        _usage_error(f"configuration recorded in {out / 'config.json'}: {error}")
    except UsageError as error:
        _usage_error(str(error))
    if as_json:
        sys.stdout.write(json.dumps(report.to_json(), indent=2) + "\n")
    else:
        console.print(report_table(report))
    raise typer.Exit(0 if report.ok else 1)


@app.command()
def verify(
    target: Annotated[
        list[str] | None, typer.Option("--target", "-t", help="Targets (default: kind).")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Where renders go.")] = None,
) -> None:
    """Render and check every level stack that exists, and print one summary."""
    from mlops_blueprints.check import run_checks
    from mlops_blueprints.render import RenderResult, find_level_stack

    targets = [_validated_target(t) for t in (target or ["kind"])]
    upstream = _upstream_or_exit()
    root = out or Path(tempfile.mkdtemp(prefix="mlops-bp-verify-"))
    levels = []
    for level in (1, 2, 3, 4):
        try:
            find_level_stack(level)
        except UsageError:
            continue
        levels.append(level)
    if not levels:
        _usage_error("no level stacks found: run from a checkout of the project")
    table = Table(title="MLOps Blueprints: offline verification")
    for column in (
        "level",
        "target",
        "resources",
        "manifests",
        "helm",
        "render s",
        "errors",
        "result",
    ):
        table.add_column(column, justify="right" if column not in ("result",) else "left")
    failed = False
    for level in levels:
        for name in targets:
            out_dir = root / f"level{level}-{name}"
            result = _render(level=level, stack_dir=None, target=name, sets=[], out=out_dir)
            assert isinstance(result, RenderResult)
            try:
                report = run_checks(out_dir, upstream=upstream, policies=True)
            except BlueprintConfigError as error:
                _usage_error(f"configuration: {error}")
            errors = Counter(f.check for f in report.findings if f.severity == "error")
            failed |= not report.ok
            table.add_row(
                f"L{level}",
                name,
                str(result.files.resources),
                str(result.files.manifests),
                str(result.files.helm_releases),
                f"{result.elapsed_seconds:.2f}",
                ", ".join(f"{k}: {v}" for k, v in sorted(errors.items())) or "0",
                "[red]FAIL[/]" if not report.ok else "[green]pass[/]",
            )
    console.print(table)
    console.print(f"renders and reports are in {root}; inspect one with `mlops-bp check <folder>`")
    raise typer.Exit(1 if failed else 0)


@app.command()
def cost(
    *,
    level: Annotated[
        str | None, typer.Option("--level", "-l", help="Maturity level, 1-4 (default 1).")
    ] = None,
    target: Annotated[str, typer.Option("--target", "-t", help="Only aws is priced.")] = "aws",
    rendered: Annotated[
        Path | None, typer.Option("--rendered", help="Price this rendered folder instead.")
    ] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Config override key=value, as in render.")
    ] = None,
    region: Annotated[
        str | None, typer.Option("--region", help="Price in this region (default: the render's).")
    ] = None,
    assume: Annotated[
        list[str] | None, typer.Option("--assume", help="Override an assumption, key=value.")
    ] = None,
    output_format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """Estimate a level's monthly aws bill offline, from its render and dated list prices."""
    from mlops_blueprints.cost import estimate, load_inventory, parse_assumptions, print_estimate

    if output_format not in ("table", "json"):
        _usage_error(f"--format {output_format!r} is not a format: use table or json")
    if _validated_target(target) != "aws":
        _usage_error(f"--target {target!r}: only aws is priced; kind runs on your own machine")
    if rendered is not None and (level is not None or set_):
        _usage_error("--rendered prices an existing render: drop --level and --set")
    try:
        assumptions = parse_assumptions(assume or [])
        if rendered is not None:
            inventory = load_inventory(rendered)
            title = str(rendered)
        else:
            level_number = _validated_level(level or "1")
            with tempfile.TemporaryDirectory(prefix="mlops-bp-cost-") as scratch:
                _render(
                    level=level_number,
                    stack_dir=None,
                    target="aws",
                    sets=set_ or [],
                    out=Path(scratch),
                )
                inventory = load_inventory(Path(scratch))
            title = f"Level {level_number} on aws"
        result = estimate(inventory, region=region, assumptions=assumptions)
    except UsageError as error:
        _usage_error(str(error))
    if output_format == "json":
        sys.stdout.write(json.dumps(result.to_json(), indent=2) + "\n")
    else:
        print_estimate(console, result, title=title)


@app.command()
def docs(
    check_only: Annotated[
        bool, typer.Option("--check", help="Fail if a generated table is stale; write nothing.")
    ] = False,
) -> None:
    """Regenerate the component README tables and the policy catalogue (docs/policies.md)."""
    from mlops_blueprints.policies._catalogue import stale_catalogue
    from mlops_blueprints.reference import stale_readmes

    stale = stale_readmes(write=not check_only) + stale_catalogue(write=not check_only)
    for path in stale:
        verb = "stale" if check_only else "updated"
        console.print(f"{verb}: {path}")
    if check_only and stale:
        err_console.print(
            "error: generated reference tables or the policy catalogue are stale: "
            "run `mlops-bp docs`"
        )
        raise typer.Exit(1)
    if not stale:
        console.print("component reference tables and the policy catalogue are up to date")


@app.command("policy-config")
def policy_config(
    level: Annotated[str, typer.Option("--level", "-l", help="Maturity level, 1-4.")] = "1",
    target: Annotated[str, typer.Option("--target", "-t", help="aws or kind.")] = "kind",
    stack_config: Annotated[
        Path | None,
        typer.Option("--stack-config", help="A Pulumi.<stack>.yaml instead of the level's."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Write the policy pack config for a stack: each rule's enforcement and suppressions.

    Use it with `pulumi up --policy-pack policies/pack --policy-pack-config <file>`.
    """
    from mlops_blueprints.blueprints._spec import CONFIG_NAMESPACE, parse_policy_settings
    from mlops_blueprints.policies import ALL_RULES
    from mlops_blueprints.policies.pack import pack_config
    from mlops_blueprints.render import find_level_stack, load_stack_config

    level_number = _validated_level(level)
    _validated_target(target)
    try:
        if stack_config is not None:
            if not stack_config.is_file():
                raise UsageError(f"--stack-config {stack_config}: no such file")
            config = load_stack_config(
                stack_config.parent,
                stack_config.name.removeprefix("Pulumi.").removesuffix(".yaml"),
                CONFIG_NAMESPACE,
            )
        else:
            config = load_stack_config(find_level_stack(level_number), target, CONFIG_NAMESPACE)
        raw = config.get(f"{CONFIG_NAMESPACE}:policies")
        if isinstance(raw, str):
            raw = json.loads(raw)
        settings = parse_policy_settings(raw, rule_names={rule.name for rule in ALL_RULES})
    except UsageError as error:
        _usage_error(str(error))
    except BlueprintConfigError as error:
        _usage_error(f"configuration: {error}")
    except json.JSONDecodeError as error:
        _usage_error(f"{CONFIG_NAMESPACE}:policies is not valid JSON: {error}")
    document = json.dumps(pack_config(level=level_number, settings=settings), indent=2) + "\n"
    if out is None:
        sys.stdout.write(document)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(document)
    err_console.print(
        f"wrote {out}: pulumi up --policy-pack policies/pack --policy-pack-config {out}"
    )


@upstream_app.command("verify")
def upstream_verify() -> None:
    """Check that every upstream file the checks use is present with the locked sha256."""
    from mlops_blueprints.upstream import verify as verify_upstream

    directory = _upstream_or_exit()
    problems = verify_upstream(directory)
    for problem in problems:
        err_console.print(f"[red]{problem}[/]")
    if problems:
        raise typer.Exit(1)
    console.print(f"[green]ok[/]: every locked upstream file in {directory} matches its sha256")


@upstream_app.command("fetch")
def upstream_fetch(
    dest: Annotated[Path, typer.Option("--dest", help="Where to put the files.")] = Path(
        ".cache/upstream"
    ),
    source: Annotated[
        Path | None, typer.Option("--from", help="Copy from a local mirror instead of downloading.")
    ] = None,
) -> None:
    """Download (or copy) the locked upstream files and verify their hashes."""
    from mlops_blueprints.upstream import fetch

    try:
        fetch(dest, source=str(source) if source else None)
    except UsageError as error:
        _usage_error(str(error))
    console.print(f"[green]ok[/]: upstream files in {dest}; export MLOPS_BP_UPSTREAM_DIR={dest}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
