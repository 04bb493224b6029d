"""The epoch loop: train, validate on rank 0, keep the best, write ``last.pt``, report."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import torch

from compress.core.errors import CompressError
from compress.core.progress import use as use_progress
from compress.training.checkpoints import save_best, save_last
from compress.training.distributed import barrier, mean_over_processes
from compress.training.epoch import train_epoch, validate
from compress.training.history import EpochRecord
from compress.training.seeding import seed_epoch
from compress.training.setup import Training


def run_epochs(training: Training, stop_after_epoch: int | None = None) -> bool:
    """Train the epochs after ``training.start``; False when ``stop_after_epoch`` (a test
    hook: an absolute epoch) stopped it before the last."""
    ema, model, spec = training.ema, training.model, training.spec
    after_step = (lambda: ema.update_parameters(model)) if ema is not None else None
    # the epoch bar shows validation too: steps inside training report nowhere else
    with training.reporter, use_progress(None):
        for epoch in range(training.start + 1, spec.epochs + 1):
            record, metrics = _epoch(training, epoch, after_step)
            training.history.append(record)
            best = training.best
            improved = metrics is not None and (best is None or metrics["miou"] > best["miou"])
            if improved:
                training.best = {"epoch": epoch, "miou": metrics["miou"], "metrics": metrics}
                save_best(training, epoch, metrics)
            if training.procs.is_main:
                save_last(training, epoch)
                training.history.write(training.run_dir)
            barrier(training.procs)  # no rank starts the next epoch before last.pt is written
            training.reporter.end_epoch(record, improved)
            if stop_after_epoch is not None and stop_after_epoch <= epoch < spec.epochs:
                return False
    return True


def _epoch(
    training: Training, epoch: int, after_step: Callable[[], None] | None
) -> tuple[EpochRecord, dict[str, Any] | None]:
    """One epoch's training (seeded from ``(seed, epoch)``) and, when due, validation."""
    spec, procs, reporter = training.spec, training.procs, training.reporter
    began = time.perf_counter()
    seed_epoch(spec.seed, epoch, training.generator)
    if procs.rank:  # the same order on every rank, other augmentation draws
        torch.manual_seed(spec.seed * 1000 + epoch + 7919 * procs.rank)
    lr = float(training.optimizer.param_groups[0]["lr"])
    reporter.start_epoch(epoch, len(training.batches))
    loss = train_epoch(
        training.trained,
        training.batches,
        training.optimizer,
        training.scaler,
        training.criterion,
        training.device,
        training.amp_dtype,
        reporter,
        after_step=after_step,
    )
    loss = mean_over_processes(loss, procs, training.device)
    if not math.isfinite(loss):
        raise CompressError(
            f"{training.run_dir}: epoch {epoch}: the training loss became {loss} (not finite); "
            f"the learning rate {lr:g} is likely too high for this model: use a lower "
            "--lr (the last finished epoch is kept in checkpoints/last.pt)"
        )
    training.scheduler.step()
    metrics = None
    if procs.is_main and (epoch % spec.val_every == 0 or epoch == spec.epochs):
        progress = reporter.validation(len(training.val_set))
        metrics = validate(
            training.evaluated, training.val_set, training.info, training.device, progress=progress
        )
    scores = {k: metrics[k] for k in ("miou", "class_acc", "pixel_acc")} if metrics else {}
    seconds = time.perf_counter() - began
    return EpochRecord(epoch=epoch, loss=loss, lr=lr, seconds=seconds, **scores), metrics
