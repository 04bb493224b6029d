"""The ``distill`` step: knowledge distillation from the variant's baseline, as a step.

The current (compressed) model trains on the train split against both the labels and
the uncompressed baseline's softened predictions, ``(1 - weight) * CE + weight * T^2 *
KL(teacher_T || student_T)`` (Hinton et al., 2015; :class:`compress.training.train_spec.Distill`),
in a ``fit`` run (checkpoints, history, exact resume) with the best epoch chosen on val::

    steps:
      - {kind: prune, ratio: 0.5}
      - {kind: distill, epochs: 10, weight: 0.7, temperature: 4}

(``finetune`` with ``distill: {...}`` trains the same way; this step names the technique.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from compress.pipeline.context import StepContext, StepOutcome
from compress.pipeline.techniques import register_technique
from compress.pipeline.techniques.finetune import TrainingDetails, TrainingStep, run_fit
from compress.training.train_spec import Distill

if TYPE_CHECKING:
    from torch import nn


class DistillStep(TrainingStep):
    """Train the current model to match the variant's baseline (the teacher) as well as
    the labels: ``weight`` of the loss is the distillation term at ``temperature``."""

    kind: Literal["distill"] = "distill"
    weight: float = Field(default=0.5, gt=0, le=1, allow_inf_nan=False)
    temperature: float = Field(default=2.0, gt=0, le=20, allow_inf_nan=False)


class DistillDetails(TrainingDetails):
    """A distillation: its training run, length, loss mix and the val metrics chosen."""

    kind: Literal["distill"] = "distill"
    weight: float
    temperature: float
    teacher: str | None = None  # the baseline's model name


@register_technique(
    DistillStep,
    summary="train the current model against the baseline's soft predictions and the labels",
    details=DistillDetails,
    needs_data=True,
    trains=True,
    label_fields=("epochs", "weight", "temperature"),
)
def apply_distill(model: nn.Module, step: DistillStep, context: StepContext) -> StepOutcome:
    """Distil the baseline into ``model`` in place, in ``context.work_dir``."""
    if context.teacher is None:
        from compress.core.errors import CompressError

        raise CompressError(
            "steps: distill learns from the baseline's model, and an ONNX baseline has none; "
            "start from a checkpoint or a registered model"
        )
    distill = Distill(weight=step.weight, temperature=step.temperature)
    outcome, result = run_fit(model, step, context, distill=distill)
    spec = context.baseline.model_spec
    outcome.details = [
        DistillDetails(
            epochs=step.epochs,
            weight=step.weight,
            temperature=step.temperature,
            teacher=spec.name if spec is not None else None,
            best_epoch=result.training.get("best_epoch"),
            seconds=result.training.get("seconds"),
            runs=[str(context.work_dir)],
            metrics=outcome.metrics,
        )
    ]
    return outcome
