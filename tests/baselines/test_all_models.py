"""Every registered model: logits at the input's size, gradients, deterministic eval."""

from __future__ import annotations

from functools import cache

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from baselines import get_model, list_models

NUM_CLASSES = 5
# Small widths keep the UNets fast; the DeepLabs run at their real size.
TINY = {"unet": {"base_channels": 8}, "unet-attention": {"base_channels": 8}}


def build(name: str) -> nn.Module:
    torch.manual_seed(0)
    return get_model(name, num_classes=NUM_CLASSES, **TINY.get(name, {}))


@cache
def built_in_eval(name: str) -> nn.Module:
    return build(name).eval()


@pytest.mark.parametrize("name", list_models())
@pytest.mark.parametrize("size", [(64, 64), (70, 90)])
def test_forward_gives_logits_at_input_size(name: str, size: tuple[int, int]) -> None:
    model = built_in_eval(name)
    with torch.no_grad():
        logits = model(torch.randn(1, 3, *size))
    assert logits.shape == (1, NUM_CLASSES, *size)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("name", list_models())
def test_eval_is_deterministic(name: str) -> None:
    model = built_in_eval(name)
    image = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(image), model(image))


@pytest.mark.parametrize("name", list_models())
def test_backward_reaches_every_parameter(name: str) -> None:
    # Batch 2: BatchNorm after global pooling (ASPP's image branch) needs 2+ values in training.
    model = build(name).train()
    images = torch.randn(2, 3, 64, 64)
    target = torch.randint(0, NUM_CLASSES, (2, 64, 64))
    loss = F.cross_entropy(model(images), target)
    loss.backward()
    for parameter_name, parameter in model.named_parameters():
        assert parameter.grad is not None, parameter_name
        assert torch.isfinite(parameter.grad).all(), parameter_name
    assert any(p.grad.abs().sum() > 0 for p in model.parameters())
