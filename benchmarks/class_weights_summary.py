"""Summarise ``benchmarks/camvid_class_weights.sh``: test mIoU, the mean IoU of CamVid's
thin classes (pole, sign/symbol, pedestrian, bicyclist) and every class's IoU, one column
per training setting, as Markdown. Settings whose files are missing are left out.

    python benchmarks/class_weights_summary.py runs/camvid-weights
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

THIN = ("pole", "sign/symbol", "pedestrian", "bicyclist")


def settings(out: Path) -> dict[str, dict[str, Any]]:
    """Setting name -> its test evaluation (``compress eval --json``), in name order with
    ``none`` first."""
    found = {}
    for path in sorted(out.glob("*-test.json")):
        found[path.name.removesuffix("-test.json")] = json.loads(path.read_text())
    return dict(sorted(found.items(), key=lambda item: (item[0] != "none", item[0])))


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def thin_mean(evaluation: dict[str, Any]) -> float:
    names, ious = evaluation["class_names"], evaluation["per_class_iou"]
    values = [ious[names.index(name)] or 0.0 for name in THIN]
    return sum(values) / len(values)


def table(found: dict[str, dict[str, Any]]) -> str:
    names = list(found)
    lines = ["| test split | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    lines.append("| **mIoU %** | " + " | ".join(_percent(e["miou"]) for e in found.values()) + " |")
    lines.append(
        "| **thin classes, mean IoU %** | "
        + " | ".join(_percent(thin_mean(e)) for e in found.values())
        + " |"
    )
    lines.append(
        "| pixel accuracy % | "
        + " | ".join(_percent(e["pixel_acc"]) for e in found.values())
        + " |"
    )
    class_names = next(iter(found.values()))["class_names"]
    for index, name in enumerate(class_names):
        cells = [_percent(e["per_class_iou"][index]) for e in found.values()]
        label = f"{name} (thin)" if name in THIN else name
        lines.append(f"| IoU % {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/camvid-weights")
    found = settings(folder)
    if not found:
        sys.exit(f"{folder} holds no *-test.json yet")
    print(table(found))
