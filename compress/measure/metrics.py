"""Segmentation metrics from one data-set-level confusion matrix, plus the study's formula.

The headline numbers (mIoU, class accuracy, pixel accuracy) come from a single
confusion matrix accumulated over every labelled pixel of the data set, so large and
small images weigh by their pixels and a class absent from an image is not scored
there. ``study_miou`` reproduces the per-image, epsilon-smoothed mean the original
study reported, under its own name, so old and new numbers are never confused.
See docs/metrics.md for the definitions and how they differ.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor

STUDY_EPS = 1e-10


@dataclass(frozen=True)
class SegmentationMetrics:
    """Metrics derived from one confusion matrix (rows = target, columns = prediction).

    ``miou`` averages IoU over the classes present in target or prediction; absent
    classes are skipped (``None`` in ``per_class_iou``), not scored 0 or 1.
    ``class_acc`` averages recall over the classes present in the target. Values are
    NaN when no pixel was labelled.
    """

    miou: float
    per_class_iou: list[float | None]
    class_acc: float
    per_class_acc: list[float | None]
    pixel_acc: float
    num_pixels: int
    confusion: list[list[int]]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN becomes ``None``)."""
        return {k: _json_number(v) for k, v in asdict(self).items()}


def confusion_matrix(
    pred: Tensor, target: Tensor, num_classes: int, ignore_index: int | None
) -> Tensor:
    """The ``[K, K]`` int64 confusion matrix of ``pred`` against ``target`` (any equal shapes).

    Pixels whose target equals ``ignore_index`` are left out.

    Raises:
        ValueError: shapes differ, or a target/prediction id lies outside ``[0, K)``
            (data loaders validate labels, so this is a bug upstream).
    """
    return per_image_confusion(
        pred.reshape(1, -1), target.reshape(1, -1), num_classes, ignore_index
    )[0]


def per_image_confusion(
    pred: Tensor, target: Tensor, num_classes: int, ignore_index: int | None
) -> Tensor:
    """One confusion matrix per image: ``[N, K, K]`` int64 on the CPU; dim 0 indexes images."""
    _check_pair(pred, target, num_classes)
    n = pred.shape[0]
    pred = pred.reshape(n, -1).long()
    target = target.reshape(n, -1).long()
    valid = torch.ones_like(target, dtype=torch.bool)
    if ignore_index is not None:
        valid = target != ignore_index
    _check_range("target", target[valid], num_classes, ignore_index)
    _check_range("prediction", pred, num_classes, None)
    image = torch.arange(n, device=target.device).unsqueeze(1).expand_as(target)
    k = num_classes
    flat = (image * k * k + target * k + pred)[valid]
    counts = torch.bincount(flat, minlength=n * k * k)
    return counts.reshape(n, k, k).cpu()


def metrics_from_confusion(matrix: Tensor) -> SegmentationMetrics:
    """mIoU, class accuracy and pixel accuracy of a ``[K, K]`` confusion matrix."""
    m = matrix.to(torch.float64)
    inter = m.diagonal()
    target_count = m.sum(dim=1)
    pred_count = m.sum(dim=0)
    union = target_count + pred_count - inter
    total = float(m.sum())
    iou = _ratios(inter.tolist(), union.tolist())
    acc = _ratios(inter.tolist(), target_count.tolist())
    return SegmentationMetrics(
        miou=_mean(iou),
        per_class_iou=iou,
        class_acc=_mean(acc),
        per_class_acc=acc,
        pixel_acc=float(inter.sum()) / total if total > 0 else math.nan,
        num_pixels=int(matrix.sum()),
        confusion=matrix.long().tolist(),
    )


def per_class_iou(matrices: Tensor) -> list[list[float | None]]:
    """Per-image per-class IoU from ``[N, K, K]`` matrices (``None`` where a class is absent)."""
    m = matrices.to(torch.float64)
    inter = m.diagonal(dim1=1, dim2=2)
    union = m.sum(dim=2) + m.sum(dim=1) - inter
    return [_ratios(i, u) for i, u in zip(inter.tolist(), union.tolist(), strict=True)]


