"""The DeepLab family: output strides, ASPP rates, the study preset, option errors."""

from __future__ import annotations

import pytest
import torch

from baselines import get_model, model_options
from baselines.backbones import build_backbone, valid_output_strides
from baselines.deeplab import DEFAULT_ASPP_RATES, STUDY_ASPP_RATES, study_preset
from baselines.errors import BaselineError

BACKBONES = {
    "resnet18": ("deeplab-resnet18", 512),
    "vgg11_bn": ("deeplab-vgg11", 512),
    "mobilenet_v3_small": ("deeplab-mobilenetv3", 576),
}
ASPP_MODELS = ["deeplab-resnet18-aspp", "deeplab-vgg11-aspp", "deeplab-mobilenetv3-aspp"]
STRIDE_CASES = [(name, s) for name in BACKBONES for s in valid_output_strides(name)]


@pytest.mark.parametrize(("backbone", "output_stride"), STRIDE_CASES)
def test_output_stride_gives_the_feature_map_size(backbone: str, output_stride: int) -> None:
    net = build_backbone(backbone, output_stride=output_stride).eval()
    with torch.no_grad():
        features = net(torch.zeros(1, 3, 64, 96))
    assert features.shape == (1, BACKBONES[backbone][1], 64 // output_stride, 96 // output_stride)
    assert net.output_stride == output_stride and net.out_channels == features.shape[1]


@pytest.mark.parametrize("backbone", list(BACKBONES))
def test_output_stride_never_changes_parameter_names_or_shapes(backbone: str) -> None:
    """Pretrained weights and checkpoints must load whatever the stride."""
    shapes = [
        {k: v.shape for k, v in build_backbone(backbone, output_stride=s).state_dict().items()}
        for s in valid_output_strides(backbone)
    ]
    assert all(s == shapes[0] for s in shapes)


def test_resnet_dilation_follows_deeplab() -> None:
    body = build_backbone("resnet18", output_stride=8).body
    assert body.layer3[0].conv1.stride == (1, 1) and body.layer3[0].downsample[0].stride == (1, 1)
    assert body.layer3[0].conv1.dilation == (1, 1)  # first conv keeps the previous dilation
    assert body.layer3[1].conv2.dilation == (2, 2) and body.layer3[1].conv2.padding == (2, 2)
    assert body.layer4[0].conv1.dilation == (2, 2)
    assert body.layer4[1].conv2.dilation == (4, 4)


def test_vgg_os8_drops_two_pools_and_dilates_the_last_block() -> None:
    features = build_backbone("vgg11_bn", output_stride=8).body
    assert sum(isinstance(m, torch.nn.MaxPool2d) for m in features) == 3
    assert [m.dilation for m in features if isinstance(m, torch.nn.Conv2d)][-2:] == [(2, 2)] * 2


def test_mobilenet_has_no_output_stride_8() -> None:
    with pytest.raises(BaselineError, match=r"output_stride 8 .*mobilenet.*valid values: 16, 32"):
        get_model("deeplab-mobilenetv3-aspp", num_classes=3, output_stride=8)


@pytest.mark.parametrize("bad", [4, 64, 16.0, "16", None])
def test_invalid_output_stride_names_the_valid_values(bad: object) -> None:
    with pytest.raises(BaselineError, match="valid values: 8, 16, 32"):
        get_model("deeplab-resnet18", num_classes=3, output_stride=bad)


@pytest.mark.parametrize("output_stride", [8, 16, 32])
def test_aspp_rates_default_to_the_standard_ones_for_the_stride(output_stride: int) -> None:
    model = get_model("deeplab-vgg11-aspp", num_classes=3, output_stride=output_stride)
    assert model.aspp.rates == DEFAULT_ASPP_RATES[output_stride]
    assert [b[0].dilation[0] for b in model.aspp.branches[1:4]] == list(
        DEFAULT_ASPP_RATES[output_stride]
    )


def test_default_output_stride_is_16() -> None:
    for name in [*ASPP_MODELS, *(n for n, _ in BACKBONES.values())]:
        assert model_options(name)["output_stride"] == 16
    assert DEFAULT_ASPP_RATES[16] == (6, 12, 18)


def test_explicit_aspp_rates_and_widths_are_used() -> None:
    model = get_model(
        "resnet18", num_classes=3, aspp_rates=[2, 3, 4], aspp_channels=16, head_channels=24
    )
    assert model.aspp.rates == (2, 3, 4)
    assert model.aspp.branches[0][0].out_channels == 16
    assert model.aspp.out_channels == 512  # projected back to the backbone width
    assert model.head[0].out_channels == 24 and model.classifier.in_channels == 24


@pytest.mark.parametrize("bad", [(6, 12), (6, 12, 0), "6,12,18", (6, 12, 18.5)])
def test_invalid_aspp_rates_are_user_errors(bad: object) -> None:
    with pytest.raises(BaselineError, match="aspp_rates must be three integers in 1..64"):
        get_model("vgg", num_classes=3, aspp_rates=bad)


@pytest.mark.parametrize(
    ("option", "value"), [("head_channels", 0), ("aspp_channels", -1), ("dropout", 2.0)]
)
def test_invalid_widths_and_dropout_are_user_errors(option: str, value: object) -> None:
    with pytest.raises(BaselineError, match=option):
        get_model("mobilenet", num_classes=3, **{option: value})


@pytest.mark.parametrize("name", [*ASPP_MODELS, "deeplab-vgg11"])
def test_study_preset_rebuilds_the_study_configuration(name: str) -> None:
    model = get_model(name, num_classes=8, **study_preset(name))
    assert model.backbone.output_stride == 32
    assert model.head[0].out_channels == model.backbone.out_channels
    if model.aspp is not None:
        assert model.aspp.rates == STUDY_ASPP_RATES
    assert (study_preset(name).get("aspp_rates") is not None) == name.endswith("-aspp")


def test_study_preset_is_only_for_deeplab_models() -> None:
    with pytest.raises(BaselineError, match="not a DeepLab model"):
        study_preset("unet")


def test_upsampling_is_bilinear_to_the_input_size() -> None:
    model = get_model("deeplab-mobilenetv3", num_classes=2, output_stride=32).eval()
    with torch.no_grad():
        logits = model(torch.randn(1, 3, 65, 97))
    assert logits.shape == (1, 2, 65, 97)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"head_channels": 100_000}, "head_channels must be an integer in 1..4096"),
        ({"aspp_channels": 0}, "aspp_channels must be an integer in 1..4096"),
        ({"aspp_rates": [6, 12, 1000]}, "aspp_rates must be three integers in 1..64"),
    ],
)
def test_option_bounds_refuse_before_anything_is_allocated(options: dict, message: str) -> None:
    from baselines import get_model

    with pytest.raises(BaselineError, match=message):
        get_model("deeplab-resnet18-aspp", num_classes=3, **options)
