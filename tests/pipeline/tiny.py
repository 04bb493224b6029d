"""A tiny variant of a tiny checkpoint, for the pipeline's tests that train."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from compress.core.specs import ModelSpec

TINY_UNET = ModelSpec(name="unet", num_classes=8, options={"base_channels": 8})
TRAIN = {"epochs": 1, "batch_size": 2, "crop": 48}


def variant(data: Path, checkpoint: Path, *steps: dict[str, Any]) -> Any:
    """A variant of the tiny checkpoint, scored on val, not timed."""
    from compress.pipeline.spec import VariantSpec

    return VariantSpec.model_validate(
        {
            "baseline": {"checkpoint": str(checkpoint)},
            "steps": list(steps),
            "data": str(data),
            "device": "cpu",
            "bench": {"enabled": False, "input_size": [64, 64]},
        }
    )
