"""``QuantizeSpec``: everything ``compress quantize`` needs, validated before any work."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator

from compress.core.specs import Spec
from compress.quantization.calibrators import CALIBRATORS, CalibrationName
from compress.quantization.methods import QUANTIZE_METHODS, QuantizeMethodName


class QuantizeOptions(Spec):
    """How a model is quantized, wherever it comes from: a ``quantize`` step of a recipe
    (:class:`compress.pipeline.steps.QuantizeStep`) or ``compress quantize``
    (:class:`QuantizeSpec`)."""

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
    # quantization-aware training; accepted only when ONNX Runtime's int8 model agrees
    # with the fake-quant PyTorch model on qat_min_agreement of the pixels
    epochs: int = Field(default=1, ge=1)
    lr: float = Field(default=1e-4, gt=0, allow_inf_nan=False)
    batch_size: int = Field(default=4, ge=1)
    crop: int = Field(default=256, ge=16)
    qat_min_agreement: float = Field(default=0.99, gt=0, le=1)
    agreement_images: int = Field(default=8, ge=1)
    gpu: bool = False  # also measure FP16 / TensorRT int8 on CUDA (see gpu.py)

    @property
    def trains(self) -> bool:
        """Whether the method fine-tunes in PyTorch (QAT) before the int8 export."""
        return QUANTIZE_METHODS[self.method].trains

    @property
    def histogram_calibration(self) -> bool:
        """Whether calibration keeps histograms (entropy, percentile)."""
        return CALIBRATORS[self.calibration].histogram

    @field_validator("keep_fp32")
    @classmethod
    def _strip(cls, names: list[str]) -> list[str]:
        return list(dict.fromkeys(n.strip() for n in names if n.strip()))


class QuantizeSpec(QuantizeOptions):
    """Post-training (``ptq``) or quantization-aware (``qat``) int8 quantization of one model.

    The source is a checkpoint (any variant: pruned/factorized ones rebuild from their
    ``structure``) or, for PTQ only, an ONNX file written by ``compress export``.
    """

    checkpoint: Path | None = None
    onnx: Path | None = None
    data: Path | None = None
    # the side-by-side comparison
    split: str = "test"
    input_size: tuple[int, int] = (750, 1000)
    runs: int = Field(default=10, ge=1)
    warmup: int = Field(default=3, ge=0)  # the same warm-up as bench and prune
    threads: int | None = Field(default=None, ge=1)
    seed: int = 0
    name: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> QuantizeSpec:
        if (self.checkpoint is None) == (self.onnx is None):
            raise ValueError("give exactly one of --checkpoint or --onnx")
        if self.trains and self.onnx is not None:
            raise ValueError(
                f"--method {self.method} trains in PyTorch and needs --checkpoint, not --onnx"
            )
        if self.trains and self.keep_fp32:
            raise ValueError(f"--keep-fp32 applies to post-training methods, not {self.method}")
        for field, size in (("input_size", self.input_size), ("calib_size", self.calib_size)):
            if size is not None and min(size) < 1:
                raise ValueError(f"{field} must be positive, got {size}")
        return self
