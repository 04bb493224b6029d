"""Grouped bars of per-class IoU, one bar per run in each class: where did a variant lose?

A compressed model often keeps its mIoU but loses a small class (vehicles, pools); this
plot shows it. Classes absent from a run's evaluation split have no bar and are marked
"n/a" rather than drawn as 0.
"""

from __future__ import annotations

import os

from compress.core import atomic
from compress.core.errors import CompressError
from compress.core.results import RunResult


def per_class_table(results: list[RunResult]) -> tuple[list[str], dict[str, list[float | None]]]:
    """Class names and, per run with metrics, its per-class IoU (``None`` = absent class).

    Class names come from the first run that records them (``class i`` otherwise).

    Raises:
        CompressError: no run has metrics, runs disagree on the number of classes, or
            they record different class names.
    """
    rows = {r.name: r.metrics for r in results if r.metrics is not None}
    if not rows:
        names = ", ".join(r.name for r in results) or "none"
        raise CompressError(f"no run has metrics to plot per-class IoU (runs: {names})")
    splits = {name: m.split for name, m in rows.items()}
    if len(set(splits.values())) > 1:
        shown = ", ".join(f"{name}: {split or 'not recorded'}" for name, split in splits.items())
        raise CompressError(
            f"runs were scored on different splits ({shown}); per-class IoU compares runs "
            "scored on one split (e.g. `compress eval --split test --out ...` for each)"
        )
    counts = {name: len(m.per_class_iou) for name, m in rows.items()}
    if len(set(counts.values())) > 1:
        shown = ", ".join(f"{name}: {count}" for name, count in counts.items())
        raise CompressError(
            f"runs have different numbers of classes ({shown}); compare "
            "runs evaluated on the same data set"
        )
    class_names: list[str] | None = None
    source = ""
    for name, metrics in rows.items():
        if metrics.class_names is None:
            continue
        if class_names is None:
            class_names, source = list(metrics.class_names), name
        elif list(metrics.class_names) != class_names:
            raise CompressError(
                f"runs {source!r} and {name!r} record different class names "
                f"({class_names} vs {metrics.class_names}); compare runs of one data set"
            )
    num_classes = next(iter(counts.values()))
    if class_names is None or len(class_names) != num_classes:
        class_names = [f"class {i}" for i in range(num_classes)]
    return class_names, {name: list(m.per_class_iou) for name, m in rows.items()}


def rows_split(results: list[RunResult]) -> list[str | None]:
    """The split each run with metrics was scored on (one value after per_class_table)."""
    return [r.metrics.split for r in results if r.metrics is not None]


def plot_per_class_iou(results: list[RunResult], path: str | os.PathLike[str]) -> None:
    """Write a PNG of grouped per-class IoU bars comparing the runs that have metrics."""
    from matplotlib.figure import Figure

    class_names, ious = per_class_table(results)
    runs = list(ious)
    num_classes = len(class_names)
    group = 0.8
    width = group / len(runs)
    fig_width = min(30.0, max(6.0, num_classes * (0.25 * len(runs) + 0.4) + 2.0))
    fig = Figure(figsize=(fig_width, 4.8), dpi=120)  # Agg canvas; no pyplot global state
    ax = fig.subplots()
    colors = [f"C{i % 10}" for i in range(len(runs))]
    for index, run in enumerate(runs):
        offsets = [c - group / 2 + (index + 0.5) * width for c in range(num_classes)]
        values = [100 * v if v is not None else 0.0 for v in ious[run]]
        bars = ax.bar(offsets, values, width=width, label=run, color=colors[index])
        for bar, value in zip(bars, ious[run], strict=True):
            if value is None:
                bar.set_alpha(0.0)
                ax.annotate(
                    "n/a",
                    (bar.get_x() + bar.get_width() / 2, 0.5),
                    ha="center",
                    va="bottom",
                    fontsize=6,
                    rotation=90,
                    color=colors[index],
                )
    ax.set_xticks(range(num_classes))
    ax.set_xticklabels(class_names, rotation=30, ha="right")
    ax.set_ylabel("IoU, %")
    ax.set_ylim(0, 118)  # headroom for the legend above the 100% line
    ax.set_yticks(range(0, 101, 20))
    split = next(iter(rows_split(results)), None)
    ax.set_title(f"Per-class IoU, {split or 'split not recorded'} split")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8, ncol=min(len(runs), 4), loc="upper right")
    fig.tight_layout()
    atomic.write_with(path, lambda tmp: fig.savefig(tmp, format="png"))
