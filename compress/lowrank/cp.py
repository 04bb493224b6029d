"""CP factorization of a k x k convolution (Lebedev et al., ICLR 2015), with safeguards.

A rank-R CP of the kernel, ``W[o, c, i, j] = sum_r l_r A_out[o, r] A_in[c, r] A_h[i, r]
A_w[j, r]``, is four convolutions:

1. 1 x 1, ``in -> R`` (``A_in``), at the input resolution;
2. depthwise kh x 1 over R channels (``A_h``): the vertical stride, padding, dilation;
3. depthwise 1 x kw over R channels (``A_w``): the horizontal stride, padding, dilation;
4. 1 x 1, ``R -> out`` (``l * A_out``) with the original bias.

CP by alternating least squares (tensorly ``parafac``) is slow and can diverge, so each
layer is checked: a non-finite or too large relative reconstruction error, an ALS
failure, or running past a per-layer time limit makes that layer fall back to Tucker-2
(:mod:`compress.lowrank.tucker`), and the report says why.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass

import torch
from torch import nn

from compress.lowrank.modules import (
    LowRankSequential,
    axis_conv,
    pair,
    pointwise,
    relative_error,
)
from compress.lowrank.tucker import tucker_factorize

METHOD = "cp"


class CPFailed(Exception):
    """CP did not give a usable decomposition for a layer (the reason is the message)."""


def max_rank(conv: nn.Conv2d) -> int:
    """The generic upper bound of a kernel's CP rank: its size over its largest dimension."""
    dims = [conv.out_channels, conv.in_channels, *pair(conv.kernel_size)]
    return math.prod(dims) // max(dims)


def reference_rank(conv: nn.Conv2d) -> int:
    """What a rank *fraction* is a fraction of for CP: the wider channel count."""
    return max(conv.out_channels, conv.in_channels)


def build_cp(conv: nn.Conv2d, rank: int) -> LowRankSequential:
    """The four-layer structure for CP rank ``rank`` (weights uninitialised)."""
    return LowRankSequential(
        pointwise(conv.in_channels, rank, bias=False, like=conv),
        axis_conv(conv, rank, rank, 0, groups=rank),
        axis_conv(conv, rank, rank, 1, groups=rank),
        pointwise(rank, conv.out_channels, bias=conv.bias is not None, like=conv),
        method=METHOD,
        ranks=[rank],
    )


@dataclass(frozen=True)
class CPLimits:
    """Safeguards of one layer's CP: ALS iterations, error threshold, time limit (s)."""

    n_iter_max: int = 300
    max_error: float = 0.8
    time_limit: float = 60.0


def cp_decompose(
    weight: torch.Tensor, rank: int, limits: CPLimits
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """``(weights, [A_out, A_in, A_h, A_w])`` of a rank-``rank`` CP; CPFailed on trouble."""
    import tensorly as tl
    from tensorly.decomposition import parafac

    start = time.perf_counter()
    timed_out = False

    def stop_when_late(_cp: object, _error: float) -> bool:
        nonlocal timed_out
        timed_out = time.perf_counter() - start > limits.time_limit
        return timed_out

    try:
        with tl.backend_context("pytorch"), warnings.catch_warnings():
            # svd init with R > a mode's size pads with random columns and says so
            warnings.filterwarnings("ignore", message="Trying to compute SVD", category=UserWarning)
            weights, factors = parafac(
                weight.detach().double().cpu(),
                rank,
                n_iter_max=limits.n_iter_max,
                init="svd",
                tol=1e-8,
                random_state=0,
                callback=stop_when_late,
            )
    except (RuntimeError, ValueError, ArithmeticError) as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0][:80]
        raise CPFailed(f"ALS failed ({first})") from None
    if timed_out:
        raise CPFailed(f"time limit {limits.time_limit:g} s exceeded")
    return weights, list(factors)


def cp_factorize(
    conv: nn.Conv2d, rank: int, limits: CPLimits | None = None
) -> tuple[LowRankSequential, float]:
    """CP layers for ``conv`` and the kernel's relative reconstruction error.

    Raises:
        CPFailed: ALS failed, ran past ``limits.time_limit``, or its error is not finite
            or above ``limits.max_error``.
    """
    limits = limits or CPLimits()
    weights, (a_out, a_in, a_h, a_w) = cp_decompose(conv.weight, rank, limits)
    approx = torch.einsum("r,or,cr,ir,jr->ocij", weights, a_out, a_in, a_h, a_w)
    error = relative_error(conv.weight.detach().cpu(), approx)
    if not math.isfinite(error) or error > limits.max_error:
        raise CPFailed(f"reconstruction error {error:.3g} > {limits.max_error:g}")
    module = build_cp(conv, rank)
    first, vertical, horizontal, last = module
    dtype = conv.weight.dtype
    with torch.no_grad():
        first.weight.copy_(a_in.t()[:, :, None, None].to(dtype))
        vertical.weight.copy_(a_h.t()[:, None, :, None].to(dtype))
        horizontal.weight.copy_(a_w.t()[:, None, None, :].to(dtype))
        last.weight.copy_((a_out * weights)[:, :, None, None].to(dtype))
        if conv.bias is not None:
            last.bias.copy_(conv.bias)
    return module, error


def cp_or_tucker(
    conv: nn.Conv2d, rank: int, tucker_ranks: list[int], limits: CPLimits | None = None
) -> tuple[LowRankSequential, float, str | None]:
    """CP of ``conv``, or Tucker-2 at ``tucker_ranks`` if CP fails: (module, error, reason)."""
    try:
        module, error = cp_factorize(conv, rank, limits)
        return module, error, None
    except CPFailed as failure:
        module, error = tucker_factorize(conv, tucker_ranks)
        return module, error, str(failure)


def cp_macs(conv: nn.Conv2d, rank: int, in_hw: tuple[int, int], out_hw: tuple[int, int]) -> int:
    """MACs of the CP layers for one image (the vertical pass runs at out_h x in_w)."""
    kh, kw = pair(conv.kernel_size)
    p_in, p_out = in_hw[0] * in_hw[1], out_hw[0] * out_hw[1]
    p_mid = out_hw[0] * in_hw[1]
    return (
        p_in * conv.in_channels * rank
        + p_mid * kh * rank
        + p_out * kw * rank
        + p_out * rank * conv.out_channels
    )
