"""The ``quantize`` step: the last of a variant, an int8 QDQ ONNX file for ONNX Runtime.

The current model is exported to fp32 ONNX (parity-checked on calibration images), then
quantized post-training (static, calibrated on real train images) or trained with
fake-quant ops and exported (QAT). A variant starting from an ONNX file copies it as
the fp32 model and quantizes it (PTQ only).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from compress.core.specs import Spec
from compress.pipeline.context import StepContext, StepOutcome
from compress.pipeline.techniques import register_technique
from compress.quantization.methods import QUANTIZE_METHODS
from compress.quantization.spec import QuantizeOptions

if TYPE_CHECKING:
    from torch import nn

FP32_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
PARITY_IMAGES = 2  # images on which the fp32 export is checked against PyTorch


class QuantizeStep(QuantizeOptions):
    """int8 quantization to a QDQ ONNX model for ONNX Runtime: ``ptq`` or ``qat``.

    Calibration reads ``calib_images`` real images of ``calib_split``; QAT then trains
    with fake-quant ops for ``epochs`` and is accepted only if ONNX Runtime's int8 model
    agrees with the fake-quant PyTorch model on ``qat_min_agreement`` of the pixels.
    The step produces an ONNX file, so it is the last step of a variant.
    """

    kind: Literal["quantize"] = "quantize"

    def record(self, *, reduce_range: bool, calib_images: int) -> dict[str, object]:
        """The ``steps`` entry recorded in ``result.json`` (what was used)."""
        record: dict[str, object] = {
            "kind": "quantize",
            "method": self.method,
            "format": "QDQ",
            "activations": "int8 per-tensor",
            "weights": "int8 symmetric " + ("per-channel" if self.per_channel else "per-tensor"),
            "reduce_range": reduce_range,
            "calibration": self.calibration,
            "calib_images": calib_images,
            "keep_fp32": list(self.keep_fp32),
        }
        if self.trains:
            record.update(epochs=self.epochs, lr=self.lr)
            if (self.loss, self.class_weights) != ("ce", "none"):
                record.update(loss=self.loss, class_weights=self.class_weights)
        elif self.equalize or self.bias_correction:
            record.update(equalize=self.equalize, bias_correction=self.bias_correction)
        if self.max_drop is not None or self.float_op_types:
            record.update(max_drop=self.max_drop, control_images=self.control_images)
            record.update(max_reverted=self.max_reverted, float_op_types=self.float_op_types)
        return record


class QuantizeDetails(Spec):
    """int8 quantization: format decision, calibration, fp32-export parity, QAT figures."""

    kind: Literal["quantize"] = "quantize"
    method: str
    int8_format: dict[str, Any] = Field(default_factory=dict)
    calibration: dict[str, Any] = Field(default_factory=dict)
    excluded_nodes: list[str] = Field(default_factory=list)
    ort_options: dict[str, Any] = Field(default_factory=dict)
    fp32_parity: float | None = None
    preparation: dict[str, Any] | None = None  # PTQ's BN fold / equalisation / bias correction
    qat: dict[str, Any] | None = None
    gpu: dict[str, Any] | None = None
    accuracy_control: dict[str, Any] | None = None  # max_drop / float_op_types on val


def _label_fields(values: Mapping[str, Any]) -> tuple[str, ...]:
    """A training method shows its epochs and lr; a post-training one has none."""
    method = QUANTIZE_METHODS.get(str(values.get("method")))
    return ("method", "calibration", *(("epochs", "lr") if method and method.trains else ()))


@register_technique(
    QuantizeStep,
    summary="int8 QDQ ONNX for ONNX Runtime: post-training (ptq) or quantization-aware (qat)",
    details=QuantizeDetails,
    needs_data=True,
    final=True,
    label_fields=_label_fields,
)
def apply_quantize(
    model: nn.Module | None, step: QuantizeStep, context: StepContext
) -> StepOutcome:
    """Write ``model.onnx`` (fp32) and ``model.int8.onnx`` into the step's folder."""
    from compress.quantization.calibration import (
        ImageCalibrationReader,
        calibration_dataset,
        calibration_images,
    )
    from compress.quantization.cpu_features import choose_int8_format

    calib_set = calibration_dataset(context.settings.data, step.calib_split)
    fmt = choose_int8_format(reduce_range=step.reduce_range)
    fp32_path, int8_path = context.folder / FP32_FILE, context.folder / INT8_FILE
    calib = ImageCalibrationReader(calib_set, step.calib_images, size=step.calib_size)
    parity_images = [
        x for _, x in calibration_images(calib_set, PARITY_IMAGES, size=step.calib_size)
    ]
    details = QuantizeDetails(
        method=step.method, int8_format=fmt.to_dict(), calibration=calib.describe()
    )
    metadata = _fp32_onnx(model, step, context, fp32_path, parity_images, details)
    training = None
    if not step.trains:
        from compress.quantization.preparation import prepared_fp32_onnx
        from compress.quantization.ptq import quantize_onnx

        def images() -> Any:  # the calibration images, again on every call
            chosen = calibration_images(calib_set, step.calib_images, size=step.calib_size)
            return (x for _, x in chosen)

        ptq_input, details.preparation = prepared_fp32_onnx(
            model, step, fmt, fp32_path, images, metadata
        )
        outcome = quantize_onnx(
            ptq_input,
            int8_path,
            calib,
            calibration=step.calibration,
            per_channel=step.per_channel,
            reduce_range=fmt.reduce_range,
            activations=fmt.activation_type,
            keep_fp32=step.keep_fp32,
            percentile=step.percentile,
        )
        details.excluded_nodes = list(outcome.excluded_nodes)
        details.ort_options = dict(outcome.options)
        details.calibration.update(outcome.timing)  # calibrator, images seen, seconds
        from compress.quantization.accuracy_control import control_step

        details.accuracy_control = control_step(step, context.settings, fp32_path, int8_path)
    else:
        assert model is not None
        training = _qat(
            model, step, context, calib_set, int8_path, metadata, parity_images, fmt, details
        )
    if step.gpu:
        from compress.quantization.gpu import gpu_report

        bench = context.settings.bench
        details.gpu = gpu_report(
            model,
            fp32_path,
            int8_path,
            input_size=bench.input_size,
            runs=bench.runs,
            warmup=bench.warmup,
        )
    used = int(details.calibration.get("images", step.calib_images))
    return StepOutcome(
        model=model,
        record=step.record(reduce_range=fmt.reduce_range, calib_images=used),
        details=[details],
        artifacts={"onnx_fp32": fp32_path, "onnx_int8": int8_path},
        onnx=int8_path,
        fp32_onnx=fp32_path,
        training=training,
    )


