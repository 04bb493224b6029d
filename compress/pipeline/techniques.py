"""The one table of step kinds: spec, apply function, what it needs.

Adding a technique = one spec (a :class:`compress.core.specs.Spec` with a ``kind`` literal),
one ``apply(model, spec, context) -> StepOutcome`` function, and one entry here
(docs/extending.md walks through it). The apply function is named as ``"module:function"``
and imported only when a step of that kind runs, so validating a recipe stays cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from compress.core.specs import Spec
from compress.pipeline.steps import FactorizeStep, FinetuneStep, PruneStep, QuantizeStep


@dataclass(frozen=True)
class Technique:
    """One step kind: its spec type, apply function and requirements.

    - ``needs_data(step)``: the step reads the data set (training, gradients, calibration).
    - ``final``: the step produces a deployable file (ONNX) and must come last.
    - ``changes_structure``: the step records a structure step in the checkpoint.
    """

    kind: str
    spec: type[Spec]
    apply: str
    summary: str
    needs_data: Callable[[Any], bool]
    final: bool = False

    def load_apply(self) -> Callable[..., Any]:
        module, _, name = self.apply.partition(":")
        return getattr(importlib.import_module(module), name)


TECHNIQUES: dict[str, Technique] = {
    technique.kind: technique
    for technique in (
        Technique(
            "prune",
            PruneStep,
            "compress.pipeline.apply.prune:apply_prune",
            "remove channels (torch-pruning DepGraph); ratio or a MACs/latency budget",
            needs_data=lambda step: step.needs_data,
        ),
        Technique(
            "factorize",
            FactorizeStep,
            "compress.pipeline.apply.factorize:apply_factorize",
            "replace convolutions by low-rank factors (Tucker-2, CP, SVD)",
            needs_data=lambda step: False,
        ),
        Technique(
            "finetune",
            FinetuneStep,
            "compress.pipeline.apply.finetune:apply_finetune",
            "train the current model further (best epoch chosen on val)",
            needs_data=lambda step: True,
        ),
        Technique(
            "quantize",
            QuantizeStep,
            "compress.pipeline.apply.quantize:apply_quantize",
            "int8 QDQ ONNX for ONNX Runtime: post-training (ptq) or quantization-aware (qat)",
            needs_data=lambda step: True,
            final=True,
        ),
    )
}


def technique(kind: str) -> Technique:
    """The table entry of ``kind`` (KeyError names the kinds there are)."""
    try:
        return TECHNIQUES[kind]
    except KeyError:
        raise KeyError(f"unknown step kind {kind!r}; kinds: {', '.join(TECHNIQUES)}") from None
