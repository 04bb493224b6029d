"""How compared runs are related beyond "variant of a baseline".

- A ``compress bench`` of a train run's checkpoint measures the same model: its latency
  belongs on the train run's row, found by the checkpoint's sha256 (the bench records it
  as ``source_sha256``), so one model is one line with training time, latency, size and
  accuracy together.
- A chained variant's parent is the variant of the same baseline whose steps are the
  longest proper prefix of its own (``prune → finetune → quantize`` has parent
  ``prune → finetune``): a recipe knows both step lists, so it names the parents.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from compress.core.results import RunResult
from compress.reporting.comparability import checkpoint_of


def fold_bench_runs(results: list[RunResult]) -> tuple[list[RunResult], dict[str, str]]:
    """Train runs that take the latency of a bench run of their own checkpoint.

    Returns the results without the folded bench runs (train runs updated in place of
    them) and ``{train run name: bench run name}`` for each fold. A bench run that another
    run names as its baseline stays a row of its own.
    """
    from compress.core.runs import file_sha256

    named_as_baseline = {r.baseline for r in results if r.baseline is not None}
    benches = {
        r.source_sha256: r
        for r in results
        if r.kind == "bench" and r.source_sha256 and r.name not in named_as_baseline
    }
    if not benches:
        return results, {}
    folded: dict[str, str] = {}
    merged: list[RunResult] = []
    used: set[str] = set()
    for result in results:
        checkpoint = checkpoint_of(result) if result.kind == "train" else None
        bench = benches.get(file_sha256(str(checkpoint))) if checkpoint is not None else None
        if bench is None or bench.name in used:
            merged.append(result)
            continue
        update = {"latency_ms": {**bench.latency_ms, **result.latency_ms}}
        merged.append(result.model_copy(update=update))
        folded[result.name] = bench.name
        used.add(bench.name)
    return [r for r in merged if r.name not in used], folded


def parents_by_prefix(variants: Sequence[Any]) -> dict[str, str]:
    """``{variant name: parent name}`` for entries with ``name``, ``baseline`` and ``steps``.

    The parent is the variant of the same baseline whose steps (compared as specs) are the
    longest proper prefix of the variant's own; a variant without one has no entry.
    """
    parents: dict[str, str] = {}
    for variant in variants:
        steps = [_key(step) for step in variant.steps]
        best: tuple[int, str] | None = None
        for other in variants:
            theirs = [_key(step) for step in other.steps]
            if other.baseline != variant.baseline or not 0 < len(theirs) < len(steps):
                continue
            if steps[: len(theirs)] == theirs and (best is None or len(theirs) > best[0]):
                best = (len(theirs), other.name)
        if best is not None:
            parents[variant.name] = best[1]
    return parents


def _key(step: Any) -> Any:
    return step.model_dump(mode="json") if hasattr(step, "model_dump") else step
