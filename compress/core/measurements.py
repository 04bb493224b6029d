"""What a measurement is: latency of one runtime, accuracy on one split.

The lowest layer of the result schema: :mod:`compress.core.results` and
:mod:`compress.core.step_details` both build on these types.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from compress.core.specs import Spec

# A share in [0, 1] (mIoU, accuracies): a file claiming 500% mIoU is refused on read.
Fraction = Annotated[float, Field(ge=0, le=1)]


class LatencyStats(Spec):
    """Latency of one runtime on one device, in milliseconds per call."""

    p50: float = Field(ge=0)
    p90: float = Field(ge=0)
    min: float = Field(ge=0)
    mean: float | None = None
    runs: int = Field(ge=1)
    warmup: int = Field(ge=0)
    batch: int = Field(default=1, ge=1)
    input_size: tuple[int, int]
    threads: int | None = None
    device_name: str | None = None
    gmacs_per_s: float | None = None
    roof_fraction: float | None = None


class Metrics(Spec):
    """Accuracy on one split, from a dataset-level confusion matrix."""

    miou: Fraction
    class_acc: Fraction
    pixel_acc: Fraction
    per_class_iou: list[Fraction | None]
    class_names: list[str] | None = None
    study_miou: Fraction | None = None
    split: str | None = None
    num_images: int | None = None
