"""The module that replaces a factorized layer, and conv geometry shared by every method.

A factorized layer becomes a :class:`LowRankSequential`: an ``nn.Sequential`` of plain
``Conv2d`` / ``Linear`` layers (so ONNX export, MACs counting, quantization and pruning
see ordinary layers) that also remembers which method and ranks produced it.
"""

from __future__ import annotations

from typing import Any

from torch import nn


class LowRankSequential(nn.Sequential):
    """A chain of small layers that stands in for one factorized layer."""

    def __init__(self, *layers: nn.Module, method: str, ranks: list[int]) -> None:
        super().__init__(*layers)
        self.method = method
        self.ranks = list(ranks)

    def extra_repr(self) -> str:
        return f"method={self.method}, ranks={self.ranks}"


def pair(value: Any) -> tuple[int, int]:
    """``3`` -> ``(3, 3)``; a 2-tuple unchanged."""
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def axis_padding(padding: str | tuple[int, ...] | int, axis: int) -> str | tuple[int, int]:
    """The padding of a 1-D (``axis`` 0: k x 1, ``axis`` 1: 1 x k) piece of a conv.

    A string (``"same"``/``"valid"``) passes through: torch resolves it per dimension,
    and on a dimension of kernel size 1 it means no padding, as in the original.
    """
    if isinstance(padding, str):
        return padding
    ph, pw = pair(padding)
    return (ph, 0) if axis == 0 else (0, pw)


def axis_pair(value: Any, axis: int, *, other: int = 1) -> tuple[int, int]:
    """Stride/dilation of a 1-D piece: the original value on ``axis``, ``other`` elsewhere."""
    h, w = pair(value)
    return (h, other) if axis == 0 else (other, w)


def pointwise(
    in_channels: int, out_channels: int, *, bias: bool, like: nn.Conv2d | None = None
) -> nn.Conv2d:
    """A 1 x 1 conv with ``like``'s dtype/device (and padding mode, which 1 x 1 never uses)."""
    layer = nn.Conv2d(in_channels, out_channels, 1, bias=bias)
    return layer.to(**_placement(like)) if like is not None else layer


def _placement(like: nn.Module) -> dict[str, Any]:
    weight = like.weight
    return {"device": weight.device, "dtype": weight.dtype}


def placed(layer: nn.Module, like: nn.Module) -> nn.Module:
    """``layer`` moved to ``like``'s device and dtype."""
    return layer.to(**_placement(like))


def is_plain_conv2d(module: nn.Module) -> bool:
    """A Conv2d (or subclass) that is not transposed."""
    return isinstance(module, nn.Conv2d) and not isinstance(
        module, nn.modules.conv._ConvTransposeNd
    )


def relative_error(original: Any, approx: Any) -> float:
    """``||original - approx|| / ||original||`` (0 for an all-zero original)."""
    original = original.double()
    norm = float(original.norm())
    diff = float((original - approx.double()).norm())
    if norm == 0.0:
        return 0.0 if diff == 0.0 else float("inf")
    return diff / norm


def axis_conv(
    conv: nn.Conv2d,
    in_channels: int,
    out_channels: int,
    axis: int,
    *,
    groups: int = 1,
    bias: bool = False,
) -> nn.Conv2d:
    """The 1-D piece of ``conv`` along ``axis`` (0: kh x 1, 1: 1 x kw), geometry kept."""
    kh, kw = pair(conv.kernel_size)
    layer = nn.Conv2d(
        in_channels,
        out_channels,
        (kh, 1) if axis == 0 else (1, kw),
        stride=axis_pair(conv.stride, axis),
        padding=axis_padding(conv.padding, axis),
        dilation=axis_pair(conv.dilation, axis),
        groups=groups,
        bias=bias,
        padding_mode=conv.padding_mode,
    )
    return placed(layer, conv)
