"""``QuantizeOptions``: how a model is quantized to int8, validated before any work.

The quantize step of a variant (:class:`compress.pipeline.steps.QuantizeStep`, which
``compress quantize``, recipes and reruns all build) is these options plus its ``kind``;
their defaults are the defaults of every door, the Python API's included.
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from compress.core.specs import Spec
from compress.quantization.calibrators import CALIBRATORS, CalibrationName
from compress.quantization.methods import QUANTIZE_METHODS, QuantizeMethodName
from compress.training.train_spec import ClassWeighting, LossName


class QuantizeOptions(Spec):
    """How a model is quantized (the fields of a ``quantize`` step)."""

    method: QuantizeMethodName = "ptq"
    # calibration (PTQ, and the starting ranges of QAT): real images of the train split
    calib_split: str = "train"
    calib_images: int = Field(default=64, ge=1)
    calib_size: tuple[int, int] | None = None  # resize calibration images (None: own size)
    calibration: CalibrationName = "minmax"
    percentile: float = Field(default=99.999, gt=90, le=100)
    per_channel: bool = True
    reduce_range: bool | None = None  # None: decided from the CPU's flags
    keep_fp32: list[str] = Field(default_factory=list)
    opset: int = Field(default=17, ge=13)
    # PTQ preparation in PyTorch before the fp32 export (see preparation.py; QAT and ONNX
    # baselines go without): cross-layer equalisation and empirical bias correction
    equalize: bool = False
    bias_correction: bool = False
    # quantization-aware training; accepted only when ONNX Runtime's int8 model agrees
    # with the fake-quant PyTorch model on qat_min_agreement of the pixels
    epochs: int = Field(default=1, ge=1)
    lr: float = Field(default=1e-4, gt=0, allow_inf_nan=False)
    batch_size: int = Field(default=4, ge=1)
    crop: int = Field(default=256, ge=16)
    qat_min_agreement: float = Field(default=0.99, gt=0, le=1)
    agreement_images: int = Field(default=8, ge=1)
    loss: LossName = "ce"  # QAT's training loss, as in training and the fine-tunes
    class_weights: ClassWeighting = "none"  # QAT's cross-entropy class weights, likewise
    gpu: bool = False  # also measure FP16 / TensorRT int8 on CUDA (see gpu.py)
    # accuracy control (PTQ, see accuracy_control.py): on control_images val images, keep
    # the layers that cost most in float until int8 is at most max_drop mIoU points below
    # fp32, reverting at most max_reverted; float_op_types stay float where that is faster
    max_drop: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    control_images: int = Field(default=32, ge=1)
    max_reverted: int = Field(default=8, ge=1)
    float_op_types: list[str] = Field(default_factory=list)

    @property
    def trains(self) -> bool:
        """Whether the method fine-tunes in PyTorch (QAT) before the int8 export."""
        return QUANTIZE_METHODS[self.method].trains

    @property
    def histogram_calibration(self) -> bool:
        """Whether calibration keeps histograms (entropy, percentile)."""
        return CALIBRATORS[self.calibration].histogram

    @field_validator("keep_fp32", "float_op_types")
    @classmethod
    def _strip(cls, names: list[str]) -> list[str]:
        return list(dict.fromkeys(n.strip() for n in names if n.strip()))

    @model_validator(mode="after")
    def _consistent(self) -> QuantizeOptions:
        if self.trains and self.keep_fp32:
            raise ValueError(
                f"keep_fp32 (--keep-fp32) applies to post-training methods, not {self.method}"
            )
        if self.trains and (self.max_drop is not None or self.float_op_types):
            raise ValueError(
                "max_drop and float_op_types (--max-drop, --float-op-types) apply to "
                f"post-training methods, not {self.method}"
            )
        if not self.trains and (self.loss != "ce" or self.class_weights != "none"):
            raise ValueError(
                f"loss and class_weights (--loss, --class-weights) apply to QAT, not {self.method}"
            )
        if self.trains and (self.equalize or self.bias_correction):
            raise ValueError(
                "equalize and bias_correction (--equalize, --bias-correction) prepare "
                f"post-training quantization, not {self.method}"
            )
        if self.calib_size is not None and min(self.calib_size) < 1:
            raise ValueError(f"calib_size must be positive, got {self.calib_size}")
        return self
