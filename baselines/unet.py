"""The study's UNet and its attention-gated variant (registered as ``unet``, ``unet-attention``).

Encoder: four double Conv-BN-ReLU blocks (``base_channels`` doubling per level, 32 ->
256 by default) each followed by a 2x2 max-pool, then a bottleneck block (512).
Decoder: ConvTranspose2d(k=3, s=2, p=1, output_padding=1) doubles the resolution and
halves the width, the result is padded to the skip's size (odd input sizes lose a row
or column to the floor of each max-pool), concatenated with the skip - optionally gated
by an :class:`~baselines.blocks.AttentionGate` - passed through dropout and a double
conv. A 1x1 conv gives raw logits at the input's H x W.
"""

from __future__ import annotations

import torch
from torch import nn

from baselines.blocks import AttentionGate, DoubleConv, pad_to
from baselines.errors import BaselineError

DEPTH = 4  # max-pool downsamplings; inputs must be at least 2**DEPTH pixels per side


class UNet(nn.Module):
    """UNet with ``DEPTH`` levels; ``attention=True`` gates every skip connection."""

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 3,
        base_channels: int = 32,
        dropout: float = 0.5,
        attention: bool = False,
    ) -> None:
        super().__init__()
        widths = [base_channels * 2**level for level in range(DEPTH + 1)]
        self.encoders = nn.ModuleList()
        previous = in_channels
        for width in widths[:-1]:
            self.encoders.append(DoubleConv(previous, width))
            previous = width
        self.pool = nn.MaxPool2d(kernel_size=2, stride=2)
        self.bottleneck = DoubleConv(widths[-2], widths[-1])
        # Decoder modules are stored from the coarsest level to the finest.
        levels = list(reversed(range(DEPTH)))
        self.ups = nn.ModuleList(
            nn.ConvTranspose2d(
                widths[i + 1], widths[i], kernel_size=3, stride=2, padding=1, output_padding=1
            )
            for i in levels
        )
        self.gates = (
            nn.ModuleList(AttentionGate(widths[i], widths[i + 1]) for i in levels)
            if attention
            else None
        )
        self.dropout = nn.Dropout(dropout)
        self.decoders = nn.ModuleList(DoubleConv(2 * widths[i], widths[i]) for i in levels)
        self.classifier = nn.Conv2d(widths[0], num_classes, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips: list[torch.Tensor] = []
        for encoder in self.encoders:
            x = encoder(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottleneck(x)
        for index, (up, decoder) in enumerate(zip(self.ups, self.decoders, strict=True)):
            skip = skips[-1 - index]
            if self.gates is not None:
                skip = self.gates[index](skip, x)  # gating signal: the coarser level
            x = pad_to(up(x), skip)
            x = self.dropout(torch.cat([x, skip], dim=1))
            x = decoder(x)
        return self.classifier(x)


# Upper bounds that keep a typo from allocating tens of GB: base_channels 128 is already a
# UNet of ~500M parameters (2 GB in fp32), 16x the study's.
MAX_OPTION = {"in_channels": 64, "base_channels": 128}


def _check_options(in_channels: int, base_channels: int, dropout: float) -> None:
    for name, value in (("in_channels", in_channels), ("base_channels", base_channels)):
        if type(value) is not int or not 1 <= value <= MAX_OPTION[name]:
            raise BaselineError(
                f"UNet option {name} must be an integer in 1..{MAX_OPTION[name]}, got {value!r}"
            )
    if not isinstance(dropout, int | float) or not 0.0 <= dropout < 1.0:
        raise BaselineError(f"UNet option dropout must be a number in [0, 1), got {dropout!r}")


def unet(
    *, num_classes: int, in_channels: int = 3, base_channels: int = 32, dropout: float = 0.5
) -> UNet:
    """The study's UNet (32 -> 512 channels by default; ``base_channels=8``: a tiny one)."""
    _check_options(in_channels, base_channels, dropout)
    return UNet(num_classes, in_channels, base_channels, dropout, attention=False)


def unet_attention(
    *, num_classes: int, in_channels: int = 3, base_channels: int = 32, dropout: float = 0.5
) -> UNet:
    """The UNet with an additive attention gate on every skip connection (Oktay et al. 2018)."""
    _check_options(in_channels, base_channels, dropout)
    return UNet(num_classes, in_channels, base_channels, dropout, attention=True)
