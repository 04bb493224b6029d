"""Evaluate a model (or any logits callable, e.g. an ONNX Runtime session) on a data set.

Whole images are scored (batch 1 by default since images may differ in size) against
one data-set-level confusion matrix, see :mod:`compress.measure.metrics`. The same function
serves training (after every epoch), ``compress eval``, ``compress bench``, the compressed
variants and ``compress.evaluate`` (which passes any iterable of image/mask pairs).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from compress.core.device import resolve_device
from compress.core.errors import CompressError
from compress.core.measurements import Metrics
from compress.core.progress import task
from compress.measure.inference import Predictor, inference_context
from compress.measure.metrics import ConfusionMatrix, SegmentationMetrics
from compress.measure.padding import PaddingLogits
from compress.measure.tta import with_tta


@dataclass
class EvalResult:
    """Metrics of one evaluation, plus the study's per-image mIoU and how long it took.

    ``seconds`` is the wall time of the whole pass (data loading included): a progress
    figure, not a latency measurement (``compress bench`` measures those).
    """

    metrics: SegmentationMetrics
    study_miou: float
    num_images: int
    seconds: float
    per_image_iou: list[list[float | None]] | None = None
    padded_to: int | None = None  # inputs padded to multiples of this (the model needs it)
    tta: str | None = None  # test-time augmentation ("flip"), None without

    @property
    def miou(self) -> float:
        """The data-set-level mIoU (shortcut for ``metrics.miou``)."""
        return self.metrics.miou

    def to_dict(self) -> dict[str, Any]:
        """A flat JSON-ready dict: the metrics' fields, then study mIoU, images, seconds."""
        out = self.metrics.to_dict()
        out["study_miou"] = None if math.isnan(self.study_miou) else self.study_miou
        out["num_images"] = self.num_images
        out["seconds"] = self.seconds
        if self.per_image_iou is not None:
            out["per_image_iou"] = self.per_image_iou
        if self.padded_to is not None:
            out["padded_to"] = self.padded_to
        if self.tta is not None:
            out["tta"] = self.tta
        return out

    def record(self, *, split: str, class_names: Sequence[str]) -> Metrics:
        """The typed :class:`~compress.core.measurements.Metrics` a ``result.json`` holds."""
        study = self.study_miou
        return Metrics(
            miou=self.metrics.miou,
            class_acc=self.metrics.class_acc,
            pixel_acc=self.metrics.pixel_acc,
            per_class_iou=self.metrics.per_class_iou,
            class_names=list(class_names),
            study_miou=None if study is None or math.isnan(study) else study,
            split=split,
            num_images=self.num_images,
        )

    def extremes(self, class_index: int, k: int = 3) -> tuple[list[int], list[int]]:
        """Indices of the ``k`` best and ``k`` worst images for a class (where it is present).

        Sorted by that class's IoU; an image may be in both lists when fewer than 2k
        qualify. Needs ``evaluate(..., keep_per_image=True)``.
        """
        if self.per_image_iou is None:
            raise ValueError("per-image IoU was not kept; call evaluate(..., keep_per_image=True)")
        scored = [
            (ious[class_index], index)
            for index, ious in enumerate(self.per_image_iou)
            if ious[class_index] is not None
        ]
        best = sorted(scored, key=lambda pair: (-pair[0], pair[1]))[:k]
        worst = sorted(scored)[:k]  # ties: lower image index first, as for the best
        return [index for _, index in best], [index for _, index in worst]


def evaluate(
    predict: Predictor,
    dataset: Dataset | Iterable[Any],
    *,
    num_classes: int,
    ignore_index: int | None,
    device: str | torch.device = "cpu",
    batch_size: int = 1,
    num_workers: int = 0,
    progress: Callable[[int, int], None] | None = None,
    keep_per_image: bool = False,
    tta: str | None = None,
) -> EvalResult:
    """Score ``predict`` on ``dataset``: the one scoring loop of the project.

    ``dataset`` is indexable (a ``Dataset`` of ``(float [3,H,W], int64 [H,W])`` items,
    read in batches of ``batch_size``) or any iterable of ``(image, mask)`` pairs or
    batches (a ``DataLoader``: ``[N,3,H,W]`` / ``[N,H,W]``). A module is put in eval mode
    on ``device`` under ``torch.inference_mode`` and its modes and device are restored
    afterwards. A callable receives a float NCHW tensor on ``device`` and returns NCHW
    logits (tensor or array). ``progress(done, total)`` is called after every batch with
    image counts (total 0: unknown). ``tta="flip"`` averages each prediction with that of
    the mirrored image (:mod:`compress.measure.tta`).
    """
    total = len(dataset) if _indexable(dataset) else None  # type: ignore[arg-type]
    if total == 0:
        raise CompressError("the evaluation data set is empty; it needs at least one image")
    if batch_size < 1:
        raise CompressError(f"batch_size must be >= 1, got {batch_size}")
    target_device = resolve_device(device)
    confusion = ConfusionMatrix(num_classes, ignore_index, keep_per_image=keep_per_image)
    start, done = time.perf_counter(), 0
    padding = PaddingLogits(predict)  # pads when the model needs sizes divisible by N
    logits_for = with_tta(padding, tta)
    label = f"scoring {total} images" if total is not None else "scoring images"
    with inference_context(predict, target_device), task(label, total=total) as bar:
        for images, masks in _batches(dataset, batch_size, num_workers):
            logits = logits_for(images.to(target_device))
            _check_logits(logits, masks, num_classes)
            try:
                confusion.update(logits.argmax(dim=1).to(masks.device), masks)
            except ValueError as error:
                raise CompressError(
                    f"data set items {done}..{done + len(images) - 1}: {error}"
                ) from None
            done += len(images)
            bar.advance(amount=len(images))
            if progress is not None:
                progress(done, total or 0)
    seconds = time.perf_counter() - start
    metrics = confusion.compute()
    if metrics.num_pixels == 0:
        raise CompressError("the evaluation data has no labelled pixel (all are ignored, or none)")
    return EvalResult(
        metrics=metrics,
        study_miou=confusion.study_miou(),
        num_images=done,
        seconds=seconds,
        per_image_iou=confusion.per_image_iou if keep_per_image else None,
        padded_to=padding.multiple if padding.multiple > 1 else None,
        tta=tta if tta not in (None, "none") else None,
    )


