"""The step kinds a variant chains: one small pydantic spec each, a union on ``kind``.

``prune`` -> ``finetune`` -> ``factorize`` -> ``finetune`` -> ``quantize`` is written in a
recipe as a list of mappings, each with its ``kind`` and that kind's options; a typo in an
option fails validation with its path. Importing this module stays cheap (pydantic only):
recipes and CLI options are validated before torch loads.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from compress.core.specs import Spec
from compress.lowrank.spec import FactorizeSpec
from compress.pruning.spec import DEFAULT_SENSITIVITY_RATIOS, PruneSpec, check_ratios
from compress.quantization.spec import QuantizeOptions
from compress.training.train_spec import ClassWeighting, Distill, LossName


class PruneStep(PruneSpec):
    """Structured pruning (:class:`compress.pruning.spec.PruneSpec`) as a variant step.

    A MACs or latency budget chooses per-group ratios from ``sensitivity`` (a ``compress
    sensitivity`` run folder) or, with data, from a profile computed on ``max_images`` val
    images at ``sensitivity_ratios``.
    """

    kind: Literal["prune"] = "prune"
    sensitivity: str | None = None
    sensitivity_ratios: list[float] = Field(
        default_factory=lambda: list(DEFAULT_SENSITIVITY_RATIOS)
    )
    max_images: int = Field(default=20, ge=1)

    @field_validator("sensitivity_ratios")
    @classmethod
    def _ratios(cls, value: list[float]) -> list[float]:
        return check_ratios(value, field="sensitivity_ratios")


class FactorizeStep(FactorizeSpec):
    """Low-rank factorization (:class:`compress.lowrank.spec.FactorizeSpec`) as a step."""

    kind: Literal["factorize"] = "factorize"


class FinetuneStep(Spec):
    """Train the current model further on the data set's train split (best epoch on val).

    The learning rate decays with ``schedule`` over ``epochs`` (cosine: to 0 at the end).
    With ``distill``, the uncompressed baseline is the teacher
    (:class:`compress.training.train_spec.Distill`).
    """

    kind: Literal["finetune"] = "finetune"
    epochs: int = Field(ge=1)
    lr: float = Field(default=1e-4, gt=0, allow_inf_nan=False)
    batch_size: int = Field(default=8, ge=1)
    crop: int = Field(default=256, ge=32)
    schedule: Literal["step", "cosine"] = "cosine"
    workers: int = Field(default=0, ge=0)
    distill: Distill | None = None  # learn from the variant's baseline as well as the labels
    class_weights: ClassWeighting = "none"  # as in training
    loss: LossName = "ce"  # as in training


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
        return record


Step = Annotated[
    PruneStep | FactorizeStep | FinetuneStep | QuantizeStep, Field(discriminator="kind")
]
