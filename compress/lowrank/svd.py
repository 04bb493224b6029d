"""Truncated SVD of a 1 x 1 convolution or a linear layer: one layer becomes two.

``W`` (out x in) ``~= (U sqrt(S)) (sqrt(S) V^T)`` at rank r: the first layer maps
``in -> r`` and keeps the conv's stride, padding and dilation (it has no bias, so padded
positions stay zero, as before); the second maps ``r -> out`` and keeps the bias. At
rank ``min(in, out)`` it is exact.
"""

from __future__ import annotations

import torch
from torch import nn

from compress.lowrank.modules import LowRankSequential, placed, pointwise, relative_error

METHOD = "svd"


def full_rank(layer: nn.Conv2d | nn.Linear) -> int:
    """The rank at which the SVD is exact: ``min(in, out)``."""
    if isinstance(layer, nn.Linear):
        return min(layer.in_features, layer.out_features)
    return min(layer.in_channels, layer.out_channels)


def weight_matrix(layer: nn.Conv2d | nn.Linear) -> torch.Tensor:
    """The layer's weight as an out x in matrix (a 1 x 1 kernel flattened)."""
    weight = layer.weight.detach()
    return weight if isinstance(layer, nn.Linear) else weight[:, :, 0, 0]


def build_svd(layer: nn.Conv2d | nn.Linear, rank: int) -> LowRankSequential:
    """The two-layer structure for ``rank`` (weights uninitialised)."""
    bias = layer.bias is not None
    if isinstance(layer, nn.Linear):
        first: nn.Module = placed(nn.Linear(layer.in_features, rank, bias=False), layer)
        second: nn.Module = placed(nn.Linear(rank, layer.out_features, bias=bias), layer)
    else:
        first = nn.Conv2d(
            layer.in_channels,
            rank,
            1,
            stride=layer.stride,
            padding=layer.padding,
            dilation=layer.dilation,
            bias=False,
            padding_mode=layer.padding_mode,
        )
        first = placed(first, layer)
        second = pointwise(rank, layer.out_channels, bias=bias, like=layer)
    return LowRankSequential(first, second, method=METHOD, ranks=[rank])


def svd_factorize(layer: nn.Conv2d | nn.Linear, rank: int) -> tuple[LowRankSequential, float]:
    """Rank-``rank`` SVD layers for ``layer`` and the weight's relative reconstruction error."""
    matrix = weight_matrix(layer).double().cpu()
    u, s, vh = torch.linalg.svd(matrix, full_matrices=False)
    root = s[:rank].sqrt()
    left, right = u[:, :rank] * root, root[:, None] * vh[:rank]
    module = build_svd(layer, rank)
    first, second = module
    dtype = layer.weight.dtype
    with torch.no_grad():
        first.weight.copy_(right.reshape(first.weight.shape).to(dtype))
        second.weight.copy_(left.reshape(second.weight.shape).to(dtype))
        if layer.bias is not None:
            second.bias.copy_(layer.bias)
    return module, relative_error(matrix, left @ right)


def svd_macs(
    layer: nn.Conv2d | nn.Linear, rank: int, in_hw: tuple[int, int], out_hw: tuple[int, int]
) -> int:
    """MACs of the two layers for one image (``out_hw`` is (1, tokens) for Linear)."""
    positions = out_hw[0] * out_hw[1]
    if isinstance(layer, nn.Linear):
        return positions * rank * (layer.in_features + layer.out_features)
    return positions * rank * (layer.in_channels + layer.out_channels)
