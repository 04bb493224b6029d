"""``compress prune``: remove channels from a trained (or freshly built) model, optionally
fine-tune, and write a run folder with the pruned checkpoint and its measured costs.

Thin: the options become a :class:`compress.pipeline.spec.VariantSpec` (a prune step, a
fine-tune step when asked; validated before torch is imported, so a bad ``--ratio`` fails
fast) and :func:`compress.pipeline.run_kinds.run_as` runs it as a ``prune`` run.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from compress.cli.app import app
from compress.cli.completion import names_in
from compress.cli.notes import warn_if_busy
from compress.cli.path_options import data_folder
from compress.cli.progress_display import shown
from compress.cli.variant_options import (
    DEFAULT_INPUT_SIZE,
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
    baseline_fields,
    finetune_steps,
    parse_ratios,
    ratios_text,
)
from compress.core.errors import CompressError
from compress.core.parsing import parse_size
from compress.measure.runtimes import RUNTIMES, runtime_help
from compress.pipeline.run_kinds import defaults_of
from compress.pipeline.spec import BenchSettings, VariantSpec
from compress.pipeline.steps import FinetuneStep, PruneStep
from compress.pruning.criteria import CRITERIA, importance_help

if TYPE_CHECKING:
    from rich.console import Console

    from compress.pipeline.variant import VariantOutcome


# the defaults of every option are the step specs' (one table for CLI, API and recipes)
PRUNE = defaults_of(PruneStep)
FINETUNE = defaults_of(FinetuneStep)
BENCH = defaults_of(BenchSettings)
VARIANT = defaults_of(VariantSpec)
ROUND_TO = PRUNE["round_to"] or 1  # --round-to 1: no rounding (None in the spec)
SENSITIVITY_RATIOS = ratios_text(PRUNE["sensitivity_ratios"])


@app.command("prune")
def prune_command(
    model: ModelName,
    ratio: Annotated[
        float | None, typer.Option(help="Fraction of channels to remove, in (0, 1).")
    ] = PRUNE["ratio"],
    checkpoint: BaseCheckpoint = None,
    importance: Annotated[
        str, typer.Option(help=importance_help() + ".", autocompletion=names_in(lambda: CRITERIA))
    ] = PRUNE["importance"],
    scope: Annotated[
        str, typer.Option(help="uniform (same ratio per layer) or global (ranked together).")
    ] = PRUNE["scope"],
    iterative_steps: Annotated[
        int, typer.Option(help="Reach the ratio in K steps (fine-tuning after each).")
    ] = PRUNE["iterative_steps"],
    round_to: RoundTo = ROUND_TO,
    target_macs: Annotated[
        float | None,
        typer.Option(help="Instead of --ratio: fraction of the baseline's MACs to keep."),
    ] = PRUNE["target_macs"],
    target_latency_ms: Annotated[
        float | None,
        typer.Option(help="Instead of --ratio: latency (ms) on --runtime at --input-size."),
    ] = PRUNE["target_latency_ms"],
    sensitivity: Annotated[
        Path | None,
        typer.Option(help="`compress sensitivity` run folder: per-group ratios for a budget."),
    ] = None,
    sensitivity_ratios: Annotated[
        str, typer.Option(help="Ratios profiled on the fly (budget with --data, no --sensitivity).")
    ] = SENSITIVITY_RATIOS,
    max_images: Annotated[
        int, typer.Option(help="Val images per on-the-fly sensitivity probe.")
    ] = PRUNE["max_images"],
    ignore_layer: IgnoreLayers = None,
    finetune_epochs: FinetuneEpochs = 0,
    data: Annotated[
        Path | None,
        typer.Option(
            help="Data set folder: fine-tuning, taylor gradients, val mIoU.", callback=data_folder
        ),
    ] = None,
    lr: FinetuneLr = FINETUNE["lr"],
    batch_size: FinetuneBatch = FINETUNE["batch_size"],
    crop: FinetuneCrop = FINETUNE["crop"],
    finetune_schedule: FinetuneSchedule = FINETUNE["schedule"],
    class_weights: FinetuneClassWeights = FINETUNE["class_weights"],
    loss: FinetuneLoss = FINETUNE["loss"],
    workers: Workers = FINETUNE["workers"],
    distill: DistillWeight = None,
    input_size: InputSize = DEFAULT_INPUT_SIZE,
    num_classes: FreshNumClasses = None,
    model_option: ModelOptions = None,
    bench: Annotated[
        bool, typer.Option("--bench/--no-bench", help="Time baseline and pruned, same process.")
    ] = BENCH["enabled"],
    runtime: Annotated[
        str,
        typer.Option(
            help=f"Latency runtime: {runtime_help()}.", autocompletion=names_in(lambda: RUNTIMES)
        ),
    ] = BENCH["runtimes"][0],
    runs: Annotated[int, typer.Option(help="Timed runs per latency measurement.")] = BENCH["runs"],
    warmup: Annotated[int, typer.Option(help="Untimed warm-up runs before timing.")] = BENCH[
        "warmup"
    ],
    threads: Annotated[
        int | None, typer.Option(help="CPU threads for timing (default: torch's).")
    ] = BENCH["threads"],
    device: Device = VARIANT["device"],
    seed: Seed = VARIANT["seed"],
    out: Annotated[
        Path | None, typer.Option(help="Run folder (default: runs/prune-MODEL-IMPORTANCE-HASH).")
    ] = None,
    progress: Progress = True,
) -> None:
    """Structured pruning (torch-pruning DepGraph); the classifier is never pruned."""
    from compress.core.specs import parse_spec

    source = "compress prune"
    step = parse_spec(
        PruneStep,
        {
            "ratio": ratio,
            "target_macs": target_macs,
            "target_latency_ms": target_latency_ms,
            "importance": importance,
            "scope": scope,
            "iterative_steps": iterative_steps,
            "round_to": None if round_to == 1 else round_to,
            "ignored_layers": list(ignore_layer or []),
            "sensitivity": str(sensitivity.resolve()) if sensitivity else None,
            "sensitivity_ratios": parse_ratios(sensitivity_ratios, option="--sensitivity-ratios"),
            "max_images": max_images,
            # gradient criteria read crops like the fine-tune's (--crop / --batch-size)
            "importance_crop": crop,
            "importance_batch_size": batch_size,
        },
        source=source,
    )
    _check_sensitivity(step)
    finetune = finetune_steps(
        source=source,
        epochs=finetune_epochs,
        lr=lr,
        batch_size=batch_size,
        crop=crop,
        schedule=finetune_schedule,
        workers=workers,
        distill=distill,
        class_weights=class_weights,
        loss=loss,
    )
    spec = parse_spec(
        VariantSpec,
        {
            "baseline": baseline_fields(
                model=model,
                checkpoint=checkpoint,
                model_option=model_option,
                num_classes=num_classes,
            ),
            "steps": [step, *finetune],
            "data": str(data) if data else None,
            "device": device,
            "seed": seed,
            "bench": {
                "enabled": bench or step.budget == "latency",  # a latency budget times anyway
                "runtimes": [runtime],
                "input_size": parse_size(input_size),
                "runs": runs,
                "warmup": warmup,
                "threads": threads,
            },
        },
        source=source,
    )
    from compress.pipeline.run_kinds import run_as

    with shown(progress):
        _print(run_as(spec, out, kind="prune", progress=progress))


def _check_sensitivity(step: PruneStep) -> None:
    """A ``--sensitivity`` profile gives each group its own ratio: only for a budget."""
    if step.sensitivity is None:
        return
    if step.scope == "global":
        raise CompressError(
            "--sensitivity gives each group its own ratio; it cannot be combined with "
            "--scope global"
        )
    if step.budget is None:
        raise CompressError(
            "--sensitivity DIR guides a budget: add --target-macs or --target-latency-ms"
        )


def _print(outcome: VariantOutcome) -> None:
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