def _fp32_onnx(
    model: nn.Module | None,
    step: QuantizeStep,
    context: StepContext,
    fp32_path: Path,
    parity_images: list[Any],
    details: QuantizeDetails,
) -> dict[str, Any]:
    """Export ``model`` to fp32 ONNX, parity-checked (or copy the baseline's ONNX file);
    returns the metadata the files record."""
    from compress.core.onnx_files import read_metadata
    from compress.deploy.export import export_onnx
    from compress.deploy.parity import check_parity

    if model is None:
        assert context.baseline.onnx is not None
        shutil.copyfile(context.baseline.onnx, fp32_path)
        return read_metadata(fp32_path)
    metadata = _metadata(context)
    export_onnx(
        model,
        fp32_path,
        input_size=tuple(parity_images[0].shape[-2:]),
        opset=step.opset,
        metadata=metadata,
    )
    details.fp32_parity = check_parity(
        model, fp32_path, parity_images, source="calibration images"
    ).agreement
    return metadata


def _metadata(context: StepContext) -> dict[str, Any]:
    """What the ONNX files record about the model they hold (as ``compress export`` does)."""
    from compress.core.onnx_files import onnx_metadata

    base = context.baseline
    assert base.model_spec is not None
    return onnx_metadata(base.model_spec, list(context.structure), base.own_dataset)


def _qat(
    model: nn.Module,
    step: QuantizeStep,
    context: StepContext,
    calib_set: Any,
    int8_path: Path,
    metadata: dict[str, Any],
    parity_images: list[Any],
    fmt: Any,
    details: QuantizeDetails,
) -> dict[str, Any]:
    from compress.data import SegmentationFolder
    from compress.deploy.parity import check_parity
    from compress.quantization import qat
    from compress.quantization.calibration import calibration_images

    began = time.perf_counter()
    qmodel, fold = qat.prepare_qat(
        model,
        parity_images[0],
        per_channel=step.per_channel,
        reduce_range=fmt.reduce_range,
        activations=fmt.activation_type,
    )
    seen = qat.calibrate_qat(
        qmodel,
        (x for _, x in calibration_images(calib_set, step.calib_images, size=step.calib_size)),
        total=min(step.calib_images, len(calib_set)),
    )
    criterion, weights = qat.qat_loss(
        calib_set.root, loss=step.loss, class_weights=step.class_weights
    )
    losses = qat.train_qat(
        qmodel,
        calib_set.root,
        criterion=criterion,
        epochs=step.epochs,
        lr=step.lr,
        batch_size=step.batch_size,
        crop=step.crop,
        seed=context.settings.seed,
    )
    qat.export_qat(
        qmodel,
        int8_path,
        input_size=tuple(parity_images[0].shape[-2:]),
        opset=step.opset,
        metadata=metadata,
    )
    split = context.settings.eval_split or "val"
    evaluation = SegmentationFolder(context.settings.data, split)
    images = [evaluation[i][0] for i in range(min(step.agreement_images, len(evaluation)))]
    parity = check_parity(
        qmodel,
        int8_path,
        images + parity_images,
        min_agreement=step.qat_min_agreement,
        source=f"{split} and calibration images (fake-quant PyTorch vs ORT int8)",
    )
    details.qat = {
        "folded_batchnorms": len(fold.folded),
        "unfolded_batchnorms": fold.unfolded_batchnorms,
        "calibration_images": seen,
        "torch_ort_agreement": parity.agreement,
        "min_agreement": step.qat_min_agreement,
        "max_abs_diff": parity.max_abs_diff,
    }
    return {
        "epochs": step.epochs,
        "losses": losses,
        "seconds": time.perf_counter() - began,
        "lr": step.lr,
        "batch_size": step.batch_size,
        "crop": step.crop,
        "loss": step.loss,
        "class_weights": weights,
    }
