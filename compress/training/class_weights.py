"""Class weights for the cross-entropy, computed once from the training split's masks.

Frequent classes (road, sky, building) dominate a plain cross-entropy on street scenes; a
thin class such as CamVid's pole covers under 1% of the pixels and its IoU stays near zero.
Two standard rebalancings, both from per-class pixel counts of the training masks:

* ``median-frequency`` (Eigen & Fergus, 2015; SegNet's CamVid setting): ``freq(c)`` is
  the pixels of class ``c`` divided by the pixels of the images in which ``c`` appears,
  and ``weight(c) = median(freq) / freq(c)``;
* ``inverse-sqrt``: ``weight(c) = 1 / sqrt(share(c))`` with ``share`` the class's share of
  all labelled pixels, scaled so the weights average 1 (a milder correction).

A class absent from the training split gets weight 0 (it has no pixel to weigh) and is
named in the returned note. Ignored pixels (void, the augmentation's fill) count for none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from compress.core.progress import task

if TYPE_CHECKING:
    from compress.data.folder import SegmentationFolder
    from compress.training.train_spec import TrainSpec

CLASS_WEIGHTINGS = ("none", "median-frequency", "inverse-sqrt")


@dataclass(frozen=True)
class PixelStats:
    """Per-class pixel counts of a split: in total, and of the images containing the class."""

    class_pixels: np.ndarray  # int64 [K]
    present_image_pixels: np.ndarray  # int64 [K]: labelled pixels of images where c appears


def pixel_stats(dataset: SegmentationFolder) -> PixelStats:
    """Read every mask of ``dataset`` once (images are not decoded) and count labels."""
    from compress.data.images import read_mask

    k = dataset.info.num_classes
    class_pixels = np.zeros(k, dtype=np.int64)
    present = np.zeros(k, dtype=np.int64)
    with task(f"counting {dataset.split} labels", total=len(dataset.pairs)) as bar:
        for _, mask_path in dataset.pairs:
            mask = read_mask(mask_path, dataset.info)
            counts = np.bincount(mask[(mask >= 0) & (mask < k)], minlength=k)
            class_pixels += counts
            present += np.where(counts > 0, counts.sum(), 0)
            bar.advance(mask_path.name)
    return PixelStats(class_pixels, present)


def class_weights(stats: PixelStats, method: str) -> tuple[list[float], str | None]:
    """``(weights, note)`` for ``method`` (one of :data:`CLASS_WEIGHTINGS` but "none")."""
    counts = stats.class_pixels.astype(np.float64)
    seen = counts > 0
    if not seen.any():
        raise ValueError("the training masks hold no labelled pixel")
    weights = np.zeros_like(counts)
    if method == "median-frequency":
        freq = counts[seen] / stats.present_image_pixels[seen]
        weights[seen] = np.median(freq) / freq
    elif method == "inverse-sqrt":
        inverse = 1.0 / np.sqrt(counts[seen] / counts.sum())
        weights[seen] = inverse / inverse.mean()
    else:
        raise ValueError(f"unknown class weighting {method!r}; expected one of {CLASS_WEIGHTINGS}")
    missing = np.flatnonzero(~seen).tolist()
    note = f"classes {missing} have no training pixel: weight 0" if missing else None
    return [round(float(w), 6) for w in weights], note


def resolve_class_weights(
    spec: TrainSpec, train_set: SegmentationFolder, state: dict[str, Any] | None
) -> dict[str, Any] | None:
    """``{"method", "weights", "note"}`` for the spec's weighting (None without one):
    computed once from the train masks, then read back from ``last.pt`` on resume."""
    if spec.class_weights == "none":
        return None
    if state is not None and state.get("class_weights"):
        return state["class_weights"]
    weights, note = class_weights(pixel_stats(train_set), spec.class_weights)
    return {"method": spec.class_weights, "weights": weights, "note": note}


def weights_line(weights: dict[str, Any], class_names: list[str]) -> str:
    """One line naming each class's weight (printed when a run starts)."""
    pairs = zip(class_names, weights["weights"], strict=False)
    listed = ", ".join(f"{name} {weight:.2f}" for name, weight in pairs)
    note = f" ({weights['note']})" if weights.get("note") else ""
    return f"class weights ({weights['method']}, from the train masks): {listed}{note}"
