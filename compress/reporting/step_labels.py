"""One-line labels of the steps a run applied, e.g. ``prune(ratio=0.5) → finetune(epochs=20)``."""

from __future__ import annotations

from typing import Any

from compress.core.results import RunResult

# The step fields worth a column: what a reader needs to tell two variants apart.
# Records also carry bookkeeping (format versions, pruning history, per-layer ranks).
STEP_SUMMARY_KEYS: tuple[str, ...] = (
    "method",
    "ratio",
    "target_macs",
    "importance",
    "scope",
    "rank",
    "rank_rule",
    "calibration",
)


def steps_label(steps: list[dict[str, Any]]) -> str:
    """The applied steps in order, e.g. ``prune(ratio=0.5, importance=l2) → quantize``."""
    parts = []
    for step in steps:
        kind = str(step.get("kind", "?"))
        options = [
            f"{key}={step[key]}"
            for key in STEP_SUMMARY_KEYS
            if isinstance(step.get(key), (str, int, float, bool))
        ]
        parts.append(f"{kind}({', '.join(options)})" if options else kind)
    return " → ".join(parts)


def result_steps_label(result: RunResult) -> str:
    """Every applied step in order, fine-tunes included (they leave no structure record)."""
    if not result.step_details:
        return steps_label(result.steps)
    records = list(result.steps)
    parts = []
    for detail in result.step_details:
        if detail.kind == "finetune":
            parts.append(f"finetune(epochs={detail.epochs})")  # type: ignore[union-attr]
            continue
        index = next((i for i, r in enumerate(records) if r.get("kind") == detail.kind), None)
        parts.append(steps_label([records.pop(index)]) if index is not None else detail.kind)
    return " → ".join(parts)
