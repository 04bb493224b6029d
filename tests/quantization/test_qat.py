"""QAT: BN folding, native fake-quant ops, and an ONNX export ORT runs like PyTorch does."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
import torch
from torch import nn

from baselines import get_model
from compress.data import SegmentationFolder
from compress.deploy.export import check_parity
from compress.measure.runtimes import OrtRunner
from compress.quantization.calibration import calibration_images
from compress.quantization.fake_quant import ActQuant, QuantConv
from compress.quantization.fold import fold_batchnorms
from compress.quantization.qat import (
    calibrate_qat,
    export_qat,
    mask_class_weights,
    prepare_qat,
    qat_loss,
    train_qat,
)
from compress.training.class_weights import class_weights, pixel_stats

# ORT int8 vs fake-quantized PyTorch: argmax agreement required on every test image
MIN_AGREEMENT = 0.99


@pytest.mark.parametrize(
    ("name", "options"),
    [("unet", {"base_channels": 8}), ("deeplab-resnet18-aspp", {"head_channels": 32})],
)
def test_fold_batchnorms_keeps_outputs_and_removes_bn(name: str, options: dict) -> None:
    torch.manual_seed(0)
    model = get_model(name, num_classes=8, **options).eval()
    for module in model.modules():  # non-trivial statistics, so a wrong fold would show
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    x = torch.randn(1, 3, 64, 64)
    folded, report = fold_batchnorms(model, x)
    assert report.folded and not report.unfolded_batchnorms
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules()), "original untouched"
    with torch.no_grad():
        torch.testing.assert_close(folded(x), model(x), rtol=1e-4, atol=1e-5)


def test_act_quant_observes_then_quantizes_on_the_int8_grid() -> None:
    quant = ActQuant()
    quant.observing = True
    quant(torch.tensor([-1.0, 3.0]))
    quant.observing = False
    scale, zero_point = quant.qparams()
    assert scale.item() == pytest.approx(4.0 / 255)
    out = quant.eval()(torch.linspace(-2, 5, 50))
    steps = (out / scale + zero_point).round()
    torch.testing.assert_close(out, (steps - zero_point) * scale)
    step = scale.item()  # the zero point is rounded, so the grid may shift by one step
    assert -1.0 - step <= out.min() < -1.0 + step and 3.0 - step < out.max() <= 3.0 + step


def test_prepare_qat_wraps_every_conv_and_keeps_logits_float() -> None:
    torch.manual_seed(0)
    model = get_model("unet", num_classes=8, base_channels=8).eval()
    convs = sum(isinstance(m, nn.Conv2d | nn.ConvTranspose2d) for m in model.modules())
    qmodel, _ = prepare_qat(model, torch.randn(1, 3, 64, 64), reduce_range=True)
    wrapped = [m for m in qmodel.modules() if isinstance(m, QuantConv)]
    assert len(wrapped) == convs
    assert sum(isinstance(m.output_quant, nn.Identity) for m in wrapped) == 1
    assert all(m.qmax == 63 for m in wrapped)


def test_qat_one_epoch_exports_int8_that_matches_pytorch(
    trained_unet: nn.Module, tiny_data: Path, tmp_path: Path
) -> None:
    train = SegmentationFolder(tiny_data, "train")
    images = [x for _, x in calibration_images(train, 3)]
    qmodel, _ = prepare_qat(trained_unet, images[0], reduce_range=True)
    assert calibrate_qat(qmodel, images) == 3
    before = {k: v.clone() for k, v in qmodel.state_dict().items()}
    losses = train_qat(qmodel, tiny_data, epochs=1, batch_size=2, crop=64, lr=1e-3)
    assert len(losses) == 1 and losses[0] > 0
    changed = [k for k, v in qmodel.state_dict().items() if not torch.equal(v, before[k])]
    assert any(k.endswith("conv.weight") for k in changed)
    assert any(k.endswith("max_val") for k in changed), "EMA ranges must move in training"

    path = export_qat(qmodel, tmp_path / "qat.int8.onnx", input_size=(64, 64))
    proto = onnx.load(str(path))
    int8 = {t.name for t in proto.graph.initializer if t.data_type == onnx.TensorProto.INT8}
    dequant_weights = [
        n for n in proto.graph.node if n.op_type == "DequantizeLinear" and n.input[0] in int8
    ]
    convs = [n for n in proto.graph.node if n.op_type in ("Conv", "ConvTranspose")]
    assert len(dequant_weights) == len(convs), "every conv weight is stored as int8"
    assert not any(
        t.data_type == onnx.TensorProto.FLOAT and len(t.dims) == 4 for t in proto.graph.initializer
    ), "no fp32 copy of a conv weight is left"

    test = SegmentationFolder(tiny_data, "test")
    report = check_parity(
        qmodel, path, [test[i][0] for i in range(len(test))] + images, min_agreement=MIN_AGREEMENT
    )
    assert report.agreement >= MIN_AGREEMENT
    logits = OrtRunner(path, threads=1)(torch.randn(1, 3, 96, 80))  # dynamic axes survive
    assert logits.shape == (1, 8, 96, 80)


def test_uint8_and_int8_activations_are_the_same_grid() -> None:
    signed, unsigned = ActQuant(activations="int8"), ActQuant(activations="uint8")
    for quant in (signed, unsigned):
        quant.observing = True
        quant(torch.tensor([-1.0, 3.0]))
        quant.observing = False
    x = torch.linspace(-2, 5, 101)
    torch.testing.assert_close(signed.eval()(x), unsigned.eval()(x))
    assert unsigned.qparams()[1].item() == signed.qparams()[1].item() + 128
    with pytest.raises(ValueError, match="activations"):
        ActQuant(activations="int4")


def test_uint8_activations_export_as_uint8_and_match_pytorch(
    trained_unet: nn.Module, tiny_data: Path, tmp_path: Path
) -> None:
    """x86 ONNX Runtime runs u8 activations x s8 weights fastest; QAT exports that format."""
    images = [x for _, x in calibration_images(SegmentationFolder(tiny_data, "train"), 3)]
    qmodel, _ = prepare_qat(trained_unet, images[0], reduce_range=True, activations="uint8")
    calibrate_qat(qmodel, images)
    path = export_qat(qmodel, tmp_path / "qat-u8.int8.onnx", input_size=(64, 64))
    proto = onnx.load(str(path))
    types = {t.name: t.data_type for t in proto.graph.initializer}
    aliases = {n.output[0]: n.input[0] for n in proto.graph.node if n.op_type == "Identity"}
    for node in proto.graph.node:  # Constant nodes may hold them instead of initializers
        if node.op_type == "Constant":
            types[node.output[0]] = node.attribute[0].t.data_type

    def type_of(name: str) -> int:
        while name in aliases:  # the exporter shares equal constants through Identity nodes
            name = aliases[name]
        return types[name]

    activation_types = {
        type_of(n.input[2]) for n in proto.graph.node if n.op_type == "QuantizeLinear"
    }
    assert activation_types == {onnx.TensorProto.UINT8}
    report = check_parity(qmodel, path, images, min_agreement=MIN_AGREEMENT)
    assert report.agreement >= MIN_AGREEMENT


def test_qat_trains_with_the_loss_and_median_frequency_weights(
    trained_unet: nn.Module, tiny_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import compress.training.label_losses as label_losses

    seen: dict = {}
    real = label_losses.label_loss

    def spy(name: str, ignore_index: int, weight: torch.Tensor | None = None):  # noqa: ANN202
        seen.update(name=name, weight=weight)
        return real(name, ignore_index, weight)

    monkeypatch.setattr(label_losses, "label_loss", spy)
    train = SegmentationFolder(tiny_data, "train")
    criterion, weights = qat_loss(tiny_data, loss="ce+dice", class_weights="median-frequency")
    expected, _ = class_weights(pixel_stats(train), "median-frequency")
    assert seen["name"] == "ce+dice" and weights["weights"] == expected
    assert seen["weight"].tolist() == pytest.approx(expected)
    assert len(set(expected)) > 1, "the weights differ per class"

    calls = []

    def counted(logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        calls.append(len(masks))
        return criterion(logits, masks)

    images = [x for _, x in calibration_images(train, 2)]
    qmodel, _ = prepare_qat(trained_unet, images[0], reduce_range=True)
    calibrate_qat(qmodel, images)
    losses = train_qat(qmodel, tiny_data, epochs=1, batch_size=4, crop=64, criterion=counted)
    assert calls and len(losses) == 1 and losses[0] > 0


def test_class_weights_from_batches_match_those_from_the_folder(tiny_data: Path) -> None:
    """The Python API's train_data gives the same weights as the train folder's masks."""
    train = SegmentationFolder(tiny_data, "train")
    batches = [(train[i][0][None], train[i][1][None]) for i in range(len(train))]
    info = train.info
    got = mask_class_weights(batches, info.num_classes, info.ignore_index, "median-frequency")
    assert got["weights"] == class_weights(pixel_stats(train), "median-frequency")[0]
    assert mask_class_weights(batches, info.num_classes, info.ignore_index, "none") is None
