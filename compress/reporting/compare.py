"""Comparison rows built from ``result.json`` files: every variant against its own baseline.

Pure functions over :class:`compress.core.results.RunResult`; nothing is re-measured, so a
comparison can be re-made at any time. Definitions (see docs/reports.md):

- ``delta_miou``: 100 x (variant mIoU - baseline mIoU), in points;
- ``speedup``: baseline latency / variant latency (p50 of one latency key for all rows);
- ``size_ratio``: baseline size / variant size; ``macs_ratio``: baseline MACs / variant MACs.

Ratios above 1 mean the variant is better (faster, smaller, cheaper). A value that either
side lacks gives ``None`` ("—" in tables) instead of an error.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import Field

from compress.core.errors import CompressError
from compress.core.results import RunResult, load_result
from compress.core.specs import Spec
from compress.reporting.comparability import macs_reduction, miou_delta, ratio, speedup
from compress.reporting.lineage import fold_bench_runs
from compress.reporting.step_labels import result_steps_label

# Default latency keys, most preferred first: ONNX Runtime is the deployment runtime.
LATENCY_PREFERENCE: tuple[str, ...] = ("ort-cpu", "torch-cpu")

# Columns that have a "best" value, and whether higher is better.
BEST_COLUMNS: dict[str, bool] = {
    "miou": True,
    "latency_ms": False,
    "size_bytes": False,
    "macs": False,
}


class CompareSpec(Spec):
    """What ``compress compare`` compares: run folders, a default baseline, a latency key."""

    runs: list[Path] = Field(min_length=1)
    baseline: str | None = None
    latency_key: str | None = None


@dataclass(frozen=True)
class ComparisonRow:
    """One run's numbers next to its baseline's; ``None`` where a value is missing."""

    name: str
    model: str
    kind: str
    steps: str
    baseline: str | None
    miou: float | None
    delta_miou: float | None
    latency_ms: float | None
    speedup: float | None
    size_bytes: int | None
    size_ratio: float | None
    macs: int | None
    macs_ratio: float | None
    params: int | None
    training_seconds: float | None
    speedup_vs_eager: float | None = None  # the baseline's torch-cpu latency / this row's
    study_miou: float | None = None  # the study's per-image formula (docs/metrics.md)
    parent: str | None = None  # a chained variant's parent: the run one step shorter
    parent_delta_miou: float | None = None
    parent_speedup: float | None = None
    parent_size_ratio: float | None = None
    notes: tuple[str, ...] = ()  # figures left out as not comparable, and why

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return asdict(self)


@dataclass(frozen=True)
class Comparison:
    """The rows of a comparison, in the order the runs were given, and the latency key used."""

    rows: list[ComparisonRow]
    latency_key: str | None

    def best(self) -> dict[str, set[str]]:
        """Column -> names of the rows holding its best value (ties share it)."""
        return best_rows(self.rows)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready document: latency key, rows and the best row names per column."""
        return {
            "latency_key": self.latency_key,
            "rows": [row.to_dict() for row in self.rows],
            "best": {column: sorted(names) for column, names in self.best().items()},
        }


def compare_runs(spec: CompareSpec) -> Comparison:
    """Load every run of ``spec`` and compare each with its own baseline."""
    results = load_results(spec.runs)
    return compare(results, baseline=spec.baseline, latency_key=spec.latency_key)


def load_results(paths: Sequence[str | os.PathLike[str]]) -> list[RunResult]:
    """Load ``result.json`` from each path (run folder or file); refuse duplicate run names."""
    results: list[RunResult] = []
    seen: dict[str, Path] = {}
    for path in paths:
        result = load_result(path)
        if result.name in seen:
            raise CompressError(
                f"{path} and {seen[result.name]} both hold a run named {result.name!r}; "
                "each compared run needs a unique name"
            )
        seen[result.name] = Path(path)
        results.append(result)
    return results


def compare(
    results: list[RunResult],
    *,
    baseline: str | None = None,
    latency_key: str | None = None,
    parents: dict[str, str] | None = None,
) -> Comparison:
    """One row per result, each compared with its own baseline (``baseline`` fills the gaps).

    A bench run of a train run's own checkpoint becomes part of that run's row
    (:func:`compress.reporting.lineage.fold_bench_runs`); ``parents`` (variant name -> parent
    name, as a recipe knows them) adds each chained variant's comparison with its parent.

    Raises:
        CompressError: no results, duplicate names, a baseline that is not among the
            results, or a ``latency_key`` that no result has.
    """
    if not results:
        raise CompressError("nothing to compare: give at least one run folder")
    names = [result.name for result in results]
    duplicates = sorted(name for name, count in Counter(names).items() if count > 1)
    if duplicates:
        raise CompressError(f"run name(s) {', '.join(duplicates)} given more than once")
    results, folded = fold_bench_runs(results)
    baselines = resolve_baselines(results, baseline)
    key = choose_latency_key(results, latency_key)
    by_name = {result.name: result for result in results}
    rows = []
    for result in results:
        base_name = baselines[result.name]
        parent = by_name.get((parents or {}).get(result.name, ""))
        row = _row(result, by_name[base_name] if base_name is not None else None, key, parent)
        if result.name in folded:
            note = f"latency from bench run {folded[result.name]} (same checkpoint sha256)"
            row = replace(row, notes=(*row.notes, note))
        rows.append(row)
    return Comparison(rows=rows, latency_key=key)


