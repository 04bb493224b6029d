"""Non-uniform per-group ratios from a sensitivity profile: a greedy allocation schedule.

Start with nothing pruned. At every step, over all groups, take the move to one of the
group's larger profiled ratios that costs the least mIoU per MAC saved (measured with
that group pruned alone), and record the allocation reached. The schedule runs from
"nothing pruned" to "every group at its largest profiled ratio"; each entry prunes a
superset of the channels of the one before (same importance, same weights), so MACs
and latency fall along it and a budget is met by bisection over its index
(:mod:`compress.pruning.budget`), each probe measured on a really pruned copy - the
profile's per-group savings are not additive (pruning a layer's inputs and outputs
saves less than the sum), so they only order the moves, never decide the budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from compress.pruning.profile import GroupSensitivity, SensitivityProfile


@dataclass(frozen=True)
class Allocation:
    """Per-group ratios (groups at ratio 0 omitted) and the profile's predictions for them.

    ``predicted_drop`` sums the groups' mIoU drops, each measured with that group pruned
    alone: an ordering aid, not a promise.
    """

    ratios: dict[str, float] = field(default_factory=dict)
    predicted_drop: float = 0.0


@dataclass(frozen=True)
class _Level:
    ratio: float
    drop: float
    saved: int


def _levels(group: GroupSensitivity) -> list[_Level]:
    """The group's points by ratio, after the implicit "not pruned" level."""
    levels = [_Level(0.0, 0.0, 0)]
    for point in sorted(group.points, key=lambda p: p.ratio):
        levels.append(_Level(point.ratio, point.miou_drop, point.macs_saved))
    return levels


def greedy_schedule(profile: SensitivityProfile) -> list[Allocation]:
    """Allocations from nothing pruned (entry 0) to every group at its largest ratio.

    A move may skip levels (e.g. a ratio that rounding turned into no pruning at all, or
    one that is cheaper per MAC only together with the next); moves that save no MACs
    are never taken. Ties go to the smaller move: finer steps let the budget's bisection
    stop closer to its target.
    """
    levels = {g.name: _levels(g) for g in profile.groups}
    position = dict.fromkeys(levels, 0)
    schedule = [Allocation()]
    while True:
        best: tuple[float, int, str, int] | None = None  # (cost, saved, group, level)
        for name, steps in levels.items():
            here = steps[position[name]]
            for index in range(position[name] + 1, len(steps)):
                there = steps[index]
                saved = there.saved - here.saved
                if saved <= 0:
                    continue
                candidate = ((there.drop - here.drop) / saved, saved, name, index)
                if best is None or candidate[:2] < best[:2]:
                    best = candidate
        if best is None:
            return schedule
        position[best[2]] = best[3]
        schedule.append(_allocation(levels, position))


def _allocation(levels: dict[str, list[_Level]], position: dict[str, int]) -> Allocation:
    chosen = {name: levels[name][index] for name, index in position.items() if index > 0}
    return Allocation(
        ratios={name: level.ratio for name, level in chosen.items()},
        predicted_drop=sum(level.drop for level in chosen.values()),
    )


def uniform_schedule(step: float = 0.05, maximum: float = 0.95) -> list[float]:
    """Uniform ratios 0, step, 2*step, ... up to ``maximum``: the fallback without a
    profile, for budgets (latency) that have no continuous search."""
    count = int(round(maximum / step))
    return [round(i * step, 6) for i in range(count + 1)]
