"""``load_model``: the model to export or benchmark, with what is known about it.

A checkpoint (loaded safely, structure steps replayed) or a registered model at seeded
random init; :class:`LoadedModel` carries its spec, structure and data set, which
:meth:`LoadedModel.metadata` turns into what an exported ONNX file records.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from compress.core.errors import CompressError
from compress.core.specs import ModelSpec

if TYPE_CHECKING:
    from torch import nn


@dataclass
class LoadedModel:
    """A model to export or benchmark, with what is known about it."""

    model: nn.Module
    spec: ModelSpec
    structure: list[dict[str, Any]] = field(default_factory=list)
    dataset: dict[str, Any] | None = None

    def metadata(self) -> dict[str, Any]:
        """What :func:`export_onnx` stores so that an ONNX file describes itself."""
        return onnx_metadata(self.spec, self.structure, self.dataset)


def onnx_metadata(
    spec: ModelSpec, structure: list[dict[str, Any]], dataset: dict[str, Any] | None
) -> dict[str, Any]:
    """The metadata an exported ONNX file carries: model spec, structure, data set, version."""
    from compress import __version__

    return {
        "model": spec.model_dump(mode="json"),
        "num_classes": spec.num_classes,
        "class_names": (dataset or {}).get("class_names"),
        "structure": structure,
        "dataset": dataset,
        "version": __version__,
    }


def load_model(
    *,
    model: str | None,
    checkpoint: str | os.PathLike[str] | None,
    num_classes: int = 8,
    options: dict[str, Any] | None = None,
    seed: int = 0,
) -> LoadedModel:
    """A checkpoint loaded safely, or registered model ``model`` at seeded random init."""
    if (model is None) == (checkpoint is None):
        raise CompressError("give exactly one of --model NAME or --checkpoint PATH")
    if checkpoint is not None:
        from compress.core.checkpoint import load_checkpoint

        loaded = load_checkpoint(checkpoint)
        return LoadedModel(loaded.model, loaded.spec, loaded.structure, loaded.dataset)
    import torch

    spec = ModelSpec(name=model, num_classes=num_classes, options=dict(options or {}))
    torch.manual_seed(seed)
    return LoadedModel(spec.build().eval(), spec)