@dataclass
class CheckpointEvaluation:
    """What ``compress eval`` reports: a result plus where it came from."""

    result: EvalResult
    checkpoint: Path
    data: Path
    split: str
    device: str
    class_names: list[str] = field(default_factory=list)
    model_spec: Any = None  # the checkpoint's ModelSpec
    structure: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The result's dict plus checkpoint, data, split, device and class names."""
        return {
            **self.result.to_dict(),
            "checkpoint": str(self.checkpoint),
            "data": str(self.data),
            "split": self.split,
            "device": self.device,
            "class_names": list(self.class_names),
        }


def evaluate_checkpoint(
    checkpoint_path: str | os.PathLike[str],
    data_root: str | os.PathLike[str],
    *,
    split: str = "test",
    device: str | torch.device = "auto",
    progress: Callable[[int, int], None] | None = None,
    tta: str | None = None,
) -> CheckpointEvaluation:
    """Load a checkpoint safely and evaluate it on ``split`` of a folder data set.

    Raises:
        CompressError: unreadable checkpoint or data set, or class counts that differ.
    """
    from compress.core.checkpoint import load_checkpoint
    from compress.data import SegmentationFolder

    checkpoint = load_checkpoint(checkpoint_path)
    dataset = SegmentationFolder(data_root, split)
    info = dataset.info
    if checkpoint.spec.num_classes != info.num_classes:
        raise CompressError(
            f"checkpoint {checkpoint_path} predicts {checkpoint.spec.num_classes} classes but "
            f"data set {data_root} has {info.num_classes}; evaluate it on a data set with "
            f"{checkpoint.spec.num_classes} classes"
        )
    target_device = resolve_device(device)
    result = evaluate(
        checkpoint.model,
        dataset,
        num_classes=info.num_classes,
        ignore_index=info.ignore_index,
        device=target_device,
        progress=progress,
        tta=tta,
    )
    return CheckpointEvaluation(
        result=result,
        checkpoint=Path(checkpoint_path),
        data=Path(data_root),
        split=split,
        device=str(target_device),
        class_names=list(info.class_names),
        model_spec=checkpoint.spec,
        structure=list(checkpoint.structure),
    )


def _indexable(data: Any) -> bool:
    """A data set read by index (a ``DataLoader`` or a generator is only iterable)."""
    return hasattr(data, "__getitem__") and hasattr(data, "__len__")


def _batches(data: Any, batch_size: int, num_workers: int) -> Iterator[tuple[Tensor, Tensor]]:
    """``(images NCHW float, masks NHW int64)`` batches of an indexable or iterable data set."""
    if not _indexable(data):
        for index, item in enumerate(data):
            if not isinstance(item, (tuple, list)) or len(item) < 2:
                raise CompressError(f"data item {index} is not an (image, mask) pair")
            images, masks = torch.as_tensor(item[0]).float(), torch.as_tensor(item[1]).long()
            yield (images[None], masks[None]) if images.dim() == 3 else (images, masks)
        return
    loader = DataLoader(
        data, batch_size=batch_size, shuffle=False, num_workers=num_workers, collate_fn=list
    )
    done = 0
    for items in loader:
        yield _stack(items, first_index=done)
        done += len(items)


def _stack(items: Sequence[Any], *, first_index: int) -> tuple[Tensor, Tensor]:
    """Stack ``(image, mask)`` items into a batch; images of one batch must share a size."""
    for offset, item in enumerate(items):
        if not isinstance(item, (tuple, list)) or len(item) < 2:
            raise CompressError(
                f"data set item {first_index + offset} is not an (image, mask) pair"
            )
    sizes = {tuple(item[0].shape) for item in items} | {(3, *item[1].shape) for item in items}
    if len(sizes) != 1:
        raise CompressError(
            f"data set items {first_index}..{first_index + len(items) - 1} differ in size "
            f"({', '.join(map(str, sorted(sizes)))}); evaluate with batch_size=1"
        )
    images = torch.stack([torch.as_tensor(item[0]) for item in items]).float()
    masks = torch.stack([torch.as_tensor(item[1]) for item in items]).long()
    return images, masks


def _check_logits(logits: Tensor, masks: Tensor, num_classes: int) -> None:
    if logits.shape[1] != num_classes:
        raise CompressError(
            f"the model predicts {logits.shape[1]} classes but the data set has {num_classes}"
        )
    if logits.shape[2:] != masks.shape[1:]:
        raise CompressError(
            f"the model's logits are {tuple(logits.shape[2:])} but masks are "
            f"{tuple(masks.shape[1:])}; the model must return logits at the input size"
        )
