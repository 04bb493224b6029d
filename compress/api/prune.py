"""``compress.prune``: structured pruning of any ``nn.Module`` in one call."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import nn

from compress.api.record import add_step


def prune(
    model: nn.Module,
    example_inputs: torch.Tensor,
    *,
    ratio: float | None = None,
    target_macs: float | None = None,
    target_latency_ms: float | None = None,
    importance: str = "l2",
    ignore: Sequence[str] = (),
    round_to: int | None = 8,
    data: Iterable[Any] | None = None,
    runtime: str = "ort",
    inplace: bool = True,
) -> nn.Module:
    """Remove channels from ``model``; return the pruned model.

    Give exactly one of ``ratio`` (fraction of channels removed per layer group),
    ``target_macs`` (fraction of the MACs to keep) or ``target_latency_ms`` (p50 on
    ``runtime`` at ``example_inputs``' size, 1 image). The layers that produce the logits
    keep their outputs; ``ignore`` names more modules never pruned. ``importance="taylor"``
    needs ``data`` (batches of ``(images, masks)``). Concatenations, attention gates and
    grouped convs are handled by torch-pruning's dependency graph.

    ``inplace=True`` (the default) changes ``model`` itself; ``inplace=False`` prunes a
    deep copy. Either way the returned model records the structure step, so
    :func:`compress.save` writes a checkpoint that :func:`compress.load` rebuilds.
    """
    from compress.pruning import PruneSpec, prune_model

    target = model if inplace else copy.deepcopy(model)
    fields = {
        "ratio": ratio,
        "target_macs": target_macs,
        "target_latency_ms": target_latency_ms,
        "importance": importance,
        "ignored_layers": list(ignore),
        "round_to": round_to,
    }
    spec = PruneSpec(**{k: v for k, v in fields.items() if v is not None or k == "round_to"})
    example = example_inputs[:1]
    if spec.budget == "latency":
        from compress.pruning.budget import resolve_budget
        from compress.pruning.latency import LatencySetup

        setup = LatencySetup(runtime=runtime, input_size=tuple(example.shape[-2:]))
        spec = resolve_budget(
            target, spec, example_input=example, latency=setup, importance_data=data
        ).spec
    target, step = prune_model(target, spec, example_input=example, importance_data=data)
    add_step(target, step)
    return target
