"""``compress eval``: score a checkpoint on a data set split, as a table or one JSON object."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from compress.cli.app import app
from compress.cli.completion import names_in
from compress.cli.path_options import CHECKPOINT_HELP, DATA_HELP, checkpoint_file, data_folder
from compress.cli.progress_display import shown
from compress.cli.variant_options import Progress
from compress.core.errors import CompressError
from compress.measure.tta import TTA_MODES

if TYPE_CHECKING:
    from compress.measure.evaluate import CheckpointEvaluation


@app.command("eval")
def eval_command(
    checkpoint: Annotated[Path, typer.Option(help=CHECKPOINT_HELP, callback=checkpoint_file)],
    data: Annotated[
        Path,
        typer.Option(help=DATA_HELP, callback=data_folder),
    ],
    split: Annotated[str, typer.Option(help="Split of the data set to score.")] = "test",
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:N or auto.")] = "auto",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of tables.")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(help="Also write a run folder (spec.yaml, result.json) for compare."),
    ] = None,
    tta: Annotated[
        str,
        typer.Option(
            help="Test-time augmentation: none | flip (average with the mirrored "
            "image; two forward passes).",
            autocompletion=names_in(lambda: TTA_MODES),
        ),
    ] = "none",
    progress: Progress = True,
) -> None:
    """Score a checkpoint: mIoU, class and pixel accuracy, the study's per-image mIoU."""
    with shown(progress):
        from rich.console import Console

        from compress.measure.evaluate import evaluate_checkpoint

        if tta not in TTA_MODES:
            raise CompressError(f"--tta {tta!r} is not one of {', '.join(TTA_MODES)}")
        console = Console(stderr=True)  # progress: the reporter of compress.core.progress
        if out is not None:
            from compress.measure.eval_run import evaluate_into

            stored, evaluation = evaluate_into(
                checkpoint, data, out, split=split, device=device, tta=tta
            )
            if evaluation is None:  # this very evaluation was finished before
                console.print(f"{out} already holds this finished evaluation")
                typer.echo(
                    json.dumps(stored.metrics.model_dump(mode="json"))
                    if as_json
                    else f"{split} mIoU {100 * stored.metrics.miou:.2f}%"
                )
                return
        else:
            evaluation = evaluate_checkpoint(checkpoint, data, split=split, device=device, tta=tta)
        if as_json:
            typer.echo(json.dumps(evaluation.to_dict()))
        else:
            _print_tables(evaluation)
            if out is not None:
                Console().print(f"wrote {out}/result.json")


def _print_tables(evaluation: CheckpointEvaluation) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    result, metrics = evaluation.result, evaluation.result.metrics
    where = f"{evaluation.checkpoint} on {evaluation.data}, split {evaluation.split!r}"
    summary = Table(title=escape(where))
    summary.add_column("metric")
    summary.add_column("value", justify="right")
    summary.add_row("mIoU (%)", _percent(metrics.miou))
    summary.add_row("class accuracy (%)", _percent(metrics.class_acc))
    summary.add_row("pixel accuracy (%)", _percent(metrics.pixel_acc))
    summary.add_row("study per-image mIoU (%)", _percent(result.study_miou))
    summary.add_row("images / pixels", f"{result.num_images} / {metrics.num_pixels}")
    summary.add_row("seconds", f"{result.seconds:.1f} on {evaluation.device}")
    if result.tta:
        summary.add_row("test-time augmentation", result.tta)
    classes = Table(title="per class (-: absent)")
    for name in ("id", "class", "IoU (%)", "accuracy (%)"):
        classes.add_column(name, justify="left" if name == "class" else "right")
    names = evaluation.class_names
    for index, (iou, acc) in enumerate(
        zip(metrics.per_class_iou, metrics.per_class_acc, strict=True)
    ):
        name = names[index] if index < len(names) else f"class {index}"
        classes.add_row(str(index), escape(name), _percent(iou), _percent(acc))
    console = Console()
    console.print(summary)
    console.print(classes)


def _percent(value: float | None) -> str:
    if value is None or value != value:
        return "-"
    return f"{100 * value:.2f}"
