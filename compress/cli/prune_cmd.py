"""``compress prune``: remove channels from a trained (or freshly built) model, optionally
fine-tune, and write a run folder with the pruned checkpoint and its measured costs.

Thin: the options become a :class:`compress.pruning.spec.PruneRunSpec` (validated before
torch is imported, so a bad ``--ratio`` fails fast) and
:func:`compress.pruning.run.run_prune` does the rest.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from compress.cli.app import app
from compress.cli.options import parse_key_values, parse_size

if TYPE_CHECKING:
    from compress.pruning.run import PruneOutcome


@app.command("prune")
def prune_command(
    model: Annotated[str, typer.Option(help="Registered model name or alias (`compress models`).")],
    ratio: Annotated[
        float | None, typer.Option(help="Fraction of channels to remove, in (0, 1).")
    ] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option(help="Trained checkpoint of --model; without it a fresh init is pruned."),
    ] = None,
    importance: Annotated[
        str, typer.Option(help="l1, l2, taylor (needs --data), bn-scale, lamp or fpgm.")
    ] = "l2",
    scope: Annotated[
        str, typer.Option(help="uniform (same ratio per layer) or global (ranked together).")
    ] = "uniform",
    iterative_steps: Annotated[
        int, typer.Option(help="Reach the ratio in K steps (fine-tuning after each).")
    ] = 1,
    round_to: Annotated[
        int, typer.Option(help="Keep channel counts multiples of N (1: no rounding).")
    ] = 8,
    target_macs: Annotated[
        float | None,
        typer.Option(help="Instead of --ratio: fraction of the baseline's MACs to keep."),
    ] = None,
    ignore_layer: Annotated[
        list[str] | None,
        typer.Option("--ignore-layer", help="Module name never pruned (repeatable)."),
    ] = None,
    finetune_epochs: Annotated[
        int, typer.Option(help="Fine-tune epochs after pruning (needs --data).")
    ] = 0,
    data: Annotated[
        Path | None,
        typer.Option(help="Data set folder: fine-tuning, taylor gradients, val mIoU."),
    ] = None,
    lr: Annotated[float, typer.Option(help="Fine-tuning Adam learning rate.")] = 1e-4,
    batch_size: Annotated[int, typer.Option(help="Fine-tuning batch size.")] = 8,
    crop: Annotated[int, typer.Option(help="Fine-tuning crop in pixels.")] = 256,
    input_size: Annotated[
        str, typer.Option(help="Input size HxW for tracing and for the MACs reported.")
    ] = "256x256",
    num_classes: Annotated[
        int | None, typer.Option(help="Classes of a fresh model (default: --data's, else 8).")
    ] = None,
    model_option: Annotated[
        list[str] | None,
        typer.Option("--model-option", "-o", help="Builder option KEY=VALUE (fresh model)."),
    ] = None,
    device: Annotated[str, typer.Option(help="Fine-tuning/eval device: cpu, cuda or auto.")] = (
        "auto"
    ),
    seed: Annotated[int, typer.Option(help="Seed for a fresh init and data order.")] = 0,
    out: Annotated[
        Path | None, typer.Option(help="Run folder (default: runs/prune-MODEL-IMPORTANCE-HASH).")
    ] = None,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Fine-tuning progress output.")
    ] = True,
) -> None:
    """Structured pruning (torch-pruning DepGraph); the classifier is never pruned."""
    from compress.pruning.spec import PruneRunSpec
    from compress.specs import parse_spec

    spec = parse_spec(
        PruneRunSpec,
        {
            "model": model, "checkpoint": str(checkpoint) if checkpoint else None,
            "num_classes": num_classes, "model_options": parse_key_values(model_option),
            "prune": {
                "ratio": ratio, "target_macs": target_macs, "importance": importance,
                "scope": scope, "iterative_steps": iterative_steps,
                "round_to": None if round_to == 1 else round_to,
                "ignored_layers": list(ignore_layer or []),
            },
            "input_size": parse_size(input_size), "data": str(data) if data else None,
            "finetune_epochs": finetune_epochs, "lr": lr, "batch_size": batch_size,
            "crop": crop, "seed": seed, "device": device,
        },
        source="compress prune",
    )  # fmt: skip
    from compress.pruning.run import run_prune

    _print(run_prune(spec, out, progress=progress))


def _print(outcome: PruneOutcome) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    result, extra = outcome.result, outcome.result.extra
    baseline = extra.get("baseline", {})
    console = Console()
    if outcome.fresh_init:
        console.print(
            "[yellow]note:[/] no --checkpoint given: pruned a freshly initialised "
            f"{escape(result.model)} (costs are real, accuracy is not)"
        )
    if outcome.reused:
        console.print(f"{escape(str(outcome.run_dir))} already holds this finished run")
    table = Table(title=escape(f"compress prune: {outcome.run_dir}"))
    for name in ("", "baseline", "pruned", "ratio"):
        table.add_column(name, justify="left" if not name else "right")
    h, w = result.macs_input_size or (0, 0)
    rows = [
        ("params", baseline.get("params"), result.params, _count),
        (f"MACs at {h}x{w}", baseline.get("macs"), result.macs, _count),
        ("size (weights)", baseline.get("size_bytes"), result.size_bytes, _megabytes),
    ]
    for label, before, after, fmt in rows:
        ratio = f"{after / before:.3f}x" if before and after is not None else "-"
        table.add_row(label, fmt(before), fmt(after), ratio)
    before_metrics = baseline.get("metrics") or {}
    if result.metrics is not None:
        before = before_metrics.get("miou")
        delta = f"{100 * (result.metrics.miou - before):+.2f} pt" if before is not None else "-"
        table.add_row("val mIoU", _percent(before), _percent(result.metrics.miou), delta)
    console.print(table)
    console.print(f"channel ratio {extra.get('ratio')}; never pruned: "
                  f"{escape(', '.join(extra.get('protected_layers', [])))}")  # fmt: skip
    for role, path in result.artifacts.items():
        console.print(f"{role}: {escape(str(outcome.run_dir / path))}")


def _count(value: int | None) -> str:
    from compress.formatting import format_count

    return "-" if value is None else format_count(value)


def _megabytes(value: int | None) -> str:
    return "-" if value is None else f"{value / 1e6:.2f} MB"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}"
