"""compress.measure.macs: conv/linear MACs by hand, ConvTranspose at input positions."""

from __future__ import annotations

import pytest
import torch
import torch_pruning as tp
from torch import nn

from baselines import get_model
from compress.core.errors import CompressError
from compress.measure.macs import count_macs_params, format_count
from compress.reporting import formatting


def test_conv_macs_are_output_positions_times_kernel_times_channels() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU())
    macs, params = count_macs_params(model, (8, 10))
    assert macs == 8 * 10 * 4 * 3 * 9  # BatchNorm and ReLU are not MACs
    assert params == 4 * 3 * 9 + 2 * 4


def test_strided_grouped_dilated_conv() -> None:
    conv = nn.Conv2d(8, 8, 3, stride=2, padding=2, dilation=2, groups=8)  # depthwise
    macs, _ = count_macs_params(conv, (16, 16), in_channels=8)
    assert macs == 8 * 8 * 8 * 1 * 9  # 8x8 outputs, 8 channels, 1 input channel per group


def test_conv_transpose_counts_input_positions() -> None:
    up = nn.ConvTranspose2d(6, 4, kernel_size=3, stride=2, padding=1, output_padding=1)
    macs, _ = count_macs_params(up, (5, 7), in_channels=6)
    assert macs == 5 * 7 * 6 * 4 * 9  # not the 4x larger count at the 10x14 outputs


def test_linear_and_modules_called_twice() -> None:
    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(3, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.fc(self.pool(x).flatten(1)))

    macs, params = count_macs_params(Twice(), (4, 4))
    assert macs == 2 * 3 * 3
    assert params == 12


def test_conv_counts_agree_with_torch_pruning_layer_by_layer() -> None:
    model = get_model("unet-attention", num_classes=3, base_channels=8).eval()
    example = torch.zeros(1, 3, 48, 64)
    _, _, tp_macs, _ = tp.utils.count_ops_and_params(model, example, layer_wise=True)
    convs = [m for m in model.modules() if type(m) is nn.Conv2d and m.bias is None]
    input_shapes: dict[nn.Module, torch.Size] = {}
    hooks = [
        c.register_forward_hook(lambda m, i, o: input_shapes.update({m: i[0].shape})) for c in convs
    ]
    with torch.no_grad():
        model(example)
    for hook in hooks:
        hook.remove()
    assert len(convs) > 10
    for conv in convs:
        shape = input_shapes[conv]
        macs, _ = count_macs_params(conv, (shape[2], shape[3]), in_channels=shape[1])
        assert macs == tp_macs[conv]


def test_unet_total_is_the_sum_of_its_layers() -> None:
    model = get_model("unet", num_classes=2, base_channels=8)
    macs, params = count_macs_params(model, (64, 64))
    w = [8, 16, 32, 64, 128]
    expected = 0
    size = 64
    for level in range(4):  # encoder double convs
        expected += size * size * 9 * (3 if level == 0 else w[level - 1]) * w[level]
        expected += size * size * 9 * w[level] * w[level]
        size //= 2
    expected += size * size * 9 * (w[3] * w[4] + w[4] * w[4])  # bottleneck at 4x4
    for level in reversed(range(4)):  # decoder: transposed conv at the coarse size, double conv
        expected += size * size * 9 * w[level + 1] * w[level]
        size *= 2
        expected += size * size * 9 * (2 * w[level] * w[level] + w[level] * w[level])
    expected += 64 * 64 * w[0] * 2  # classifier
    assert macs == expected
    assert params == sum(p.numel() for p in model.parameters())


def test_modes_are_restored_and_nothing_is_left_behind() -> None:
    model = get_model("unet", num_classes=2, base_channels=8).train()
    model.encoders[0].eval()  # mixed modes survive too
    before = {name: m.training for name, m in model.named_modules()}
    state = {k: v.clone() for k, v in model.state_dict().items()}
    count_macs_params(model, (32, 32))
    assert {name: m.training for name, m in model.named_modules()} == before
    assert all(not m._forward_hooks for m in model.modules())
    assert all(p.grad is None for p in model.parameters())
    for key, value in model.state_dict().items():  # eval + no_grad: BN statistics untouched
        assert torch.equal(value, state[key]), key


@pytest.mark.parametrize("bad", [(0, 32), (32,), (32.0, 32), "32x32"])
def test_invalid_input_size_is_a_user_error(bad: object) -> None:
    with pytest.raises(CompressError, match="input_size"):
        count_macs_params(nn.Conv2d(3, 3, 1), bad)  # type: ignore[arg-type]


def test_too_small_input_is_a_user_error() -> None:
    with pytest.raises(CompressError, match="cannot run on a 1x3x8x8 input"):
        count_macs_params(get_model("unet", num_classes=2, base_channels=8), (8, 8))


def test_format_count_is_the_project_wide_formatter() -> None:
    assert format_count is formatting.format_count
    assert format_count(12_800_000_000) == "12.8 G"
