"""Label losses: each checked against its definition, and all of them skip ignored pixels."""

from __future__ import annotations

import typing

import pytest
import torch
import torch.nn.functional as F

from compress.training.label_losses import (
    LABEL_LOSSES,
    OHEM_KEEP,
    dice_loss,
    label_loss,
    lovasz_softmax_loss,
    ohem_cross_entropy,
)
from compress.training.train_spec import TrainSpec

IGNORE = 11


def _batch(seed: int, k: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, k, 8, 8, generator=g)
    masks = torch.randint(0, k, (2, 8, 8), generator=g)
    masks[:, :2] = IGNORE  # two void rows per image
    return logits, masks


def _mean_iou(pred: torch.Tensor, masks: torch.Tensor) -> float:
    valid = masks != IGNORE
    ious = []
    for c in masks[valid].unique().tolist():  # the classes present in the target
        p, t = (pred == c) & valid, (masks == c) & valid
        ious.append((p & t).sum().item() / (p | t).sum().item())
    return sum(ious) / len(ious)


def test_the_spec_names_exactly_the_losses_that_exist() -> None:
    assert set(typing.get_args(TrainSpec.model_fields["loss"].annotation)) == set(LABEL_LOSSES)


def test_lovasz_of_a_hard_prediction_is_one_minus_the_iou() -> None:
    logits, masks = _batch(0)
    pred = logits.argmax(dim=1)
    hard = F.one_hot(pred, 4).permute(0, 3, 1, 2).float() * 1e4  # softmax -> exactly one-hot
    loss = lovasz_softmax_loss(hard, masks, IGNORE)
    assert loss.item() == pytest.approx(1 - _mean_iou(pred, masks), abs=1e-6)
    perfect = F.one_hot(masks.clamp(max=3), 4).permute(0, 3, 1, 2).float() * 1e4
    assert lovasz_softmax_loss(perfect, masks, IGNORE).item() == pytest.approx(0, abs=1e-6)


def test_dice_is_zero_for_a_perfect_prediction_and_positive_otherwise() -> None:
    logits, masks = _batch(1)
    perfect = F.one_hot(masks.clamp(max=3), 4).permute(0, 3, 1, 2).float() * 1e4
    assert dice_loss(perfect, masks, IGNORE).item() == pytest.approx(0, abs=1e-5)
    assert 0.3 < dice_loss(logits, masks, IGNORE).item() < 1


def test_ohem_is_the_mean_of_the_hardest_quarter_of_the_labelled_pixels() -> None:
    logits, masks = _batch(2)
    pixel = F.cross_entropy(logits, masks, ignore_index=IGNORE, reduction="none")
    labelled = pixel[masks != IGNORE]
    keep = int(labelled.numel() * OHEM_KEEP)
    expected = labelled.sort(descending=True).values[:keep].mean()
    assert ohem_cross_entropy(logits, masks, IGNORE).item() == pytest.approx(expected.item())
    assert ohem_cross_entropy(logits, masks, IGNORE) > F.cross_entropy(
        logits, masks, ignore_index=IGNORE
    )


@pytest.mark.parametrize("name", sorted(LABEL_LOSSES))
def test_every_loss_skips_ignored_pixels_and_has_gradients(name: str) -> None:
    logits, masks = _batch(3)
    loss = label_loss(name, IGNORE)
    changed = logits.clone()
    changed[:, :, :2] = torch.randn(2, 4, 2, 8)  # only the void rows differ
    assert loss(logits, masks).item() == pytest.approx(loss(changed, masks).item(), rel=1e-6)
    leaf = logits.clone().requires_grad_(True)
    loss(leaf, masks).backward()
    assert leaf.grad is not None and leaf.grad.abs().sum() > 0
    assert leaf.grad[:, :, :2].abs().sum() == 0  # void pixels get no gradient


def test_class_weights_weigh_the_cross_entropy() -> None:
    logits, masks = _batch(4)
    weight = torch.tensor([1.0, 2.0, 0.5, 3.0])
    expected = F.cross_entropy(logits, masks, weight=weight, ignore_index=IGNORE)
    assert label_loss("ce", IGNORE, weight)(logits, masks).item() == pytest.approx(expected.item())
    assert label_loss("ce", IGNORE)(logits, masks).item() != pytest.approx(expected.item())


def test_an_unknown_loss_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="ce\\+lovasz"):
        label_loss("focal", IGNORE)
