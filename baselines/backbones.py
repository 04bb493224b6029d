"""Backbone adapters: the convolutional part of a torchvision classifier at a chosen output stride.

A :class:`Backbone` maps an image to one feature map with ``out_channels`` channels at
``1 / output_stride`` of the input resolution. Output stride 32 is the classifier as
published; 16 and 8 trade the last downsamplings for dilated convolutions (DeepLab's
"atrous" backbone), so the head sees a denser map at the cost of more MACs:

- resnet18: torchvision's ``replace_stride_with_dilation`` refuses BasicBlock, so the
  first block of layer4 (and layer3 for 8) gets stride 1 and every 3x3 conv after the
  removed stride gets dilation/padding 2 (4 for layer4 at 8), as torchvision does for
  Bottleneck (the first conv of a dilated layer keeps the previous dilation).
- vgg11_bn: the last max-pool (the last two for 8) becomes ``nn.Identity`` (module
  indices stay, so the published weights still load) and the convs after a removed pool
  are dilated by 2.
- mobilenet_v3_small: torchvision's ``dilated=True`` gives 16; 8 is not offered.
- mobilenetv4_conv_small / _medium: timm's feature extractor (its last stage), timm's
  ``output_stride`` dilating the later stages (imported only when such a model is built).

Pretrained weights are loaded into the torchvision model before it is changed:
strides and dilations do not change any parameter's shape.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import torch
import torchvision
from torch import nn
from torchvision.models import vgg

from baselines.errors import BaselineError
from baselines.pretrained import load_into


class Backbone(nn.Module):
    """A feature extractor with known width (``out_channels``) and ``output_stride``."""

    def __init__(self, body: nn.Module, *, name: str, out_channels: int, output_stride: int):
        super().__init__()
        self.body = body
        self.name = name
        self.out_channels = out_channels
        self.output_stride = output_stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def _dilate(conv: nn.Conv2d, dilation: int, *, stride: int | None = None) -> None:
    """Give a 3x3 conv ``dilation`` with matching "same" padding; optionally a new stride."""
    if stride is not None:
        conv.stride = (stride, stride)
    if conv.kernel_size != (1, 1):
        conv.dilation = (dilation, dilation)
        conv.padding = (dilation * (conv.kernel_size[0] // 2),) * 2


def _dilate_resnet_layer(layer: nn.Sequential, previous: int, dilation: int) -> None:
    """Remove ``layer``'s stride and dilate its BasicBlocks (first conv keeps ``previous``)."""
    first = layer[0]
    _dilate(first.conv1, previous, stride=1)
    if first.downsample is not None:
        first.downsample[0].stride = (1, 1)
    _dilate(first.conv2, dilation)
    for block in list(layer)[1:]:
        _dilate(block.conv1, dilation)
        _dilate(block.conv2, dilation)


def _resnet18(output_stride: int, pretrained: bool) -> Backbone:
    model = torchvision.models.resnet18(weights=None)
    if pretrained:
        load_into(model, torchvision.models.ResNet18_Weights.IMAGENET1K_V1)
    if output_stride == 8:
        _dilate_resnet_layer(model.layer3, previous=1, dilation=2)
        _dilate_resnet_layer(model.layer4, previous=2, dilation=4)
    elif output_stride == 16:
        _dilate_resnet_layer(model.layer4, previous=1, dilation=2)
    names = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")
    body = nn.Sequential(OrderedDict((name, getattr(model, name)) for name in names))
    return Backbone(body, name="resnet18", out_channels=512, output_stride=output_stride)


def _vgg11_bn(output_stride: int, pretrained: bool) -> Backbone:
    # Only the conv part: torchvision's full VGG would also allocate (and initialise) a
    # 120M-parameter classifier, seconds and 0.5 GB thrown away.
    features = vgg.make_layers(vgg.cfgs["A"], batch_norm=True)
    for module in features.modules():  # torchvision's VGG initialisation
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    if pretrained:
        load_into(features, torchvision.models.VGG11_BN_Weights.IMAGENET1K_V1, prefix="features.")
    pools = [i for i, layer in enumerate(features) if isinstance(layer, nn.MaxPool2d)]
    removed = {32: 0, 16: 1, 8: 2}[output_stride]
    removed_pools = set(pools[len(pools) - removed :])
    dilation = 1
    for index, layer in enumerate(features):
        if index in removed_pools:
            features[index] = nn.Identity()
            dilation *= 2
        elif isinstance(layer, nn.Conv2d) and dilation > 1:
            _dilate(layer, dilation)
    return Backbone(features, name="vgg11_bn", out_channels=512, output_stride=output_stride)


