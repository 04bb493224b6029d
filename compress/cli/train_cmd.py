"""``compress train``: train a registered model on a folder data set into a run folder.

Thin: the options become a :class:`compress.training.train_spec.TrainSpec` (validated before
torch is imported, so bad values fail fast) and :func:`compress.training.train.train` does the rest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import typer

from compress.cli.app import app
from compress.cli.completion import names_in
from compress.cli.path_options import CHECKPOINT, data_folder, existing_file
from compress.cli.variant_options import ModelName, ModelOptions
from compress.core.specs import parse_spec
from compress.training.train_spec import STUDY_MILESTONES, TrainSpec, parse_model_options


def _default(name: str) -> Any:
    return TrainSpec.model_fields[name].get_default(call_default_factory=True)


def _choices(name: str) -> tuple[str, ...]:
    """The values a Literal spec field accepts (``--help`` lists them; completion offers them)."""
    annotation = TrainSpec.model_fields[name].annotation
    literal = next(a for a in (annotation, *get_args(annotation)) if get_origin(a) is Literal)
    return get_args(literal)


def _choice_option(name: str, what: str) -> Any:
    choices = _choices(name)
    return typer.Option(
        help=f"{what}: {' | '.join(choices)}.", autocompletion=names_in(lambda: choices)
    )


@app.command("train")
def train_command(
    model: ModelName,
    data: Annotated[
        Path,
        typer.Option(help="Data set folder with train/ and val/ splits.", callback=data_folder),
    ],
    out: Annotated[Path, typer.Option(help="Run folder; rerunning the same spec reuses it.")],
    epochs: Annotated[int, typer.Option(help="Training epochs (study: 65).")] = _default("epochs"),
    batch_size: Annotated[int, typer.Option(help="Images per batch.")] = _default("batch_size"),
    crop: Annotated[int, typer.Option(help="Square training crop in pixels (>= 32).")] = _default(
        "crop"
    ),
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = _default("lr"),
    weight_decay: Annotated[float, typer.Option(help="Adam weight decay.")] = _default(
        "weight_decay"
    ),
    milestones: Annotated[
        str, typer.Option(help="Comma-separated epochs where the lr is multiplied by gamma.")
    ] = ",".join(str(m) for m in STUDY_MILESTONES),
    gamma: Annotated[float, typer.Option(help="MultiStepLR factor.")] = _default("gamma"),
    schedule: Annotated[
        str,
        typer.Option(
            help="step (x gamma at --milestones), cosine (decay to 0) or poly ((1-t)^0.9).",
            autocompletion=names_in(lambda: _choices("schedule")),
        ),
    ] = _default("schedule"),
    warmup_epochs: Annotated[
        int, typer.Option(help="Linear lr warm-up from lr/100 over the first N epochs.")
    ] = 0,
    optimizer: Annotated[
        str, _choice_option("optimizer", "Optimizer (sgd: Nesterov momentum 0.9)")
    ] = "adam",
    weight_decay_scope: Annotated[
        str,
        _choice_option(
            "weight_decay_scope", "Decay all parameters, or weights only (not norm and bias)"
        ),
    ] = "all",
    class_weights: Annotated[
        str, _choice_option("class_weights", "Cross-entropy class weights from the train masks")
    ] = "none",
    loss: Annotated[
        str,
        _choice_option(
            "loss",
            "Loss; dice and lovasz are added to cross-entropy, ohem "
            "keeps the hardest 25% of pixels",
        ),
    ] = "ce",
    ema: Annotated[
        float | None,
        typer.Option(help="Validate and keep an EMA of the weights with this decay (e.g. 0.999)."),
    ] = None,
    input_pipeline: Annotated[
        str,
        _choice_option(
            "input_pipeline",
            "Batches from the DataLoader, or decoded once and "
            "augmented on the device (auto: device on CUDA)",
        ),
    ] = "auto",
    augment: Annotated[
        bool, typer.Option("--augment/--no-augment", help="The study's augmentation.")
    ] = _default("augment"),
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:N or auto.")] = _default("device"),
    seed: Annotated[int, typer.Option(help="Seed for init, shuffling, augmentation.")] = _default(
        "seed"
    ),
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue an interrupted run from its last.pt.")
    ] = False,
    val_every: Annotated[
        int, typer.Option(help="Validate every N epochs (and after the last).")
    ] = _default("val_every"),
    workers: Annotated[int, typer.Option(help="DataLoader worker processes.")] = _default(
        "workers"
    ),
    model_option: ModelOptions = None,
    val_fraction: Annotated[
        float | None,
        typer.Option(help="No val/ split: validate on the last fraction of train (e.g. 0.15)."),
    ] = None,
    init: Annotated[
        Path | None,
        typer.Option(
            help="Start from this checkpoint (pruned/factorized too), e.g. to fine-tune.",
            callback=existing_file("--init", CHECKPOINT),
        ),
    ] = None,
    pretrained: Annotated[
        bool, typer.Option("--pretrained", help="ImageNet backbone weights from the torch cache.")
    ] = False,
    num_classes: Annotated[
        int | None, typer.Option(help="Check against the data set's class count.")
    ] = None,
    amp: Annotated[
        bool, typer.Option("--amp/--no-amp", help="Mixed precision (CUDA only).")
    ] = _default("amp"),
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Progress bar and epoch lines.")
    ] = True,
) -> None:
    """Train a model with the study's recipe; best-mIoU checkpoint on the val split."""
    spec = parse_spec(
        TrainSpec,
        {
            "model": model,
            "model_options": parse_model_options(model_option),
            "num_classes": num_classes,
            "pretrained": pretrained,
            "data": str(data),
            "epochs": epochs,
            "batch_size": batch_size,
            "crop": crop,
            "lr": lr,
            "weight_decay": weight_decay,
            "milestones": milestones,
            "gamma": gamma,
            "schedule": schedule,
            "augment": augment,
            "device": device,
            "seed": seed,
            "val_every": val_every,
            "workers": workers,
            "amp": amp,
            "init": str(init) if init else None,
            "val_fraction": val_fraction,
            "warmup_epochs": warmup_epochs,
            "optimizer": optimizer,
            "weight_decay_scope": weight_decay_scope,
            "class_weights": class_weights,
            "loss": loss,
            "ema": ema,
            "input_pipeline": input_pipeline,
        },
        source="compress train",
    )
    from compress.cli.progress_display import shown
    from compress.training.train import train

    with shown(progress):
        outcome = train(spec, out, resume=resume, progress=progress)
    if outcome.result is not None:  # under torchrun, rank 0 reports
        _print_summary(outcome)


