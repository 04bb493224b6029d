"""Budget modes: choose how much to prune so the model meets a MACs or latency target.

- ``target_macs`` without a profile: :func:`ratio_for_macs`, a bisection over ONE
  uniform ratio, each probe pruning a deep copy exactly as the real run will (same
  importance, scope, rounding, steps) and counting its MACs at the example input's size.
- With a sensitivity profile (:mod:`compress.pruning.profile`): per-group ratios. The
  greedy schedule of :mod:`compress.pruning.allocate` orders the moves (least mIoU lost
  per MAC saved first); a bisection over the schedule finds the first allocation whose
  really pruned copy meets the budget.
- ``target_latency_ms``: the same bisection with latency measured on the chosen runtime
  (over the greedy schedule, or over uniform ratios in steps of 0.05 without a profile).
  Latency is noisy: the chosen allocation is measured again, and if it misses the
  search goes on above it (up to ``ATTEMPTS`` times).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from compress.core.errors import CompressError
from compress.core.progress import task
from compress.pruning.spec import PruneSpec

MAX_RATIO = 0.95
PROBES = 10
ATTEMPTS = 3


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
    from compress.measure.macs import count_macs_params

    if spec.target_macs is None:
        raise ValueError("ratio_for_macs needs spec.target_macs")
    size = (int(example_input.shape[-2]), int(example_input.shape[-1]))
    baseline, _ = count_macs_params(model, size)

    def kept(ratio: float) -> float:
        probe = _pruned_copy(
            model, spec, {"ratio": ratio}, example_input, importance_data, ignore_index
        )
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


@dataclass
class BudgetChoice:
    """A resolved budget: the spec to prune with, and how it was chosen.

    ``measured`` is the chosen probe's kept-MACs fraction or latency p50 (ms);
    ``predicted_drop`` the profile's summed mIoU drop of the allocation (None: uniform).
    """

    spec: PruneSpec
    mode: str
    target: float
    allocation: str
    measured: float
    predicted_drop: float | None = None
    probes: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None

    def verified(self, achieved: float | None) -> dict[str, Any]:
        """:meth:`to_dict` plus the final model's ``achieved`` value and whether it is ``met``
        (MACs counted, latency measured again after pruning and fine-tuning)."""
        met = achieved is not None and achieved <= self.target
        return self.to_dict() | {"achieved": achieved, "met": met}

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "target": self.target,
            "allocation": self.allocation,
            "measured_at_search": self.measured,
            "predicted_miou_drop": self.predicted_drop,
            "ratio": self.spec.ratio,
            "layer_ratios": dict(self.spec.layer_ratios),
            "probes": self.probes,
            "note": self.note,
        }


def resolve_budget(
    model: nn.Module,
    spec: PruneSpec,
    *,
    example_input: torch.Tensor,
    profile: Any = None,
    latency: Any = None,
    baseline_latency_ms: float | None = None,
    importance_data: Iterable[Any] | None = None,
    ignore_index: int | None = None,
) -> BudgetChoice:
    """Resolve ``spec``'s MACs or latency budget into ratios (``model`` is not changed).

    Args:
        profile: a :class:`SensitivityProfile` for per-group ratios; None: uniform ratio.
        latency: the :class:`compress.pruning.latency.LatencySetup` of a latency budget.
        baseline_latency_ms: the unpruned model's p50 if already measured.

    Raises:
        CompressError: the budget cannot be met even at the largest ratios, or a latency
            target the unpruned model already meets.
    """
    mode = spec.budget
    if mode is None:
        raise ValueError("resolve_budget needs a spec with target_macs or target_latency_ms")
    probes = _Probes(model, spec, example_input, importance_data, ignore_index)
    if mode == "macs" and profile is None:
        return _uniform_macs(probes)
    if profile is not None:
        from compress.pruning.allocate import greedy_schedule

        schedule = greedy_schedule(profile)
        updates = [{"layer_ratios": a.ratios} for a in schedule]
        drops: list[float | None] = [a.predicted_drop for a in schedule]
    else:
        from compress.pruning.allocate import uniform_schedule

        updates = [{"ratio": r} for r in uniform_schedule()]
        drops = [None] * len(updates)
    start = _unpruned(probes, latency, baseline_latency_ms)
    chosen, measured, tried = _search(probes, start, updates, per_group=profile is not None)
    return BudgetChoice(
        spec.model_copy(update=updates[chosen]),
        mode,
        start.target,
        "sensitivity" if profile is not None else "uniform",
        measured,
        drops[chosen],
        tried,
        None if profile is not None else _NO_PROFILE,
    )


@dataclass
class _Probes:
    """Pruned copies of one model, as its spec with other ratios prunes it."""

    model: nn.Module
    spec: PruneSpec
    example_input: torch.Tensor
    importance_data: Iterable[Any] | None
    ignore_index: int | None

    @property
    def size(self) -> tuple[int, int]:
        return (int(self.example_input.shape[-2]), int(self.example_input.shape[-1]))

    def pruned(self, update: dict[str, Any]) -> nn.Module:
        return _pruned_copy(
            self.model,
            self.spec,
            update,
            self.example_input,
            self.importance_data,
            self.ignore_index,
        )


@dataclass(frozen=True)
class _Start:
    """What a budget search measures against: the target, the unpruned model's value
    (kept-MACs fraction 1, or its latency p50), its MACs and the latency set-up."""

    mode: str
    target: float
    value: float
    macs: int
    latency: Any


def _uniform_macs(probes: _Probes) -> BudgetChoice:
    """A MACs budget without a profile: the bisected uniform ratio."""
    from compress.measure.macs import count_macs_params

    spec, size = probes.spec, probes.size
    ratio = ratio_for_macs(
        probes.model,
        spec,
        example_input=probes.example_input,
        importance_data=probes.importance_data,
        ignore_index=probes.ignore_index,
    )
    kept = probes.pruned({"ratio": ratio})
    base = count_macs_params(probes.model, size)[0]
    return BudgetChoice(
        spec.model_copy(update={"ratio": ratio}),
        "macs",
        float(spec.target_macs or 0),
        "uniform",
        count_macs_params(kept, size)[0] / base,
        note=_NO_PROFILE,
    )


def _unpruned(probes: _Probes, latency: Any, baseline_latency_ms: float | None) -> _Start:
    """The search's start; refuses a latency target the unpruned model already meets."""
    from compress.measure.macs import count_macs_params
    from compress.pruning.latency import measure_model

    spec, size = probes.spec, probes.size
    if spec.budget == "macs":
        macs = count_macs_params(probes.model, size)[0]
        return _Start("macs", float(spec.target_macs or 0), 1.0, macs, None)
    if latency is None:
        raise ValueError("a latency budget needs a LatencySetup")
    target = float(spec.target_latency_ms or 0)
    if baseline_latency_ms is None:
        baseline_latency_ms = measure_model(probes.model, latency)[1].p50
    if baseline_latency_ms <= target:
        raise CompressError(
            f"target_latency_ms {target:g}: the unpruned model already takes "
            f"{baseline_latency_ms:.2f} ms on {latency.runtime} at {size[0]}x{size[1]}; "
            "nothing to prune for - choose a smaller target"
        )
    return _Start("latency", target, baseline_latency_ms, 0, latency)


