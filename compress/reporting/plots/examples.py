"""The best and worst test images per class (image | prediction | ground truth), as one PNG.

The study showed hand-picked "nice" and "not so good" examples; here they are chosen by
rank: for each class, among the images whose ground truth contains that class, the
highest and the lowest IoU of that class in that image. Images where the class is only
predicted (a false alarm) are not ranked for it - they say nothing about how well the
class is segmented where it exists.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from compress.core import atomic
from compress.core.errors import CompressError
from compress.core.specs import Spec

if TYPE_CHECKING:
    import torch
    from torch import nn


class ExamplesSpec(Spec):
    """What ``compress plot examples`` draws: a checkpoint on one split of a folder data set."""

    checkpoint: Path
    data: Path
    split: str = "test"
    out: Path
    per_class: int = Field(default=1, ge=1, le=10)
    device: str = "auto"
    classes: list[str] | None = None


@dataclass(frozen=True)
class ImageScore:
    """One image's per-class IoU (``None``: class absent from both) and ground-truth presence."""

    index: int
    iou: list[float | None]
    present: list[bool]


@dataclass(frozen=True)
class Example:
    """A chosen image: for which class, best or worst, its rank (1 = most extreme), its IoU."""

    class_index: int
    kind: Literal["best", "worst"]
    rank: int
    image_index: int
    iou: float


def score_images(
    model: nn.Module,
    dataset: Any,
    *,
    num_classes: int,
    ignore_index: int | None,
    device: str | torch.device = "cpu",
) -> list[ImageScore]:
    """Predict every item ``(float [3,H,W], int64 [H,W])`` of ``dataset`` and score it per class."""
    from compress.deploy.predict import predict_mask
    from compress.measure.metrics import per_class_iou, per_image_confusion

    scores = []
    for index in range(len(dataset)):
        image, mask = dataset[index]
        pred = predict_mask(model, image, device=device)
        try:
            matrix = per_image_confusion(pred[None], mask[None], num_classes, ignore_index)
        except ValueError as error:
            raise CompressError(f"data set item {index}: {error}") from None
        present = (matrix[0].sum(dim=1) > 0).tolist()
        scores.append(ImageScore(index, per_class_iou(matrix)[0], present))
    return scores


def select_examples(
    scores: list[ImageScore], *, per_class: int = 1, classes: list[int] | None = None
) -> list[Example]:
    """For each class, the ``per_class`` best and worst images among those that contain it.

    An image is never both best and worst for one class: with fewer than
    ``2 * per_class`` candidates the worst list takes what the best list left.
    Ties rank the lower image index first.
    """
    if per_class < 1:
        raise CompressError(f"per_class must be >= 1, got {per_class}")
    num_classes = len(scores[0].iou) if scores else 0
    chosen: list[Example] = []
    for c in classes if classes is not None else range(num_classes):
        candidates = [(s.iou[c], s.index) for s in scores if s.present[c] and s.iou[c] is not None]
        best = sorted(candidates, key=lambda pair: (-pair[0], pair[1]))[:per_class]
        rest = [pair for pair in candidates if pair not in best]
        worst = sorted(rest, key=lambda pair: (pair[0], pair[1]))[:per_class]
        for kind, picked in (("best", best), ("worst", worst)):
            chosen += [
                Example(c, kind, rank, index, iou)  # type: ignore[arg-type]
                for rank, (iou, index) in enumerate(picked, start=1)
            ]
    return chosen


def resolve_classes(requested: list[str] | None, class_names: list[str]) -> list[int] | None:
    """Class names or ids (as text) -> class indices; CompressError naming the valid ones."""
    if requested is None:
        return None
    indices = []
    for item in requested:
        if item in class_names:
            indices.append(class_names.index(item))
        elif item.isdigit() and int(item) < len(class_names):
            indices.append(int(item))
        else:
            raise CompressError(
                f"--class {item!r} is not a class of this data set; valid: "
                f"{', '.join(class_names)} (or ids 0..{len(class_names) - 1})"
            )
    return indices


