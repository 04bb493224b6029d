"""Sensitivity heatmaps: per pruning group and ratio, the mIoU drop and the MACs saved.

Two panels share the group rows: left, the mIoU lost (points) when only that group is
pruned at that ratio; right, the share of the model's MACs that saves. A group that is
cheap on the left and large on the right is where to prune. A heatmap (not one line
per group) stays readable for the 20-60 groups of the registered models.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from compress.core import atomic

if TYPE_CHECKING:
    from compress.pruning.profile import SensitivityProfile


def sensitivity_grid(profile: SensitivityProfile) -> tuple[list[list[float]], list[list[float]]]:
    """``(drop in points, MACs saved in %)``, one row per group, one column per ratio."""
    drops, saved = [], []
    for group in profile.groups:
        by_ratio = {point.ratio: point for point in group.points}
        drops.append(
            [100 * by_ratio[r].miou_drop if r in by_ratio else float("nan") for r in profile.ratios]
        )
        saved.append(
            [
                100 * by_ratio[r].macs_saved / profile.baseline_macs
                if r in by_ratio
                else float("nan")
                for r in profile.ratios
            ]
        )
    return drops, saved


def plot_sensitivity(profile: SensitivityProfile, path: str | os.PathLike[str]) -> None:
    """Write the two heatmaps of ``profile`` as a PNG at ``path`` (atomically)."""
    from matplotlib.figure import Figure

    drops, saved = sensitivity_grid(profile)
    rows, cols = len(profile.groups), len(profile.ratios)
    height = min(40.0, max(3.0, 0.28 * rows + 1.8))
    fig = Figure(figsize=(max(8.0, 2.2 * cols + 5.0), height), dpi=110)  # Agg, no pyplot
    axes = fig.subplots(1, 2, sharey=True)
    panels = [
        (axes[0], drops, "mIoU drop, points", "Reds"),
        (axes[1], saved, "MACs saved, % of model", "Blues"),
    ]
    for ax, grid, title, cmap in panels:
        finite = [v for row in grid for v in row if v == v]
        top = max([abs(v) for v in finite] + [1.0])  # a flat 0 map stays readable
        image = ax.imshow(grid, aspect="auto", cmap=cmap, vmin=min(0.0, *finite, 0.0), vmax=top)
        for i, row in enumerate(grid):
            for j, value in enumerate(row):
                if value == value and rows <= 60:
                    ax.text(
                        j,
                        i,
                        f"{value:.1f}",
                        ha="center",
                        va="center",
                        fontsize=6,
                        color="white" if value > 0.6 * top else "black",
                    )
        ax.set_xticks(range(cols))
        ax.set_xticklabels([f"{r:g}" for r in profile.ratios])
        ax.set_xlabel("ratio of the group's channels pruned")
        ax.set_title(title, fontsize=9)
        fig.colorbar(image, ax=ax, fraction=0.05, pad=0.02)
    axes[0].set_yticks(range(rows))
    axes[0].set_yticklabels([f"{g.name} ({g.channels})" for g in profile.groups], fontsize=6)
    fig.suptitle(
        f"Sensitivity of {profile.model} ({profile.importance}, no fine-tuning): baseline "
        f"mIoU {100 * profile.baseline_miou:.2f} on {profile.num_images} {profile.split} "
        f"images at their own size, PyTorch eager; MACs at "
        f"{profile.input_size[0]}x{profile.input_size[1]}",
        fontsize=9,
    )
    fig.tight_layout()
    atomic.write_with(path, lambda tmp: fig.savefig(tmp, format="png"))