def _search(
    probes: _Probes, start: _Start, updates: list[dict[str, Any]], *, per_group: bool
) -> tuple[int, float, list[dict[str, Any]]]:
    """``(index, value, probes)``: the first of ``updates`` (ordered: each prunes more) whose
    really pruned copy meets the target, its measured value and every probe tried."""
    from compress.measure.macs import count_macs_params
    from compress.pruning.latency import measure_model

    mode, target = start.mode, start.target
    tried: list[dict[str, Any]] = []

    def value(index: int) -> float:
        if index == 0:
            return start.value
        search.advance(f"probe {len(tried) + 1}: {_shown(updates[index])}")
        probe = probes.pruned(updates[index])
        if mode == "macs":
            measured = count_macs_params(probe, probes.size)[0] / start.macs
        else:
            measured = measure_model(probe, start.latency)[1].p50
        tried.append(
            {"index": index, **_shown(updates[index]), "value": measured, "met": measured <= target}
        )
        return measured

    with task(f"{mode} budget search", total=None) as search:
        last = len(updates) - 1
        at_last = value(last) if last > 0 else start.value
        if at_last > target:
            raise CompressError(_unreachable(mode, target, at_last, per_group))
        low, chosen, measured = 0, last, at_last
        for _attempt in range(ATTEMPTS if mode == "latency" else 1):
            chosen, measured = _first_meeting(value, low, last, at_last, target)
            if mode == "macs" or chosen == last:
                break
            again = value(chosen)  # latency is noisy: confirm with a fresh measurement
            if again <= target:
                measured = again
                break
            low = chosen
    return chosen, measured, tried


_NO_PROFILE = "no sensitivity profile (--data or --sensitivity): one uniform ratio was searched"


def _first_meeting(
    value: Callable[[int], float], low: int, high: int, at_high: float, target: float
) -> tuple[int, float]:
    """Smallest index in (low, high] whose value meets ``target`` (``high`` does), by
    bisection: values fall along the schedule."""
    best = at_high
    while high - low > 1:
        middle = (low + high) // 2
        measured = value(middle)
        if measured <= target:
            high, best = middle, measured
        else:
            low = middle
    return high, best


def _unreachable(mode: str, target: float, at_last: float, per_group: bool) -> str:
    where = (
        "every group at its largest profiled ratio"
        if per_group
        else (f"a uniform ratio of {MAX_RATIO}")
    )
    if mode == "macs":
        return (
            f"target_macs {target:g} cannot be met: {where} still keeps {at_last:.3f} of "
            "the MACs; choose a larger target"
            + (" or profile larger ratios (--ratios ...,0.9)" if per_group else "")
        )
    return (
        f"target_latency_ms {target:g} cannot be met: {where} still takes "
        f"{at_last:.2f} ms; choose a larger target"
    )


def _shown(update: dict[str, Any]) -> dict[str, Any]:
    if "ratio" in update:
        return {"ratio": update["ratio"]}
    return {"groups_pruned": len(update["layer_ratios"])}


def _pruned_copy(
    model: nn.Module,
    spec: PruneSpec,
    update: dict[str, Any],
    example_input: torch.Tensor,
    importance_data: Iterable[Any] | None,
    ignore_index: int | None,
) -> nn.Module:
    """A deep copy of ``model`` pruned as ``spec`` updated by ``update`` (no budget left)."""
    from compress.pruning.session import PruningSession

    probe = copy.deepcopy(model)
    resolved = spec.model_copy(update={"target_macs": None, "target_latency_ms": None, **update})
    session = PruningSession(
        probe,
        resolved,
        example_input=example_input,
        importance_data=importance_data,
        ignore_index=ignore_index,
    )
    session.run()
    return probe.eval()