def _print_summary(outcome: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    result = outcome.result
    if outcome.reused:
        status = "already finished: stored result, nothing retrained"
    elif outcome.start_epoch:
        status = f"resumed after epoch {outcome.start_epoch} and finished"
    else:
        status = "trained"
    table = Table(title=f"compress train: {outcome.run_dir}", show_header=False)
    table.add_row("status", status)
    training = result.training or {}
    metrics = result.metrics
    if metrics is not None:
        best = f"{100 * metrics.miou:.2f}% (epoch {training.get('best_epoch')})"
        table.add_row("best val mIoU", best)
        accuracies = f"{metrics.class_acc:.4f} / {metrics.pixel_acc:.4f}"
        table.add_row("val class acc / pixel acc", accuracies)
    if "seconds" in training:
        table.add_row("training time", f"{training['seconds'] / 60:.2f} min")
    table.add_row("params", f"{result.params:,}" if result.params is not None else "-")
    if result.macs is not None and result.macs_input_size:
        h, w = result.macs_input_size
        table.add_row(f"MACs at {h}x{w}", f"{result.macs / 1e9:.3f} G")
    if result.size_bytes is not None:
        table.add_row("size (best.pt weights)", f"{result.size_bytes / 1e6:.2f} MB")
    for role, path in result.artifacts.items():
        table.add_row(role, str(outcome.run_dir / path))
    Console().print(table)
