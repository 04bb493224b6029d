"""INT8 quantization to ONNX Runtime: post-training (PTQ) and quantization-aware (QAT).

``compress quantize`` is a one-step variant (:mod:`compress.pipeline.run_kinds`); the
pieces are usable on their own: :func:`~compress.quantization.ptq.quantize_onnx`
(fp32 ONNX -> QDQ int8 ONNX), :class:`~compress.quantization.calibration.
ImageCalibrationReader` (real train-split images), :mod:`~compress.quantization.qat`
(fake-quantized fine-tuning). Names load lazily so importing the package is cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "QuantizeOptions": "spec",
    "quantize_onnx": "ptq",
    "ImageCalibrationReader": "calibration",
    "calibration_indices": "calibration",
    "choose_int8_format": "cpu_features",
    "prepare_qat": "qat",
    "export_qat": "qat",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'compress.quantization' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"compress.quantization.{module}"), name)
    globals()[name] = value
    return value
