"""The pruning mechanism: :class:`PruningSession` over torch-pruning, recorded for reload.

:class:`PruningSession` wraps ``tp.pruner.MetaPruner`` behind a :class:`PruneSpec`:
it protects the layers producing the logits and broadcast gate maps
(:mod:`compress.pruning.graph`), ranks channels by the chosen importance, keeps channel
counts multiples of ``round_to`` without ever emptying a layer, and records torch-
pruning's pruning history as a plain-JSON structure step ``{"kind": "prune", ...}``
that :func:`compress.pruning.replay.replay_prune` re-applies to a freshly built model.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
import torch_pruning as tp
from torch import nn

from compress.core.errors import CompressError
from compress.pruning.criteria import CRITERIA
from compress.pruning.graph import channel_counts, forward, layer_names, prepare_graph
from compress.pruning.importance import make_importance
from compress.pruning.spec import STEP_FORMAT, STEP_KIND, PruneSpec


class _Pruner(tp.pruner.MetaPruner):
    """MetaPruner whose channel rounding never removes a whole layer, and is right for
    layers whose channels come in groups (GroupNorm, grouped convs).

    Stock ``_round_to`` rounds the kept count down to a multiple of ``round_to``, which is
    0 for a layer narrower than that after pruning (8 channels at ratio 0.5 and
    round_to 8): the layer would vanish. Here at least ``min(round_to, current)`` stay.
    It is also used with ``round_to=1`` so the global scope can never empty a group.

    For a group of ``g`` channel groups (a GroupNorm with ``g`` groups), torch-pruning
    1.6 hands ``_round_to`` the count to prune *within one channel group* but the
    layer's *total* width, then prunes that many channels in every group: rounded as if
    it were the total, the count reached the whole group, the prune was refused and the
    layer was silently left whole (ratio 0.5 kept 100 % of a GroupNorm model's MACs).
    The width asked for is remembered (``_asked``) so that the rounding happens per
    channel group: the kept width ``g x keep`` stays a multiple of ``round_to``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._channel_groups: dict[int, int] = {}
        for group in self.DG.get_all_groups(
            ignored_layers=self.ignored_layers, root_module_types=self.root_module_types
        ):
            count = self._get_channel_groups(group)
            if count > 1:
                self._channel_groups[id(group[0].dep.target.module)] = count
        self._asked: nn.Module | None = None
        graph = self.DG
        out_channels, in_channels = graph.get_out_channels, graph.get_in_channels

        def remember(lookup: Any) -> Any:
            def width(module: nn.Module) -> Any:
                self._asked = module  # _round_to follows this call in torch-pruning's _prune
                return lookup(module)

            return width

        graph.get_out_channels = remember(out_channels)  # type: ignore[method-assign]
        graph.get_in_channels = remember(in_channels)  # type: ignore[method-assign]

    def _round_to(self, n_pruned: int, current_channels: int, round_to: int) -> int:
        groups = self._channel_groups.get(id(self._asked), 1) if self._asked is not None else 1
        if groups > 1 and current_channels % groups == 0:
            size = current_channels // groups
            step = max(round_to // math.gcd(round_to, groups), 1)
            keep = size - min(n_pruned, size)
            keep -= keep % step
            keep = max(keep, min(step, size), 1)
            return max(size - keep, 0)
        keep = current_channels - n_pruned
        keep -= keep % round_to
        keep = max(keep, min(round_to, current_channels), 1)
        return max(current_channels - keep, 0)


@dataclass(frozen=True)
class PrunableGroup:
    """A group of coupled channels torch-pruning removes together, named by its root conv.

    ``members`` are the layers whose *output* channels belong to the group (the root,
    its BatchNorm, residual partners, ...), ``channels`` the root's output channels.
    """

    name: str
    channels: int
    members: tuple[str, ...]


class PruningSession:
    """Prune ``model`` in place, step by step, as ``spec`` says.

    ``spec.ratio`` or ``spec.layer_ratios`` must be set (resolve a budget first); with
    ``layer_ratios`` every named group gets its own ratio (torch-pruning's
    ``pruning_ratio_dict`` keyed by the group's root layer) and the others ``ratio`` or 0.

    ``step()`` performs one of ``spec.iterative_steps`` steps (a caller may fine-tune
    between steps); ``record()`` is the structure step describing everything pruned so far.
    """

    def __init__(
        self,
        model: nn.Module,
        spec: PruneSpec,
        *,
        example_input: torch.Tensor,
        importance_data: Iterable[Any] | None = None,
        ignore_index: int | None = None,
    ) -> None:
        if spec.ratio is None and not spec.layer_ratios:
            raise ValueError(
                "PruningSession needs spec.ratio or layer_ratios; resolve the budget first"
            )
        self.model = model
        self.spec = spec
        self.example_input = example_input
        self.importance_data = importance_data
        self.ignore_index = ignore_index
        self.criterion = CRITERIA[spec.importance]
        self.importance: Any = None
        if self.criterion.consume is not None and importance_data is None:
            self._consume()  # raises the CompressError asking for data
        self.steps_done = 0
        user_ignored = _modules_named(model, spec.ignored_layers)
        named = dict(model.named_modules())
        ratio_dict = {named[n]: r for n, r in spec.layer_ratios.items() if n in named}
        was_training = model.training
        self.importance = make_importance(spec.importance)
        self.pruner = _Pruner(
            model,
            example_input,
            importance=self.importance,
            global_pruning=spec.scope == "global",
            pruning_ratio=spec.ratio or 0.0,
            pruning_ratio_dict=ratio_dict or None,
            iterative_steps=spec.iterative_steps,
            ignored_layers=user_ignored,
            round_to=spec.round_to or 1,
            forward_fn=forward,
        )
        model.train(was_training)
        self.graph = prepare_graph(self.pruner.DG)
        protected = [m for layer in self.graph.protected for m in layer.modules()]
        self.pruner.ignored_layers.extend(protected)
        self.protected_names = layer_names(model, self.graph.protected)
        self.channels_before = channel_counts(model)
        if spec.layer_ratios:
            _check_group_names(spec.layer_ratios, self.groups())

    def groups(self) -> list[PrunableGroup]:
        """The groups this session may prune (protected and ignored roots left out), in
        graph order; pruning changes their widths, not their names."""
        names = {id(module): name for name, module in self.model.named_modules()}
        graph, pruner = self.pruner.DG, self.pruner
        found: list[PrunableGroup] = []
        for group in graph.get_all_groups(
            ignored_layers=pruner.ignored_layers, root_module_types=pruner.root_module_types
        ):
            if not pruner._check_pruning_ratio(group):
                continue
            root = group[0].dep.target.module
            members = [
                names[id(dep.target.module)]
                for dep, _ in group
                if graph.is_out_channel_pruning_fn(dep.handler) and id(dep.target.module) in names
            ]
            found.append(
                PrunableGroup(
                    names[id(root)],
                    int(graph.get_out_channels(root)),
                    tuple(dict.fromkeys(members)),
                )
            )
        return found

    @property
    def finished(self) -> bool:
        return self.steps_done >= self.spec.iterative_steps

    def step(self) -> None:
        """Prune one scheduled step (ratio * k / K of the channels after step k)."""
        if self.finished:
            raise RuntimeError(f"all {self.spec.iterative_steps} pruning steps are done")
        was_training = self.model.training
        if self.criterion.consume is not None:
            self._consume()
        self.model.eval()
        try:
            self.pruner.step()
        finally:
            self.model.zero_grad(set_to_none=True)
            self.model.train(was_training)
        self.steps_done += 1

    def _consume(self) -> None:
        """Feed the criterion its batches (its data protocol, ``Criterion.consume``)."""
        assert self.criterion.consume is not None
        self.criterion.consume(
            self.model,
            self.importance,
            self.importance_data,
            batches=self.spec.importance_batches,
            ignore_index=self.ignore_index,
            name=self.spec.importance,
        )

    def run(self) -> None:
        """Prune every remaining step."""
        while not self.finished:
            self.step()

    def record(self) -> dict[str, Any]:
        """The structure step: plain JSON-like values only (a safe checkpoint refuses others)."""
        history = [
            [str(name), bool(is_out), [int(i) for i in idxs]]
            for name, is_out, idxs in self.pruner.pruning_history()
        ]
        return {
            "kind": STEP_KIND,
            "format": STEP_FORMAT,
            "input_shape": [int(v) for v in self.example_input.shape],
            "ratio": float(self.spec.ratio) if self.spec.ratio is not None else None,
            "target_macs": self.spec.target_macs,
            "target_latency_ms": self.spec.target_latency_ms,
            "layer_ratios": dict(self.spec.layer_ratios),
            "importance": self.spec.importance,
            "scope": self.spec.scope,
            "iterative_steps": self.spec.iterative_steps,
            "steps_done": self.steps_done,
            "round_to": self.spec.round_to,
            "ignored_layers": list(self.spec.ignored_layers),
            "protected_layers": list(self.protected_names),
            "history": history,
            "channels": channel_counts(self.model),
        }


def _modules_named(model: nn.Module, names: list[str]) -> list[nn.Module]:
    modules = dict(model.named_modules())
    found: list[nn.Module] = []
    for name in names:
        if name not in modules or not name:
            close = [n for n in modules if n and (name in n or n in name)][:5]
            hint = f"; similar: {', '.join(close)}" if close else ""
            raise CompressError(
                f"ignored layer {name!r} is not a module of {type(model).__name__}{hint} "
                "(names as in model.named_modules())"
            )
        found.append(modules[name])
    return found


def _check_group_names(layer_ratios: dict[str, float], groups: list[PrunableGroup]) -> None:
    roots = [group.name for group in groups]
    unknown = [name for name in layer_ratios if name not in roots]
    if unknown:
        shown = ", ".join(roots[:8]) + (", ..." if len(roots) > 8 else "")
        raise CompressError(
            f"layer_ratios: {unknown[0]!r} is not the root layer of a prunable group of this "
            f"model; valid names (see compress sensitivity): {shown or 'none'}"
        )
