"""The one table of quantization methods behind ``method`` / ``--method``.

``ptq`` quantizes a finished fp32 ONNX file with ONNX Runtime's calibrated static
quantizer; ``qat`` trains the PyTorch model with fake-quant ops first. What the rest
needs to know about a method is whether it trains: a training method needs a PyTorch
checkpoint (not an ONNX file), reads the training options (epochs, lr, ...) and has no
node-level ``keep_fp32``. The spec's allowed values, its validation, the CLI help and
the recipe summary derive from this table (docs/extending.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator

from compress.core.tables import name_checker, or_list


@dataclass(frozen=True)
class QuantizeMethod:
    """One int8 method; ``trains``: fine-tunes in PyTorch before the int8 export."""

    name: str
    help: str
    trains: bool


QUANTIZE_METHODS: dict[str, QuantizeMethod] = {
    method.name: method
    for method in (
        QuantizeMethod("ptq", "post-training, calibrated on real images", trains=False),
        QuantizeMethod("qat", "quantization-aware fine-tuning with fake-quant ops", trains=True),
    )
}


check_method = name_checker(QUANTIZE_METHODS, "method")


# A spec field holding a quantization method's name, validated against the table.
QuantizeMethodName = Annotated[str, AfterValidator(check_method)]


def method_help() -> str:
    """CLI help: ``ptq (post-training, ...) or qat (...)``."""
    return or_list([f"{m.name} ({m.help})" for m in QUANTIZE_METHODS.values()])
