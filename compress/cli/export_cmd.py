"""``compress export``: write an ONNX file with dynamic axes and prove it matches PyTorch."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from compress.cli.app import app
from compress.cli.path_options import CHECKPOINT_HELP, checkpoint_file, data_folder
from compress.cli.progress_display import shown
from compress.cli.variant_options import ModelOptions, OptionalModelName, Progress
from compress.core.parsing import parse_key_values, parse_size

if TYPE_CHECKING:
    from compress.deploy.export import ExportOutcome


@app.command("export")
def export_command(
    out: Annotated[Path, typer.Option(help="ONNX file to write, e.g. model.onnx.")],
    checkpoint: Annotated[
        Path | None,
        typer.Option(help=CHECKPOINT_HELP, callback=checkpoint_file),
    ] = None,
    model: OptionalModelName = None,
    num_classes: Annotated[int, typer.Option(help="Classes, with --model.")] = 8,
    option: ModelOptions = None,
    opset: Annotated[int, typer.Option(help="ONNX opset version.")] = 17,
    input_size: Annotated[
        str, typer.Option(help="Example input size HxW traced at export (axes stay dynamic).")
    ] = "256x256",
    exporter: Annotated[
        str, typer.Option(help="torchscript (default, fast, robust) or dynamo (opset >= 18).")
    ] = "torchscript",
    parity_images: Annotated[
        int, typer.Option(help="Images compared between PyTorch and ONNX Runtime.")
    ] = 4,
    data: Annotated[
        Path | None,
        typer.Option(help="Data set folder: check parity on real images.", callback=data_folder),
    ] = None,
    split: Annotated[str, typer.Option(help="Split of --data used for parity.")] = "val",
    min_agreement: Annotated[
        float, typer.Option(help="Minimum argmax agreement (fraction of pixels).")
    ] = 0.999,
    progress: Progress = True,
) -> None:
    """Export to ONNX, check the graph, and check parity (else exit 2); writes NAME.parity.json."""
    with shown(progress):
        from compress.core.specs import parse_spec
        from compress.deploy.export import ExportSpec, export_model

        spec = parse_spec(
            ExportSpec,
            {
                "model": model,
                "checkpoint": checkpoint,
                "num_classes": num_classes,
                "options": parse_key_values(option),
                "out": out,
                "opset": opset,
                "input_size": parse_size(input_size),
                "exporter": exporter,
                "parity_images": parity_images,
                "data": data,
                "split": split,
                "min_agreement": min_agreement,
            },
            source="options",
        )
        _print(export_model(spec))


def _print(outcome: ExportOutcome) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    report = outcome.report
    table = Table(title=escape(f"parity of {outcome.path} ({report.source})"))
    for column in ("input H x W", "max |logit diff|", "argmax agreement (%)"):
        table.add_column(column, justify="right")
    for row in report.images:
        height, width = row["size"]
        table.add_row(
            f"{height}x{width}", f"{row['max_abs_diff']:.3g}", f"{100 * row['agreement']:.3f}"
        )
    table.add_row("all", f"{report.max_abs_diff:.3g}", f"{100 * report.agreement:.3f}")
    console = Console()
    console.print(table)
    console.print(
        f"wrote {escape(str(outcome.path))} and {escape(str(outcome.parity_path))} "
        f"(agreement {100 * report.agreement:.3f}% >= {100 * report.min_agreement:.1f}%)"
    )
