"""Low-rank factorization (tensorly) of the conv and linear layers of any ``nn.Module``.

>>> from compress.lowrank import FactorizeSpec, factorize_model
>>> outcome = factorize_model(model, FactorizeSpec(method="tucker", rank=0.5))

``outcome.step`` is a plain-JSON structure step; store it with
``save_checkpoint(path, model, spec, structure=[step])`` and ``load_checkpoint``
rebuilds the factorized model (see docs/factorization.md). Importing this package is
cheap: the specs are available without torch, the rest loads on first access (PEP 562).
"""

from __future__ import annotations

import importlib
from typing import Any

from compress.lowrank.catalog import FACTORIZATION_METHODS, MethodEntry, register_method
from compress.lowrank.spec import RANK_RULES, FactorizeSpec

_LAZY: dict[str, str] = {
    "FactorizeOutcome": "compress.lowrank.apply",
    "LayerReport": "compress.lowrank.apply",
    "factorize_model": "compress.lowrank.apply",
    "select_layers": "compress.lowrank.sites",
    "replay_factorize": "compress.lowrank.replay",
    "LowRankSequential": "compress.lowrank.modules",
}

__all__ = [
    "FACTORIZATION_METHODS",
    "RANK_RULES",
    "FactorizeSpec",
    "MethodEntry",
    "register_method",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'compress.lowrank' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
