"""``VariantSpec``: a baseline, the steps applied to it in order, and how it is measured.

Cross-step rules are checked here, before anything runs: a quantize step comes last,
steps that read data (fine-tuning, QAT, calibration, taylor importance) need ``data``,
an ONNX baseline admits only post-training quantization.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from compress.core.specs import Spec
from compress.measure.runtimes import RuntimeName
from compress.pipeline.steps import Step
from compress.pipeline.techniques import technique


class BaselineRef(Spec):
    """What a variant starts from: a trained checkpoint, a fresh registered model, or an
    ONNX file (post-training quantization only)."""

    model: str | None = None
    checkpoint: str | None = None
    onnx: str | None = None
    num_classes: int | None = Field(default=None, ge=1)
    model_options: dict[str, Any] = Field(default_factory=dict)
    checkpoint_sha256: str | None = None  # filled when resolved: a retrained file is a new run

    @model_validator(mode="after")
    def _one_source(self) -> BaselineRef:
        if self.onnx is not None and (self.model or self.checkpoint):
            raise ValueError("an onnx baseline stands alone: drop model and checkpoint")
        if self.onnx is None and self.model is None and self.checkpoint is None:
            raise ValueError("give a model name, a checkpoint, or an onnx file")
        if self.checkpoint is not None and self.model_options:
            raise ValueError("model options come from the checkpoint; drop model_options")
        return self


class BenchSettings(Spec):
    """How baseline and variant are timed: interleaved in one process, same input."""

    enabled: bool = True
    runtimes: list[RuntimeName] = Field(default_factory=lambda: ["ort"], min_length=1)
    input_size: tuple[int, int] = (256, 256)
    runs: int = Field(default=10, ge=1)
    warmup: int = Field(default=3, ge=0)
    threads: int | None = Field(default=None, ge=1)

    @field_validator("runtimes")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    @field_validator("input_size")
    @classmethod
    def _size(cls, value: tuple[int, int]) -> tuple[int, int]:
        if min(value) < 16:
            raise ValueError(f"input_size must be at least 16x16, got {value}")
        return value


class VariantSpec(Spec):
    """A baseline plus an ordered list of steps, measured against that baseline.

    ``eval_split`` is the split both are scored on (None: no accuracy); fine-tunes always
    choose their best epoch on val.
    """

    name: str | None = None
    baseline: BaselineRef
    steps: list[Step] = Field(min_length=1)
    data: str | None = None
    eval_split: str | None = "val"
    device: str = "auto"
    seed: int = Field(default=0, ge=0)
    bench: BenchSettings = Field(default_factory=BenchSettings)

    @model_validator(mode="after")
    def _cross_step_rules(self) -> VariantSpec:
        for index, step in enumerate(self.steps):
            entry = technique(step.kind)
            if entry.final and index != len(self.steps) - 1:
                raise ValueError(
                    f"steps[{index}] ({step.kind}) produces the deployable file and must be "
                    "the last step"
                )
            if entry.needs_data(step) and self.data is None:
                raise ValueError(f"steps[{index}] ({step.kind}) reads the data set: give data")
        if self.baseline.onnx is not None and [s.kind for s in self.steps] != ["quantize"]:
            raise ValueError("an onnx baseline can only be quantized (one quantize step)")
        if self.baseline.onnx is not None and self.steps[0].trains:  # type: ignore[union-attr]
            raise ValueError(
                f"quantize method {self.steps[0].method} trains in PyTorch: it needs a "  # type: ignore[union-attr]
                "checkpoint, not an onnx file"
            )
        return self

    @property
    def quantized(self) -> bool:
        """True when the variant ends in an int8 ONNX file."""
        return self.steps[-1].kind == "quantize"