def study_scores(matrices: Tensor, eps: float = STUDY_EPS) -> list[float | None]:
    """The study's per-image score: mean over all K classes of (inter + eps) / (union + eps).

    A class absent from both target and prediction scores 1. Images without any
    labelled pixel get ``None`` (the formula would give them a meaningless 1).
    """
    m = matrices.to(torch.float64)
    inter = m.diagonal(dim1=1, dim2=2)
    union = m.sum(dim=2) + m.sum(dim=1) - inter
    scores = ((inter + eps) / (union + eps)).mean(dim=1)
    labelled = m.sum(dim=(1, 2)) > 0
    return [s if ok else None for s, ok in zip(scores.tolist(), labelled.tolist(), strict=True)]


class ConfusionMatrix:
    """Accumulates a data-set-level confusion matrix and the study's per-image scores.

    ``update`` takes a batch (dim 0 = images; a single ``[H, W]`` pair is one image).
    With ``keep_per_image`` it also stores each image's per-class IoU, which is what
    "best and worst examples per class" needs.
    """

    def __init__(
        self, num_classes: int, ignore_index: int | None = None, *, keep_per_image: bool = False
    ) -> None:
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.keep_per_image = keep_per_image
        self.reset()

    def reset(self) -> None:
        """Forget everything accumulated so far."""
        k = self.num_classes
        self.matrix = torch.zeros(k, k, dtype=torch.int64)
        self.num_images = 0
        self._study_sum = 0.0
        self._study_count = 0
        self.per_image_iou: list[list[float | None]] = []

    def update(self, pred: Tensor, target: Tensor) -> None:
        """Add a batch of predicted ids and targets (``[N, H, W]`` or one ``[H, W]``)."""
        if pred.dim() == 2 and target.dim() == 2:
            pred, target = pred.unsqueeze(0), target.unsqueeze(0)
        per_image = per_image_confusion(pred, target, self.num_classes, self.ignore_index)
        self.matrix += per_image.sum(dim=0)
        self.num_images += per_image.shape[0]
        for score in study_scores(per_image):
            if score is not None:
                self._study_sum += score
                self._study_count += 1
        if self.keep_per_image:
            self.per_image_iou.extend(per_class_iou(per_image))

    def compute(self) -> SegmentationMetrics:
        """Metrics of everything accumulated since the last reset."""
        return metrics_from_confusion(self.matrix)

    def study_miou(self) -> float:
        """The study's per-image mIoU averaged over images with labelled pixels (NaN if none)."""
        return self._study_sum / self._study_count if self._study_count else math.nan


def _check_pair(pred: Tensor, target: Tensor, num_classes: int) -> None:
    if pred.shape != target.shape:
        raise ValueError(
            f"prediction shape {tuple(pred.shape)} differs from target shape {tuple(target.shape)}"
        )
    for name, t in (("prediction", pred), ("target", target)):
        if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
            raise ValueError(f"{name} must hold integer class ids, got dtype {t.dtype}")
    if pred.dim() < 1:
        raise ValueError("prediction and target need a leading image dimension")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")


def _check_range(name: str, ids: Tensor, num_classes: int, ignore_index: int | None) -> None:
    if ids.numel() == 0:
        return
    low, high = int(ids.min()), int(ids.max())
    if low < 0 or high >= num_classes:
        bad = low if low < 0 else high
        allowed = f"[0, {num_classes})"
        if ignore_index is not None:
            allowed += f" or {ignore_index}"
        raise ValueError(f"{name} holds class id {bad}; valid ids are {allowed}")


def _ratios(numerators: list[float], denominators: list[float]) -> list[float | None]:
    return [n / d if d > 0 else None for n, d in zip(numerators, denominators, strict=True)]


def _mean(values: list[float | None]) -> float:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else math.nan


def _json_number(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
