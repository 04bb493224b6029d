"""One-line labels of steps, e.g. ``prune(ratio=0.5) → finetune(epochs=20)``.

Each step kind shows the fields it registered (``label_fields``,
:func:`compress.core.step_details.register_step_kind`, done by its technique file); a kind
nobody registered shows the generic :data:`STEP_SUMMARY_KEYS`. The same label is made
from a step's spec (the recipe plan), its structure record or its details (results).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from compress.core.results import RunResult
from compress.core.step_details import STEP_KINDS

# The fields worth a column for a kind that registered none: what a reader needs to tell
# two variants apart. Records also carry bookkeeping (format versions, pruning history).
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


def step_label(values: Mapping[str, Any]) -> str:
    """``kind(field=value, ...)`` of one step's spec, record or details (unset fields and
    ``auto`` left out), e.g. ``prune(ratio=0.5, importance=l2, scope=uniform)``."""
    kind = str(values.get("kind", "?"))
    entry = STEP_KINDS.get(kind)
    keys = entry.fields_of(values) if entry is not None else STEP_SUMMARY_KEYS
    options = [
        f"{key}={values[key]}"
        for key in keys
        if isinstance(values.get(key), (str, int, float, bool)) and values.get(key) != "auto"
    ]
    return f"{kind}({', '.join(options)})" if options else kind


def steps_label(steps: list[dict[str, Any]]) -> str:
    """The applied steps in order, e.g. ``prune(ratio=0.5, importance=l2) → quantize``."""
    return " → ".join(step_label(step) for step in steps)


def result_steps_label(result: RunResult) -> str:
    """Every applied step in order: from its structure record where it wrote one, else from
    its details (a fine-tune leaves no record)."""
    if not result.step_details:
        return steps_label(result.steps)
    records = list(result.steps)
    parts = []
    for detail in result.step_details:
        index = next((i for i, r in enumerate(records) if r.get("kind") == detail.kind), None)
        values = records.pop(index) if index is not None else detail.model_dump()
        parts.append(step_label(values))
    return " → ".join(parts)
