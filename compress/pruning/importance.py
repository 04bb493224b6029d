"""Channel importance: the criteria behind ``--importance`` (one table:
:mod:`compress.pruning.criteria`) and taylor's gradients.

- ``l1`` / ``l2``: group norm of the weights of every coupled layer (torch-pruning's
  ``GroupMagnitudeImportance`` with p=1 / p=2);
- ``bn-scale``: |gamma| of the coupled BatchNorms (groups without BN are left whole);
- ``lamp``: layer-adaptive magnitude (LAMP, Lee et al. 2021), mostly for ``global``;
- ``fpgm``: distance to the geometric median (He et al. 2019): redundant filters first;
- ``taylor``: first-order Taylor |w * dL/dw|, which needs gradients of the
  cross-entropy on real batches (:func:`accumulate_gradients`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
import torch.nn.functional as F
import torch_pruning as tp
from torch import nn

from compress.core.errors import CompressError
from compress.data.transforms import loss_ignore_index
from compress.measure.inference import output_logits
from compress.pruning.criteria import CRITERIA


def make_importance(name: str) -> tp.importance.Importance:
    """The torch-pruning importance object of criterion ``name`` (see ``criteria.py``)."""
    criterion = CRITERIA.get(name)
    if criterion is None:
        raise CompressError(f"unknown importance {name!r}; valid: {', '.join(CRITERIA)}")
    return criterion.factory()


def accumulate_gradients(
    model: nn.Module,
    data: Iterable[Any] | None,
    *,
    batches: int,
    ignore_index: int | None = None,
) -> int:
    """Fill ``param.grad`` with the cross-entropy gradient summed over ``batches`` batches.

    ``data`` yields ``(image, mask)`` pairs: ``[3,H,W]``/``[N,3,H,W]`` float images and
    ``[H,W]``/``[N,H,W]`` integer masks (a DataLoader or a list). The model runs in eval
    mode (BatchNorm statistics and dropout stay untouched). Returns the batches used.

    Raises:
        CompressError: no data, or a mask label the model has no class for.
    """
    if data is None:
        raise CompressError(
            "importance 'taylor' ranks channels by gradients and needs data: pass --data DIR "
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
                loss = F.cross_entropy(logits, masks, ignore_index=loss_ignore_index(ignore_index))
                loss.backward()
                used += 1
    finally:
        model.train(was_training)
    if used == 0:
        raise CompressError("importance 'taylor': the data holds no (image, mask) batch")
    return used


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
