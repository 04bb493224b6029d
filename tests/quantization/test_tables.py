"""Calibration and quantization methods: one table each, read by the spec and the CLI."""

from __future__ import annotations

import pytest

from compress.pipeline.spec import VariantSpec
from compress.quantization import calibrators, methods
from compress.quantization.spec import QuantizeOptions


def test_unknown_names_list_the_table() -> None:
    with pytest.raises(ValueError, match="calibration 'kl' is unknown; valid: minmax, entropy"):
        QuantizeOptions(calibration="kl")
    with pytest.raises(ValueError, match="method 'int4' is unknown; valid: ptq, qat"):
        QuantizeOptions(method="int4")


def test_help_is_derived_from_the_tables() -> None:
    assert calibrators.calibration_help() == "minmax, entropy or percentile"
    assert (
        methods.method_help().startswith("ptq (post-training")
        and " or qat (" in methods.method_help()
    )


def test_entries_drive_the_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    mse = calibrators.Calibrator("mse", "Distribution", "mse", histogram=True)
    monkeypatch.setitem(calibrators.CALIBRATORS, "mse", mse)
    lsq = methods.QuantizeMethod("lsq", "learned step size", trains=True)
    monkeypatch.setitem(methods.QUANTIZE_METHODS, "lsq", lsq)
    assert QuantizeOptions(calibration="mse").histogram_calibration
    assert not QuantizeOptions().histogram_calibration and not QuantizeOptions().trains
    assert QuantizeOptions(method="lsq").trains
    with pytest.raises(ValueError, match="trains in PyTorch: it needs a checkpoint"):
        VariantSpec(
            baseline={"onnx": "model.onnx"},
            steps=[{"kind": "quantize", "method": "lsq"}],
            data="d",
        )
    with pytest.raises(ValueError, match="--keep-fp32.* applies to post-training methods, not lsq"):
        QuantizeOptions(method="lsq", keep_fp32=["classifier"])


def test_ptq_uses_the_table_entry_of_its_calibration() -> None:
    from onnxruntime.quantization import CalibrationMethod

    for entry in calibrators.CALIBRATORS.values():
        assert hasattr(CalibrationMethod, entry.ort_method), entry
