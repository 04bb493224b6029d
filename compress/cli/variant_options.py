"""Options shared by the commands that start from a base model and fine-tune a variant.

``compress prune``, ``compress factorize`` and ``compress sensitivity`` name their base
model, its checkpoint and their fine-tuning the same way; declaring each option once keeps
their flags and help texts identical. :func:`finetune_fields` and :func:`base_fields` build
the matching parts of the run specs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from compress.cli.path_options import checkpoint_file
from compress.core.parsing import parse_key_values, parse_size


def named_model(value: str | None) -> str | None:
    """Typer callback of ``--model``: a ``package.module:builder`` typed here is named by
    the user, so checkpoints of that model may import it (see baselines.registry)."""
    from baselines.catalog import is_builder_target
    from baselines.registry import name_builder

    if value and is_builder_target(value):
        name_builder(value)
    return value


MODEL_HELP = "Model name or alias (`compress models`), or any builder as package.module:function."
ModelName = Annotated[str, typer.Option(help=MODEL_HELP, callback=named_model)]
OptionalModelName = Annotated[
    str | None, typer.Option(help=f"{MODEL_HELP} Random init.", callback=named_model)
]
BaseCheckpoint = Annotated[
    Path | None,
    typer.Option(
        help="Trained checkpoint of --model; without it a fresh init is used.",
        callback=checkpoint_file,
    ),
]
FinetuneEpochs = Annotated[int, typer.Option(help="Fine-tune epochs afterwards (needs --data).")]
FinetuneLr = Annotated[float, typer.Option(help="Fine-tuning Adam learning rate.")]
FinetuneBatch = Annotated[int, typer.Option(help="Fine-tuning batch size.")]
FinetuneCrop = Annotated[int, typer.Option(help="Fine-tuning crop in pixels.")]
FinetuneClassWeights = Annotated[
    str,
    typer.Option(
        help="Fine-tune cross-entropy class weights, as in `compress train`: "
        "none | median-frequency | inverse-sqrt (use the baseline's)."
    ),
]
FinetuneLoss = Annotated[
    str,
    typer.Option(
        help="Fine-tune loss, as in `compress train`: ce | ce+dice | ce+lovasz "
        "| ohem (use the baseline's)."
    ),
]
FinetuneSchedule = Annotated[
    str, typer.Option(help="Fine-tuning lr decay: cosine (to 0) or step (constant here).")
]
DistillWeight = Annotated[
    float | None,
    typer.Option(
        "--distill",
        help="Fine-tune also learning from the uncompressed model: "
        "weight of its loss in (0, 1] (temperature 2).",
    ),
]
Workers = Annotated[int, typer.Option(help="Fine-tuning DataLoader worker processes.")]
InputSize = Annotated[
    str, typer.Option(help="Input size HxW for tracing and for the MACs reported.")
]
FreshNumClasses = Annotated[
    int | None, typer.Option(help="Classes of a fresh model (default: --data's, else 8).")
]
ModelOptions = Annotated[
    list[str] | None,
    typer.Option(
        "--model-option",
        "-o",
        "--option",
        help="Builder option KEY=VALUE, with --model (repeatable).",
    ),
]
Device = Annotated[str, typer.Option(help="Fine-tuning/eval device: cpu, cuda or auto.")]
Seed = Annotated[int, typer.Option(help="Seed for a fresh init and data order.")]
Progress = Annotated[
    bool, typer.Option("--progress/--no-progress", help="Fine-tuning progress output.")
]
IgnoreLayers = Annotated[
    list[str] | None,
    typer.Option("--ignore-layer", help="Module name never pruned (repeatable)."),
]
RoundTo = Annotated[int, typer.Option(help="Keep widths multiples of N (1: no rounding).")]


def base_fields(
    *,
    model: str,
    checkpoint: Path | None,
    model_option: list[str] | None,
    input_size: str,
    device: str,
    seed: int,
) -> dict[str, Any]:
    """The run-spec fields that name the base model and where it runs."""
    return {
        "model": model,
        "checkpoint": str(checkpoint) if checkpoint else None,
        "model_options": parse_key_values(model_option),
        "input_size": parse_size(input_size),
        "device": device,
        "seed": seed,
    }


def variant_fields(parameters: dict[str, Any]) -> dict[str, Any]:
    """The base-model and fine-tune fields of a one-step variant command (prune,
    factorize), read by name from the command's parameters (its ``locals()``): the
    commands declare the same options, so their run specs are filled in one place."""
    p = parameters
    return {
        **base_fields(
            model=p["model"],
            checkpoint=p["checkpoint"],
            model_option=p["model_option"],
            input_size=p["input_size"],
            device=p["device"],
            seed=p["seed"],
        ),
        **finetune_fields(
            data=p["data"],
            num_classes=p["num_classes"],
            finetune_epochs=p["finetune_epochs"],
            lr=p["lr"],
            batch_size=p["batch_size"],
            crop=p["crop"],
            schedule=p["finetune_schedule"],
            workers=p["workers"],
            distill=p["distill"],
            class_weights=p["class_weights"],
            loss=p["loss"],
        ),
    }


def finetune_fields(
    *,
    data: Path | None,
    num_classes: int | None,
    finetune_epochs: int,
    lr: float,
    batch_size: int,
    crop: int,
    schedule: str,
    workers: int,
    distill: float | None = None,
    class_weights: str = "none",
    loss: str = "ce",
) -> dict[str, Any]:
    """The run-spec fields of the data set and the fine-tuning after the step."""
    return {
        "data": str(data) if data else None,
        "num_classes": num_classes,
        "finetune_epochs": finetune_epochs,
        "lr": lr,
        "batch_size": batch_size,
        "crop": crop,
        "schedule": schedule,
        "workers": workers,
        "distill": {"weight": distill} if distill is not None else None,
        "class_weights": class_weights,
        "loss": loss,
    }
