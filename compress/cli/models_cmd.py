"""``compress models``: every registered model with its aliases, parameters and MACs."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from compress.cli.app import app
from compress.core.parsing import parse_size

__all__ = ["models", "parse_size"]


@app.command("models")
def models(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON list instead of a table.")
    ] = False,
    input_size: Annotated[
        str, typer.Option(help="Input size HxW (or one number for a square) for the MACs.")
    ] = "256x256",
    num_classes: Annotated[
        int, typer.Option(min=1, help="Number of classes the models are built with.")
    ] = 8,
) -> None:
    """List the registered models with aliases, parameters and MACs at an input size."""
    size = parse_size(input_size)
    from compress.measure.macs import format_count, registered_model_costs

    rows = registered_model_costs(num_classes=num_classes, input_size=size)
    if as_json:
        print(json.dumps(rows, indent=2))
        return

    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"models at {size[0]}x{size[1]}, {num_classes} classes")
    table.add_column("name")
    table.add_column("aliases")
    table.add_column("params", justify="right")
    table.add_column("MACs", justify="right")
    for row in rows:
        table.add_row(
            row["name"],
            ", ".join(row["aliases"]),
            format_count(row["params"]),
            format_count(row["macs"]),
        )
    Console().print(table)
