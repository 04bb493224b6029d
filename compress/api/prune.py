"""``compress.prune``: structured pruning of any ``nn.Module`` in one call."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import nn

from compress.api.record import add_step
from compress.pipeline.run_kinds import field_default
from compress.pipeline.spec import BenchSettings
from compress.pipeline.steps import PruneStep


def prune(
    model: nn.Module,
    example_inputs: torch.Tensor,
    *,
    ratio: float | None = field_default(PruneStep, "ratio"),
    target_macs: float | None = field_default(PruneStep, "target_macs"),
    target_latency_ms: float | None = field_default(PruneStep, "target_latency_ms"),
    importance: str = field_default(PruneStep, "importance"),
    ignore: Sequence[str] = tuple(field_default(PruneStep, "ignored_layers")),
    round_to: int | None = field_default(PruneStep, "round_to"),
    data: Iterable[Any] | None = None,
    runtime: str = field_default(BenchSettings, "runtimes")[0],
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
    :func:`compress.save` writes a checkpoint that :func:`compress.load` rebuilds. The
    defaults are those of ``compress prune`` and of a recipe's prune step.
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
