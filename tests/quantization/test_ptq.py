"""PTQ: every registered model quantizes to a QDQ int8 ONNX file that ONNX Runtime runs."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
import torch
from torch import nn

from baselines import get_model, list_models, model_options
from compress.core.errors import CompressError
from compress.core.onnx_files import read_metadata
from compress.data import SegmentationFolder
from compress.deploy.export import export_onnx
from compress.measure.runtimes import OrtRunner
from compress.quantization.calibration import ImageCalibrationReader
from compress.quantization.ptq import module_path, quantize_onnx, resolve_keep_fp32

# int8 vs fp32 argmax agreement required of the briefly trained tiny UNet (see below)
MIN_AGREEMENT = 0.95


def _small(name: str) -> dict[str, int]:
    if name.startswith("unet"):
        return {"base_channels": 8}
    return {"head_channels": 32} if "head_channels" in model_options(name) else {}


def _export(model: nn.Module, path: Path) -> Path:
    return export_onnx(model.eval(), path, input_size=(64, 64), metadata={"num_classes": 8})


# The DeepLab variants take 4-8 s each on 2 shared cores: marked slow, still run in CI.
ALL_MODELS = [
    pytest.param(name, marks=pytest.mark.slow) if not name.startswith("unet") else name
    for name in list_models()
]


@pytest.mark.parametrize("name", ALL_MODELS)
def test_every_registered_model_quantizes_and_runs(
    name: str, tiny_data: Path, tmp_path: Path
) -> None:
    torch.manual_seed(0)
    fp32 = _export(get_model(name, num_classes=8, **_small(name)), tmp_path / "m.onnx")
    reader = ImageCalibrationReader(SegmentationFolder(tiny_data, "train"), 2)
    outcome = quantize_onnx(fp32, tmp_path / "m.int8.onnx", reader, reduce_range=True)
    proto = onnx.load(str(outcome.path))
    ops = {node.op_type for node in proto.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    int8_weights = [t for t in proto.graph.initializer if t.data_type == onnx.TensorProto.INT8]
    assert int8_weights, "weights must be stored as int8"
    assert outcome.path.stat().st_size < 0.5 * fp32.stat().st_size
    assert read_metadata(outcome.path)["quantization"]["per_channel"] is True
    logits = OrtRunner(outcome.path, threads=1)(torch.randn(1, 3, 64, 64))
    assert logits.shape == (1, 8, 64, 64) and torch.isfinite(logits).all()


def test_int8_agrees_with_fp32_on_a_trained_model(
    trained_unet: nn.Module, tiny_data: Path, tmp_path: Path
) -> None:
    """A trained tiny UNet keeps >= 95% of its pixel decisions after PTQ (MinMax, 4 images)."""
    fp32 = _export(trained_unet, tmp_path / "m.onnx")
    reader = ImageCalibrationReader(SegmentationFolder(tiny_data, "train"), 4)
    int8 = quantize_onnx(fp32, tmp_path / "m.int8.onnx", reader, reduce_range=True).path
    a, b = OrtRunner(fp32, threads=1), OrtRunner(int8, threads=1)
    same = total = 0
    for split in ("val", "test"):
        dataset = SegmentationFolder(tiny_data, split)
        for index in range(len(dataset)):
            image = dataset[index][0][None]
            same += int((a(image).argmax(1) == b(image).argmax(1)).sum())
            total += image.shape[-1] * image.shape[-2]
    assert same / total >= MIN_AGREEMENT


def test_module_paths_from_onnx_node_names() -> None:
    assert (
        module_path("/backbone/body/layer1/layer1.0/conv1/Conv") == "backbone.body.layer1.0.conv1"
    )
    assert module_path("/encoders.0/encoders.0.0/encoders.0.0.0/Conv") == "encoders.0.0.0"
    assert module_path("/classifier/Conv") == "classifier"
    assert module_path("Conv_12") == ""


def test_keep_fp32_excludes_the_named_layers(
    trained_unet: nn.Module, tiny_data: Path, tmp_path: Path
) -> None:
    fp32 = _export(trained_unet, tmp_path / "m.onnx")
    proto = onnx.load(str(fp32))
    convs = [n.name for n in proto.graph.node if n.op_type == "Conv"]
    head = module_path(convs[-1])
    reader = ImageCalibrationReader(SegmentationFolder(tiny_data, "train"), 2)
    outcome = quantize_onnx(
        fp32, tmp_path / "k.int8.onnx", reader, keep_fp32=[head, convs[0]], reduce_range=False
    )
    assert set(outcome.excluded_nodes) >= {convs[0], convs[-1]}
    quantized = onnx.load(str(outcome.path))
    producers = {o: n for n in quantized.graph.node for o in n.output}
    for node in quantized.graph.node:
        if node.name in (convs[0], convs[-1]):
            weight = producers.get(node.input[1])
            assert weight is None or weight.op_type != "DequantizeLinear", node.name


def test_keep_fp32_unknown_name_is_a_one_line_error(tmp_path: Path) -> None:
    fp32 = _export(get_model("unet", num_classes=8, base_channels=8), tmp_path / "m.onnx")
    with pytest.raises(CompressError, match="'no.such.layer' matches no node") as caught:
        resolve_keep_fp32(onnx.load(str(fp32)), ["no.such.layer"])
    assert "\n" not in str(caught.value)


def test_bad_inputs_are_compress_errors(tiny_data: Path, tmp_path: Path) -> None:
    reader = ImageCalibrationReader(SegmentationFolder(tiny_data, "train"), 1)
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07not a protobuf at all")
    with pytest.raises(CompressError, match="not a valid ONNX model"):
        quantize_onnx(corrupt, tmp_path / "o.onnx", reader)
    fp32 = _export(get_model("unet", num_classes=8, base_channels=8), tmp_path / "m.onnx")
    with pytest.raises(CompressError, match="unknown calibration method 'kl'"):
        quantize_onnx(fp32, tmp_path / "o.onnx", reader, calibration="kl")
    assert not (tmp_path / "o.onnx").exists()


@pytest.mark.parametrize("method", ["entropy", "percentile"])
def test_histogram_calibrations(method: str, tiny_data: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    fp32 = _export(get_model("unet", num_classes=8, base_channels=8), tmp_path / "m.onnx")
    reader = ImageCalibrationReader(SegmentationFolder(tiny_data, "train"), 3)
    outcome = quantize_onnx(fp32, tmp_path / "m.int8.onnx", reader, calibration=method)
    assert outcome.options["calibrate_method"].lower() == method
    assert OrtRunner(outcome.path, threads=1)(torch.randn(1, 3, 64, 64)).shape == (1, 8, 64, 64)


def test_pre_processing_leaves_no_files_in_the_working_directory(tmp_path, monkeypatch) -> None:
    """ORT dumps sym_shape_infer_temp.onnx + <uuid>.data into the cwd when symbolic shape
    inference fails (it does on the UNet's size-dependent padding)."""
    from baselines import get_model
    from compress.deploy.export import export_onnx
    from compress.quantization.ptq import _pre_process

    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    source = export_onnx(
        get_model("unet", num_classes=3, base_channels=8).eval(),
        tmp_path / "unet.onnx",
        input_size=(64, 64),
    )
    _pre_process(source, tmp_path / "pre.onnx")
    assert (tmp_path / "pre.onnx").is_file()
    assert list(work.iterdir()) == []


def test_activation_type_reaches_the_quantized_graph(tmp_path) -> None:
    """u8 activations give uint8 QuantizeLinear zero points; s8 give int8."""
    import onnx

    from baselines import get_model
    from compress.deploy.export import export_onnx
    from compress.quantization.ptq import quantize_onnx

    source = export_onnx(
        get_model("unet", num_classes=3, base_channels=8).eval(),
        tmp_path / "unet.onnx",
        input_size=(32, 32),
    )

    class Reader:
        def __init__(self) -> None:
            import numpy as np

            rng = np.random.default_rng(0)
            self.items = [{"image": rng.standard_normal((1, 3, 32, 32), dtype=np.float32)}]

        def get_next(self):
            return self.items.pop() if self.items else None

        def __len__(self) -> int:
            return 1

    for activations, elem in (("uint8", onnx.TensorProto.UINT8), ("int8", onnx.TensorProto.INT8)):
        out = tmp_path / f"{activations}.onnx"
        quantize_onnx(source, out, Reader(), activations=activations)
        graph = onnx.load(str(out)).graph
        zero_points = {init.name: init.data_type for init in graph.initializer}
        inputs = [n for n in graph.node if n.op_type == "QuantizeLinear"]
        assert inputs and zero_points[inputs[0].input[2]] == elem
