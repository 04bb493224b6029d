"""The lean MinMax pass gives ONNX Runtime's MinMaxCalibrater's ranges, and the same int8 file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

from baselines import get_model
from compress.data import SegmentationFolder
from compress.deploy.export import export_onnx
from compress.quantization.calibration import ImageCalibrationReader
from compress.quantization.lean_calibration import (
    collect_minmax,
    quantized_op_types,
    relu_outputs,
)
from compress.quantization.ptq import _pre_process, quantize_onnx


@pytest.fixture(scope="module")
def preprocessed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny UNet exported and run through ONNX Runtime's quantization pre-processing."""
    folder = tmp_path_factory.mktemp("lean")
    torch.manual_seed(0)
    model = get_model("unet", num_classes=8, base_channels=8).eval()
    fp32 = export_onnx(model, folder / "m.onnx", input_size=(64, 64), metadata={"x": 1})
    _pre_process(fp32, folder / "pre.onnx")
    return folder / "pre.onnx"


def _reader(data: Path, count: int) -> ImageCalibrationReader:
    return ImageCalibrationReader(SegmentationFolder(data, "train"), count)


class _Counter:
    def __init__(self) -> None:
        self.advanced = 0

    def advance(self, *args: object, **kwargs: object) -> None:
        self.advanced += 1


def test_ranges_equal_onnxruntime_minmax(preprocessed: Path, tiny_data: Path, tmp_path) -> None:
    from onnxruntime.quantization.calibrate import CalibrationMethod, create_calibrator

    reference = create_calibrator(
        preprocessed,
        quantized_op_types(),
        augmented_model_path=str(tmp_path / "augmented.onnx"),
        calibrate_method=CalibrationMethod.MinMax,
    )
    reference.collect_data(_reader(tiny_data, 4))
    expected = reference.compute_data()
    counter = _Counter()
    lean = collect_minmax(preprocessed, _reader(tiny_data, 4), progress=counter)
    got = lean.tensors_data()
    assert lean.images == 4 and counter.advanced == 4  # progress per image
    model = onnx.load(str(preprocessed))
    assert relu_outputs(model, list(expected)), "the UNet's Relu outputs are derived, not reduced"
    assert set(got.keys()) == set(expected.keys()) and len(expected.keys()) > 10
    for name in expected:  # TensorsData iterates over tensor names
        want, have = expected[name].range_value, got[name].range_value
        assert have[0].shape == want[0].shape and have[0].dtype == np.float32
        np.testing.assert_allclose(have, want, rtol=1e-6, atol=1e-6, err_msg=name)


def test_lean_int8_file_equals_the_onnxruntime_calibrated_one(
    tiny_data: Path, tmp_path: Path
) -> None:
    """quantize_onnx (lean MinMax) writes what quantize_static calibrating itself writes."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    torch.manual_seed(0)
    model = get_model("unet", num_classes=8, base_channels=8).eval()
    fp32 = export_onnx(model, tmp_path / "m.onnx", input_size=(64, 64))
    outcome = quantize_onnx(fp32, tmp_path / "lean.onnx", _reader(tiny_data, 3))
    assert outcome.timing["calibration_images"] == 3
    assert outcome.timing["calibration_seconds"] > 0
    _pre_process(fp32, tmp_path / "pre.onnx")
    quantize_static(
        str(tmp_path / "pre.onnx"),
        str(tmp_path / "ort.onnx"),
        _reader(tiny_data, 3),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
    )
    lean, ort = onnx.load(str(outcome.path)), onnx.load(str(tmp_path / "ort.onnx"))
    assert [n.op_type for n in lean.graph.node] == [n.op_type for n in ort.graph.node]
    ours = {t.name: numpy_helper.to_array(t) for t in lean.graph.initializer}
    theirs = {t.name: numpy_helper.to_array(t) for t in ort.graph.initializer}
    assert ours.keys() == theirs.keys()
    for name, value in theirs.items():
        np.testing.assert_array_equal(ours[name], value, err_msg=name)


def test_an_onnxruntime_without_calibration_cache_calibrates_itself(
    tiny_data: Path, tmp_path: Path, monkeypatch
) -> None:
    """Older onnxruntime (no calibration_cache_path): ONNX Runtime's calibrator, same file."""
    from compress.quantization import ptq

    torch.manual_seed(0)
    model = get_model("unet", num_classes=8, base_channels=8).eval()
    fp32 = export_onnx(model, tmp_path / "m.onnx", input_size=(64, 64))
    lean = quantize_onnx(fp32, tmp_path / "lean.onnx", _reader(tiny_data, 2))
    monkeypatch.setattr(ptq, "_reads_calibration_cache", lambda: False)
    old = quantize_onnx(fp32, tmp_path / "old.onnx", _reader(tiny_data, 2))
    assert old.timing["calibrator"] == "onnxruntime MinMax" != lean.timing["calibrator"]
    assert old.timing["calibration_images"] == 2
    ours, theirs = (onnx.load(str(o.path)).graph.initializer for o in (lean, old))
    assert [numpy_helper.to_array(t).tobytes() for t in ours] == [
        numpy_helper.to_array(t).tobytes() for t in theirs
    ]
