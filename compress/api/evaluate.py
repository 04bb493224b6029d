"""``compress.evaluate``: mIoU and per-class IoU of a model or ONNX file on any data."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from torch import nn

from compress.core.errors import CompressError
from compress.measure.metrics import SegmentationMetrics


def evaluate(
    model_or_onnx: nn.Module | str | os.PathLike[str],
    data: Iterable[Any],
    *,
    num_classes: int,
    ignore_index: int | None = None,
    device: str = "cpu",
    tta: str | None = None,
) -> SegmentationMetrics:
    """Score predictions on ``data``: an iterable of ``(image, mask)`` pairs or batches
    (a ``Dataset`` or ``DataLoader``; images float ``[3, H, W]``/``[N, 3, H, W]``, masks
    int ``[H, W]``/``[N, H, W]``). Pixels labelled ``ignore_index`` are not scored (None:
    every pixel is). ``tta="flip"`` averages each prediction with the mirrored image's.
    Returns data-set-level metrics (mIoU over the classes present)."""
    import torch

    from compress.measure.inference import inference_context
    from compress.measure.metrics import ConfusionMatrix
    from compress.measure.padding import PaddingLogits
    from compress.measure.tta import with_tta

    predict: Any = model_or_onnx
    if not isinstance(model_or_onnx, nn.Module):
        from compress.measure.runtimes import OrtRunner

        predict = OrtRunner(Path(model_or_onnx), device=device)
    confusion = ConfusionMatrix(num_classes, ignore_index)
    # pads when the model needs sizes divisible by N
    logits_for = with_tta(PaddingLogits(predict), tta)
    target = torch.device(device)
    with inference_context(predict, target):
        for index, item in enumerate(data):
            if not isinstance(item, (list, tuple)) or len(item) < 2:
                raise CompressError(f"data item {index}: expected an (image, mask) pair")
            images, masks = torch.as_tensor(item[0]), torch.as_tensor(item[1])
            if images.dim() == 3:
                images, masks = images[None], masks[None]
            logits = logits_for(images.to(target).float())
            try:
                confusion.update(logits.argmax(dim=1).cpu(), masks.long().cpu())
            except ValueError as error:
                raise CompressError(f"data item {index}: {error}") from None
    metrics = confusion.compute()
    if metrics.num_pixels == 0:
        raise CompressError("the data holds no labelled pixel (all are ignored, or it is empty)")
    return metrics
