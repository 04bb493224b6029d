"""``compress.quantize``: any ``nn.Module`` to a verified int8 ONNX file in one call."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from torch import nn

from compress.core.errors import CompressError
from compress.pipeline.run_kinds import field_default
from compress.pipeline.steps import QuantizeStep


def _default(name: str) -> Any:
    return field_default(QuantizeStep, name)


def quantize(
    model: nn.Module,
    calibration: Iterable[Any],
    out: str | os.PathLike[str] = "model.int8.onnx",
    *,
    method: str = _default("method"),
    calib_images: int = _default("calib_images"),
    calibration_method: str = _default("calibration"),
    per_channel: bool = _default("per_channel"),
    equalize: bool = _default("equalize"),
    bias_correction: bool = _default("bias_correction"),
    train_data: Iterable[Any] | None = None,
    epochs: int = _default("epochs"),
    lr: float = _default("lr"),
    qat_min_agreement: float = _default("qat_min_agreement"),
    ignore_index: int | None = None,
    opset: int = _default("opset"),
) -> Path:
    """Export ``model``, check the export, quantize it to int8 (QDQ) and return the path.

    ``calibration``: any iterable of float image tensors (``[3, H, W]`` or
    ``[N, 3, H, W]``, normalised as the model expects) or of ``(image, mask)`` batches
    such as a ``DataLoader``; its first ``calib_images`` images are used. The fp32 export,
    ``<name>.fp32.onnx`` beside ``out``, must agree with PyTorch (argmax) first.

    ``method="ptq"``: ONNX Runtime static quantization (``calibration_method`` minmax,
    entropy or percentile), from a copy of ``model`` prepared in PyTorch when ``equalize``
    (cross-layer equalisation) or ``bias_correction`` (mean int8-weight error removed on
    the calibration images) is on; BatchNorms are folded first. ``method="qat"``:
    batch-norms folded, fake-quant inserted, ranges calibrated, then ``epochs`` of
    fine-tuning on ``train_data`` (``(images, masks)`` batches, ``ignore_index``
    ignored) before the export; ``model`` itself is left unchanged. The PTQ file is
    checked to run and give finite logits; the QAT file to agree with its fake-quantized
    PyTorch model on ``qat_min_agreement`` of the pixels.
    The defaults are those of ``compress quantize`` and of a recipe's quantize step.
    """
    from compress.core.specs import parse_spec
    from compress.deploy.export import export_onnx
    from compress.deploy.parity import check_parity
    from compress.quantization.calibration import TensorCalibrationReader
    from compress.quantization.cpu_features import choose_int8_format

    step = parse_spec(
        QuantizeStep,
        {
            "method": method,
            "calib_images": calib_images,
            "calibration": calibration_method,
            "per_channel": per_channel,
            "equalize": equalize,
            "bias_correction": bias_correction,
            "epochs": epochs,
            "lr": lr,
            "qat_min_agreement": qat_min_agreement,
            "opset": opset,
        },
        source="compress.quantize",
    )
    if step.trains and train_data is None:
        raise CompressError(
            f"compress.quantize: method={method!r} needs train_data=(images, masks)"
        )
    out = Path(out)
    fp32_path = out.with_name(out.name.removesuffix(".onnx").removesuffix(".int8") + ".fp32.onnx")
    reader = TensorCalibrationReader(calibration, step.calib_images)
    images = reader.tensors()
    model.eval()
    export_onnx(model, fp32_path, input_size=tuple(images[0].shape[-2:]), opset=step.opset)
    check_parity(model, fp32_path, images[:2], source="calibration images")
    fmt = choose_int8_format(reduce_range=None)
    if step.trains:
        assert train_data is not None
        _qat(model, step, images, train_data, out, fmt, ignore_index)
        return out
    _ptq(model, step, reader, images, fp32_path, out, fmt)
    _check_runs(out, images[:2])
    return out


def _ptq(
    model: nn.Module,
    step: QuantizeStep,
    reader: Any,
    images: list[Any],
    fp32_path: Path,
    out: Path,
    fmt: Any,
) -> None:
    """Quantize ``fp32_path`` (or, with equalize/bias_correction, a prepared copy's export)."""
    from compress.deploy.export import export_onnx
    from compress.quantization.preparation import prepare_model
    from compress.quantization.ptq import quantize_onnx

    ptq_input = fp32_path
    if step.equalize or step.bias_correction:
        prepared, _ = prepare_model(
            model,
            lambda: iter(images),
            equalize=step.equalize,
            bias_correction=step.bias_correction,
            per_channel=step.per_channel,
            reduce_range=fmt.reduce_range,
        )
        ptq_input = fp32_path.with_name(fp32_path.name.removesuffix(".onnx") + ".prepared.onnx")
        export_onnx(prepared, ptq_input, input_size=tuple(images[0].shape[-2:]), opset=step.opset)
    quantize_onnx(
        ptq_input,
        out,
        reader,
        calibration=step.calibration,
        per_channel=step.per_channel,
        reduce_range=fmt.reduce_range,
        activations=fmt.activation_type,
    )


def _qat(
    model: nn.Module,
    step: QuantizeStep,
    images: list[Any],
    train_data: Iterable[Any],
    out: Path,
    fmt: Any,
    ignore_index: int | None,
) -> None:
    """Fake-quantize a copy of ``model``, calibrate, fine-tune, export and check it."""
    from compress.deploy.parity import check_parity
    from compress.quantization.qat import calibrate_qat, export_qat, prepare_qat, qat_epochs

    qmodel, _ = prepare_qat(
        model,
        images[0],
        per_channel=step.per_channel,
        reduce_range=fmt.reduce_range,
        activations=fmt.activation_type,
    )
    calibrate_qat(qmodel, images)
    qat_epochs(
        qmodel,
        train_data,
        epochs=step.epochs,
        lr=step.lr,
        ignore_index=-100 if ignore_index is None else ignore_index,
    )
    export_qat(qmodel, out, input_size=tuple(images[0].shape[-2:]), opset=step.opset)
    check_parity(
        qmodel,
        out,
        images[:2],
        min_agreement=step.qat_min_agreement,
        source="calibration images (fake-quant PyTorch vs ORT int8)",
    )


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
