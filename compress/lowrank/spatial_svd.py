"""Spatial SVD of a k x k convolution (as in AIMET): kh x 1 then 1 x kw.

The kernel is reshaped to a ``(in * kh) x (out * kw)`` matrix ``M[(c, i), (o, j)] =
W[o, c, i, j]`` and truncated to rank r by SVD: the first layer is a kh x 1 conv
``in -> r`` carrying the vertical stride/padding/dilation, the second a 1 x kw conv
``r -> out`` carrying the horizontal ones and the bias. Exact at rank
``min(in * kh, out * kw)``.
"""

from __future__ import annotations

import torch
from torch import nn

from compress.lowrank.modules import LowRankSequential, axis_conv, pair, relative_error

METHOD = "spatial-svd"


def full_rank(conv: nn.Conv2d) -> int:
    """The rank at which spatial SVD is exact: ``min(in * kh, out * kw)``."""
    kh, kw = pair(conv.kernel_size)
    return min(conv.in_channels * kh, conv.out_channels * kw)


def reference_rank(conv: nn.Conv2d) -> int:
    """What a rank *fraction* is a fraction of: the narrower channel count."""
    return min(conv.in_channels, conv.out_channels)


def spatial_matrix(weight: torch.Tensor) -> torch.Tensor:
    """``W`` (out x in x kh x kw) as the ``(in * kh) x (out * kw)`` matrix that is truncated."""
    out, cin, kh, kw = weight.shape
    return weight.permute(1, 2, 0, 3).reshape(cin * kh, out * kw)


def build_spatial_svd(conv: nn.Conv2d, rank: int) -> LowRankSequential:
    """The two-layer structure for ``rank`` (weights uninitialised)."""
    return LowRankSequential(
        axis_conv(conv, conv.in_channels, rank, 0),
        axis_conv(conv, rank, conv.out_channels, 1, bias=conv.bias is not None),
        method=METHOD,
        ranks=[rank],
    )


def spatial_svd_factorize(conv: nn.Conv2d, rank: int) -> tuple[LowRankSequential, float]:
    """Rank-``rank`` spatial SVD layers for ``conv`` and the relative reconstruction error."""
    out, cin, kh, kw = conv.weight.shape
    matrix = spatial_matrix(conv.weight.detach().double().cpu())
    u, s, vh = torch.linalg.svd(matrix, full_matrices=False)
    root = s[:rank].sqrt()
    left, right = u[:, :rank] * root, root[:, None] * vh[:rank]  # (cin*kh, r), (r, out*kw)
    module = build_spatial_svd(conv, rank)
    first, second = module
    dtype = conv.weight.dtype
    with torch.no_grad():
        # first[r, c, i, 0] = left[(c, i), r]; second[o, r, 0, j] = right[r, (o, j)]
        first.weight.copy_(left.t().reshape(rank, cin, kh, 1).to(dtype))
        second.weight.copy_(right.reshape(rank, out, 1, kw).permute(1, 0, 2, 3).to(dtype))
        if conv.bias is not None:
            second.bias.copy_(conv.bias)
    return module, relative_error(matrix, left @ right)


def spatial_svd_macs(
    conv: nn.Conv2d, rank: int, in_hw: tuple[int, int], out_hw: tuple[int, int]
) -> int:
    """MACs of the two layers for one image (the first runs at out_h x in_w)."""
    kh, kw = pair(conv.kernel_size)
    p_mid, p_out = out_hw[0] * in_hw[1], out_hw[0] * out_hw[1]
    return p_mid * conv.in_channels * kh * rank + p_out * rank * kw * conv.out_channels
