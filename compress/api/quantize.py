"""``compress.quantize``: any ``nn.Module`` to a verified int8 ONNX file in one call."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from torch import nn

from compress.core.errors import CompressError

METHODS = ("ptq", "qat")


def quantize(
    model: nn.Module,
    calibration: Iterable[Any],
    out: str | os.PathLike[str] = "model.int8.onnx",
    *,
    method: str = "ptq",
    calib_images: int = 64,
    calibration_method: str = "minmax",
    train_data: Iterable[Any] | None = None,
    epochs: int = 2,
    lr: float = 1e-5,
    ignore_index: int | None = None,
    opset: int = 17,
) -> Path:
    """Export ``model``, check the export, quantize it to int8 (QDQ) and return the path.

    ``calibration``: any iterable of float image tensors (``[3, H, W]`` or
    ``[N, 3, H, W]``, normalised as the model expects) or of ``(image, mask)`` batches
    such as a ``DataLoader``; its first ``calib_images`` images are used. The fp32 export
    is written beside ``out`` as ``<name>.fp32.onnx`` and compared with PyTorch on two
    calibration images (argmax agreement >= 99.9 %) before quantizing.

    ``method="ptq"``: ONNX Runtime static quantization (``calibration_method`` minmax,
    entropy or percentile). ``method="qat"``: batch-norms folded, fake-quant inserted,
    ranges calibrated, then ``epochs`` of fine-tuning on ``train_data`` (``(images,
    masks)`` batches, ``ignore_index`` ignored) before the export; ``model`` itself is
    left unchanged. The PTQ file is checked to run and give finite logits at the input's
    size; the QAT file to agree with its fake-quantized PyTorch model on >= 98 % of pixels.
    """
    from compress.deploy.export import export_onnx
    from compress.deploy.parity import check_parity
    from compress.quantization.calibration import TensorCalibrationReader
    from compress.quantization.cpu_features import choose_int8_format

    if method not in METHODS:
        raise CompressError(f"compress.quantize: method {method!r} is not one of {METHODS}")
    if method == "qat" and train_data is None:
        raise CompressError("compress.quantize: method='qat' needs train_data=(images, masks)")
    out = Path(out)
    fp32_path = out.with_name(out.name.removesuffix(".onnx").removesuffix(".int8") + ".fp32.onnx")
    reader = TensorCalibrationReader(calibration, calib_images)
    images = reader.tensors()
    size = tuple(images[0].shape[-2:])
    model.eval()
    export_onnx(model, fp32_path, input_size=size, opset=opset)
    check_parity(model, fp32_path, images[:2], source="calibration images")
    fmt = choose_int8_format(reduce_range=None)
    if method == "ptq":
        from compress.quantization.ptq import quantize_onnx

        quantize_onnx(
            fp32_path,
            out,
            reader,
            calibration=calibration_method,
            reduce_range=fmt.reduce_range,
            activations=fmt.activation_type,
        )
        _check_runs(out, images[:2])
    else:
        from compress.quantization.qat import calibrate_qat, export_qat, prepare_qat, qat_epochs

        qmodel, _ = prepare_qat(
            model, images[0], reduce_range=fmt.reduce_range, activations=fmt.activation_type
        )
        calibrate_qat(qmodel, images)
        assert train_data is not None
        qat_epochs(
            qmodel,
            train_data,
            epochs=epochs,
            lr=lr,
            ignore_index=-100 if ignore_index is None else ignore_index,
        )
        export_qat(qmodel, out, input_size=size, opset=opset)
        check_parity(
            qmodel,
            out,
            images[:2],
            min_agreement=0.98,
            source="calibration images (fake-quant PyTorch vs ORT int8)",
        )
    return out


def _check_runs(int8_path: Path, images: list[Any]) -> None:
    """The int8 file must run on ONNX Runtime and give finite logits of the right shape."""
    import torch

    from compress.measure.runtimes import OrtRunner

    runner = OrtRunner(int8_path, threads=1)
    for image in images:
        logits = runner(image)
        if logits.shape[-2:] != image.shape[-2:] or not torch.isfinite(logits).all():
            raise CompressError(
                f"{int8_path}: the int8 model gives {tuple(logits.shape)} logits for a "
                f"{tuple(image.shape)} image (misshapen or not finite)"
            )
