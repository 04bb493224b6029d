"""What each applied step reports, typed: one model per step kind, discriminated on ``kind``.

A variant's ``result.json`` (schema version 2) lists one of these per step in
``step_details``, so reports read named fields instead of ``extra`` string keys. A step
kind added later adds its model here and to :data:`StepDetails`; a detail record of a
kind this version does not know still loads as :class:`OtherDetails`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag

from compress.core.measurements import Metrics
from compress.core.specs import Spec


class PruneDetails(Spec):
    """Channels removed: the ratios used, the budget and how it was met, widths per layer."""

    kind: Literal["prune"] = "prune"
    ratio: float | None = None
    layer_ratios: dict[str, float] = Field(default_factory=dict)
    protected_layers: list[str] = Field(default_factory=list)
    channels_before: dict[str, list[int]] = Field(default_factory=dict)
    channels_after: dict[str, list[int]] = Field(default_factory=dict)
    budget: dict[str, Any] | None = None  # mode, target, achieved, met, allocation, note
    profile_source: str | None = None


class FactorizeDetails(Spec):
    """Layers replaced by low-rank factors: the method, ranks and error of each layer."""

    kind: Literal["factorize"] = "factorize"
    method: str
    rank_fraction: float | None = None
    layers: list[dict[str, Any]] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


class FinetuneDetails(Spec):
    """A fine-tune: its training run (relative folder), length and the val metrics chosen."""

    kind: Literal["finetune"] = "finetune"
    epochs: int
    best_epoch: int | None = None
    seconds: float | None = None
    runs: list[str] = Field(default_factory=list)  # fit run folders, relative to the variant
    metrics: Metrics | None = None


class QuantizeDetails(Spec):
    """int8 quantization: format decision, calibration, fp32-export parity, QAT figures."""

    kind: Literal["quantize"] = "quantize"
    method: str
    int8_format: dict[str, Any] = Field(default_factory=dict)
    calibration: dict[str, Any] = Field(default_factory=dict)
    excluded_nodes: list[str] = Field(default_factory=list)
    ort_options: dict[str, Any] = Field(default_factory=dict)
    fp32_parity: float | None = None
    qat: dict[str, Any] | None = None
    gpu: dict[str, Any] | None = None


class OtherDetails(Spec):
    """A step kind this version does not know (written by a newer segcompress)."""

    model_config = Spec.model_config | {"extra": "allow"}
    kind: str


KNOWN_KINDS = ("prune", "factorize", "finetune", "quantize")


def _kind_tag(value: Any) -> str:
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    return kind if kind in KNOWN_KINDS else "other"


StepDetails = Annotated[
    Annotated[PruneDetails, Tag("prune")]
    | Annotated[FactorizeDetails, Tag("factorize")]
    | Annotated[FinetuneDetails, Tag("finetune")]
    | Annotated[QuantizeDetails, Tag("quantize")]
    | Annotated[OtherDetails, Tag("other")],
    Discriminator(_kind_tag),
]
