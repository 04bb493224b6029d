"""The training loop ``fit(model, spec, run_dir)``: trains any segmentation module.

``fit`` trains whatever ``nn.Module`` it is given (a baseline, a pruned or a factorized
model with its ``structure`` steps) with the spec's optimizer and schedule
(:mod:`compress.training.optim`: the study's Adam + MultiStepLR by default) and label loss
(:mod:`compress.training.label_losses`: cross-entropy by default, class-weighted when asked,
skipping the data set's ignore index and the augmentation's fill label), validates on the
*val* split (the EMA weights when asked) and keeps the best-mIoU checkpoint. Every epoch
ends with an atomic ``checkpoints/last.pt`` holding everything an exact resume needs.
Each epoch's randomness (shuffling, augmentation, dropout) is seeded from ``(seed,
epoch)`` alone, so an interrupted run resumed from ``last.pt`` ends bit-identical to an
uninterrupted one on CPU. Under ``torchrun`` every process runs ``fit``
(:mod:`compress.training.distributed`). Run folders and the model a spec names are
:mod:`compress.training.train`'s business. The pieces: :mod:`~compress.training.setup`
(everything before the first epoch), :mod:`~compress.training.loop` (the epochs),
:mod:`~compress.training.checkpoints` (``best.pt``, ``last.pt``) and
:mod:`~compress.training.result` (curves, ``result.json``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from compress.core.results import RunResult
from compress.training.files import BEST_FILE, CURVES_FILE, LAST_FILE
from compress.training.history import History
from compress.training.loop import run_epochs
from compress.training.resolve import resolve_spec
from compress.training.result import finish
from compress.training.setup import set_up
from compress.training.train_spec import TrainSpec

__all__ = ["BEST_FILE", "CURVES_FILE", "LAST_FILE", "TrainResult", "fit", "resolve_spec"]


@dataclass
class TrainResult:
    """What a training call produced; ``result`` is None when it stopped before the end."""

    run_dir: Path
    history: History
    result: RunResult | None = None
    finished: bool = True
    reused: bool = False  # a finished run of the same spec was found; nothing was trained
    start_epoch: int = 0  # epochs already done when this call began (> 0 after --resume)

    @property
    def best_checkpoint(self) -> Path:
        return self.run_dir / BEST_FILE

    @property
    def last_checkpoint(self) -> Path:
        return self.run_dir / LAST_FILE

    @property
    def best_epoch(self) -> int | None:
        best = self.history.best()
        return best.epoch if best is not None else None

    @property
    def best_miou(self) -> float | None:
        best = self.history.best()
        return best.miou if best is not None else None


def fit(
    model: nn.Module,
    spec: TrainSpec,
    run_dir: str | Path,
    *,
    structure: list[dict[str, Any]] | None = None,
    resume: bool = False,
    progress: bool = True,
    stop_after_epoch: int | None = None,
    restore_best: bool = True,
    teacher: nn.Module | None = None,
) -> TrainResult:
    """Train ``model`` as ``spec`` says, writing checkpoints, history, curves and result.json.

    Args:
        model: any segmentation module returning logits at the input size; trained in place.
        spec: hyper-parameters; ``spec.model``/``model_options`` name the *base* architecture
            that checkpoints record, and ``structure`` the steps that turn it into ``model``.
        structure: e.g. pruning steps; stored in every checkpoint so it reloads.
        resume: continue from ``run_dir/checkpoints/last.pt`` (same spec and structure).
        stop_after_epoch: test hook, return (unfinished) after this absolute epoch.
        restore_best: on return, ``model`` holds the best-validated weights (else the last).
        teacher: the model ``spec.distill`` distils from (frozen, eval mode); needed exactly
            when ``spec.distill`` is set.

    Under ``torchrun`` every process calls ``fit``; rank 0 alone validates and writes, and
    the other ranks return a result of ``None``.
    """
    training = set_up(
        model, spec, run_dir, structure=structure, resume=resume, progress=progress, teacher=teacher
    )
    run_dir, history, start = training.run_dir, training.history, training.start
    if not run_epochs(training, stop_after_epoch):
        return TrainResult(run_dir, history, finished=False, start_epoch=start)
    if not training.procs.is_main:
        return TrainResult(run_dir, history, start_epoch=start)
    result = finish(training, restore_best)
    return TrainResult(run_dir, history, result=result, start_epoch=start)
