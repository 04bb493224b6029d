"""The UNet family: the study's widths, odd input sizes, options, ONNX with dynamic H x W."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

from baselines import get_model
from baselines.blocks import AttentionGate
from baselines.errors import BaselineError


def test_default_unet_follows_the_study() -> None:
    model = get_model("unet", num_classes=8)
    assert [enc[0][0].out_channels for enc in model.encoders] == [32, 64, 128, 256]
    assert model.bottleneck[1][0].out_channels == 512
    for up in model.ups:
        assert isinstance(up, nn.ConvTranspose2d)
        assert (up.kernel_size, up.stride, up.padding, up.output_padding) == (
            (3, 3),
            (2, 2),
            (1, 1),
            (1, 1),
        )
    assert model.dropout.p == 0.5
    assert model.classifier.kernel_size == (1, 1) and model.classifier.out_channels == 8
    assert model.gates is None


def test_attention_unet_gates_every_skip() -> None:
    model = get_model("unet-attention", num_classes=3, base_channels=8)
    assert len(model.gates) == 4
    assert all(isinstance(gate, AttentionGate) for gate in model.gates)
    assert sum(isinstance(m, AttentionGate) for m in model.modules()) == 4


@pytest.mark.parametrize("name", ["unet", "unet-attention"])
@pytest.mark.parametrize("size", [(32, 32), (33, 47), (48, 35)])
def test_any_size_from_32_gives_logits_at_that_size(name: str, size: tuple[int, int]) -> None:
    model = get_model(name, num_classes=4, base_channels=8, in_channels=1).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 1, *size)).shape == (1, 4, *size)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("base_channels", 0),
        ("base_channels", 2.0),
        ("base_channels", 4096),
        ("in_channels", -3),
        ("in_channels", 65),
        ("dropout", 1.0),
    ],
)
def test_invalid_options_are_user_errors(option: str, value: object) -> None:
    with pytest.raises(BaselineError, match=option):
        get_model("unet", num_classes=2, **{option: value})


def test_dropout_option_reaches_the_model() -> None:
    assert get_model("unet-attention", num_classes=2, base_channels=8, dropout=0.1).dropout.p == 0.1


@pytest.mark.slow
@pytest.mark.parametrize("name", ["unet", "unet-attention"])
def test_onnx_export_follows_dynamic_height_and_width(name: str, tmp_path: Path) -> None:
    """The skip padding must come from tensor shapes, or the exported graph fixes one size."""
    ort = pytest.importorskip("onnxruntime")
    model = get_model(name, num_classes=3, base_channels=8).eval()
    path = tmp_path / "model.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (torch.randn(1, 3, 64, 64),),
            str(path),
            dynamo=False,
            input_names=["image"],
            output_names=["logits"],
            dynamic_axes={"image": {2: "height", 3: "width"}, "logits": {2: "height", 3: "width"}},
        )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for size in [(64, 64), (33, 47)]:
        image = torch.randn(1, 3, *size)
        (logits,) = session.run(None, {"image": image.numpy()})
        with torch.no_grad():
            expected = model(image)
        assert logits.shape == (1, 3, *size)
        torch.testing.assert_close(torch.from_numpy(logits), expected, atol=1e-4, rtol=1e-4)
