"""torchvision's fast segmentation models as registered models that return logits.

``lraspp-mobilenetv3-large``, ``deeplabv3-mobilenetv3-large`` and ``fcn-resnet50`` are
torchvision's own modules (same parameter names, so torchvision's published weights
load into them) whose ``forward`` returns the ``"out"`` logits tensor instead of a
dict, like every other model here. They start from random weights;
``pretrained=True`` puts torchvision's ImageNet backbone into them from the local torch
hub cache (never downloaded; see :mod:`baselines.pretrained`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torchvision.models import MobileNet_V3_Large_Weights, ResNet50_Weights, segmentation
from torchvision.models.segmentation.deeplabv3 import DeepLabV3
from torchvision.models.segmentation.fcn import FCN
from torchvision.models.segmentation.lraspp import LRASPP

from baselines.errors import BaselineError
from baselines.pretrained import load_into


class LRASPPLogits(LRASPP):
    """torchvision's LR-ASPP returning the logits tensor."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return super().forward(x)["out"]


class DeepLabV3Logits(DeepLabV3):
    """torchvision's DeepLabV3 returning the logits tensor."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return super().forward(x)["out"]


class FCNLogits(FCN):
    """torchvision's FCN returning the logits tensor."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return super().forward(x)["out"]


def _build(
    builder: Callable[..., nn.Module],
    logits_class: type[nn.Module],
    backbone_weights: Any,
    *,
    num_classes: int,
    pretrained: bool,
    prefix: str,
    exclude: tuple[str, ...],
) -> nn.Module:
    if not isinstance(pretrained, bool):
        raise BaselineError(f"pretrained must be true or false, got {pretrained!r}")
    model = builder(weights=None, weights_backbone=None, num_classes=num_classes)
    if pretrained:
        load_into(model.backbone, backbone_weights, prefix=prefix, exclude=exclude)
    model.__class__ = logits_class  # the same module, answering with its logits
    return model


def lraspp_mobilenetv3_large(*, num_classes: int, pretrained: bool = False) -> nn.Module:
    """torchvision LR-ASPP on MobileNetV3-large (output stride 16, 8x low-level branch)."""
    return _build(
        segmentation.lraspp_mobilenet_v3_large,
        LRASPPLogits,
        MobileNet_V3_Large_Weights.IMAGENET1K_V1,
        num_classes=num_classes,
        pretrained=pretrained,
        prefix="features.",
        exclude=(),
    )


def deeplabv3_mobilenetv3_large(*, num_classes: int, pretrained: bool = False) -> nn.Module:
    """torchvision DeepLabV3 (ASPP head) on MobileNetV3-large at output stride 16."""
    return _build(
        segmentation.deeplabv3_mobilenet_v3_large,
        DeepLabV3Logits,
        MobileNet_V3_Large_Weights.IMAGENET1K_V1,
        num_classes=num_classes,
        pretrained=pretrained,
        prefix="features.",
        exclude=(),
    )


def fcn_resnet50(*, num_classes: int, pretrained: bool = False) -> nn.Module:
    """torchvision FCN on ResNet-50 at output stride 8."""
    return _build(
        segmentation.fcn_resnet50,
        FCNLogits,
        ResNet50_Weights.IMAGENET1K_V1,
        num_classes=num_classes,
        pretrained=pretrained,
        prefix="",
        exclude=("fc.",),
    )


TORCHVISION_BUILDERS: dict[str, Callable[..., nn.Module]] = {
    "lraspp-mobilenetv3-large": lraspp_mobilenetv3_large,
    "deeplabv3-mobilenetv3-large": deeplabv3_mobilenetv3_large,
    "fcn-resnet50": fcn_resnet50,
}
