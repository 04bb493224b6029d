"""``compress prune``: remove channels from a trained (or freshly built) model, optionally
fine-tune, and write a run folder with the pruned checkpoint and its measured costs.

Thin: the options become a :class:`compress.pruning.spec.PruneRunSpec` (validated before
torch is imported, so a bad ``--ratio`` fails fast) and
:func:`compress.commands.prune.run_prune` does the rest.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from compress.cli.app import app
from compress.cli.completion import names_in
from compress.cli.notes import warn_if_busy
from compress.cli.path_options import data_folder
from compress.cli.variant_options import (
    BaseCheckpoint,
    Device,
    DistillWeight,
    FinetuneBatch,
    FinetuneClassWeights,
    FinetuneCrop,
    FinetuneEpochs,
    FinetuneLoss,
    FinetuneLr,
    FinetuneSchedule,
    FreshNumClasses,
    IgnoreLayers,
    InputSize,
    ModelName,
    ModelOptions,
    Progress,
    RoundTo,
    Seed,
    Workers,
    variant_fields,
)
from compress.measure.runtimes import RUNTIMES, runtime_help
from compress.pruning.criteria import CRITERIA, importance_help

if TYPE_CHECKING:
    from rich.console import Console

    from compress.commands.prune import PruneOutcome


@app.command("prune")
def prune_command(
    model: ModelName,
    ratio: Annotated[
        float | None, typer.Option(help="Fraction of channels to remove, in (0, 1).")
    ] = None,
    checkpoint: BaseCheckpoint = None,
    importance: Annotated[
        str, typer.Option(help=importance_help() + ".", autocompletion=names_in(lambda: CRITERIA))
    ] = "l2",
    scope: Annotated[
        str, typer.Option(help="uniform (same ratio per layer) or global (ranked together).")
    ] = "uniform",
    iterative_steps: Annotated[
        int, typer.Option(help="Reach the ratio in K steps (fine-tuning after each).")
    ] = 1,
    round_to: RoundTo = 8,
    target_macs: Annotated[
        float | None,
        typer.Option(help="Instead of --ratio: fraction of the baseline's MACs to keep."),
    ] = None,
    target_latency_ms: Annotated[
        float | None,
        typer.Option(help="Instead of --ratio: latency (ms) on --runtime at --input-size."),
    ] = None,
    sensitivity: Annotated[
        Path | None,
        typer.Option(help="`compress sensitivity` run folder: per-group ratios for a budget."),
    ] = None,
    sensitivity_ratios: Annotated[
        str, typer.Option(help="Ratios profiled on the fly (budget with --data, no --sensitivity).")
    ] = "0.1,0.3,0.5,0.7",
    max_images: Annotated[
        int, typer.Option(help="Val images per on-the-fly sensitivity probe.")
    ] = 20,
    ignore_layer: IgnoreLayers = None,
    finetune_epochs: FinetuneEpochs = 0,
    data: Annotated[
        Path | None,
        typer.Option(
            help="Data set folder: fine-tuning, taylor gradients, val mIoU.", callback=data_folder
        ),
    ] = None,
    lr: FinetuneLr = 1e-4,
    batch_size: FinetuneBatch = 8,
    crop: FinetuneCrop = 256,
    finetune_schedule: FinetuneSchedule = "cosine",
    class_weights: FinetuneClassWeights = "none",
    loss: FinetuneLoss = "ce",
    workers: Workers = 0,
    distill: DistillWeight = None,
    input_size: InputSize = "256x256",
    num_classes: FreshNumClasses = None,
    model_option: ModelOptions = None,
    bench: Annotated[
        bool, typer.Option("--bench/--no-bench", help="Time baseline and pruned, same process.")
    ] = True,
    runtime: Annotated[
        str,
        typer.Option(
            help=f"Latency runtime: {runtime_help()}.", autocompletion=names_in(lambda: RUNTIMES)
        ),
    ] = "ort",
    runs: Annotated[int, typer.Option(help="Timed runs per latency measurement.")] = 10,
    warmup: Annotated[int, typer.Option(help="Untimed warm-up runs before timing.")] = 3,
    threads: Annotated[
        int | None, typer.Option(help="CPU threads for timing (default: torch's).")
    ] = None,
    device: Device = "auto",
    seed: Seed = 0,
    out: Annotated[
        Path | None, typer.Option(help="Run folder (default: runs/prune-MODEL-IMPORTANCE-HASH).")
    ] = None,
    progress: Progress = True,
) -> None:
    """Structured pruning (torch-pruning DepGraph); the classifier is never pruned."""
    from compress.cli.sensitivity_cmd import parse_ratios
    from compress.core.specs import parse_spec
    from compress.pruning.spec import PruneRunSpec

    spec = parse_spec(
        PruneRunSpec,
        {
            **variant_fields(locals()),
            "prune": {
                "ratio": ratio,
                "target_macs": target_macs,
                "target_latency_ms": target_latency_ms,
                "importance": importance,
                "scope": scope,
                "iterative_steps": iterative_steps,
                "round_to": None if round_to == 1 else round_to,
                "ignored_layers": list(ignore_layer or []),
            },
            "sensitivity": str(sensitivity) if sensitivity else None,
            "sensitivity_ratios": parse_ratios(sensitivity_ratios, option="--sensitivity-ratios"),
            "max_images": max_images,
            "bench": bench,
            "runtime": runtime,
            "runs": runs,
            "warmup": warmup,
            "threads": threads,
        },
        source="compress prune",
    )
    from compress.commands.prune import run_prune

    _print(run_prune(spec, out, progress=progress))


def _print(outcome: PruneOutcome) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from compress.pipeline.report import verdict as speed_verdict

    result = outcome.result
    warn_if_busy(result.env, timed=bool(result.latency_ms))
    base = result.baseline_measurement
    detail = next((d for d in result.step_details if d.kind == "prune"), None)
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
        ("params", base.params if base else None, result.params, _count),
        (f"MACs at {h}x{w}", base.macs if base else None, result.macs, _count),
        ("size (weights)", base.size_bytes if base else None, result.size_bytes, _megabytes),
    ]
    verdict = speed_verdict(result)
    for key, stats in result.latency_ms.items():
        before = base.latency_ms.get(key) if base else None
        rows.append(
            (f"latency p50 {key} {h}x{w}", before.p50 if before else None, stats.p50, _milliseconds)
        )
    for label, before, after, fmt in rows:
        ratio = f"{after / before:.3f}x" if before and after is not None else "-"
        if label.startswith("latency") and verdict:
            ratio = f"[bold red]{ratio} {verdict.split(':')[0]}[/]"
        table.add_row(label, fmt(before), fmt(after), ratio)
    if result.metrics is not None:
        before = base.metrics.miou if base and base.metrics else None
        delta = f"{100 * (result.metrics.miou - before):+.2f} pt" if before is not None else "-"
        table.add_row("val mIoU %", _percent(before), _percent(result.metrics.miou), delta)
    console.print(table)
    if verdict:
        console.print(f"[bold red]{escape(verdict)}[/]")
    if detail is None:
        return
    _print_budget(console, detail.budget, detail.layer_ratios)
    never = escape(", ".join(detail.protected_layers))
    shown = (
        "per group (table above)"
        if detail.ratio is None and detail.layer_ratios
        else (detail.ratio)
    )
    console.print(f"channel ratio {shown}; never pruned: {never}")
    for role, path in result.artifacts.items():
        console.print(f"{role}: {escape(str(outcome.run_dir / path))}")


def _print_budget(
    console: Console, budget: dict[str, Any] | None, layer_ratios: dict[str, float]
) -> None:
    """The budget, whether the final model meets it, and the per-group ratios chosen."""
    from rich.markup import escape
    from rich.table import Table

    if not budget:
        return
    unit = "of the MACs" if budget["mode"] == "macs" else "ms"
    achieved = budget.get("achieved")
    shown = "-" if achieved is None else f"{achieved:.3f}"
    status = "[green]met[/]" if budget.get("met") else "[bold red]NOT met[/]"
    console.print(
        f"budget {budget['mode']}: target {budget['target']:g} {unit}, final model {shown} "
        f"{unit}: {status} ({budget['allocation']} allocation)"
    )
    if budget.get("note"):
        console.print(f"[yellow]note:[/] {escape(budget['note'])}")
    if layer_ratios:
        table = Table(title="per-group ratios chosen (groups not listed: 0)")
        table.add_column("group (root layer)")
        table.add_column("ratio", justify="right")
        for name, ratio in layer_ratios.items():
            table.add_row(escape(name), f"{ratio:g}")
        console.print(table)


def _count(value: int | None) -> str:
    from compress.core.units import format_count

    return "-" if value is None else format_count(value)


def _megabytes(value: int | None) -> str:
    return "-" if value is None else f"{value / 1e6:.2f} MB"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def _milliseconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} ms"
