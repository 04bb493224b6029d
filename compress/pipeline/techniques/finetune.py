"""The ``finetune`` step: train the current model further with the project's training loop.

The fine-tune is a ``fit`` run (checkpoints, history, curves, exact resume) in the step's
work folder; the model comes back holding the best epoch on val. With ``distill`` the
variant's uncompressed baseline is the teacher (:class:`compress.training.train_spec.Distill`;
the ``distill`` step makes distillation a step of its own).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from compress.core.measurements import Metrics
from compress.core.specs import Spec
from compress.pipeline.context import StepContext, StepOutcome
from compress.pipeline.techniques import register_technique
from compress.training.train_spec import ClassWeighting, Distill, LossName

if TYPE_CHECKING:
    from torch import nn


class TrainingStep(Spec):
    """The options of a step that trains the current model with ``fit`` on the data set's
    train split (best epoch on val): the learning rate decays with ``schedule`` over
    ``epochs`` (cosine: to 0 at the end); loss and class weights as in training."""

    kind: str
    epochs: int = Field(ge=1)
    lr: float = Field(default=1e-4, gt=0, allow_inf_nan=False)
    batch_size: int = Field(default=8, ge=1)
    crop: int = Field(default=256, ge=32)
    schedule: Literal["step", "cosine"] = "cosine"
    workers: int = Field(default=0, ge=0)
    class_weights: ClassWeighting = "none"  # as in training
    loss: LossName = "ce"  # as in training


class FinetuneStep(TrainingStep):
    """Train the current model further on the data set's train split (best epoch on val).

    The learning rate decays with ``schedule`` over ``epochs`` (cosine: to 0 at the end).
    With ``distill``, the uncompressed baseline is the teacher
    (:class:`compress.training.train_spec.Distill`).
    """

    kind: Literal["finetune"] = "finetune"
    distill: Distill | None = None  # learn from the variant's baseline as well as the labels


class TrainingDetails(Spec):
    """What a training step records: its fit runs (relative folders), length, best epoch
    and the val metrics chosen."""

    kind: str
    epochs: int
    best_epoch: int | None = None
    seconds: float | None = None
    runs: list[str] = Field(default_factory=list)  # fit run folders, relative to the variant
    metrics: Metrics | None = None


class FinetuneDetails(TrainingDetails):
    """A fine-tune: its training run (relative folder), length and the val metrics chosen."""

    kind: Literal["finetune"] = "finetune"


@register_technique(
    FinetuneStep,
    summary="train the current model further (best epoch chosen on val)",
    details=FinetuneDetails,
    needs_data=True,
    trains=True,
    label_fields=("epochs", "lr"),
)
def apply_finetune(model: nn.Module, step: FinetuneStep, context: StepContext) -> StepOutcome:
    """Fine-tune ``model`` in place into ``context.work_dir``."""
    outcome, result = run_fit(model, step, context, distill=step.distill)
    details = FinetuneDetails(
        epochs=step.epochs,
        best_epoch=result.training.get("best_epoch"),
        seconds=result.training.get("seconds"),
        runs=[str(context.work_dir)],
        metrics=outcome.metrics,
    )
    outcome.details = [details]
    return outcome


def run_fit(
    model: nn.Module, step: TrainingStep, context: StepContext, *, distill: Distill | None
) -> tuple[StepOutcome, Any]:
    """One ``fit`` run of a training step on ``model`` into ``context.work_dir`` (resumed if
    it was interrupted), distilling from ``context.teacher`` with ``distill``; the outcome
    has no details yet, the fit result comes beside it."""
    from compress.core.results import RESULT_FILE
    from compress.training.fit import LAST_FILE, fit
    from compress.training.train_spec import finetune_train_spec

    settings, model_spec, folder = context.settings, context.baseline.model_spec, context.work_dir
    if model_spec is None or settings.data is None:
        raise ValueError(f"a {step.kind} step needs a model spec and data (checked by VariantSpec)")
    if distill is not None and context.teacher is None:
        raise ValueError(f"a distilling {step.kind} step needs the baseline as teacher (a model)")
    train_spec = finetune_train_spec(
        step,
        model_spec,
        data=str(settings.data),
        seed=settings.seed,
        device=settings.device,
        distill=distill,
    )
    trained = fit(
        model,
        train_spec,
        folder,
        structure=context.structure,
        resume=(Path(folder) / LAST_FILE).is_file(),
        progress=settings.progress,
        teacher=copy.deepcopy(context.teacher) if distill else None,  # fit moves it
    )
    model.cpu().eval()
    result = trained.result
    assert result is not None and result.training is not None
    metrics = Metrics.model_validate(result.metrics.model_dump()) if result.metrics else None
    outcome = StepOutcome(
        model=model,
        record=None,
        details=[],
        metrics=metrics,
        training=result.training,
        artifacts={step.kind: Path(folder) / RESULT_FILE},
    )
    return outcome, result
