"""Building blocks: the attention gate, ASPP, padding to a skip's size."""

from __future__ import annotations

import pytest
import torch

from baselines.blocks import ASPP, AttentionGate, ConvBNReLU, DoubleConv, pad_to


@pytest.fixture
def gate() -> AttentionGate:
    torch.manual_seed(0)
    return AttentionGate(x_channels=8, g_channels=16).eval()


@pytest.mark.parametrize(("x_size", "g_size"), [((16, 16), (8, 8)), ((15, 17), (7, 8))])
def test_attention_coefficients_lie_in_unit_interval(
    gate: AttentionGate, x_size: tuple[int, int], g_size: tuple[int, int]
) -> None:
    x = torch.randn(2, 8, *x_size)
    g = torch.randn(2, 16, *g_size)
    with torch.no_grad():
        out, alpha = gate(x, g, return_coefficients=True)
    assert out.shape == x.shape
    assert alpha.shape == (2, 1, *x_size)
    assert alpha.min() >= 0.0 and alpha.max() <= 1.0
    assert alpha.std() > 0  # the gate is spatially selective, not a constant


def test_attention_gate_changes_the_skip_features(gate: AttentionGate) -> None:
    x = torch.randn(1, 8, 16, 16)
    g = torch.randn(1, 16, 8, 8)
    with torch.no_grad():
        gated = gate(x, g)
        ungated = gate.project(x)  # the same output projection without the coefficients
        other_signal = gate(x, torch.randn(1, 16, 8, 8))
    assert not torch.allclose(gated, ungated, atol=1e-4)
    assert not torch.allclose(gated, other_signal, atol=1e-4)  # it depends on g


def test_attention_gate_forward_returns_only_features_by_default(gate: AttentionGate) -> None:
    out = gate(torch.randn(1, 8, 16, 16), torch.randn(1, 16, 8, 8))
    assert isinstance(out, torch.Tensor)


def test_aspp_keeps_size_and_projects_to_backbone_width() -> None:
    aspp = ASPP(32, rates=(2, 4, 6), channels=8).eval()
    with torch.no_grad():
        out = aspp(torch.randn(1, 32, 9, 11))
    assert out.shape == (1, 32, 9, 11)
    dilations = [branch[0].dilation for branch in aspp.branches[1:4]]
    assert dilations == [(2, 2), (4, 4), (6, 6)]
    assert aspp.project[0].in_channels == 5 * 8


def test_aspp_out_channels_and_dropout_are_configurable() -> None:
    aspp = ASPP(16, channels=4, out_channels=12, dropout=0.1)
    assert aspp.out_channels == 12
    assert aspp.dropout.p == 0.1


def test_conv_blocks_keep_spatial_size() -> None:
    x = torch.randn(1, 3, 13, 7)
    assert ConvBNReLU(3, 4, 3, dilation=3)(x).shape == (1, 4, 13, 7)
    assert DoubleConv(3, 6)(x).shape == (1, 6, 13, 7)


def test_pad_to_pads_bottom_right_with_zeros_and_crops() -> None:
    x = torch.ones(1, 2, 4, 5)
    padded = pad_to(x, torch.empty(1, 1, 5, 6))
    assert padded.shape == (1, 2, 5, 6)
    assert padded[..., :4, :5].eq(1).all()
    assert padded[..., 4, :].eq(0).all() and padded[..., :, 5].eq(0).all()
    assert pad_to(x, torch.empty(1, 1, 3, 5)).shape == (1, 2, 3, 5)