def plot_examples(
    model: nn.Module,
    dataset: Any,
    path: str | os.PathLike[str],
    *,
    per_class: int = 1,
    device: str | torch.device = "cpu",
    classes: list[int] | None = None,
) -> list[Example]:
    """Write a grid PNG of the best and worst images per class; return the chosen examples.

    ``dataset`` follows :class:`compress.data.SegmentationFolder`: ``len``, items
    ``(float [3,H,W], int64 [H,W])``, ``load_raw(i) -> (uint8 [3,H,W], int64 [H,W])`` and
    ``info`` (``class_names``, ``ignore_index``, ``palette``, ``num_classes``).
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    from compress.deploy.predict import colorize, default_palette, predict_mask

    info = dataset.info
    names = list(info.class_names)
    palette = list(info.palette) if info.palette is not None else default_palette(len(names))
    scores = score_images(
        model, dataset, num_classes=len(names), ignore_index=info.ignore_index, device=device
    )
    examples = select_examples(scores, per_class=per_class, classes=classes)
    if not examples:
        wanted = names if classes is None else [names[c] for c in classes]
        raise CompressError(
            f"no image of the data set ({len(dataset)} images) contains any of the classes "
            f"{', '.join(wanted)}; nothing to show"
        )

    cells = []
    for example in examples:
        raw_image, raw_mask = dataset.load_raw(example.image_index)
        image, _ = dataset[example.image_index]
        pred = _fit(predict_mask(model, image, device=device), tuple(raw_mask.shape))
        cells.append(
            _triptych(
                raw_image.permute(1, 2, 0).numpy(),
                colorize(pred, palette, info.ignore_index),
                colorize(raw_mask, palette, info.ignore_index),
            )
        )
    columns = min(PER_ROW, len(cells))
    rows = -(-len(cells) // columns)
    height, width = cells[0].shape[:2]
    cell_w = 4.2  # inches per example: image | prediction | ground truth
    cell_h = cell_w * height / width + CAPTION_INCHES
    fig = Figure(figsize=(columns * cell_w, rows * cell_h + LEGEND_INCHES), dpi=100)
    axes = fig.subplots(rows, columns, squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if index >= len(cells):
            ax.set_axis_off()
            continue
        example = examples[index]
        ax.imshow(cells[index], interpolation="nearest")
        ax.set_title(
            f"{names[example.class_index]}: {example.kind} {example.rank}, IoU "
            f"{example.iou:.2f}\n{_image_name(dataset, example.image_index)}",
            fontsize=8,
        )
    fig.suptitle("each: image | prediction | ground truth", fontsize=9)
    handles = [Patch(color=_rgb(palette[c]), label=name) for c, name in enumerate(names)]
    fig.legend(
        handles=handles, loc="lower center", ncol=min(len(names), 6), fontsize=8, frameon=False
    )
    fig.tight_layout(rect=(0, LEGEND_INCHES / fig.get_figheight(), 1, 0.97))
    atomic.write_with(path, lambda tmp: fig.savefig(tmp, format="png"))
    return examples


PER_ROW = 2  # examples per row (each is three pictures wide): a screen's width
CAPTION_INCHES = 0.55  # two caption lines above each example
LEGEND_INCHES = 0.9


def _triptych(*pictures: Any) -> Any:
    """The pictures side by side with a white gap: one example in one panel."""
    import numpy as np

    height = pictures[0].shape[0]
    gap = np.full((height, max(2, pictures[0].shape[1] // 25), 3), 255, dtype=np.uint8)
    parts = []
    for index, picture in enumerate(pictures):
        if index:
            parts.append(gap)
        parts.append(np.asarray(picture, dtype=np.uint8))
    return np.concatenate(parts, axis=1)


def examples_from_checkpoint(spec: ExamplesSpec) -> list[Example]:
    """Load ``spec.checkpoint`` and its data split, then :func:`plot_examples` to ``spec.out``.

    Raises:
        CompressError: unreadable checkpoint or data, a class count that differs between
            them, or an unknown class in ``spec.classes``.
    """
    from compress.core.checkpoint import load_checkpoint
    from compress.core.device import resolve_device
    from compress.data import SegmentationFolder

    checkpoint = load_checkpoint(spec.checkpoint)
    dataset = SegmentationFolder(spec.data, spec.split)
    if checkpoint.spec.num_classes != dataset.info.num_classes:
        raise CompressError(
            f"checkpoint {spec.checkpoint} predicts {checkpoint.spec.num_classes} classes but "
            f"data set {spec.data} has {dataset.info.num_classes}; use a data set with "
            f"{checkpoint.spec.num_classes} classes"
        )
    classes = resolve_classes(spec.classes, list(dataset.info.class_names))
    return plot_examples(
        checkpoint.model,
        dataset,
        spec.out,
        per_class=spec.per_class,
        device=resolve_device(spec.device),
        classes=classes,
    )


def _fit(pred: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
    """Nearest-resize a predicted mask to the raw image's size (when a transform resized it)."""
    if tuple(pred.shape) == size:
        return pred
    import torch.nn.functional as F

    resized = F.interpolate(pred[None, None].float(), size=size, mode="nearest")
    return resized[0, 0].long()


def _image_name(dataset: Any, index: int) -> str:
    pairs = getattr(dataset, "pairs", None)
    if pairs is not None and index < len(pairs):
        return Path(pairs[index][0]).name
    return f"#{index}"


def _rgb(colour: Any) -> tuple[float, float, float]:
    r, g, b = (int(v) for v in colour)
    return (r / 255, g / 255, b / 255)
