"""Test-time augmentation: the prediction averaged with the prediction of the mirrored image.

``flip``: softmax probabilities of the image and of its horizontal mirror (mirrored back)
averaged, the usual segmentation TTA (mmseg's ``flip=True``, DeepLab's evaluation). It
costs a second forward pass per image; street and aerial scenes are left-right
symmetric, so it often adds a little mIoU. :data:`TTA_MODES` names what exists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importing this module stays torch-free: the CLI reads TTA_MODES
    from torch import Tensor

Logits = Callable[["Tensor"], "Tensor"]

TTA_MODES = ("none", "flip")


def with_tta(logits_for: Logits, mode: str | None) -> Logits:
    """``logits_for`` itself (``none``), or wrapped to average it with its mirrored twin.

    The wrapped callable returns averaged probabilities, whose argmax is the prediction.
    """
    if mode in (None, "none"):
        return logits_for
    if mode != "flip":
        raise ValueError(f"unknown test-time augmentation {mode!r}; expected one of {TTA_MODES}")

    def flip_averaged(batch: Tensor) -> Tensor:
        plain = logits_for(batch).float().softmax(dim=1)
        mirrored = logits_for(batch.flip(-1)).float().softmax(dim=1).flip(-1)
        return (plain + mirrored) / 2

    return flip_averaged
