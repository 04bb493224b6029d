"""What an ONNX file says about the model it holds: spec, structure, classes, architecture.

A file written by ``compress export`` carries its model spec and structure steps in its
metadata, so the architecture (random weights) can be rebuilt to count MACs and
parameters; a foreign file gives at least its class count through a static output axis.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compress.core.errors import CompressError
from compress.core.specs import ModelSpec

if TYPE_CHECKING:
    from torch import nn


def spec_from_metadata(
    metadata: dict[str, Any], *, source: str
) -> tuple[ModelSpec | None, list[dict[str, Any]]]:
    """The model spec and structure an ONNX file carries (None for a foreign file)."""
    from compress.core.specs import parse_spec

    if not isinstance(metadata.get("model"), dict):
        return None, []
    spec = parse_spec(ModelSpec, metadata["model"], source=f"{source} metadata 'model'")
    structure = metadata.get("structure")
    return spec, list(structure) if isinstance(structure, list) else []


def architecture_of(
    spec: ModelSpec | None, structure: list[dict[str, Any]], *, seed: int
) -> nn.Module | None:
    """The architecture behind an ONNX file (random weights), to count its MACs and params."""
    import torch

    from compress.core.checkpoint import replay_structure

    if spec is None:
        return None
    torch.manual_seed(seed)
    model = replay_structure(spec.build(), structure, source="ONNX metadata")
    return model.eval()


def onnx_classes(runner: Any) -> int:
    """Class count of a foreign ONNX file: its metadata, else a static output dimension."""
    from compress.core.onnx_files import decode_metadata

    declared = decode_metadata(runner.metadata).get("num_classes")
    if isinstance(declared, int):
        return declared
    dims = runner.session.get_outputs()[0].shape
    if len(dims) == 4 and isinstance(dims[1], int):
        return dims[1]
    raise CompressError(
        f"ONNX file {runner.path} does not say how many classes it predicts (no segcompress "
        "metadata, dynamic class axis); export it with `compress export`"
    )


def architecture_from_onnx(path: str | os.PathLike[str]) -> nn.Module | None:
    """The architecture an ONNX file was exported from (random weights), from its metadata.

    Used to count MACs and parameters of an ONNX artifact; None for a foreign file.
    """
    from compress.core.onnx_files import read_metadata

    spec, structure = spec_from_metadata(read_metadata(Path(path)), source=str(path))
    return architecture_of(spec, structure, seed=0)