def resolve_baselines(results: list[RunResult], override: str | None) -> dict[str, str | None]:
    """Run name -> the name of the run it is compared with (``None``: compared with nothing).

    A run's own ``baseline`` field wins; ``override`` applies to runs without one; a run
    is never its own baseline.
    """
    names = [result.name for result in results]
    given = ", ".join(names)
    if override is not None and override not in names:
        raise CompressError(
            f"--baseline {override!r} is not among the runs given; runs given: {given}"
        )
    resolved: dict[str, str | None] = {}
    for result in results:
        target = result.baseline or override
        if target is not None and target not in names:
            raise CompressError(
                f"run {result.name!r} is compared with baseline {target!r}, which is not among "
                f"the runs given ({given}); add that run's folder to the command"
            )
        resolved[result.name] = None if target == result.name else target
    return resolved


def choose_latency_key(results: list[RunResult], requested: str | None = None) -> str | None:
    """The latency key every row uses, so that no table mixes runtimes or devices.

    ``requested`` must be present in at least one run. By default: a key present in all
    runs, preferring ``ort-cpu`` then ``torch-cpu``; if no key is common, the key present
    in the most runs (same preference on ties); ``None`` when no run has a latency.
    """
    counts: Counter[str] = Counter()
    order: list[str] = []
    for result in results:
        for key in result.latency_ms:
            counts[key] += 1
            if key not in order:
                order.append(key)
    if requested is not None:
        if requested not in counts:
            present = ", ".join(order) or "none (no run has latency measurements)"
            raise CompressError(
                f"--latency-key {requested!r} is in none of the runs; keys present: {present}"
            )
        return requested
    if not counts:
        return None

    def rank(key: str) -> tuple[int, int, int]:
        preferred = (
            LATENCY_PREFERENCE.index(key) if key in LATENCY_PREFERENCE else len(LATENCY_PREFERENCE)
        )
        return (-counts[key], preferred, order.index(key))

    return min(counts, key=rank)


def best_rows(rows: list[ComparisonRow]) -> dict[str, set[str]]:
    """Column -> names of rows with the best value; only when two or more rows have one."""
    best: dict[str, set[str]] = {}
    for column, higher_is_better in BEST_COLUMNS.items():
        values = {row.name: getattr(row, column) for row in rows}
        values = {name: value for name, value in values.items() if value is not None}
        if len(values) < 2:
            continue
        target = max(values.values()) if higher_is_better else min(values.values())
        best[column] = {name for name, value in values.items() if value == target}
    return best


def _row(
    result: RunResult,
    base: RunResult | None,
    latency_key: str | None,
    parent: RunResult | None = None,
) -> ComparisonRow:
    """A run against its reference: the baseline measured beside it in the same process
    when the result holds one (schema 2), else the baseline run's own result. Only figures
    measured alike are divided or subtracted (:mod:`compress.reporting.comparability`); the others
    are left out with a note. A chained variant is also compared with its ``parent``."""
    miou = result.metrics.miou if result.metrics is not None else None
    latency = _latency(result, latency_key)
    delta = speed = size_ratio = macs_x = eager = None
    notes: list[str] = []
    own = result.baseline_measurement
    references = [m for m in (own, base) if m is not None]
    if references:
        delta = miou_delta(result, references, notes)
        speed = speedup(result, references, latency_key, notes)
        size_ratio = ratio(references[0].size_bytes, result.size_bytes)
        macs_x = macs_reduction(result, references, notes)
        eager = speedup(result, references, latency_key, [], reference_key="torch-cpu")
    parent_fields: dict[str, Any] = {}
    if parent is not None:
        parent_fields = {
            "parent": parent.name,
            "parent_delta_miou": miou_delta(result, [parent], []),
            "parent_speedup": speedup(result, [parent], latency_key, []),
            "parent_size_ratio": ratio(parent.size_bytes, result.size_bytes),
        }
    return ComparisonRow(
        name=result.name,
        model=result.model,
        kind=result.kind,
        steps=result_steps_label(result),
        baseline=base.name if base is not None else (own.name if own is not None else None),
        miou=miou,
        delta_miou=delta,
        latency_ms=latency,
        speedup=speed,
        size_bytes=result.size_bytes,
        size_ratio=size_ratio,
        macs=result.macs,
        macs_ratio=macs_x,
        params=result.params,
        training_seconds=_training_seconds(result),
        speedup_vs_eager=eager if latency_key != "torch-cpu" else None,
        study_miou=result.metrics.study_miou if result.metrics is not None else None,
        notes=tuple(notes),
        **parent_fields,
    )


def _latency(result: RunResult, key: str | None) -> float | None:
    stats = result.latency_ms.get(key) if key is not None else None
    return stats.p50 if stats is not None else None


def _training_seconds(result: RunResult) -> float | None:
    seconds = (result.training or {}).get("seconds")
    if isinstance(seconds, (int, float)) and not isinstance(seconds, bool):
        return float(seconds)
    return None
