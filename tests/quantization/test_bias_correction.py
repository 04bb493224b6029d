"""Bias correction against its definition: no mean output error per channel is left."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from compress.quantization.bias_correction import correct_biases, quantize_weight


def _model() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False),
        nn.ReLU(),
        nn.Conv2d(8, 6, 1),
    ).eval()
    with torch.no_grad():  # outlier channels: coarse scales, so real quantization error
        for m in model:
            if isinstance(m, nn.Conv2d):
                m.weight.mul_(torch.rand_like(m.weight) ** 3 * 5)
    return model


def _inputs(model: nn.Module, images: list[torch.Tensor]) -> dict[str, list[torch.Tensor]]:
    """Every conv's float input on ``images``."""
    seen: dict[str, list[torch.Tensor]] = {}
    handles = [
        m.register_forward_pre_hook(lambda _m, i, n=n: seen.setdefault(n, []).append(i[0]))
        for n, m in model.named_modules()
        if isinstance(m, nn.Conv2d)
    ]
    with torch.no_grad():
        for image in images:
            model(image)
    for handle in handles:
        handle.remove()
    return seen


def _mean_errors(
    float_model: nn.Module, model: nn.Module, inputs: dict[str, list[torch.Tensor]], rr: bool
) -> dict[str, torch.Tensor]:
    """Per conv and channel: mean over images and positions of the weight-quantized layer
    of ``model`` minus the float layer of ``float_model``, on the same float inputs."""
    errors = {}
    for name, xs in inputs.items():
        ref, layer = float_model.get_submodule(name), model.get_submodule(name)
        wq = quantize_weight(layer.weight, reduce_range=rr)
        with torch.no_grad():
            diffs = [
                (layer._conv_forward(x, wq, layer.bias) - ref(x)).double().mean(dim=(0, 2, 3))
                for x in xs
            ]
        errors[name] = torch.stack(diffs).mean(0)  # images share one size: equal weights
    return errors


@pytest.mark.parametrize("reduce_range", [False, True])
def test_corrected_layers_have_no_mean_error(reduce_range: bool) -> None:
    model = _model()
    torch.manual_seed(1)
    images = [torch.randn(1, 3, 16, 16) + 0.5 for _ in range(6)]
    inputs = _inputs(model, images)
    before = _mean_errors(model, model, inputs, reduce_range)
    corrected = copy.deepcopy(model)
    report = correct_biases(corrected, images, reduce_range=reduce_range)
    after = _mean_errors(model, corrected, inputs, reduce_range)
    assert report.layers == ["0", "2", "4"] and report.images == 6
    assert corrected[2].bias is not None  # created where there was none
    for name in inputs:
        scale = before[name].abs().max()
        assert scale > 1e-3, name  # there was an error to correct
        assert after[name].abs().max() <= 1e-5 * scale, name
    assert report.mean_abs_shift > 0 and report.weight_qmax == (64 if reduce_range else 127)


def test_skipped_layers_keep_their_bias() -> None:
    model = _model()
    bias = model[4].bias.clone()
    report = correct_biases(model, [torch.randn(1, 3, 8, 8)], skip=["4"])
    assert "4" not in report.layers and torch.equal(model[4].bias, bias)


@pytest.mark.parametrize("reduce_range", [False, True])
def test_weights_are_quantized_as_onnx_runtime_quantizes_them(
    reduce_range: bool, tmp_path: Path
) -> None:
    """ONNX Runtime's own QDQ file holds exactly the weights ``quantize_weight`` simulates."""
    import onnx
    from onnx import numpy_helper

    from compress.deploy.export import export_onnx
    from compress.quantization.calibration import TensorCalibrationReader
    from compress.quantization.ptq import quantize_onnx

    torch.manual_seed(3)
    conv = nn.Conv2d(3, 5, 3, padding=1)
    with torch.no_grad():
        conv.weight.mul_(torch.rand(5, 1, 1, 1) * 3)
    fp32 = export_onnx(nn.Sequential(conv).eval(), tmp_path / "c.onnx", input_size=(8, 8))
    reader = TensorCalibrationReader([torch.randn(3, 8, 8)], 1)
    proto = onnx.load(
        str(quantize_onnx(fp32, tmp_path / "q.onnx", reader, reduce_range=reduce_range).path)
    )
    initializers = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    (node,) = [
        n
        for n in proto.graph.node
        if n.op_type == "DequantizeLinear" and initializers.get(n.input[0], np.zeros(0)).ndim == 4
    ]
    q, scale = initializers[node.input[0]], initializers[node.input[1]]
    expected = q.astype(np.float32) * scale.reshape(-1, 1, 1, 1).astype(np.float32)
    ours = quantize_weight(conv.weight, reduce_range=reduce_range).numpy()
    assert np.abs(q).max() == (64 if reduce_range else 127)
    assert np.array_equal(ours, expected)
