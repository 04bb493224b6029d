"""``compress.quantize``: any ``nn.Module`` to a verified int8 ONNX file in one call."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
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
    loss: str = _default("loss"),
    class_weights: str = _default("class_weights"),
    val_data: Iterable[Any] | None = None,
    max_drop: float | None = _default("max_drop"),
    control_images: int = _default("control_images"),
    max_reverted: int = _default("max_reverted"),
    float_op_types: Sequence[str] = (),
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
    batch-norms folded, fake-quant inserted,
    ranges calibrated, then ``epochs`` of fine-tuning on ``train_data`` (``(images,
    masks)`` batches, ``ignore_index`` ignored) before the export; ``model`` itself is
    left unchanged; it trains with ``loss`` and ``class_weights`` (from ``train_data``'s
    masks) as training does. The PTQ file is checked to run and give finite logits; the
    QAT file to agree with its fake-quantized PyTorch model on ``qat_min_agreement`` of
    the pixels. PTQ with ``max_drop`` (mIoU points) scores fp32 and int8 on the first
    ``control_images`` of ``val_data`` (``(image, mask)`` pairs of a validation set) and
    keeps in float the layers that cost most until the drop holds (at most
    ``max_reverted``); ``float_op_types`` stay float where that is measured faster.
    The defaults are those of ``compress quantize`` and of a recipe's quantize step.
    """
    from compress.core.specs import parse_spec
    from compress.deploy.export import export_onnx
    from compress.deploy.parity import check_parity
    from compress.quantization.calibration import TensorCalibrationReader
    from compress.quantization.cpu_features import choose_int8_format

    options = {"calibration": calibration_method, "float_op_types": list(float_op_types)}
    names = ("method", "calib_images", "per_channel", "equalize", "bias_correction", "epochs")
    names += ("lr", "qat_min_agreement", "opset", "loss", "class_weights", "max_drop")
    names += ("control_images", "max_reverted")
    given = locals()
    options.update({name: given[name] for name in names})
    step = parse_spec(QuantizeStep, options, source="compress.quantize")
    _check_data(step, train_data, val_data)
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
    _ptq(model, step, fp32_path, out, reader, fmt, val_data, ignore_index)
    return out


def _check_data(step: QuantizeStep, train_data: Any, val_data: Any) -> None:
    """Refuse a QAT without training data, an accuracy control without val data."""
    if step.max_drop is not None and val_data is None:
        raise CompressError("compress.quantize: max_drop needs val_data=(image, mask) pairs")
    if step.trains and train_data is None:
        raise CompressError(
            f"compress.quantize: method={step.method!r} needs train_data=(images, masks)"
        )


def _ptq(
    model: nn.Module,
    step: QuantizeStep,
    fp32_path: Path,
    out: Path,
    reader: Any,
    fmt: Any,
    val_data: Iterable[Any] | None,
    ignore_index: int | None,
) -> None:
    """Quantize ``fp32_path`` (or, with equalize/bias_correction, a prepared copy's export)
    to ``out``, check it runs, then control its accuracy."""
    from compress.quantization.preparation import prepared_fp32_onnx
    from compress.quantization.ptq import quantize_onnx

    images = reader.tensors()
    ptq_input, _ = prepared_fp32_onnx(model, step, fmt, fp32_path, lambda: iter(images))
    quantize_onnx(
        ptq_input,
        out,
        reader,
        calibration=step.calibration,
        per_channel=step.per_channel,
        reduce_range=fmt.reduce_range,
        activations=fmt.activation_type,
    )
    _check_runs(out, images[:2])
    if step.max_drop is not None or step.float_op_types:
        _control(model, step, fp32_path, out, images, val_data or [], ignore_index)


def _control(
    model: nn.Module,
    step: QuantizeStep,
    fp32_path: Path,
    out: Path,
    images: list[Any],
    val_data: Iterable[Any],
    ignore_index: int | None,
) -> dict[str, Any]:
    """Accuracy control of the PTQ file ``out`` on ``val_data``'s first images."""
    import torch

    from compress.pipeline.spec import BenchSettings
    from compress.quantization.accuracy_control import ControlData, Timing, control_accuracy

    pairs = []
    for image, mask in val_data:
        for x, y in zip(
            torch.as_tensor(image).reshape(-1, 3, *image.shape[-2:]),
            torch.as_tensor(mask).reshape(-1, *mask.shape[-2:]),
            strict=True,
        ):
            pairs.append((x.float(), y.long()))
        if len(pairs) >= step.control_images:
            break
    bench = BenchSettings()
    data = ControlData(pairs[: step.control_images], _num_classes(model, images[0]), ignore_index)
    return control_accuracy(
        fp32_path,
        out,
        data,
        max_drop=step.max_drop,
        max_reverted=step.max_reverted,
        float_op_types=step.float_op_types,
        timing=Timing(tuple(images[0].shape[-2:]), bench.runs, bench.warmup, bench.threads),
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
    from compress.quantization.qat import (
        calibrate_qat,
        export_qat,
        label_loss_for,
        mask_class_weights,
        prepare_qat,
        qat_epochs,
    )

    qmodel, _ = prepare_qat(
        model,
        images[0],
        per_channel=step.per_channel,
        reduce_range=fmt.reduce_range,
        activations=fmt.activation_type,
    )
    calibrate_qat(qmodel, images)
    ignored = -100 if ignore_index is None else ignore_index
    num_classes = _num_classes(model, images[0]) if step.class_weights != "none" else 0
    weights = mask_class_weights(train_data, num_classes, ignore_index, step.class_weights)
    qat_epochs(
        qmodel,
        train_data,
        epochs=step.epochs,
        lr=step.lr,
        criterion=label_loss_for(step.loss, ignored, weights),
    )
    export_qat(qmodel, out, input_size=tuple(images[0].shape[-2:]), opset=step.opset)
    check_parity(
        qmodel,
        out,
        images[:2],
        min_agreement=step.qat_min_agreement,
        source="calibration images (fake-quant PyTorch vs ORT int8)",
    )


def _num_classes(model: nn.Module, image: Any) -> int:
    """How many classes ``model`` predicts (the channels of its logits for ``image``)."""
    import torch

    from compress.measure.inference import output_logits

    with torch.no_grad():
        return int(output_logits(model.eval()(image)).shape[1])


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
