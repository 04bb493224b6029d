"""``compress run RECIPE.yaml``: a whole study from one file, resumable; also any run
folder's ``spec.yaml`` (the run it describes is made again, or found finished)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from compress.cli.app import app


@app.command("run")
def run_command(
    recipe: Annotated[Path, typer.Argument(help="Recipe YAML, or a run folder's spec.yaml.")],
    only: Annotated[
        str | None, typer.Option(help="Comma-separated variant names to run (and their baselines).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan: what runs, resumes, is finished.")
    ] = False,
    data: Annotated[
        Path | None, typer.Option(help="Data set folder (overrides the recipe's data).")
    ] = None,
    device: Annotated[str | None, typer.Option(help="cpu, cuda or auto (overrides).")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: runs/<recipe name>).")
    ] = None,
    progress: Annotated[
        bool,
        typer.Option(
            "--progress/--no-progress", help="Progress bars on a terminal (plain lines without)."
        ),
    ] = True,
) -> None:
    """Run a recipe: train its baselines, run its variants, print the comparison."""
    from rich.console import Console

    from compress.cli.progress_display import shown
    from compress.recipes.load import load_recipe, read_yaml

    console = Console(stderr=True)
    document = read_yaml(recipe)
    if "spec" in document and "kind" in document and "digest" in document:
        from compress.recipes.respec import rerun_spec_file

        with shown(progress):
            rerun_spec_file(recipe, document, out=out, dry_run=dry_run, progress=progress)
        return
    parsed = load_recipe(recipe)
    if device is not None:
        parsed = parsed.model_copy(update={"device": device})
    names = [n.strip() for n in only.split(",") if n.strip()] if only else None
    target = out if out is not None else Path("runs") / parsed.name
    data_arg = str(data) if data is not None else None
    try:
        parsed.selected(names)
    except ValueError as error:
        from compress.core.errors import CompressError

        raise CompressError(str(error)) from None
    if dry_run:
        _print_plan(parsed, target, names, data_arg)
        return
    from compress.recipes.run import run_recipe
    from compress.reporting.formatting import print_table

    with shown(progress):
        outcome = run_recipe(
            parsed, target, only=names, data=data_arg, progress=progress, console=console
        )
    print_table(outcome.comparison)
    print(
        f"{parsed.eval.split}-split mIoU; each variant against its own baseline, measured "
        "beside it in one process (speedup, size and MACs ratios from that measurement)."
    )
    for path in outcome.written:
        print(f"wrote {path}")


def _print_plan(recipe, target: Path, names: list[str] | None, data: str | None) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.tree import Tree

    from compress.recipes.run import plan_recipe

    colours = {"finished": "green", "will resume": "yellow", "given": "cyan"}
    tree = Tree(f"[bold]{escape(recipe.name)}[/] -> {escape(str(target))}")
    for item in plan_recipe(recipe, target, only=names, data=data):
        colour = colours.get(item.state, "white")
        node = tree.add(
            f"{item.kind} [bold]{escape(item.name)}[/]: [{colour}]{item.state}[/] "
            f"[dim]{escape(str(item.folder))}[/]"
        )
        for child in item.children:
            colour = colours.get(child.state, "white")
            node.add(
                f"{escape(child.name)}: [{colour}]{child.state}[/] "
                f"[dim]{escape(child.folder.name)}[/]"
            )
    Console().print(tree)
