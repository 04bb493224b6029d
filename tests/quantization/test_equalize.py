"""Cross-layer equalisation against its definition: same float function, equal ranges."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from compress.quantization.equalize import channel_ranges, equalize
from compress.quantization.fold import fold_batchnorms


class Chains(nn.Module):
    """conv-BN-ReLU -> dilated conv -> ReLU -> depthwise -> 1x1 -> ReLU6 -> grouped ->
    ReLU -> conv, then a residual pair and a concat: every case equalisation meets."""

    def __init__(self) -> None:
        super().__init__()
        self.c1, self.b1, self.r1 = nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU()
        self.c2, self.r2 = nn.Conv2d(8, 16, 3, padding=2, dilation=2), nn.ReLU(inplace=True)
        self.c3 = nn.Conv2d(16, 16, 3, padding=1, groups=16)  # depthwise, identity after
        self.c4, self.r4 = nn.Conv2d(16, 12, 1, bias=False), nn.ReLU6()
        self.c5, self.r5 = nn.Conv2d(12, 12, 3, padding=1, groups=4), nn.ReLU()
        self.c6 = nn.Conv2d(12, 12, 3, padding=1)
        self.ra, self.rb = nn.Conv2d(12, 12, 1), nn.Conv2d(12, 12, 3, padding=1)
        self.relu_a = nn.ReLU()
        self.out = nn.Conv2d(24, 5, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.c2(self.r1(self.b1(self.c1(x))))
        x = self.c4(self.c3(self.r2(x)))
        y = self.c6(self.r5(self.c5(self.r4(x))))
        a = self.relu_a(self.ra(y))
        z = self.rb(a) + a  # ra -> relu -> rb looks like a pair to hooks; the add forbids it
        return self.out(torch.cat([z, y], 1))


def _model() -> nn.Module:
    torch.manual_seed(0)
    model = Chains().eval()
    with torch.no_grad():  # uneven channel ranges, so equalisation has work to do
        for p in model.parameters():
            p.mul_(torch.rand_like(p) * 4)
        model.b1.running_var.uniform_(0.5, 2.0)
        model.b1.running_mean.normal_()
    return model


@pytest.fixture(scope="module")
def equalized() -> tuple[nn.Module, nn.Module, object]:
    model = _model()
    example = torch.randn(2, 3, 32, 32)
    folded, _ = fold_batchnorms(model, example)
    before = {n: m.weight.clone() for n, m in folded.named_modules() if isinstance(m, nn.Conv2d)}
    report = equalize(folded, example)
    folded.before = before  # type: ignore[attr-defined]
    return model, folded, report


def test_float_function_is_unchanged(equalized: tuple[nn.Module, nn.Module, object]) -> None:
    model, folded, _ = equalized
    torch.manual_seed(1)
    for _ in range(3):
        x = torch.randn(2, 3, 40, 48)
        with torch.no_grad():
            reference, got = model(x), folded(x)
        assert (reference - got).abs().max() <= 1e-5 * reference.abs().max()


def test_the_chains_are_found_and_the_ambiguous_skipped(
    equalized: tuple[nn.Module, nn.Module, object],
) -> None:
    _, _, report = equalized
    assert report.pairs == [("c1", "c2"), ("c2", "c3"), ("c3", "c4"), ("c5", "c6")]
    assert "ReLU6" in report.skipped["c4"]
    assert "outside" in report.skipped["ra"]  # the residual add
    assert "rb" not in dict(report.pairs)  # its output meets an add, not a conv


def test_every_pair_has_equal_ranges(equalized: tuple[nn.Module, nn.Module, object]) -> None:
    _, folded, report = equalized
    for conv1, conv2 in report.pairs:
        r1, r2 = channel_ranges(folded.get_submodule(conv1), folded.get_submodule(conv2))
        assert torch.allclose(r1, r2, rtol=1e-4), (conv1, conv2)


def test_ranges_were_unequal_and_weights_moved(
    equalized: tuple[nn.Module, nn.Module, object],
) -> None:
    _, folded, _ = equalized
    before = folded.before  # type: ignore[attr-defined]
    r1 = before["c5"].abs().flatten(1).amax(1)
    r2 = before["c6"].abs().transpose(0, 1).flatten(1).amax(1)
    assert not torch.allclose(r1, r2, rtol=0.1)
    assert not torch.allclose(before["c5"], folded.c5.weight)
    assert torch.equal(before["out"], folded.out.weight)  # after a concat: untouched


def test_one_pair_scale_follows_the_formula() -> None:
    torch.manual_seed(2)
    conv1, conv2 = nn.Conv2d(2, 4, 1), nn.Conv2d(4, 3, 3, padding=1)
    r1, r2 = channel_ranges(conv1, conv2)
    model = nn.Sequential(conv1, nn.ReLU(), conv2)
    report = equalize(model, torch.randn(1, 2, 8, 8))
    assert report.pairs == [("0", "2")]
    expected = torch.sqrt(r1 * r2)
    after1, after2 = channel_ranges(conv1, conv2)
    assert torch.allclose(after1, expected, rtol=1e-5)
    assert torch.allclose(after2, expected, rtol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["deeplab-resnet18-aspp", "deeplab-mobilenetv3-aspp"])
def test_registered_models_keep_their_function(name: str) -> None:
    """Residual blocks, depthwise convs, hard-swish and ASPP: pairs found, function kept."""
    from baselines import get_model, model_options

    torch.manual_seed(0)
    options = {"head_channels": 32} if "head_channels" in model_options(name) else {}
    model = get_model(name, num_classes=8, **options).eval()
    example = torch.randn(1, 3, 64, 64)
    folded, _ = fold_batchnorms(model, example)
    report = equalize(folded, example)
    assert report.pairs
    x = torch.randn(1, 3, 96, 80)
    with torch.no_grad():
        reference, got = model(x), folded(x)
    reference, got = (t["out"] if isinstance(t, dict) else t for t in (reference, got))
    assert (reference - got).abs().max() <= 1e-5 * reference.abs().max()
