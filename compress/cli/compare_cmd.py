"""``compress compare`` and ``compress plot ...``: tables and plots read from run folders.

Both read only ``result.json`` files (and, for ``plot examples``, a checkpoint and a data
split), so a comparison can be re-made at any time without re-running anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from compress.cli.app import app
from compress.cli.path_options import DATA_HELP, checkpoint_file, data_folder
from compress.cli.progress_display import shown
from compress.cli.variant_options import Progress

plot_app = typer.Typer(
    help="Draw PNG plots: accuracy vs latency, per-class IoU, best/worst examples.",
    no_args_is_help=True,
)
app.add_typer(plot_app, name="plot")

RunsArgument = Annotated[
    list[Path],
    typer.Argument(help="Run folders (or their result.json files).", show_default=False),
]
LatencyKeyOption = Annotated[
    str | None,
    typer.Option(
        "--latency-key",
        help="Latency to use, e.g. ort-cpu or torch-cpu (default: a key every run has, "
        "preferring ort-cpu, then torch-cpu).",
    ),
]


@app.command("compare")
def compare_command(
    runs: RunsArgument,
    baseline: Annotated[
        str | None,
        typer.Option(help="Run name to compare with, for runs whose result names no baseline."),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="table, md, csv, json or study (default: table, or from --out's extension).",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Write to this file (.md, .csv, .json) instead of printing.")
    ] = None,
    latency_key: LatencyKeyOption = None,
    progress: Progress = True,
) -> None:
    """Compare runs, each against its own baseline: ΔmIoU, speedup, size and MACs ratios."""
    with shown(progress):
        from compress.reporting import formatting
        from compress.reporting.compare import CompareSpec, compare_runs

        if fmt is not None:
            formatting.check_format(fmt)
        comparison = compare_runs(
            CompareSpec(runs=runs, baseline=baseline, latency_key=latency_key)
        )
        if out is not None:
            written = formatting.write_comparison(comparison, out, fmt)
            _say(f"wrote {len(comparison.rows)} rows ({written}) to {out}")
        elif fmt in (None, "table"):
            formatting.print_table(comparison)
        else:
            typer.echo(formatting.render_text(comparison, fmt), nl=False)


@plot_app.command("pareto")
def plot_pareto_command(
    runs: RunsArgument,
    out: Annotated[Path, typer.Option(help="PNG file to write.")] = Path("pareto.png"),
    latency_key: LatencyKeyOption = None,
) -> None:
    """mIoU against latency, with the Pareto front (fastest run for each accuracy) marked."""
    from compress.reporting.compare import load_results
    from compress.reporting.plots.pareto import plot_pareto

    front = plot_pareto(load_results(runs), out, latency_key=latency_key)
    _say(f"wrote {out}; Pareto front: {', '.join(p.name for p in front)}")


@plot_app.command("per-class")
def plot_per_class_command(
    runs: RunsArgument,
    out: Annotated[Path, typer.Option(help="PNG file to write.")] = Path("per_class.png"),
) -> None:
    """Grouped bars of per-class IoU, one bar per run: which classes a variant lost."""
    from compress.reporting.compare import load_results
    from compress.reporting.plots.per_class import plot_per_class_iou

    plot_per_class_iou(load_results(runs), out)
    _say(f"wrote {out}")


@plot_app.command("examples")
def plot_examples_command(
    checkpoint: Annotated[
        Path, typer.Option(help="Checkpoint of the run to show.", callback=checkpoint_file)
    ],
    data: Annotated[
        Path,
        typer.Option(help=DATA_HELP, callback=data_folder),
    ],
    split: Annotated[str, typer.Option(help="Split to pick the examples from.")] = "test",
    out: Annotated[Path, typer.Option(help="PNG file to write.")] = Path("examples.png"),
    per_class: Annotated[
        int, typer.Option(help="How many best and how many worst images per class.")
    ] = 1,
    classes: Annotated[
        list[str] | None,
        typer.Option("--class", help="Class name or id to show (repeatable; default: all)."),
    ] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:N or auto.")] = "auto",
) -> None:
    """Best and worst images per class (image | prediction | ground truth), ranked by IoU."""
    from compress.reporting.plots.examples import ExamplesSpec, examples_from_checkpoint

    spec = ExamplesSpec(
        checkpoint=checkpoint,
        data=data,
        split=split,
        out=out,
        per_class=per_class,
        device=device,
        classes=classes or None,
    )
    examples = examples_from_checkpoint(spec)
    _say(f"wrote {out} ({len(examples)} examples)")


def _say(message: str) -> None:
    """Print one status line without wrapping long paths."""
    from rich.console import Console

    Console(soft_wrap=True, highlight=False).print(message, markup=False)
