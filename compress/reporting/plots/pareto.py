"""mIoU against latency, with the Pareto front (the runs nothing else beats on both) marked.

A run is on the front when no other run is at least as fast *and* at least as accurate
while strictly better in one of the two. Read along the front, it gives the lowest
latency for each level of mIoU - the runs worth deploying.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from compress.core import atomic
from compress.core.errors import CompressError
from compress.core.results import RunResult
from compress.reporting.compare import choose_latency_key


@dataclass(frozen=True)
class ParetoPoint:
    """One run on the plot: its name, latency (ms, p50) and mIoU (fraction), and what
    they were measured on (input size of the latency, split of the mIoU)."""

    name: str
    latency_ms: float
    miou: float
    input_size: tuple[int, int] | None = None
    split: str | None = None


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
        points.append(
            ParetoPoint(
                result.name,
                stats.p50,
                result.metrics.miou,
                tuple(stats.input_size),
                result.metrics.split,
            )
        )
    if not points:
        raise CompressError(
            "no run has both a latency and an mIoU to plot: " + ", ".join(lacking or ["no runs"])
        )
    _require_alike(points, "input_size", "latencies measured at different input sizes")
    _require_alike(points, "split", "mIoU scored on different splits")
    return points


def _require_alike(points: list[ParetoPoint], field: str, what: str) -> None:
    """One plot compares like with like: refuse runs that differ in ``field``."""
    values = {getattr(p, field) for p in points}
    if len(values) > 1:
        shown = ", ".join(f"{p.name}: {_shown(getattr(p, field))}" for p in points[:6])
        raise CompressError(
            f"cannot plot {what} in one figure ({shown}); plot runs measured "
            "alike (compare shows the others as not comparable)"
        )


def _shown(value: object) -> str:
    if isinstance(value, tuple):
        return "x".join(str(v) for v in value)
    return str(value)


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

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = Figure(figsize=(7.5, 5.0), dpi=120)  # Agg canvas; no pyplot global state
    FigureCanvasAgg(fig)  # a renderer to measure the labels with
    ax = fig.subplots()
    others = [p for p in points if p.name not in on_front]

    def xy(chosen: list[ParetoPoint]) -> tuple[list[float], list[float]]:
        return [p.latency_ms for p in chosen], [100 * p.miou for p in chosen]

    ax.scatter(*xy(others), color="tab:gray", label="dominated", zorder=3)
    ax.scatter(*xy(front), color="tab:red", marker="D", label="Pareto front", zorder=4)
    ax.step(
        *xy(front),
        where="post",
        color="tab:red",
        alpha=0.6,
        zorder=2,
        label="front (best mIoU at each latency)",
    )
    latencies = [p.latency_ms for p in points]
    if min(latencies) > 0 and max(latencies) / min(latencies) > 20:
        ax.set_xscale("log")
    size, split = points[0].input_size, points[0].split
    ax.set_xlabel(f"latency, ms (p50, {key}, input {_shown(size)})")
    ax.set_ylabel(f"mIoU, % ({split or 'split not recorded'})")
    ax.set_title(
        f"Accuracy vs latency, {split or '?'} split, {_shown(size)}, {key}\n"
        "(up and left is better)",
        fontsize=10,
    )
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    place_labels(ax, [(p.name, p.latency_ms, 100 * p.miou) for p in points])
    atomic.write_with(path, lambda tmp: fig.savefig(tmp, format="png"))
    return front


# Offsets (points) tried in turn for a label; past them, labels stack upwards with a
# leader line to their point.
_OFFSETS = [(5, 5), (5, -12), (-5, 5), (-5, -12), (5, 16), (5, -23), (-5, 16), (-5, -23)]


def place_labels(ax: Any, labels: list[tuple[str, float, float]]) -> list[Any]:
    """Annotate each ``(text, x, y)`` where its box overlaps no box placed before it (nor
    the axes' edge): the first free offset of :data:`_OFFSETS`, else further up with a
    leader line. Returns the annotations (their boxes are the test's evidence)."""
    canvas = ax.figure.canvas
    renderer = canvas.get_renderer()
    placed: list[Any] = []
    boxes: list[Any] = []
    inside = ax.get_window_extent(renderer)
    for text, x, y in sorted(labels, key=lambda item: (item[1], -item[2])):
        # the near offsets inside the axes first; then stacked up or down with a leader
        # line (inside the axes if possible, else anywhere clear)
        stacked = [(5, sign * (16 + 11 * k)) for k in range(2, 60) for sign in (1, -1)]
        tries = [(offset, True) for offset in [*_OFFSETS, *stacked]]
        tries += [(offset, False) for offset in stacked]
        for (dx, dy), must_fit in tries:
            note = _annotate(ax, text, x, y, dx, dy)
            box = text_box(note, renderer)
            clear = all(not box.overlaps(other) for other in boxes)
            fits = (
                inside.x0 <= box.x0
                and box.x1 <= inside.x1
                and (inside.y0 <= box.y0 and box.y1 <= inside.y1)
            )
            if clear and (fits or not must_fit):
                break
            note.remove()
        else:  # nowhere clear (hundreds of labels): the last try, overlapping
            note = _annotate(ax, text, x, y, dx, dy)
            box = text_box(note, renderer)
        placed.append(note)
        boxes.append(box)
    return placed


def text_box(note: Any, renderer: Any) -> Any:
    """The box of an annotation's text alone (its leader line left out)."""
    from matplotlib.text import Text

    note.update_positions(renderer)  # where the offset puts the text, for this layout
    return Text.get_window_extent(note, renderer)


def _annotate(ax: Any, text: str, x: float, y: float, dx: int, dy: int) -> Any:
    return ax.annotate(
        text,
        (x, y),
        textcoords="offset points",
        xytext=(dx, dy),
        fontsize=8,
        ha="left" if dx >= 0 else "right",
        va="bottom" if dy >= 0 else "top",
        arrowprops={"arrowstyle": "-", "color": "0.5", "lw": 0.6} if abs(dy) > 23 else None,
    )
