"""What each factorization method does: its ranks, structure, weights and MACs.

:mod:`compress.lowrank.apply` and :mod:`compress.lowrank.replay` only talk to a
:class:`Method`, found by name through :func:`compress.lowrank.catalog.load_method`;
the four built-in ones are defined here and named in the catalog's table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from compress.core.tables import or_list
from compress.lowrank import cp, spatial_svd, svd, tucker
from compress.lowrank.catalog import FACTORIZATION_METHODS, methods_for
from compress.lowrank.modules import LowRankSequential, is_plain_conv2d, pair

Layer = nn.Conv2d | nn.Linear
Factorized = tuple[LowRankSequential, float, str | None]  # module, relative error, note


def unfold(weight: torch.Tensor, mode: int) -> torch.Tensor:
    """Mode-``mode`` unfolding: that dimension's size x everything else."""
    return weight.detach().movedim(mode, 0).reshape(weight.shape[mode], -1)


def skip_reason(layer: nn.Module, method: str) -> str | None:
    """Why ``method`` leaves ``layer`` alone, or None when it can factorize it."""
    if isinstance(layer, nn.modules.conv._ConvTransposeNd):
        return "transposed conv: not factorized"
    handles_pointwise = FACTORIZATION_METHODS[method].pointwise
    if isinstance(layer, nn.Linear):
        return None if handles_pointwise else f"linear layer: use --method {_names(True)}"
    if not is_plain_conv2d(layer):
        return f"{type(layer).__name__}: not a 2-D conv"
    if layer.groups > 1:
        kind = "depthwise" if layer.groups == layer.in_channels else "grouped"
        return f"{kind} conv (groups={layer.groups}): skipped"
    pointwise = pair(layer.kernel_size) == (1, 1)
    if handles_pointwise and not pointwise:
        return f"k x k conv: use {_names(False)}"
    if pointwise and not handles_pointwise:
        return f"1 x 1 conv: use --method {_names(True)}"
    return None


def _names(pointwise: bool) -> str:
    return or_list(methods_for(pointwise=pointwise))


@dataclass(frozen=True)
class Method:
    """How one method picks, builds, fills and costs a layer's factorization.

    ``limits(layer)`` are the largest valid ranks; ``reference(layer)`` what a rank
    fraction multiplies; ``matrices(layer)`` the matrices whose spectra the vbmf and
    energy rules read (one per rank, or several combined by max for CP).
    """

    name: str
    limits: Callable[[Layer], list[int]]
    reference: Callable[[Layer], list[int]]
    matrices: Callable[[Layer], list[torch.Tensor]]
    build: Callable[[Layer, list[int]], LowRankSequential]
    factorize: Callable[[Layer, list[int], dict[str, Any]], Factorized]
    macs: Callable[[Layer, list[int], tuple[int, int], tuple[int, int]], int]
    combine_matrices: bool = False  # one rank from several spectra (max), as CP needs
    fallback: str | None = None  # method a layer falls back to (gets its ranks in options)


def _tucker_factorize(layer: Layer, ranks: list[int], _: dict[str, Any]) -> Factorized:
    module, error = tucker.tucker_factorize(layer, ranks)
    return module, error, None


def _cp_factorize(layer: Layer, ranks: list[int], options: dict[str, Any]) -> Factorized:
    module, error, reason = cp.cp_or_tucker(
        layer, ranks[0], options["fallback_ranks"], options["limits"]
    )
    return module, error, (f"cp -> tucker: {reason}" if reason else None)


def _svd_factorize(layer: Layer, ranks: list[int], _: dict[str, Any]) -> Factorized:
    module, error = svd.svd_factorize(layer, ranks[0])
    return module, error, None


def _spatial_factorize(layer: Layer, ranks: list[int], _: dict[str, Any]) -> Factorized:
    module, error = spatial_svd.spatial_svd_factorize(layer, ranks[0])
    return module, error, None


TUCKER = Method(
    name="tucker",
    limits=tucker.full_ranks,
    reference=tucker.full_ranks,
    matrices=lambda layer: [unfold(layer.weight, 0), unfold(layer.weight, 1)],
    build=tucker.build_tucker,
    factorize=_tucker_factorize,
    macs=tucker.tucker_macs,
)
CP = Method(
    name="cp",
    limits=lambda layer: [cp.max_rank(layer)],
    reference=lambda layer: [cp.reference_rank(layer)],
    matrices=lambda layer: [unfold(layer.weight, 0), unfold(layer.weight, 1)],
    build=lambda layer, ranks: cp.build_cp(layer, ranks[0]),
    factorize=_cp_factorize,
    macs=lambda layer, ranks, i, o: cp.cp_macs(layer, ranks[0], i, o),
    combine_matrices=True,
    fallback="tucker",
)
SVD = Method(
    name="svd",
    limits=lambda layer: [svd.full_rank(layer)],
    reference=lambda layer: [svd.full_rank(layer)],
    matrices=lambda layer: [svd.weight_matrix(layer)],
    build=lambda layer, ranks: svd.build_svd(layer, ranks[0]),
    factorize=_svd_factorize,
    macs=lambda layer, ranks, i, o: svd.svd_macs(layer, ranks[0], i, o),
)
SPATIAL_SVD = Method(
    name="spatial-svd",
    limits=lambda layer: [spatial_svd.full_rank(layer)],
    reference=lambda layer: [spatial_svd.reference_rank(layer)],
    matrices=lambda layer: [spatial_svd.spatial_matrix(layer.weight.detach())],
    build=lambda layer, ranks: spatial_svd.build_spatial_svd(layer, ranks[0]),
    factorize=_spatial_factorize,
    macs=lambda layer, ranks, i, o: spatial_svd.spatial_svd_macs(layer, ranks[0], i, o),
)
