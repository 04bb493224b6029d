"""``compress data synth`` and ``compress data check``: create and validate data sets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from compress.cli.app import data_app
from compress.cli.progress_display import shown
from compress.cli.variant_options import Progress


@data_app.command("synth")
def synth(
    out: Annotated[Path, typer.Option("--out", help="Folder to create (FloodNet layout).")],
    n: Annotated[int, typer.Option("--n", help="Number of scenes (all splits together).")] = 200,
    size: Annotated[int, typer.Option("--size", help="Scene side in pixels.")] = 256,
    seed: Annotated[int, typer.Option("--seed", help="Seed; same seed, same data set.")] = 0,
    val_fraction: Annotated[
        float, typer.Option("--val-fraction", help="Share of scenes for validation (>= 1 image).")
    ] = 0.2,
    test_fraction: Annotated[
        float, typer.Option("--test-fraction", help="Share of scenes for testing (>= 1 image).")
    ] = 0.2,
) -> None:
    """Generate synthetic aerial scenes (8 classes), or reuse an identical existing set."""
    from rich.console import Console

    from compress.core.specs import parse_spec
    from compress.data.synthetic import SyntheticSpec, write_synthetic_dataset

    options = {
        "n": n,
        "size": size,
        "seed": seed,
        "val_fraction": val_fraction,
        "test_fraction": test_fraction,
    }
    spec = parse_spec(SyntheticSpec, options, source="compress data synth")
    console = Console()
    write_synthetic_dataset(
        out, **spec.model_dump(), log=lambda line: console.print(line, markup=False)
    )


@data_app.command("check")
def check(
    root: Annotated[Path, typer.Argument(help="Data set folder (holds train/, val/, test/).")],
    split: Annotated[
        list[str] | None, typer.Option("--split", help="Only this split (repeatable).")
    ] = None,
    progress: Progress = True,
) -> None:
    """Validate every image/mask pair and print sizes and the class pixel histogram."""
    with shown(progress):
        from rich.console import Console
        from rich.table import Table

        from compress.data.folder import check_dataset

        info, summaries = check_dataset(root, splits=split or None)
        table = Table(
            title=f"{root} ({info.name}, {info.num_classes} classes, masks: {info.masks})"
        )
        for column in ("split", "images", "size range (HxW)", "class pixels"):
            table.add_column(column)
        for summary in summaries:
            total = sum(summary.class_pixels) + summary.ignored_pixels
            shares = [
                f"{name} {100 * count / total:.1f}%"
                for name, count in zip(info.class_names, summary.class_pixels, strict=True)
            ]
            if info.ignore_index is not None:
                shares.append(f"ignored {100 * summary.ignored_pixels / total:.1f}%")
            (h0, w0), (h1, w1) = summary.min_size, summary.max_size
            sizes = f"{h0}x{w0}" if (h0, w0) == (h1, w1) else f"{h0}x{w0} .. {h1}x{w1}"
            table.add_row(summary.split, str(summary.images), sizes, ", ".join(shares))
        Console().print(table)
        Console().print(f"[green]ok[/green]: every pair of {len(summaries)} split(s) is valid")
        for note in _what_commands_need([summary.split for summary in summaries], checked=split):
            Console().print(f"[yellow]note[/yellow]: {note}")


def _what_commands_need(splits: list[str], *, checked: list[str] | None) -> list[str]:
    """What train, eval and calibration will ask of this data set that it lacks."""
    if checked:  # only some splits were checked: say nothing about the others
        return []
    notes = []
    if "train" not in splits:
        notes.append("no train split: `compress train`, fine-tuning and int8 calibration need one")
    if "val" not in splits:
        notes.append(
            "no val split: `compress train` picks its best epoch on one; add it, "
            "or train with --val-fraction 0.15 to hold part of train out"
        )
    if "test" not in splits:
        notes.append("no test split: `compress eval` scores test by default; pass --split val")
    return notes
