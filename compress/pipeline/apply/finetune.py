"""``apply_finetune``: train the current model further with the project's training loop.

The fine-tune is a ``fit`` run (checkpoints, history, curves, exact resume) in the
step's fine-tune folder; the model comes back holding the best epoch on val.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from torch import nn

from compress.core.measurements import Metrics
from compress.core.results import RESULT_FILE
from compress.core.step_details import FinetuneDetails
from compress.pipeline.context import StepContext, StepOutcome
from compress.pipeline.steps import FinetuneStep


def apply_finetune(model: nn.Module, step: FinetuneStep, context: StepContext) -> StepOutcome:
    """Fine-tune ``model`` in place into ``context.finetune_dir``."""
    return run_finetune(model, step, context, context.finetune_dir, structure=context.structure)


def run_finetune(
    model: nn.Module,
    step: FinetuneStep,
    context: StepContext,
    folder: Path,
    *,
    structure: list[dict[str, Any]],
) -> StepOutcome:
    """One fit run of ``step`` on ``model`` into ``folder`` (resumed if it was interrupted)."""
    from compress.training.fit import LAST_FILE, fit
    from compress.training.train_spec import finetune_train_spec

    if context.model_spec is None or context.data is None:
        raise ValueError("a fine-tune needs a model spec and data (checked by VariantSpec)")
    train_spec = finetune_train_spec(
        step, context.model_spec, data=str(context.data), seed=context.seed, device=context.device
    )
    if step.distill is not None and context.teacher is None:
        raise ValueError("a distilling fine-tune needs the baseline as teacher (a model)")
    outcome = fit(
        model,
        train_spec,
        folder,
        structure=structure,
        resume=(folder / LAST_FILE).is_file(),
        progress=context.progress,
        teacher=copy.deepcopy(context.teacher) if step.distill else None,  # fit moves it
    )
    model.cpu().eval()
    result = outcome.result
    assert result is not None and result.training is not None
    metrics = Metrics.model_validate(result.metrics.model_dump()) if result.metrics else None
    details = FinetuneDetails(
        epochs=step.epochs,
        best_epoch=result.training.get("best_epoch"),
        seconds=result.training.get("seconds"),
        runs=[str(folder)],
        metrics=metrics,
    )
    return StepOutcome(
        model=model,
        record=None,
        details=[details],
        metrics=metrics,
        training=result.training,
        artifacts={"finetune": folder / RESULT_FILE},
    )
