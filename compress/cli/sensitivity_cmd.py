"""``compress sensitivity``: per pruning group, the mIoU drop and MACs saved at each ratio.

Thin: options become a :class:`compress.pruning.profile.SensitivitySpec` (validated
before torch is imported) and :func:`compress.pipeline.sensitivity_run.run_sensitivity`
does the work; this module prints the table.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from compress.cli.app import app
from compress.cli.completion import names_in
from compress.cli.path_options import data_folder
from compress.cli.progress_display import shown
from compress.cli.variant_options import (
    BaseCheckpoint,
    Device,
    IgnoreLayers,
    InputSize,
    ModelName,
    ModelOptions,
    RoundTo,
    Seed,
    parse_ratios,
    ratios_text,
    size_text,
)
from compress.core.parsing import parse_key_values, parse_size
from compress.pipeline.run_kinds import defaults_of
from compress.pruning.criteria import CRITERIA, importance_help
from compress.pruning.profile import SensitivitySpec

if TYPE_CHECKING:
    from rich.console import Console

    from compress.pipeline.sensitivity_run import SensitivityOutcome


SENSITIVITY = defaults_of(SensitivitySpec)  # the option defaults are the spec's
RATIOS = ratios_text(SENSITIVITY["ratios"])
ROUND_TO = SENSITIVITY["round_to"] or 1  # --round-to 1: no rounding (None in the spec)
INPUT_SIZE = size_text(SENSITIVITY["input_size"])


@app.command("sensitivity")
def sensitivity_command(
    model: ModelName,
    data: Annotated[
        Path,
        typer.Option(help="Data set folder; mIoU is measured on --split.", callback=data_folder),
    ],
    checkpoint: BaseCheckpoint = None,
    ratios: Annotated[
        str, typer.Option(help="Ratios each group is pruned at, comma-separated, in (0, 1).")
    ] = RATIOS,
    split: Annotated[str, typer.Option(help="Split to measure on (never test).")] = SENSITIVITY[
        "split"
    ],
    max_images: Annotated[
        int, typer.Option(help="Images evaluated per probe (cost: groups x ratios x N).")
    ] = SENSITIVITY["max_images"],
    importance: Annotated[
        str, typer.Option(help=importance_help() + ".", autocompletion=names_in(lambda: CRITERIA))
    ] = SENSITIVITY["importance"],
    round_to: RoundTo = ROUND_TO,
    input_size: InputSize = INPUT_SIZE,
    ignore_layer: IgnoreLayers = None,
    model_option: ModelOptions = None,
    device: Device = SENSITIVITY["device"],
    seed: Seed = SENSITIVITY["seed"],
    out: Annotated[
        Path | None, typer.Option(help="Run folder (default: runs/sensitivity-MODEL-...).")
    ] = None,
    progress: Annotated[
        bool,
        typer.Option(
            "--progress/--no-progress",
            help="A bar over groups x ratios (plain lines every 10 s without).",
        ),
    ] = True,
) -> None:
    """Prune each layer group alone at each ratio (no fine-tune): mIoU drop and MACs saved."""
    from compress.core.specs import parse_spec

    spec = parse_spec(
        SensitivitySpec,
        {
            "model": model,
            "checkpoint": str(checkpoint) if checkpoint else None,
            "model_options": parse_key_values(model_option),
            "input_size": parse_size(input_size),
            "device": device,
            "seed": seed,
            "data": str(data),
            "ratios": parse_ratios(ratios),
            "split": split,
            "max_images": max_images,
            "importance": importance,
            "round_to": None if round_to == 1 else round_to,
            "ignored_layers": list(ignore_layer or []),
        },
        source="compress sensitivity",
    )
    from rich.console import Console

    from compress.pipeline.sensitivity_run import run_sensitivity

    # the shared reporter's bar names the group being probed; lines printed beside a live
    # bar would leave copies of it on the screen
    with shown(progress):
        outcome = run_sensitivity(spec, out)
    _print(outcome, Console())


def _print(outcome: SensitivityOutcome, console: Console) -> None:
    from rich.markup import escape
    from rich.table import Table

    profile = outcome.profile
    if outcome.fresh_init:
        console.print(
            "[yellow]note:[/] no --checkpoint given: profiled a freshly initialised "
            "model (MACs are real, mIoU drops are not)"
        )
    if outcome.reused:
        console.print(f"{escape(str(outcome.run_dir))} already holds this finished run")
    table = Table(
        title=escape(
            f"sensitivity of {profile.model}: mIoU drop (pt) / MACs saved, baseline mIoU "
            f"{100 * profile.baseline_miou:.2f} on {profile.num_images} {profile.split} images"
        )
    )
    table.add_column("group (root layer)")
    table.add_column("channels", justify="right")
    for ratio in profile.ratios:
        table.add_column(f"{ratio:g}", justify="right")
    for group in profile.groups:
        by_ratio = {point.ratio: point for point in group.points}
        cells = [
            f"{100 * p.miou_drop:+.2f} / {100 * p.macs_saved / profile.baseline_macs:.1f}%"
            if (p := by_ratio.get(r)) is not None
            else "-"
            for r in profile.ratios
        ]
        table.add_row(escape(group.name), str(group.channels), *cells)
    console.print(table)
    for role, path in outcome.result.artifacts.items():
        console.print(f"{role}: {escape(str(outcome.run_dir / path))}")
