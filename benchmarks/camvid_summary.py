"""Summarise a run folder of ``benchmarks/camvid_accuracy.sh`` as a Markdown table.

Each row: test mIoU, its change against the baseline and against the control (the
baseline trained the fine-tune's epochs more), MACs and params against the baseline.
Rows whose files are missing (a study still running) are left out, not guessed.

    python benchmarks/camvid_summary.py runs/camvid-accuracy
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

# row name -> run folder holding result.json (MACs/params); test metrics in NAME-test.json
VARIANTS = {
    "baseline": "baseline",
    "control": "control",
    "prune50": "prune50",
    "prune50-lr1e-4": "prune50-lr1e-4",
    "prune-sensitivity": "prune-sensitivity",
    "tucker50": "tucker50",
}
INT8 = ("ptq", "qat")  # their result.json holds fp32 and int8 test metrics (ORT)


def _read(path: Path) -> dict[str, Any] | None:
    """The JSON document at ``path``; None when it is missing or unreadable (unfinished)."""
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def rows(out: Path) -> list[dict[str, Any]]:
    """One dict per finished row: name, miou, macs_fraction, params, epochs (fp32_miou: int8)."""
    found = []
    for name, folder in VARIANTS.items():
        test, result = _read(out / f"{name}-test.json"), _read(out / folder / "result.json")
        if test is None or result is None:
            continue
        epochs = (result.get("training") or {}).get("epochs")
        # MACs are counted at each run's own input size: compare through its own fraction
        # (variant / its same-process baseline, docs/measurement.md); 1.0 for a baseline
        base = result.get("baseline_measurement") or {}
        macs_fraction = result["macs"] / base["macs"] if base.get("macs") else 1.0
        found.append(
            {
                "name": name,
                "miou": test["miou"],
                "macs_fraction": macs_fraction,
                "params": result.get("params"),
                "epochs": epochs,
            }
        )
    for name in INT8:
        result = _read(out / name / "result.json")
        if result is None or result.get("metrics") is None:
            continue
        found.append(
            {
                "name": f"{name} int8 (ORT)",
                "miou": result["metrics"]["miou"],
                "macs_fraction": None,
                "params": None,
                "epochs": None,
                "fp32_miou": result["baseline_measurement"]["metrics"]["miou"],
            }
        )
    return found


def table(found: list[dict[str, Any]]) -> str:
    by_name = {row["name"]: row for row in found}
    base, control = by_name.get("baseline"), by_name.get("control")
    lines = [
        "| variant | epochs | test mIoU % | Δ vs baseline | Δ vs control | MACs × base "
        "| params × base |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in found:
        reference = row.get("fp32_miou", base["miou"] if base else None)
        delta = "—" if reference is None else f"{100 * (row['miou'] - reference):+.2f}"
        vs_control = (
            f"{100 * (row['miou'] - control['miou']):+.2f}"
            if control and row["name"] not in ("baseline", "control") and "fp32_miou" not in row
            else "—"
        )
        macs = f"{row['macs_fraction']:.2f}" if row["macs_fraction"] is not None else "—"
        params = f"{row['params'] / base['params']:.2f}" if base and row["params"] else "—"
        epochs = row["epochs"] if row["epochs"] is not None else "—"
        lines.append(
            f"| {row['name']} | {epochs} | {100 * row['miou']:.2f} | {delta} "
            f"| {vs_control} | {macs} | {params} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print(
            "usage: python benchmarks/camvid_summary.py RUN_DIR (a camvid_accuracy.sh "
            "output folder)",
            file=sys.stderr,
        )
        return 2
    print(table(rows(Path(argv[0]))))
    print("\nint8 rows: Δ is against the same model in fp32 on ONNX Runtime (same test split).")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
