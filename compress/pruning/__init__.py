"""Structured pruning (torch-pruning DepGraph) for any segmentation ``nn.Module``.

>>> from compress.pruning import PruneSpec, prune_model
>>> pruned, step = prune_model(model, PruneSpec(ratio=0.5), example_input=x)

``step`` is a plain-JSON structure step; store it with
``save_checkpoint(path, pruned, spec, structure=[step])`` and ``load_checkpoint`` rebuilds
the pruned model (see docs/pruning.md). Importing this package is cheap: the spec is
available without torch, the rest loads on first access (PEP 562).
"""

from __future__ import annotations

import importlib
from typing import Any

from compress.pruning.criteria import IMPORTANCES
from compress.pruning.spec import SCOPES, PruneRunSpec, PruneSpec

_LAZY: dict[str, str] = {
    "PruningSession": "compress.pruning.session",
    "prune_model": "compress.pruning.prune",
    "replay_prune": "compress.pruning.replay",
    "ratio_for_macs": "compress.pruning.budget",
    "resolve_budget": "compress.pruning.budget",
    "greedy_schedule": "compress.pruning.allocate",
    "profile_sensitivity": "compress.pruning.sensitivity",
    "load_profile": "compress.pruning.profile",
    "SensitivitySpec": "compress.pruning.profile",
    "SensitivityProfile": "compress.pruning.profile",
    "channel_counts": "compress.pruning.graph",
}

__all__ = ["IMPORTANCES", "SCOPES", "PruneRunSpec", "PruneSpec", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'compress.pruning' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
