"""How gradient criteria consume batches: the data protocol of ``taylor`` and ``hessian``.

Each criterion of :mod:`compress.pruning.criteria` that needs data names one of these as
its ``consume``: it reads ``(image, mask)`` batches and leaves in every ``param.grad``
what the criterion's torch-pruning importance reads there (as Torch-Pruning's
``Importance.accumulate_grad`` protocol does for its own criteria).

- :func:`accumulate_gradients` (taylor): the cross-entropy gradient summed over batches.
- :func:`accumulate_squared_gradients` (hessian): the mean over images of each image's
  squared gradient, the empirical Fisher diagonal that stands in for the Hessian's in
  Optimal Brain Damage (``GroupHessianImportance`` scores ``w^2 * grad``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from compress.core.errors import CompressError
from compress.data.transforms import loss_ignore_index
from compress.measure.inference import output_logits


def accumulate_gradients(
    model: nn.Module,
    data: Iterable[Any] | None,
    *,
    batches: int,
    ignore_index: int | None = None,
    importance: Any = None,
    name: str = "taylor",
) -> int:
    """Fill ``param.grad`` with the cross-entropy gradient summed over ``batches`` batches.

    ``data`` yields ``(image, mask)`` pairs: ``[3,H,W]``/``[N,3,H,W]`` float images and
    ``[H,W]``/``[N,H,W]`` integer masks (a DataLoader or a list). The model runs in eval
    mode (BatchNorm statistics and dropout stay untouched). Returns the batches used.

    Raises:
        CompressError: no data, or a mask label the model has no class for.
    """
    used = 0
    for logits, masks, ignored in _batches(model, data, batches, ignore_index, name):
        F.cross_entropy(logits, masks, ignore_index=ignored).backward()
        used += 1
    return used


def accumulate_squared_gradients(
    model: nn.Module,
    data: Iterable[Any] | None,
    *,
    batches: int,
    ignore_index: int | None = None,
    importance: Any = None,
    name: str = "hessian",
) -> int:
    """Leave in ``param.grad`` the mean over images of each image's squared cross-entropy
    gradient (one backward pass per image) over ``batches`` batches; returns the batches.

    Torch-Pruning 1.6's ``GroupHessianImportance.accumulate_grad`` keys its sums by name but
    stores them by parameter, so every image overwrites the one before; the sums are kept
    here instead, and the importance reads them from ``param.grad``.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    sums = [torch.zeros_like(p) for p in params]
    images = used = 0
    for logits, masks, ignored in _batches(model, data, batches, ignore_index, name):
        pixels = F.cross_entropy(logits, masks, ignore_index=ignored, reduction="none")
        valid = (masks != ignored).flatten(1).sum(1).clamp(min=1)
        per_image = pixels.flatten(1).sum(1) / valid  # each image's mean over its labelled pixels
        for index, loss in enumerate(per_image):
            model.zero_grad(set_to_none=True)
            loss.backward(retain_graph=index < len(per_image) - 1)
            for total, param in zip(sums, params, strict=True):
                if param.grad is not None:
                    total += param.grad.detach() ** 2
            images += 1
        used += 1
    for total, param in zip(sums, params, strict=True):
        param.grad = total / max(images, 1)
    return used


def _batches(
    model: nn.Module, data: Iterable[Any] | None, batches: int, ignore_index: int | None, name: str
) -> Iterator[tuple[torch.Tensor, torch.Tensor, int]]:
    """``(logits, masks, ignored label)`` of up to ``batches`` batches, logits with grad."""
    if data is None:
        raise CompressError(
            f"importance {name!r} ranks channels by gradients and needs data: pass --data DIR "
            "(a data set folder), or choose a weight-based importance such as l2"
        )
    was_training = model.training
    model.eval()
    model.zero_grad(set_to_none=True)
    device = next(model.parameters()).device
    used = 0
    try:
        with torch.enable_grad():
            for item in data:
                if used >= batches:
                    break
                images, masks = _as_batch(item)
                logits = output_logits(model(images.to(device)))
                masks = masks.to(device)
                _check_labels(masks, logits.shape[1], ignore_index)
                if logits.shape[-2:] != masks.shape[-2:]:
                    logits = F.interpolate(
                        logits, size=masks.shape[-2:], mode="bilinear", align_corners=False
                    )
                used += 1
                yield logits, masks, loss_ignore_index(ignore_index)
    finally:
        model.train(was_training)
    if used == 0:
        raise CompressError(f"importance {name!r}: the data holds no (image, mask) batch")


def _as_batch(item: Any) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(item, list | tuple) or len(item) != 2:
        raise CompressError(
            f"importance data must yield (image, mask) pairs, got {type(item).__name__}"
        )
    images, masks = (torch.as_tensor(part) for part in item)
    if images.dim() == 3:
        images = images.unsqueeze(0)
    if masks.dim() == 2:
        masks = masks.unsqueeze(0)
    return images.float(), masks.long()


def _check_labels(masks: torch.Tensor, num_classes: int, ignore_index: int | None) -> None:
    labels = masks[masks != loss_ignore_index(ignore_index)]
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        bad = int(labels.max()) if int(labels.max()) >= num_classes else int(labels.min())
        raise CompressError(
            f"importance data: mask label {bad} is out of range for a model with "
            f"{num_classes} classes (valid 0..{num_classes - 1}"
            + (f", or ignore index {ignore_index})" if ignore_index is not None else ")")
        )
