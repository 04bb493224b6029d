"""One epoch of training: a pass over the train split, and validation on val."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from compress.measure.inference import output_logits
from compress.training.history import EpochReporter
from compress.training.losses import Loss

if TYPE_CHECKING:
    from compress.data import DatasetInfo


def train_epoch(
    model: nn.Module,
    loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    criterion: Loss,
    device: torch.device,
    amp_dtype: torch.dtype | None,
    reporter: EpochReporter,
    *,
    after_step: Callable[[], None] | None = None,
) -> float:
    """One pass over the training set; returns the mean loss per image.

    ``after_step()`` runs after every optimizer step (the EMA's update)."""
    model.train()
    total, seen = 0.0, 0
    for images, masks in loader:
        images = images.to(device, non_blocking=True)
        masks = masks.to(device, non_blocking=True)
        optimizer.zero_grad(set_to_none=True)
        autocast = (
            torch.autocast(device.type, dtype=amp_dtype)
            if amp_dtype is not None
            else contextlib.nullcontext()
        )
        with autocast:
            # a tensor, or torchvision's {"out": ...} (auxiliary heads are not trained on)
            loss = criterion(output_logits(model(images)), masks, images)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        if after_step is not None:
            after_step()
        total += float(loss.item()) * images.shape[0]
        seen += images.shape[0]
        reporter.advance(total / seen)
    return total / max(seen, 1)


def validate(
    model: nn.Module,
    dataset: Any,
    info: DatasetInfo,
    device: torch.device,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Val-split metrics as a plain dict (valid as :class:`compress.core.results.Metrics`);
    ``progress(done, total)`` after every image."""
    from compress.measure.evaluate import evaluate

    result = evaluate(
        model,
        dataset,
        num_classes=info.num_classes,
        ignore_index=info.ignore_index,
        device=str(device),
        progress=progress,
    )
    metrics = result.metrics
    study = float(result.study_miou)
    return {
        "miou": float(metrics.miou),
        "class_acc": float(metrics.class_acc),
        "pixel_acc": float(metrics.pixel_acc),
        "per_class_iou": [None if v is None else float(v) for v in metrics.per_class_iou],
        "class_names": list(info.class_names),
        "study_miou": None if math.isnan(study) else study,
        "split": getattr(dataset, "split", "val"),  # "train-holdout" with --val-fraction
        "num_images": int(result.num_images),
    }
