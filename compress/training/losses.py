"""The training loss: a label loss (:mod:`compress.training.label_losses`), optionally
blended with distillation.

Every loss has one signature, ``loss(logits, masks, images)``, so the training loop does
not change with it; the images are what a teacher sees.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from compress.training.train_spec import Distill

Loss = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def training_loss(
    cross_entropy: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    teacher: nn.Module | None,
    distill: Distill | None,
) -> Loss:
    """``loss(logits, masks, images)``: the label loss, or its blend with distillation."""
    if teacher is None or distill is None:
        return lambda logits, masks, images: cross_entropy(logits, masks)
    import torch.nn.functional as F

    from compress.measure.inference import output_logits

    weight, temperature = distill.weight, distill.temperature

    def loss(logits: torch.Tensor, masks: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            target = F.log_softmax(output_logits(teacher(images)).float() / temperature, dim=1)
        student = F.log_softmax(logits.float() / temperature, dim=1)
        # KL per pixel (summed over classes), averaged over pixels; T^2 keeps gradients
        # comparable to the cross-entropy's as T changes
        kl = F.kl_div(student, target, log_target=True, reduction="none").sum(dim=1).mean()
        return (1 - weight) * cross_entropy(logits, masks) + weight * temperature**2 * kl

    return loss
