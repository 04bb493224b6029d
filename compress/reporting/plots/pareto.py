"""mIoU against latency, with the Pareto front (the runs nothing else beats on both) marked.

A run is on the front when no other run is at least as fast *and* at least as accurate
while strictly better in one of the two. Read along the front, it gives the lowest
latency for each level of mIoU - the runs worth deploying.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from compress.core import atomic
from compress.core.errors import CompressError
from compress.core.results import RunResult
from compress.reporting.compare import choose_latency_key


@dataclass(frozen=True)
class ParetoPoint:
    """One run on the plot: its name, latency (ms, p50) and mIoU (fraction)."""

    name: str
    latency_ms: float
    miou: float


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the (latency, mIoU) points on the front, sorted by latency.

    Lower latency and higher mIoU are better; a point is dominated when another one is
    no worse in both and strictly better in at least one. Exact duplicates are all kept.
    """
    front = []
    for i, (latency, miou) in enumerate(points):
        dominated = any(
            other_latency <= latency
            and other_miou >= miou
            and (other_latency < latency or other_miou > miou)
            for j, (other_latency, other_miou) in enumerate(points)
            if j != i
        )
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: (points[i][0], -points[i][1], i))


def pareto_points(results: list[RunResult], latency_key: str | None = None) -> list[ParetoPoint]:
    """The runs that have both a latency under the chosen key and an mIoU.

    Raises:
        CompressError: fewer than one such run (naming what each run lacks).
    """
    key = choose_latency_key(results, latency_key)
    points = []
    lacking = []
    for result in results:
        stats = result.latency_ms.get(key) if key is not None else None
        if stats is None or result.metrics is None:
            missing = [
                what
                for what, absent in (
                    ("latency " + str(key), stats is None),
                    ("metrics", result.metrics is None),
                )
                if absent
            ]
            lacking.append(f"{result.name} (no {' and no '.join(missing)})")
            continue
        points.append(ParetoPoint(result.name, stats.p50, result.metrics.miou))
    if not points:
        raise CompressError(
            "no run has both a latency and an mIoU to plot: " + ", ".join(lacking or ["no runs"])
        )
    return points


def plot_pareto(
    results: list[RunResult], path: str | os.PathLike[str], *, latency_key: str | None = None
) -> list[ParetoPoint]:
    """Write a PNG of mIoU vs latency with the Pareto front; return the front's points.

    Runs without a latency (under ``latency_key``, chosen as in ``compress compare`` when
    ``None``) or without metrics are left out. The latency axis is logarithmic when the
    latencies span more than a factor of 20.
    """
    from matplotlib.figure import Figure

    key = choose_latency_key(results, latency_key)
    points = pareto_points(results, key)
    front = [points[i] for i in pareto_front([(p.latency_ms, p.miou) for p in points])]
    on_front = {p.name for p in front}

    fig = Figure(figsize=(7.5, 5.0), dpi=120)  # Agg canvas; no pyplot global state
    ax = fig.subplots()
    others = [p for p in points if p.name not in on_front]

    def xy(chosen: list[ParetoPoint]) -> tuple[list[float], list[float]]:
        return [p.latency_ms for p in chosen], [100 * p.miou for p in chosen]

    ax.scatter(*xy(others), color="tab:gray", label="dominated", zorder=3)
    ax.scatter(*xy(front), color="tab:red", marker="D", label="Pareto front", zorder=4)
    ax.step(*xy(front), where="post", color="tab:red", alpha=0.6, zorder=2)
    for p in points:
        ax.annotate(
            p.name,
            (p.latency_ms, 100 * p.miou),
            textcoords="offset points",
            xytext=(5, 5),
            fontsize=8,
        )
    latencies = [p.latency_ms for p in points]
    if min(latencies) > 0 and max(latencies) / min(latencies) > 20:
        ax.set_xscale("log")
    ax.set_xlabel(f"latency, ms (p50, {key})")
    ax.set_ylabel("mIoU, %")
    ax.set_title("Accuracy vs latency (up and left is better)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    atomic.write_with(path, lambda tmp: fig.savefig(tmp, format="png"))
    return front
