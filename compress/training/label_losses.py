"""Losses against the label masks: cross-entropy and the ones aimed at IoU and thin classes.

Every loss here is ``loss(logits [N,K,H,W], masks [N,H,W]) -> scalar`` and skips pixels
labelled ``ignore_index``. torch has the cross-entropy; the other three are not in torch,
torchvision or any dependency of the project (segmentation-models-pytorch has Dice and
Lovasz but would pull huggingface-hub and a second model zoo in for 60 lines), so they are
written here, each checked against its definition in ``tests/training/test_label_losses.py``:

* ``dice`` - soft Dice over the batch, averaged over the classes present in the target
  or the prediction (Milletari et al., 2016); every class counts alike, whatever its area;
* ``lovasz`` - Lovasz-softmax (Berman et al., 2018): the convex surrogate of 1 - IoU per
  class, averaged over the classes present in the batch. On a one-hot prediction it
  equals 1 - IoU exactly;
* ``ohem`` - online hard example mining: the cross-entropy of the hardest quarter of the
  labelled pixels only (as in PSPNet/mmseg's OHEM sampler, without its probability
  threshold), so the easy road and sky pixels stop drowning the rest.

``LABEL_LOSSES`` maps a spec's ``loss`` value to its factory: one name per loss.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

LabelLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

OHEM_KEEP = 0.25  # share of the labelled pixels OHEM keeps (the hardest)


def _valid_probabilities(
    logits: torch.Tensor, masks: torch.Tensor, ignore_index: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax probabilities ``[P, K]`` and labels ``[P]`` of the labelled pixels."""
    k = logits.shape[1]
    probabilities = logits.float().softmax(dim=1).permute(0, 2, 3, 1).reshape(-1, k)
    labels = masks.reshape(-1)
    valid = labels != ignore_index
    return probabilities[valid], labels[valid]


def dice_loss(logits: torch.Tensor, masks: torch.Tensor, ignore_index: int) -> torch.Tensor:
    """1 - mean soft Dice over the classes present in the target or the prediction."""
    probabilities, labels = _valid_probabilities(logits, masks, ignore_index)
    if labels.numel() == 0:
        return logits.sum() * 0.0
    target = F.one_hot(labels, probabilities.shape[1]).to(probabilities.dtype)
    intersection = (probabilities * target).sum(dim=0)
    sizes = probabilities.sum(dim=0) + target.sum(dim=0)
    present = (target.sum(dim=0) > 0) | (
        probabilities.argmax(dim=1).bincount(minlength=probabilities.shape[1]) > 0
    )
    dice = (2 * intersection[present] + 1e-6) / (sizes[present] + 1e-6)
    return 1.0 - dice.mean()


def _lovasz_gradient(sorted_truth: torch.Tensor) -> torch.Tensor:
    """Gradient of the Lovasz extension of the Jaccard loss at the sorted errors."""
    total = sorted_truth.sum()
    intersection = total - sorted_truth.cumsum(0)
    union = total + (1.0 - sorted_truth).cumsum(0)
    jaccard = 1.0 - intersection / union
    jaccard[1:] = jaccard[1:] - jaccard[:-1]
    return jaccard


def lovasz_softmax_loss(
    logits: torch.Tensor, masks: torch.Tensor, ignore_index: int
) -> torch.Tensor:
    """Lovasz-softmax over the batch's labelled pixels, mean over the classes present."""
    probabilities, labels = _valid_probabilities(logits, masks, ignore_index)
    if labels.numel() == 0:
        return logits.sum() * 0.0
    losses = []
    for c in labels.unique().tolist():
        truth = (labels == c).to(probabilities.dtype)
        errors = (truth - probabilities[:, c]).abs()
        sorted_errors, order = errors.sort(descending=True)
        losses.append(torch.dot(sorted_errors, _lovasz_gradient(truth[order])))
    return torch.stack(losses).mean()


def ohem_cross_entropy(
    logits: torch.Tensor,
    masks: torch.Tensor,
    ignore_index: int,
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Cross-entropy of the hardest :data:`OHEM_KEEP` of the labelled pixels."""
    pixel = F.cross_entropy(
        logits.float(), masks, weight=weight, ignore_index=ignore_index, reduction="none"
    ).reshape(-1)
    pixel = pixel[masks.reshape(-1) != ignore_index]
    if pixel.numel() == 0:
        return logits.sum() * 0.0
    keep = max(1, int(pixel.numel() * OHEM_KEEP))
    return pixel.topk(keep).values.mean()


def label_loss(name: str, ignore_index: int, weight: torch.Tensor | None = None) -> LabelLoss:
    """The loss a spec names: ``ce``, ``ce+dice``, ``ce+lovasz`` or ``ohem``.

    ``weight`` (per class) weighs the cross-entropy part; Dice and Lovasz already treat
    every class alike.
    """
    if name not in LABEL_LOSSES:
        raise ValueError(f"unknown loss {name!r}; expected one of {', '.join(LABEL_LOSSES)}")
    return LABEL_LOSSES[name](ignore_index, weight)


def _cross_entropy(ignore_index: int, weight: torch.Tensor | None) -> LabelLoss:
    return lambda logits, masks: F.cross_entropy(
        logits,
        masks,
        weight=None if weight is None else weight.to(logits.device),
        ignore_index=ignore_index,
    )


def _plus(
    extra: Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor],
) -> Callable[[int, torch.Tensor | None], LabelLoss]:
    def factory(ignore_index: int, weight: torch.Tensor | None) -> LabelLoss:
        cross_entropy = _cross_entropy(ignore_index, weight)
        return lambda logits, masks: (
            cross_entropy(logits, masks) + extra(logits, masks, ignore_index)
        )

    return factory


def _ohem(ignore_index: int, weight: torch.Tensor | None) -> LabelLoss:
    return lambda logits, masks: ohem_cross_entropy(
        logits, masks, ignore_index, None if weight is None else weight.to(logits.device)
    )


LABEL_LOSSES: dict[str, Callable[[int, torch.Tensor | None], LabelLoss]] = {
    "ce": _cross_entropy,
    "ce+dice": _plus(dice_loss),
    "ce+lovasz": _plus(lovasz_softmax_loss),
    "ohem": _ohem,
}
