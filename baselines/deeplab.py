"""The study's "simplified DeepLabV3": a torchvision backbone, optional ASPP, a small head.

    logits = upsample_bilinear(classifier(head(ASPP(backbone(x)))), size=x's H x W)

- backbone: the convolutional part of resnet18 / vgg11_bn / mobilenet_v3_small at
  ``output_stride`` 32, 16 or 8 (see :mod:`baselines.backbones`);
- ASPP (``-aspp`` models): 1x1, three dilated 3x3 and an image-pooling branch of
  ``aspp_channels`` each, projected back to the backbone width, dropout;
- head: 3x3 Conv-BN-ReLU to ``head_channels`` (``None``: the backbone width) + 1x1
  classifier.

The default output stride is 16 (DeepLabV3's training setting, rates 6/12/18) with a
256-channel head. The study ran at output stride 32, rates 12/24/36 and a head as wide
as the backbone (that is what reproduces its MACs and checkpoint sizes):
:func:`study_preset` gives those options. docs/models.md explains the choice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from baselines.backbones import Backbone, build_backbone
from baselines.blocks import ASPP, ConvBNReLU
from baselines.catalog import FAMILIES, Family
from baselines.errors import BaselineError
from baselines.registry import canonical_name, model_options

# ASPP dilation rates scaled to the output stride (DeepLabV3: 6/12/18 at 16, doubled at 8).
DEFAULT_ASPP_RATES: dict[int, tuple[int, int, int]] = {
    32: (3, 6, 9),
    16: (6, 12, 18),
    8: (12, 24, 36),
}

# The study's ASPP rates: at output stride 32 and 256x256 crops their off-centre taps
# only ever see padding.
STUDY_ASPP_RATES = (12, 24, 36)


class DeepLab(nn.Module):
    """Backbone -> optional ASPP -> 3x3 Conv-BN-ReLU head -> 1x1 classifier -> upsample."""

    def __init__(
        self, backbone: Backbone, num_classes: int, *, aspp: ASPP | None, head_channels: int
    ) -> None:
        """``head_channels``: width of the 3x3 head conv (already resolved, not None)."""
        super().__init__()
        self.backbone = backbone
        self.aspp = aspp
        width = aspp.out_channels if aspp is not None else backbone.out_channels
        self.head = ConvBNReLU(width, head_channels, kernel_size=3)
        self.classifier = nn.Conv2d(head_channels, num_classes, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.backbone(x)
        if self.aspp is not None:
            features = self.aspp(features)
        logits = self.classifier(self.head(features))
        return F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)


def study_preset(name: str) -> dict[str, Any]:
    """Options that rebuild the study's version of DeepLab model ``name``.

    ``get_model(name, num_classes=8, **study_preset(name))``: output stride 32, a head as
    wide as the backbone and, for ``-aspp`` models, rates 12/24/36.
    """
    canonical = canonical_name(name)
    options = model_options(canonical)
    if "output_stride" not in options:
        raise BaselineError(f"model {canonical!r} is not a DeepLab model; no study preset")
    preset: dict[str, Any] = {"output_stride": 32, "head_channels": None}
    if "aspp_rates" in options:
        preset["aspp_rates"] = STUDY_ASPP_RATES
    return preset


MAX_CHANNELS = 4096  # head/ASPP width bound: a typo must not allocate tens of GB
MAX_RATE = 64  # largest ASPP dilation accepted


def _positive_int(name: str, value: object, limit: int = MAX_CHANNELS) -> int:
    if type(value) is not int or not 1 <= value <= limit:
        raise BaselineError(
            f"DeepLab option {name} must be an integer in 1..{limit}, got {value!r}"
        )
    return value


def resolve_aspp_rates(
    output_stride: int, aspp_rates: Sequence[int] | None
) -> tuple[int, int, int]:
    """The three ASPP dilations: as given, or the standard ones for ``output_stride``."""
    if aspp_rates is None:
        return DEFAULT_ASPP_RATES[output_stride]
    rates = tuple(aspp_rates) if isinstance(aspp_rates, list | tuple) else ()
    if len(rates) != 3 or any(type(rate) is not int or not 1 <= rate <= MAX_RATE for rate in rates):
        raise BaselineError(
            f"DeepLab option aspp_rates must be three integers in 1..{MAX_RATE} "
            f"(e.g. [6, 12, 18]), got {aspp_rates!r}"
        )
    return rates  # type: ignore[return-value]


def build_deeplab(
    backbone_name: str,
    *,
    num_classes: int,
    output_stride: int,
    head_channels: int | None,
    pretrained: bool,
    use_aspp: bool,
    aspp_rates: Sequence[int] | None = None,
    aspp_channels: int = 256,
    dropout: float = 0.5,
) -> DeepLab:
    """Assemble a :class:`DeepLab` on torchvision backbone ``backbone_name``."""
    if head_channels is not None:
        _positive_int("head_channels", head_channels)
    aspp: ASPP | None = None
    if use_aspp:  # check every option before the (possibly pretrained) backbone is built
        aspp_channels = _positive_int("aspp_channels", aspp_channels)
        if not isinstance(dropout, int | float) or not 0.0 <= dropout < 1.0:
            raise BaselineError(f"DeepLab option dropout must be in [0, 1), got {dropout!r}")
        if aspp_rates is not None:
            aspp_rates = resolve_aspp_rates(output_stride, aspp_rates)
    backbone = build_backbone(backbone_name, output_stride=output_stride, pretrained=pretrained)
    if use_aspp:
        rates = resolve_aspp_rates(output_stride, aspp_rates)
        aspp = ASPP(backbone.out_channels, rates, channels=aspp_channels, dropout=dropout)
    width = head_channels if head_channels is not None else backbone.out_channels
    return DeepLab(backbone, num_classes, aspp=aspp, head_channels=width)


def _backbone_choice(family: Family, backbone: str | None) -> str:
    if backbone is None:
        return family.backbones[0]
    if backbone not in family.backbones:
        raise BaselineError(
            f"DeepLab option backbone {backbone!r} is not offered by {family.stem}; "
            f"valid values: {', '.join(family.backbones)}"
        )
    return backbone


def _plain_builder(family: Family) -> Callable[..., DeepLab]:
    def build(
        *,
        num_classes: int,
        output_stride: int = 16,
        head_channels: int | None = 256,
        pretrained: bool = False,
        backbone: str | None = None,
    ) -> DeepLab:
        return build_deeplab(
            _backbone_choice(family, backbone),
            num_classes=num_classes,
            output_stride=output_stride,
            head_channels=head_channels,
            pretrained=pretrained,
            use_aspp=False,
        )

    build.__doc__ = f"DeepLab on {family.title} without ASPP."
    return build


def _aspp_builder(family: Family) -> Callable[..., DeepLab]:
    def build(
        *,
        num_classes: int,
        output_stride: int = 16,
        aspp_rates: Sequence[int] | None = None,
        aspp_channels: int = 256,
        head_channels: int | None = 256,
        dropout: float = 0.5,
        pretrained: bool = False,
        backbone: str | None = None,
    ) -> DeepLab:
        return build_deeplab(
            _backbone_choice(family, backbone),
            num_classes=num_classes,
            output_stride=output_stride,
            head_channels=head_channels,
            pretrained=pretrained,
            use_aspp=True,
            aspp_rates=aspp_rates,
            aspp_channels=aspp_channels,
            dropout=dropout,
        )

    build.__doc__ = f"DeepLab on {family.title} with ASPP."
    return build


# model name -> builder, for every family with and without ASPP (the catalogue's target).
DEEPLAB_BUILDERS: dict[str, Callable[..., DeepLab]] = {}
for _family in FAMILIES:
    DEEPLAB_BUILDERS[_family.stem] = _plain_builder(_family)
    DEEPLAB_BUILDERS[f"{_family.stem}-aspp"] = _aspp_builder(_family)
