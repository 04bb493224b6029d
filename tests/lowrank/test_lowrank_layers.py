"""Each method at full rank reproduces the layer it replaces; CP's safeguards fall back."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from compress.lowrank import cp, spatial_svd, svd, tucker

GEOMETRIES = {
    "plain": {"padding": 1},
    "strided": {"stride": 2, "padding": 1},
    "dilated": {"dilation": 3, "padding": 3},  # an ASPP branch
    "mixed": {"stride": (2, 1), "padding": (2, 0), "dilation": (2, 1), "bias": False},
    "reflect": {"padding": 1, "padding_mode": "reflect"},
}


def _conv(**options: object) -> nn.Conv2d:
    torch.manual_seed(0)
    return nn.Conv2d(6, 10, 3, **options).eval()


def _relative(new: nn.Module, old: nn.Module, x: torch.Tensor) -> float:
    with torch.no_grad():
        reference, got = old(x), new(x)
    assert got.shape == reference.shape
    return float((got - reference).norm() / reference.norm())


X = torch.randn(1, 6, 23, 19, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("geometry", list(GEOMETRIES))
def test_tucker_at_full_rank_is_exact(geometry: str) -> None:
    conv = _conv(**GEOMETRIES[geometry])
    module, error = tucker.tucker_factorize(conv, tucker.full_ranks(conv))
    assert error < 1e-6
    assert _relative(module, conv, X) < 1e-4
    assert module[1].stride == conv.stride and module[1].dilation == conv.dilation


@pytest.mark.parametrize("geometry", list(GEOMETRIES))
def test_spatial_svd_at_full_rank_is_exact(geometry: str) -> None:
    conv = _conv(**GEOMETRIES[geometry])
    module, error = spatial_svd.spatial_svd_factorize(conv, spatial_svd.full_rank(conv))
    assert error < 1e-6
    assert _relative(module, conv, X) < 1e-4
    assert module[0].kernel_size == (3, 1) and module[1].kernel_size == (1, 3)


@pytest.mark.parametrize("options", [{}, {"stride": 2}, {"bias": False}])
def test_svd_at_full_rank_is_exact_for_pointwise_conv(options: dict) -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(6, 10, 1, **options)
    module, error = svd.svd_factorize(conv, svd.full_rank(conv))
    assert error < 1e-6
    assert _relative(module, conv, X) < 1e-4


def test_svd_at_full_rank_is_exact_for_linear() -> None:
    torch.manual_seed(0)
    layer = nn.Linear(12, 7)
    module, _ = svd.svd_factorize(layer, svd.full_rank(layer))
    assert _relative(module, layer, torch.randn(4, 12)) < 1e-4


@pytest.mark.parametrize("geometry", ["strided", "dilated", "mixed"])
def test_cp_at_the_kernels_cp_rank_is_exact(geometry: str) -> None:
    """A kernel of CP rank 4 is recovered at rank 4 (a CP has no general 'full rank')."""
    conv = _conv(**GEOMETRIES[geometry])
    generator = torch.Generator().manual_seed(2)
    factors = [torch.randn(d, 4, generator=generator) for d in (10, 6, 3, 3)]
    with torch.no_grad():
        conv.weight.copy_(torch.einsum("or,cr,ir,jr->ocij", *factors))
    module, error = cp.cp_factorize(conv, 4, cp.CPLimits(n_iter_max=500, max_error=0.1))
    assert error < 1e-5
    assert _relative(module, conv, X) < 1e-4
    assert [layer.groups for layer in module] == [1, 4, 4, 1]  # depthwise kx1, 1xk


@pytest.mark.parametrize(
    ("limits", "reason"),
    [
        (cp.CPLimits(n_iter_max=5, max_error=0.0), "reconstruction error"),
        (cp.CPLimits(n_iter_max=5, time_limit=0.0), "time limit"),
    ],
)
def test_cp_falls_back_to_tucker(limits: cp.CPLimits, reason: str) -> None:
    conv = _conv(padding=1)
    module, error, why = cp.cp_or_tucker(conv, 8, [10, 6], limits)
    assert why is not None and reason in why
    assert module.method == "tucker" and module.ranks == [10, 6]
    assert error < 1e-6 and _relative(module, conv, X) < 1e-4


def test_low_rank_reports_a_real_error_and_fewer_parameters() -> None:
    conv = _conv(padding=1)
    module, error = tucker.tucker_factorize(conv, [4, 3])
    assert 0.0 < error < 1.0
    assert sum(p.numel() for p in module.parameters()) < sum(p.numel() for p in conv.parameters())
