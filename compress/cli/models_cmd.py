"""``compress models``: every model ``--model`` accepts, with where it comes from.

The default listing reads the model catalogue only (no torch, no builder imported), so
it answers in well under a second; ``--macs`` builds each model to count its parameters
and MACs at an input size.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from compress.cli.app import app
from compress.core.parsing import parse_size

__all__ = ["models", "parse_size"]


@app.command("models")
def models(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON list instead of a table.")
    ] = False,
    macs: Annotated[
        bool, typer.Option("--macs", help="Build every model to count parameters and MACs.")
    ] = False,
    input_size: Annotated[
        str, typer.Option(help="Input size HxW (or one number for a square) for --macs.")
    ] = "256x256",
    num_classes: Annotated[
        int, typer.Option(min=1, help="Number of classes the models are built with (--macs).")
    ] = 8,
) -> None:
    """List the registered models (study, torchvision, timm, plugins); --macs adds costs.

    Any importable builder works too: --model package.module:builder.
    """
    size = parse_size(input_size)
    rows = _catalogue_rows()
    if macs:
        from rich.progress import Progress

        from compress.measure.macs import registered_model_costs

        with Progress(transient=True, disable=as_json) as progress:
            task = progress.add_task("counting MACs", total=len(rows))

            built: list[str] = []

            def advance(name: str) -> None:  # called before each model is built
                progress.update(task, description=f"counting MACs: {name}", completed=len(built))
                built.append(name)

            costs = {
                row["name"]: row
                for row in registered_model_costs(
                    num_classes=num_classes, input_size=size, on_model=advance
                )
            }
        for row in rows:
            row.update(costs[row["name"]])
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    _print_table(rows, size=size, num_classes=num_classes, macs=macs)


def _catalogue_rows() -> list[dict[str, Any]]:
    from baselines.registry import list_models, model_entry

    rows = []
    for name in list_models():
        entry = model_entry(name)
        rows.append(
            {
                "name": name,
                "aliases": list(entry.aliases),
                "source": entry.source,
                "summary": entry.summary,
                "requires": list(entry.requires),
            }
        )
    return rows


def _print_table(
    rows: list[dict[str, Any]], *, size: tuple[int, int], num_classes: int, macs: bool
) -> None:
    from rich.console import Console
    from rich.table import Table

    from compress.core.units import format_count

    title = f"models at {size[0]}x{size[1]}, {num_classes} classes" if macs else "models"
    table = Table(
        title=title,
        caption="also: --model package.module:builder (any importable builder taking num_classes)",
    )
    for column in ("name", "aliases", "source", "description"):
        table.add_column(column)
    if macs:
        table.add_column("params", justify="right")
        table.add_column("MACs", justify="right")
    for row in rows:
        cells = [row["name"], ", ".join(row["aliases"]), row["source"], row["summary"]]
        if macs:
            cells += [format_count(row["params"]), format_count(row["macs"])]
        table.add_row(*cells)
    Console().print(table)
