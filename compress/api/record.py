"""What a model built or compressed through the Python API remembers about itself.

``compress.build`` records the model's spec, ``compress.prune`` and
``compress.factorize`` append the structure step they took; ``compress.save`` writes
both into a checkpoint, so ``compress.load`` rebuilds the compressed architecture
without the code path that compressed it. The record lives in the module's
``__dict__`` (not its state dict): ``copy.deepcopy`` keeps it, ``torch.save`` of the
state dict ignores it.
"""

from __future__ import annotations

from typing import Any

from torch import nn

ATTRIBUTE = "_segcompress_record"


def record_of(model: nn.Module) -> dict[str, Any]:
    """The model's record ``{"spec": dict | None, "structure": [step, ...]}``."""
    record = model.__dict__.get(ATTRIBUTE)
    if record is None:
        record = {"spec": None, "structure": []}
        model.__dict__[ATTRIBUTE] = record
    return record


def add_step(model: nn.Module, step: dict[str, Any]) -> None:
    """Append a structure step (prune, factorize) to ``model``'s record."""
    record_of(model)["structure"].append(step)
