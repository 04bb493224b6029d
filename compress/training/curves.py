"""Training curves: mean training loss and validation mIoU (plus accuracies) per epoch.

Drawn with matplotlib's object API on an Agg canvas (no pyplot global state, no display
needed) and written atomically, so a crash never leaves a half-written PNG.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from compress.core import atomic
from compress.core.errors import CompressError
from compress.training.history import EpochRecord, History


def plot_training_curves(
    history: History | Iterable[EpochRecord | Mapping[str, Any]],
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    split: str = "val",
) -> Path:
    """Write a two-panel PNG (loss | validation metrics vs epoch) to ``path``.

    The best-mIoU epoch is marked; epochs without validation simply have no point in
    the right panel. Raises CompressError for an empty history.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    records = _records(history)
    if not records:
        raise CompressError(f"cannot plot training curves to {path}: the history is empty")
    epochs = [r.epoch for r in records]
    validated = [r for r in records if r.miou is not None]

    figure = Figure(figsize=(10, 4), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    loss_axes, metric_axes = figure.subplots(1, 2)

    loss_axes.plot(epochs, [r.loss for r in records], marker="o", markersize=3, color="tab:red")
    loss_axes.set_xlabel("epoch")
    loss_axes.set_ylabel("mean training loss (cross-entropy)")
    loss_axes.set_title("training loss")
    loss_axes.grid(alpha=0.3)

    if validated:
        val_epochs = [r.epoch for r in validated]
        metric_axes.plot(val_epochs, [r.miou for r in validated], marker="o", label="mIoU")
        for name, style in (("class_acc", "--"), ("pixel_acc", ":")):
            values = [getattr(r, name) for r in validated]
            if all(v is not None for v in values):
                metric_axes.plot(val_epochs, values, linestyle=style, label=name.replace("_", " "))
        best = max(validated, key=lambda r: (r.miou, -r.epoch))
        metric_axes.scatter(
            [best.epoch],
            [best.miou],
            s=90,
            facecolors="none",
            edgecolors="black",
            zorder=3,
            label=f"best mIoU {100 * best.miou:.1f}% (epoch {best.epoch})",
        )
        metric_axes.legend(loc="best", fontsize="small")
    else:
        metric_axes.text(
            0.5, 0.5, "no validation yet", ha="center", va="center", transform=metric_axes.transAxes
        )
    metric_axes.set_xlim(min(epochs) - 0.5, max(epochs) + 0.5)
    metric_axes.set_ylim(-0.02, 1.02)
    for axes in (loss_axes, metric_axes):
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    metric_axes.set_xlabel("epoch")
    metric_axes.set_ylabel("validation score")
    metric_axes.set_title(f"validation ({split} split, whole images)")
    metric_axes.grid(alpha=0.3)
    if title:
        figure.suptitle(title)

    atomic.write_with(path, lambda tmp: figure.savefig(tmp, format="png"))
    return Path(path)


def _records(history: History | Iterable[EpochRecord | Mapping[str, Any]]) -> list[EpochRecord]:
    if isinstance(history, History):
        return list(history.records)
    items = list(history)
    if all(isinstance(item, EpochRecord) for item in items):
        return items  # type: ignore[return-value]
    return History.from_dicts(
        [item.model_dump() if isinstance(item, EpochRecord) else item for item in items]
    ).records
