"""``compress factorize``: low-rank factorization (Tucker-2, CP, SVD, spatial SVD) of a
trained (or freshly built) model, optional fine-tuning, and a run folder with the
factorized checkpoint, its measured costs and the per-layer table.

Thin: the options become a :class:`compress.pipeline.spec.VariantSpec` (a factorize step,
a fine-tune step when asked; validated before torch or tensorly is imported, so
``--rank 0`` fails fast) and :func:`compress.pipeline.run_kinds.run_as` runs it as a
``factorize`` run.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from compress.cli.app import app
from compress.cli.completion import names_in
from compress.cli.notes import warn_if_busy
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
    InputSize,
    ModelName,
    ModelOptions,
    Progress,
    Seed,
    Workers,
    baseline_fields,
    finetune_steps,
)
from compress.core.parsing import parse_size
from compress.lowrank.catalog import FACTORIZATION_METHODS, method_help
from compress.pipeline.run_kinds import defaults_of
from compress.pipeline.spec import VariantSpec
from compress.pipeline.steps import FactorizeStep, FinetuneStep

if TYPE_CHECKING:
    from compress.pipeline.variant import VariantOutcome


# the defaults of every option are the step specs' (one table for CLI, API and recipes)
FACTORIZE = defaults_of(FactorizeStep)
FINETUNE = defaults_of(FinetuneStep)
VARIANT = defaults_of(VariantSpec)
RANK = str(FACTORIZE["rank"])
LAYERS = ",".join(FACTORIZE["layers"])
ROUND_TO = FACTORIZE["round_to"] or 1  # --round-to 1: no rounding (None in the spec)


@app.command("factorize")
def factorize_command(
    model: ModelName,
    method: Annotated[
        str,
        typer.Option(
            help=method_help() + ".", autocompletion=names_in(lambda: FACTORIZATION_METHODS)
        ),
    ],
    checkpoint: BaseCheckpoint = None,
    rank: Annotated[
        str, typer.Option(help="auto (per --rank-rule), a fraction in (0, 1], or an integer.")
    ] = RANK,
    rank_rule: Annotated[
        str | None, typer.Option(help="With --rank auto: vbmf (default), energy or macs.")
    ] = FACTORIZE["rank_rule"],
    energy: Annotated[
        float, typer.Option(help="energy rule: keep this fraction of the squared spectrum.")
    ] = FACTORIZE["energy"],
    target_macs: Annotated[
        float | None,
        typer.Option(help="macs rule: fraction of the baseline's MACs to keep, e.g. 0.5."),
    ] = FACTORIZE["target_macs"],
    layers: Annotated[
        str, typer.Option(help="Comma-separated globs over module names, e.g. 'aspp.*,head.*'.")
    ] = LAYERS,
    round_to: Annotated[
        int, typer.Option(help="Round ranks up to a multiple of N (1: no rounding).")
    ] = ROUND_TO,
    max_macs_ratio: Annotated[
        float, typer.Option(help="Replace a layer only if its MACs fall below this fraction.")
    ] = FACTORIZE["max_macs_ratio"],
    cp_max_error: Annotated[
        float, typer.Option(help="cp: fall back to Tucker-2 above this relative error.")
    ] = FACTORIZE["cp_max_error"],
    cp_time_limit: Annotated[
        float, typer.Option(help="cp: fall back to Tucker-2 after this many seconds per layer.")
    ] = FACTORIZE["cp_time_limit"],
    finetune_epochs: FinetuneEpochs = 0,
    data: Annotated[
        Path | None, typer.Option(help="Data set folder: fine-tuning and val mIoU.")
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
    device: Device = VARIANT["device"],
    seed: Seed = VARIANT["seed"],
    out: Annotated[
        Path | None, typer.Option(help="Run folder (default: runs/factorize-MODEL-METHOD-HASH).")
    ] = None,
    progress: Progress = True,
) -> None:
    """Low-rank factorization with tensorly; prints the per-layer table."""
    from compress.core.specs import parse_spec

    source = "compress factorize"
    step = parse_spec(
        FactorizeStep,
        {
            "method": method,
            "rank": rank,
            "rank_rule": rank_rule,
            "energy": energy,
            "target_macs": target_macs,
            "layers": layers.split(","),
            "round_to": None if round_to == 1 else round_to,
            "max_macs_ratio": max_macs_ratio,
            "cp_max_error": cp_max_error,
            "cp_time_limit": cp_time_limit,
        },
        source=source,
    )
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
            "bench": {"enabled": False, "input_size": parse_size(input_size)},  # MACs only
        },
        source=source,
    )
    from compress.pipeline.run_kinds import run_as

    with shown(progress):
        _print(run_as(spec, out, kind="factorize", progress=progress))


def _print(run: VariantOutcome) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from compress.core.units import format_count

    result = run.result
    warn_if_busy(result.env, timed=bool(result.latency_ms))
    detail = next((d for d in result.step_details if d.kind == "factorize"), None)
    base = result.baseline_measurement
    console = Console()
    if run.fresh_init:
        console.print(
            "[yellow]note:[/] no --checkpoint given: factorized a freshly initialised "
            f"{escape(result.model)} (costs are real, accuracy is not)"
        )
    if run.reused:
        console.print(f"{escape(str(run.run_dir))} already holds this finished run")
    method = detail.method if detail else "?"
    table = Table(title=escape(f"compress factorize ({method}): per layer"))
    columns = ("layer", "shape", "method", "ranks", "MACs before", "MACs after", "rel. err")
    for column in columns:
        justify = "right" if "MACs" in column or "err" in column else "left"
        table.add_column(column, justify=justify, no_wrap=column in ("layer", "ranks"))
    notes: dict[str, list[str]] = {}
    for row in layer_rows(result):
        error = row.get("rel_error")
        table.add_row(
            escape(row["name"]),
            row["layer"],
            escape(row["method"] or "-"),
            ",".join(map(str, row["ranks"])) or "-",
            format_count(row["macs_before"]),
            format_count(row["macs_after"]),
            "-" if error is None else f"{error:.3f}",
        )
        if row.get("note"):
            notes.setdefault(row["note"], []).append(row["name"])
    console.print(table)
    for note, names in notes.items():  # one line per reason, not a cramped column
        console.print(f"[dim]{escape(', '.join(names))}:[/] {escape(note)}")
    h, w = result.macs_input_size or (0, 0)
    summary = Table(title=escape(f"compress factorize: {run.run_dir}"))
    for name in ("", "baseline", "factorized", "ratio"):
        summary.add_column(name, justify="left" if not name else "right")
    for label, before, after in (
        ("params", base.params if base else None, result.params),
        (f"MACs at {h}x{w}", base.macs if base else None, result.macs),
        ("size (weights, MB)", base.size_bytes if base else None, result.size_bytes),
    ):
        ratio = f"{after / before:.3f}x" if before and after is not None else "-"
        shown = (lambda v: f"{v / 1e6:.2f}") if "size" in label else format_count
        summary.add_row(label, shown(before), shown(after), ratio)
    before_miou = base.metrics.miou if base and base.metrics else None
    if result.metrics is not None and before_miou is not None:
        delta = f"{100 * (result.metrics.miou - before_miou):+.2f} pt"
        summary.add_row(
            "val mIoU", f"{100 * before_miou:.2f}", f"{100 * result.metrics.miou:.2f}", delta
        )
    console.print(summary)
    for warning in detail.warnings if detail else []:
        console.print(f"[yellow]warning:[/] {escape(warning)}")
    for role, path in result.artifacts.items():
        console.print(f"{role}: {escape(str(run.run_dir / path))}")


def layer_rows(result: Any) -> list[dict[str, Any]]:
    """The per-layer table of a factorize result (its factorize step's details)."""
    for detail in result.step_details:
        if detail.kind == "factorize":
            return list(detail.layers)
    return []
