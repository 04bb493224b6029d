"""Tucker-2 factorization of a k x k convolution (Kim et al., ICLR 2016).

The kernel ``W`` (out x in x kh x kw) is decomposed along its two channel modes,
``W ~= core x_0 U_out x_1 U_in``, which is three convolutions:

1. 1 x 1, ``in -> r_in`` (weights ``U_in^T``), at the input resolution;
2. kh x kw, ``r_in -> r_out`` (the core), with the original stride, padding (mode
   included), dilation: the only spatial layer, so the receptive field is unchanged;
3. 1 x 1, ``r_out -> out`` (weights ``U_out``) with the original bias.

The first layer has no bias, so padding its output with zeros (or reflecting it) is the
same as projecting the padded input. At full ranks (in, out) it is exact.
"""

from __future__ import annotations

import torch
from torch import nn

from compress.lowrank.modules import LowRankSequential, pair, placed, pointwise, relative_error

METHOD = "tucker"


def full_ranks(conv: nn.Conv2d) -> list[int]:
    """``[out, in]``: the ranks at which Tucker-2 is exact."""
    return [conv.out_channels, conv.in_channels]


def build_tucker(conv: nn.Conv2d, ranks: list[int]) -> LowRankSequential:
    """The three-layer structure for ``ranks = [r_out, r_in]`` (weights uninitialised)."""
    r_out, r_in = ranks
    core = nn.Conv2d(
        r_in,
        r_out,
        conv.kernel_size,
        stride=conv.stride,
        padding=conv.padding,
        dilation=conv.dilation,
        bias=False,
        padding_mode=conv.padding_mode,
    )
    return LowRankSequential(
        pointwise(conv.in_channels, r_in, bias=False, like=conv),
        placed(core, conv),
        pointwise(r_out, conv.out_channels, bias=conv.bias is not None, like=conv),
        method=METHOD,
        ranks=[r_out, r_in],
    )


def tucker_decompose(
    weight: torch.Tensor, ranks: list[int], *, n_iter_max: int = 100
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(core, U_out, U_in)`` of a partial Tucker (HOOI) of ``weight`` on modes 0 and 1."""
    import tensorly as tl
    from tensorly.decomposition import partial_tucker

    with tl.backend_context("pytorch"):
        (core, factors), _ = partial_tucker(
            weight.detach().double().cpu(),
            rank=list(ranks),
            modes=[0, 1],
            init="svd",
            n_iter_max=n_iter_max,
        )
    return core, factors[0], factors[1]


def tucker_factorize(
    conv: nn.Conv2d, ranks: list[int], *, n_iter_max: int = 100
) -> tuple[LowRankSequential, float]:
    """Replace-ready Tucker-2 of ``conv`` and the relative reconstruction error of its kernel."""
    core, u_out, u_in = tucker_decompose(conv.weight, ranks, n_iter_max=n_iter_max)
    module = build_tucker(conv, ranks)
    first, middle, last = module
    dtype = conv.weight.dtype
    with torch.no_grad():
        first.weight.copy_(u_in.t()[:, :, None, None].to(dtype))
        middle.weight.copy_(core.to(dtype))
        last.weight.copy_(u_out[:, :, None, None].to(dtype))
        if conv.bias is not None:
            last.bias.copy_(conv.bias)
    approx = torch.einsum("abij,oa,cb->ocij", core, u_out, u_in)
    return module, relative_error(conv.weight.detach().cpu(), approx)


def tucker_macs(
    conv: nn.Conv2d, ranks: list[int], in_hw: tuple[int, int], out_hw: tuple[int, int]
) -> int:
    """MACs of the Tucker-2 layers for one image (input/output resolutions of ``conv``)."""
    r_out, r_in = ranks
    kh, kw = pair(conv.kernel_size)
    p_in, p_out = in_hw[0] * in_hw[1], out_hw[0] * out_hw[1]
    first = p_in * conv.in_channels * r_in
    return first + p_out * (kh * kw * r_in * r_out + r_out * conv.out_channels)
