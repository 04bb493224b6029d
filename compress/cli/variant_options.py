"""Options shared by the commands that start from a base model and fine-tune a variant.

``compress prune``, ``compress factorize`` and ``compress sensitivity`` name their base
model, its checkpoint and their fine-tuning the same way; declaring each option once keeps
their flags and help texts identical. :func:`baseline_fields` and :func:`finetune_steps`
build the matching parts of the :class:`compress.pipeline.spec.VariantSpec` that prune
and factorize run; the defaults are the step specs'
(:func:`compress.pipeline.run_kinds.field_default`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from compress.cli.path_options import checkpoint_file
from compress.core.errors import CompressError
from compress.core.parsing import parse_key_values
from compress.core.specs import parse_spec
from compress.pipeline.run_kinds import field_default
from compress.pipeline.spec import BenchSettings
from compress.pipeline.steps import FinetuneStep


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
    str | None,
    typer.Option(
        help="Fine-tune cross-entropy class weights, as in `compress train`: "
        "none | median-frequency | inverse-sqrt (use the baseline's)."
    ),
]
FinetuneLoss = Annotated[
    str | None,
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
    bool,
    typer.Option(
        "--progress/--no-progress", help="Progress bars on a terminal (plain lines without)."
    ),
]
IgnoreLayers = Annotated[
    list[str] | None,
    typer.Option("--ignore-layer", help="Module name never pruned (repeatable)."),
]
RoundTo = Annotated[int, typer.Option(help="Keep widths multiples of N (1: no rounding).")]


def size_text(size: tuple[int, int]) -> str:
    """``(256, 256)`` -> ``"256x256"``: a size default as ``--input-size`` spells it."""
    return f"{size[0]}x{size[1]}"


def ratios_text(ratios: list[float]) -> str:
    """``[0.1, 0.3]`` -> ``"0.1,0.3"``: a ratio list as ``--ratios`` spells it."""
    return ",".join(f"{ratio:g}" for ratio in ratios)


DEFAULT_INPUT_SIZE = size_text(field_default(BenchSettings, "input_size"))


def parse_ratios(text: str, *, option: str = "--ratios") -> list[float]:
    """``"0.1,0.3,0.5"`` -> ``[0.1, 0.3, 0.5]``; each in (0, 1), else CompressError."""
    values: list[float] = []
    for item in (text or "").split(","):
        try:
            value = float(item)
        except ValueError:
            raise CompressError(
                f"{option} {text!r}: {item.strip()!r} is not a number; expected ratios in "
                "(0, 1) separated by commas, e.g. 0.1,0.3,0.5,0.7"
            ) from None
        if not 0.0 < value < 1.0:
            raise CompressError(
                f"{option} {text!r}: ratio {value:g} is outside (0, 1); e.g. 0.1,0.3,0.5,0.7"
            )
        values.append(value)
    return values


def baseline_fields(
    *,
    model: str,
    checkpoint: Path | None,
    model_option: list[str] | None,
    num_classes: int | None = None,
) -> dict[str, Any]:
    """The ``baseline`` of the variant: a registered model, from a checkpoint or fresh."""
    return {
        "model": model,
        "checkpoint": str(checkpoint) if checkpoint else None,
        "num_classes": num_classes,
        "model_options": parse_key_values(model_option),
    }


def finetune_steps(
    *,
    source: str,
    epochs: int,
    lr: float,
    batch_size: int,
    crop: int,
    schedule: str,
    workers: int,
    distill: float | None,
    class_weights: str | None,
    loss: str | None,
) -> list[FinetuneStep]:
    """The fine-tune step after the compression step (none for ``--finetune-epochs 0``).

    Every fine-tune option is checked even without a fine-tune: a bad ``--lr`` fails now,
    not once ``--finetune-epochs`` is added.
    """
    if distill is not None and epochs == 0:
        raise CompressError(
            "--distill teaches the fine-tune: it needs --finetune-epochs N (N >= 1)"
        )
    step = parse_spec(
        FinetuneStep,
        {
            "epochs": epochs if epochs != 0 else 1,
            "lr": lr,
            "batch_size": batch_size,
            "crop": crop,
            "schedule": schedule,
            "workers": workers,
            "distill": {"weight": distill} if distill is not None else None,
            "class_weights": class_weights,
            "loss": loss,
        },
        source=source,
    )
    return [step] if epochs else []
