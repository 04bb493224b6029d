"""PTQ preparation in PyTorch: fold BN, equalise conv pairs, correct biases, export fp32.

Post-training quantization starts from the fp32 ONNX file; with ``equalize`` or
``bias_correction`` on, that file is exported from a *prepared copy* of the model:
BatchNorms folded into their convs (what ONNX Runtime's pre-processing does anyway),
then cross-layer equalisation (:mod:`~compress.quantization.equalize`), then empirical
bias correction (:mod:`~compress.quantization.bias_correction`) simulating the weight
precision the export uses. The model itself and the run's baseline ``model.onnx`` stay
untouched: only the file handed to the quantizer is prepared. An ONNX baseline has no
PyTorch model to prepare; it is quantized as it is, and the details say so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

EXAMPLE_SIDE = 128  # the structural checks (fold, CLE) run on a small resized example


def _example(image: torch.Tensor) -> torch.Tensor:
    import torch.nn.functional as F

    h, w = image.shape[-2:]
    factor = EXAMPLE_SIDE / max(h, w)
    if factor >= 1:
        return image
    size = (max(32, round(h * factor)), max(32, round(w * factor)))
    return F.interpolate(image, size=size, mode="bilinear", align_corners=False)


def prepare_model(
    model: nn.Module,
    images: Callable[[], Iterable[torch.Tensor]],
    *,
    equalize: bool,
    bias_correction: bool,
    per_channel: bool = True,
    reduce_range: bool = False,
    keep_fp32: Iterable[str] = (),
) -> tuple[nn.Module, dict[str, Any]]:
    """A folded, equalised and/or bias-corrected copy of ``model`` and what was done.

    ``images`` returns a fresh iterable of calibration images ``[1, 3, H, W]``.
    """
    from compress.quantization.bias_correction import correct_biases
    from compress.quantization.equalize import equalize as equalize_pairs
    from compress.quantization.fold import fold_batchnorms
    from compress.quantization.ptq import module_path

    example = _example(next(iter(images())))
    prepared, fold = fold_batchnorms(model, example)
    details: dict[str, Any] = {"folded_batchnorms": len(fold.folded)}
    if equalize:
        report = equalize_pairs(prepared, example)
        details["equalize"] = {
            "pairs": len(report.pairs),
            "equalized": [list(pair) for pair in report.pairs],
            "skipped": report.skipped,
            "passes": report.passes,
            "max_abs_diff": report.max_abs_diff,
        }
    if bias_correction:
        skip = [module_path(n) if n.startswith("/") else n for n in keep_fp32]
        corrected = correct_biases(
            prepared, images(), per_channel=per_channel, reduce_range=reduce_range, skip=skip
        )
        details["bias_correction"] = {
            "layers": len(corrected.layers),
            "images": corrected.images,
            "mean_abs_bias_shift": corrected.mean_abs_shift,
            "max_abs_bias_shift": corrected.max_abs_shift,
            "weight_qmax": corrected.weight_qmax,
        }
    return prepared, details


def prepared_fp32_onnx(
    model: nn.Module | None,
    step: Any,
    fmt: Any,
    fp32_path: Path,
    images: Callable[[], Iterable[torch.Tensor]],
    metadata: dict[str, Any] | None = None,
) -> tuple[Path, dict[str, Any] | None]:
    """The fp32 file PTQ should quantize and the preparation's details.

    ``step`` is the quantize step (its ``equalize``, ``bias_correction``, ``per_channel``,
    ``keep_fp32``, calibration fields and ``opset``), ``fmt`` the chosen
    :class:`~compress.quantization.cpu_features.Int8Format`, ``images`` a fresh iterator of
    the calibration images on each call (bias correction reads what calibration reads).
    Nothing requested: ``fp32_path`` itself and None.
    """
    if step.trains or not (step.equalize or step.bias_correction):
        return fp32_path, None
    if model is None:
        note = "skipped: an ONNX baseline has no PyTorch model to equalise or bias-correct"
        return fp32_path, {"note": note}
    from compress.deploy.export import export_onnx

    prepared, details = prepare_model(
        model,
        images,
        equalize=step.equalize,
        bias_correction=step.bias_correction,
        per_channel=step.per_channel,
        reduce_range=fmt.reduce_range,
        keep_fp32=step.keep_fp32,
    )
    target = fp32_path.with_name(fp32_path.name.removesuffix(".onnx") + ".prepared.onnx")
    first = next(iter(images()))
    export_onnx(
        prepared, target, input_size=tuple(first.shape[-2:]), opset=step.opset, metadata=metadata
    )
    details["file"] = target.name
    return target, details
