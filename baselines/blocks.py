"""Small reusable layers of the baselines: conv blocks, the attention gate, ASPP.

Every block is a plain ``nn.Module`` built from standard layers (Conv2d, BatchNorm2d,
ReLU, ...) so that torch-pruning's dependency graph, the MACs counter and the ONNX
exporter all see ordinary layers. Shapes are always taken from tensors (never Python
``int()`` on a traced size), so the blocks export to ONNX with dynamic height/width.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ConvBNReLU(nn.Sequential):
    """Conv2d (no bias, "same" padding for odd kernels) + BatchNorm2d + ReLU."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int = 3, dilation: int = 1
    ) -> None:
        padding = dilation * (kernel_size // 2)
        super().__init__(
            nn.Conv2d(
                in_channels,
                out_channels,
                kernel_size,
                padding=padding,
                dilation=dilation,
                bias=False,
            ),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class DoubleConv(nn.Sequential):
    """The UNet block: two 3x3 Conv-BN-ReLU layers."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            ConvBNReLU(in_channels, out_channels, 3),
            ConvBNReLU(out_channels, out_channels, 3),
        )


def pad_to(x: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Zero-pad ``x`` at the bottom/right to ``reference``'s H x W (crop where negative).

    The differences come from tensor shapes, so under ONNX tracing they stay symbolic
    and the padding follows whatever input size the exported graph receives.
    """
    diff_h = reference.shape[-2] - x.shape[-2]
    diff_w = reference.shape[-1] - x.shape[-1]
    return F.pad(x, [0, diff_w, 0, diff_h])


class AttentionGate(nn.Module):
    """Additive attention gate on a skip connection (Oktay et al. 2018, arXiv 1804.03999).

    ``x`` is the skip feature map, ``g`` the gating signal from the coarser decoder level
    (half of ``x``'s resolution, rounded down, as produced by a 2x2 max-pool):

        q = ReLU(theta(x) + phi(g));  alpha = sigmoid(psi(q))  (one channel, in [0, 1])
        out = BN(W(x * upsample_bilinear(alpha)))

    theta is a 2x2 stride-2 conv that brings ``x`` to ``g``'s resolution, phi and psi
    are 1x1 convs, W is a 1x1 conv. The gate suppresses skip features in regions the
    coarser level finds irrelevant.
    """

    def __init__(self, x_channels: int, g_channels: int, inter_channels: int | None = None) -> None:
        super().__init__()
        inter = inter_channels if inter_channels is not None else max(1, x_channels // 2)
        self.theta = nn.Conv2d(x_channels, inter, kernel_size=2, stride=2, bias=False)
        self.phi = nn.Conv2d(g_channels, inter, kernel_size=1, bias=True)
        self.psi = nn.Conv2d(inter, 1, kernel_size=1, bias=True)
        self.relu = nn.ReLU(inplace=True)
        self.sigmoid = nn.Sigmoid()
        self.project = nn.Sequential(
            nn.Conv2d(x_channels, x_channels, kernel_size=1, bias=True),
            nn.BatchNorm2d(x_channels),
        )

    def forward(
        self, x: torch.Tensor, g: torch.Tensor, return_coefficients: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Gate ``x`` by ``g``; with ``return_coefficients`` also return alpha at x's size."""
        q = self.relu(self.theta(x) + self.phi(g))
        alpha = self.sigmoid(self.psi(q))
        alpha = F.interpolate(alpha, size=x.shape[-2:], mode="bilinear", align_corners=False)
        out = self.project(x * alpha)
        if return_coefficients:
            return out, alpha
        return out


class ASPPPooling(nn.Module):
    """ASPP's image-level branch: global average pool, 1x1 Conv-BN-ReLU, broadcast back.

    Its BatchNorm sees one value per channel and image, so training needs batches of 2+.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.conv = ConvBNReLU(in_channels, out_channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.conv(self.pool(x))
        return F.interpolate(pooled, size=x.shape[-2:], mode="bilinear", align_corners=False)


class ASPP(nn.Module):
    """Atrous Spatial Pyramid Pooling (DeepLabV3): five parallel branches, concat, project.

    Branches: 1x1 Conv-BN-ReLU, three 3x3 Conv-BN-ReLU with dilations ``rates``, and the
    image-pooling branch; their concatenation is projected by a 1x1 Conv-BN-ReLU to
    ``out_channels`` (default: ``in_channels``, so the block is a drop-in that keeps the
    backbone width, as in the study) and followed by dropout.
    """

    def __init__(
        self,
        in_channels: int,
        rates: tuple[int, int, int] = (6, 12, 18),
        channels: int = 256,
        out_channels: int | None = None,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        out = out_channels if out_channels is not None else in_channels
        self.rates = tuple(rates)
        self.branches = nn.ModuleList(
            [
                ConvBNReLU(in_channels, channels, kernel_size=1),
                *(ConvBNReLU(in_channels, channels, 3, dilation=rate) for rate in rates),
                ASPPPooling(in_channels, channels),
            ]
        )
        self.project = ConvBNReLU(channels * len(self.branches), out, kernel_size=1)
        self.dropout = nn.Dropout(dropout)
        self.out_channels = out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = torch.cat([branch(x) for branch in self.branches], dim=1)
        return self.dropout(self.project(features))
