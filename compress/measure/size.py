"""Sizes of what ships: fp32 state dict bytes, ONNX file bytes, parameter counts.

The study this project grows from reported a training checkpoint (weights plus Adam
state, about 3x the weights) as "size". Here size means the deployable artifact only:
the model's ``state_dict`` serialised by ``torch.save`` into memory (no optimizer, no
metadata), or the ONNX file as written.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from compress.core.paths import require_file

if TYPE_CHECKING:
    from torch import nn

QUANTIZED_OPS = frozenset(
    {"QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul", "ConvInteger"}
)


def state_dict_bytes(weights: nn.Module | dict[str, Any]) -> int:
    """Bytes of ``torch.save(state_dict)``: the weights as they would ship (no optimizer)."""
    import torch

    state = weights if isinstance(weights, dict) else weights.state_dict()
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in state.items()}, buffer)
    return buffer.getbuffer().nbytes


def param_count(model: nn.Module) -> int:
    """Number of parameters (weights and biases; BN running statistics excluded)."""
    return sum(p.numel() for p in model.parameters())


def file_bytes(path: str | os.PathLike[str]) -> int:
    """Size of a file on disk; CompressError naming it if absent."""
    return require_file(path, "file").stat().st_size


@dataclass(frozen=True)
class OnnxSize:
    """What an ONNX file holds: bytes on disk, stored weight elements, whether it is int8."""

    file_bytes: int
    initializer_elements: int
    quantized: bool

    @property
    def artifact(self) -> str:
        """The ``size_artifact`` label of ``result.json``."""
        return "int8-onnx" if self.quantized else "onnx"


def onnx_size(path: str | os.PathLike[str]) -> OnnxSize:
    """Measure an ONNX file; CompressError naming it if it cannot be read."""
    from compress.core.onnx_files import load_onnx

    model = load_onnx(path)
    elements = 0
    for tensor in model.graph.initializer:
        count = 1
        for dim in tensor.dims:
            count *= int(dim)
        elements += count
    quantized = any(node.op_type in QUANTIZED_OPS for node in model.graph.node)
    return OnnxSize(file_bytes=file_bytes(path), initializer_elements=elements, quantized=quantized)
