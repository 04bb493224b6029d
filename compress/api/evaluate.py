"""``compress.evaluate``: mIoU and per-class IoU of a model or ONNX file on any data."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from torch import nn

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
    Returns data-set-level metrics (mIoU over the classes present), through the scoring
    loop every command uses (:func:`compress.measure.evaluate.evaluate`)."""
    from compress.measure.evaluate import evaluate as score

    predict: Any = model_or_onnx
    if not isinstance(model_or_onnx, nn.Module):
        from compress.measure.runtimes import OrtRunner

        predict = OrtRunner(Path(model_or_onnx), device=device)
    result = score(
        predict, data, num_classes=num_classes, ignore_index=ignore_index, device=device, tta=tta
    )
    return result.metrics