def _mobilenet_v3_small(output_stride: int, pretrained: bool) -> Backbone:
    model = torchvision.models.mobilenet_v3_small(weights=None, dilated=output_stride == 16)
    if pretrained:
        load_into(model, torchvision.models.MobileNet_V3_Small_Weights.IMAGENET1K_V1)
    return Backbone(
        model.features, name="mobilenet_v3_small", out_channels=576, output_stride=output_stride
    )


class LastFeature(nn.Module):
    """A timm feature extractor reduced to its last (deepest) feature map."""

    def __init__(self, features: nn.Module) -> None:
        super().__init__()
        self.features = features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)[-1]


def _timm_features(name: str) -> Callable[[int, bool], Backbone]:
    def build(output_stride: int, pretrained: bool) -> Backbone:
        try:
            import timm
        except ModuleNotFoundError:
            raise BaselineError(
                f"backbone {name} needs the timm package (pip install timm)"
            ) from None
        features = _create_timm(timm, name, output_stride=output_stride, pretrained=pretrained)
        width = features.feature_info.channels()[-1]
        return Backbone(
            LastFeature(features), name=name, out_channels=width, output_stride=output_stride
        )

    return build


def _create_timm(timm, name: str, *, output_stride: int, pretrained: bool) -> nn.Module:  # noqa: ANN001
    """timm's feature extractor; pretrained weights only from the local Hugging Face cache."""
    import os

    options = {"features_only": True, "out_indices": (-1,), "output_stride": output_stride}
    if not pretrained:
        return timm.create_model(name, pretrained=False, **options)
    previous = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"  # never download: read the local cache or fail
    try:
        return timm.create_model(name, pretrained=True, **options)
    except Exception as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:160]
        raise BaselineError(
            f"pretrained weights of timm's {name} are not in the local Hugging Face cache "
            f"($HF_HOME/hub) ({reason}); put them there or use pretrained=False"
        ) from None
    finally:
        if previous is None:
            del os.environ["HF_HUB_OFFLINE"]
        else:
            os.environ["HF_HUB_OFFLINE"] = previous


# backbone name -> (builder, output strides it supports)
_BACKBONES: dict[str, tuple[Callable[[int, bool], Backbone], tuple[int, ...]]] = {
    "resnet18": (_resnet18, (8, 16, 32)),
    "vgg11_bn": (_vgg11_bn, (8, 16, 32)),
    "mobilenet_v3_small": (_mobilenet_v3_small, (16, 32)),
    "mobilenetv4_conv_small": (_timm_features("mobilenetv4_conv_small"), (8, 16, 32)),
    "mobilenetv4_conv_medium": (_timm_features("mobilenetv4_conv_medium"), (8, 16, 32)),
}


def valid_output_strides(name: str) -> tuple[int, ...]:
    """The output strides backbone ``name`` supports."""
    return _BACKBONES[name][1]


def build_backbone(name: str, *, output_stride: int = 32, pretrained: bool = False) -> Backbone:
    """The convolutional part of torchvision's ``name`` at ``output_stride``.

    Raises:
        BaselineError: unknown backbone, or an output stride it cannot produce.
    """
    if name not in _BACKBONES:
        raise BaselineError(f"unknown backbone {name!r}; valid backbones: {', '.join(_BACKBONES)}")
    builder, strides = _BACKBONES[name]
    if type(output_stride) is not int or output_stride not in strides:
        valid = ", ".join(str(s) for s in strides)
        extra = (
            " (torchvision's MobileNetV3 dilates only its last stage)"
            if name == "mobilenet_v3_small" and output_stride == 8
            else ""
        )
        raise BaselineError(
            f"output_stride {output_stride!r} is not available for backbone {name}{extra}; "
            f"valid values: {valid}"
        )
    if not isinstance(pretrained, bool):
        raise BaselineError(f"pretrained must be true or false, got {pretrained!r}")
    return builder(output_stride, pretrained)
