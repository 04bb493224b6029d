"""Budget mode: find the pruning ratio that meets a MACs target (``target_macs``).

A bisection over the ratio, each probe pruning a deep copy of the model exactly as the
real run will (same importance, scope, rounding, steps) and counting its MACs at the
example input's size. With ``uniform`` scope this is one ratio for every layer; the
sensitivity-driven, per-layer budget belongs to a later step and will reuse this search.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from compress.errors import CompressError
from compress.pruning.spec import PruneSpec

MAX_RATIO = 0.95
PROBES = 10


def ratio_for_macs(
    model: nn.Module,
    spec: PruneSpec,
    *,
    example_input: torch.Tensor,
    importance_data: Iterable[Any] | None = None,
    ignore_index: int | None = None,
) -> float:
    """The smallest ratio (to ~0.001) whose pruned copy keeps <= ``spec.target_macs`` MACs.

    Raises:
        CompressError: even ratio ``MAX_RATIO`` keeps more MACs than the target (the
            protected and unprunable layers alone cost more).
    """
    from compress.macs import count_macs_params

    if spec.target_macs is None:
        raise ValueError("ratio_for_macs needs spec.target_macs")
    size = (int(example_input.shape[-2]), int(example_input.shape[-1]))
    baseline, _ = count_macs_params(model, size)

    def kept(ratio: float) -> float:
        from compress.pruning.prune import PruningSession

        probe = copy.deepcopy(model)
        session = PruningSession(
            probe, spec.model_copy(update={"ratio": ratio, "target_macs": None}),
            example_input=example_input, importance_data=importance_data,
            ignore_index=ignore_index,
        )  # fmt: skip
        session.run()
        return count_macs_params(probe, size)[0] / baseline

    low, high = 0.0, MAX_RATIO
    at_high = kept(high)
    if at_high > spec.target_macs:
        raise CompressError(
            f"target_macs {spec.target_macs} cannot be met: pruning {MAX_RATIO:.0%} of the "
            f"channels still keeps {at_high:.3f} of the MACs (the classifier and unprunable "
            "layers are never removed); choose a larger target"
        )
    for _ in range(PROBES):
        middle = (low + high) / 2
        if kept(middle) <= spec.target_macs:
            high = middle
        else:
            low = middle
    return min(math.ceil(high * 10_000) / 10_000, MAX_RATIO)
