"""``load_model``: the model to export or benchmark, with what is known about it.

A checkpoint (loaded safely, structure steps replayed) or a registered model at seeded
random init, both as a :class:`compress.core.checkpoint.Checkpoint`, whose
``metadata()`` is what an exported ONNX file records.
"""

from __future__ import annotations

import os
from typing import Any

from compress.core.checkpoint import Checkpoint
from compress.core.errors import CompressError
from compress.core.onnx_files import onnx_metadata as onnx_metadata  # re-export (0.2 home)
from compress.core.specs import ModelSpec

LoadedModel = Checkpoint  # the name this module's callers used before 0.3


def load_model(
    *,
    model: str | None,
    checkpoint: str | os.PathLike[str] | None,
    num_classes: int = 8,
    options: dict[str, Any] | None = None,
    seed: int = 0,
) -> Checkpoint:
    """A checkpoint loaded safely, or registered model ``model`` at seeded random init."""
    if (model is None) == (checkpoint is None):
        raise CompressError("give exactly one of --model NAME or --checkpoint PATH")
    if checkpoint is not None:
        from compress.core.checkpoint import load_checkpoint

        return load_checkpoint(checkpoint)
    import torch

    spec = ModelSpec(name=model, num_classes=num_classes, options=dict(options or {}))
    torch.manual_seed(seed)
    return Checkpoint(spec.build().eval(), spec)
