"""A failed parity check says when the flipped pixels were near ties (a barely trained model)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from torch import nn

from compress.core.errors import CompressError
from compress.deploy.export import export_onnx
from compress.deploy.parity import check_parity


def _two_classes(delta: float) -> nn.Module:
    """Class 1's logit is class 0's plus ``delta`` times a fixed pattern."""
    torch.manual_seed(0)
    model = nn.Conv2d(3, 2, 1)
    with torch.no_grad():
        model.weight[1] = model.weight[0] + delta * torch.randn(3, 1, 1)
        model.bias[1] = model.bias[0]
    return model


def _flipped(model: nn.Module) -> nn.Module:
    """The same logits with class 1's difference negated: every decision flips."""
    other = copy.deepcopy(model)
    with torch.no_grad():
        other.weight[1] = 2 * model.weight[0] - model.weight[1]
    return other


@pytest.mark.parametrize(("delta", "ties"), [(1e-3, True), (3.0, False)])
def test_flipped_pixels_are_called_near_ties_only_when_they_are(
    delta: float, ties: bool, tmp_path: Path
) -> None:
    model = _two_classes(delta)
    path = export_onnx(model, tmp_path / "m.onnx", input_size=(16, 16))
    images = [torch.randn(3, 16, 16, generator=torch.Generator().manual_seed(1))]
    check_parity(model, path, images, min_agreement=0.999)  # the exported model agrees
    with pytest.raises(CompressError, match="parity failed") as failure:
        check_parity(_flipped(model), path, images, min_agreement=0.99, source="test images")
    assert ("near ties" in str(failure.value)) is ties
    assert "images images" not in str(failure.value)
