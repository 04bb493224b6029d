"""Models that need sizes divisible by N are evaluated padded, not crashed."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from compress.core.errors import CompressError
from compress.measure.evaluate import evaluate
from compress.measure.padding import PaddingLogits, pad_to_multiple, size_multiple


class NeedsMultiple(nn.Module):
    """An encoder-decoder with a skip whose sizes only match for multiples of 2**depth."""

    def __init__(self, depth: int = 5, classes: int = 3) -> None:
        super().__init__()
        self.depth = depth
        self.stem = nn.Conv2d(3, 4, 3, padding=1)
        self.classifier = nn.Conv2d(8, classes, 1)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        skip = self.stem(x)
        deep = skip
        for _ in range(self.depth):
            deep = F.max_pool2d(deep, 2)
        deep = F.interpolate(deep, scale_factor=2**self.depth)
        return self.classifier(torch.cat([skip, deep], dim=1))  # fails unless H, W % 2**d == 0


def test_the_multiple_is_found_once_and_logits_keep_the_input_size() -> None:
    model = NeedsMultiple().eval()
    batch = torch.randn(1, 3, 90, 120)
    assert size_multiple(model, batch) == 32
    assert pad_to_multiple(batch, 32).shape[-2:] == (96, 128)
    logits_for = PaddingLogits(model)
    with torch.no_grad():
        assert logits_for(batch).shape == (1, 3, 90, 120)
        calls = model.calls
        assert logits_for(torch.randn(1, 3, 70, 50)).shape == (1, 3, 70, 50)
    assert logits_for.multiple == 32 and model.calls == calls + 1  # no probing again


def test_a_model_that_runs_as_it_is_pays_nothing_extra() -> None:
    model = NeedsMultiple(depth=1).eval()
    logits_for = PaddingLogits(model)
    with torch.no_grad():
        logits_for(torch.randn(1, 3, 64, 64))
    assert model.calls == 1 and logits_for.multiple == 1


def test_evaluation_pads_and_says_so() -> None:
    model = NeedsMultiple()
    items = [(torch.randn(3, 90, 120), torch.randint(0, 3, (90, 120))) for _ in range(3)]
    result = evaluate(model, items, num_classes=3, ignore_index=None)
    assert result.num_images == 3 and result.padded_to == 32
    assert result.metrics.num_pixels == 3 * 90 * 120
    assert result.to_dict()["padded_to"] == 32


def test_a_model_whose_logits_are_never_at_input_size_is_one_line() -> None:
    model = nn.Conv2d(3, 3, 3, stride=2)
    with pytest.raises(CompressError, match="does not give logits at the size") as error:
        size_multiple(model, torch.randn(1, 3, 64, 64))
    assert "\n" not in str(error.value)


def test_macs_at_a_size_the_model_cannot_take_says_which_sizes_it_can() -> None:
    from compress.measure.macs import count_macs_params

    with pytest.raises(CompressError, match="divisible by 32: use e.g. 128x128"):
        count_macs_params(NeedsMultiple(), (100, 100))
    with pytest.raises(CompressError, match="too small for it: try at least 32x32"):
        count_macs_params(NeedsMultiple(), (8, 8))
