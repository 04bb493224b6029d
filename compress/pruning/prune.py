"""``prune_model``: structured pruning of any ``nn.Module`` to a ratio or a MACs budget.

The mechanism is :class:`compress.pruning.session.PruningSession` (torch-pruning's
DepGraph behind a :class:`PruneSpec`); a MACs budget is first turned into a ratio by
:func:`compress.pruning.budget.ratio_for_macs`. ``PruningSession`` is re-exported here
(its home before the budget search moved out of this module).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from compress.pruning.session import PrunableGroup, PruningSession
from compress.pruning.spec import PruneSpec

__all__ = ["PrunableGroup", "PruningSession", "prune_model"]


def prune_model(
    model: nn.Module,
    spec: PruneSpec,
    *,
    example_input: torch.Tensor,
    importance_data: Iterable[Any] | None = None,
    ignore_index: int | None = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """Prune ``model`` in place; return it and the structure step that replays the pruning.

    With ``spec.target_macs`` the uniform ratio meeting the budget is searched first
    (:func:`compress.pruning.budget.ratio_for_macs`; per-group ratios from a sensitivity
    profile and latency budgets: :func:`compress.pruning.budget.resolve_budget`). The
    layers producing the logits are never pruned, so the output shape is unchanged.

    Raises:
        CompressError: taylor importance without ``importance_data``, an unknown
            ``spec.ignored_layers`` or ``spec.layer_ratios`` name, or a MACs target that
            cannot be met.
    """
    if spec.budget == "latency":
        raise ValueError("prune_model resolves MACs budgets only; use resolve_budget")
    if spec.budget == "macs":
        from compress.pruning.budget import ratio_for_macs

        ratio = ratio_for_macs(
            model,
            spec,
            example_input=example_input,
            importance_data=importance_data,
            ignore_index=ignore_index,
        )
        spec = spec.model_copy(update={"ratio": ratio})
    session = PruningSession(
        model,
        spec,
        example_input=example_input,
        importance_data=importance_data,
        ignore_index=ignore_index,
    )
    session.run()
    return model, session.record()
