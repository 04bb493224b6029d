"""The ``hessian`` criterion: its data protocol computes the Fisher diagonal, and it ranks
channels by ``w^2 * H`` (a channel the loss does not depend on goes first, however large)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from compress.pruning import PruneSpec, prune_model
from compress.pruning.criteria import CRITERIA
from compress.pruning.gradients import accumulate_squared_gradients

CLASSES, SIZE = 3, (16, 16)


class TwoConvs(nn.Module):
    """conv (8 channels) -> ReLU -> 1x1 classifier: one prunable group of 8 channels."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.classifier = nn.Conv2d(8, CLASSES, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.relu(self.features(x)))


def batches(count: int = 2) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    return [
        (
            torch.randn(2, 3, *SIZE, generator=generator),
            torch.randint(0, CLASSES, (2, *SIZE), generator=generator),
        )
        for _ in range(count)
    ]


def model_with_a_silent_channel(silent: int = 3) -> nn.Module:
    """Channel ``silent`` has the largest weights but the classifier ignores it."""
    torch.manual_seed(0)
    model = TwoConvs().eval()
    with torch.no_grad():
        model.features.weight[silent] *= 10
        model.classifier.weight[:, silent] = 0
    return model


def test_the_data_protocol_leaves_the_mean_squared_per_image_gradient() -> None:
    torch.manual_seed(0)
    model, data = TwoConvs().eval(), batches()
    expected = torch.zeros_like(model.features.weight)
    for images, masks in data:
        for image, mask in zip(images, masks, strict=True):
            model.zero_grad()
            logits = model(image[None])
            nn.functional.cross_entropy(logits, mask[None]).backward()
            expected += model.features.weight.grad**2
    expected /= sum(len(images) for images, _ in data)
    used = accumulate_squared_gradients(model, data, batches=5)
    assert used == len(data)
    assert torch.allclose(model.features.weight.grad, expected, rtol=1e-4, atol=1e-10)
    assert CRITERIA["hessian"].needs_data


def kept_rows(original: nn.Module, pruned: nn.Module) -> list[int]:
    """Which of the original channels of ``features`` the pruned model kept."""
    rows = original.features.weight
    return [
        next(i for i in range(rows.shape[0]) if torch.equal(rows[i], kept))
        for kept in pruned.features.weight
    ]


@pytest.mark.parametrize(("importance", "pruned_first"), [("hessian", True), ("l2", False)])
def test_hessian_ranks_a_channel_the_loss_ignores_lowest(importance, pruned_first) -> None:
    original = model_with_a_silent_channel()
    model = model_with_a_silent_channel()
    spec = PruneSpec(ratio=0.25, importance=importance, round_to=None)
    pruned, step = prune_model(
        model, spec, example_input=torch.zeros(1, 3, *SIZE), importance_data=batches()
    )
    kept = kept_rows(original, pruned)
    assert len(kept) == 6 and step["importance"] == importance
    assert (3 not in kept) is pruned_first  # l2 keeps it: its weights are the largest
    assert all(p.grad is None for p in pruned.parameters())
