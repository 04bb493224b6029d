"""Comparison rows built from ``result.json`` files: every variant against its own baseline.

Pure functions over :class:`compress.results.RunResult`; nothing is re-measured, so a
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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pydantic import Field

from compress.errors import CompressError
from compress.results import RunResult, load_result
from compress.specs import Spec

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
    results: list[RunResult], *, baseline: str | None = None, latency_key: str | None = None
) -> Comparison:
    """One row per result, each compared with its own baseline (``baseline`` fills the gaps).

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
    baselines = resolve_baselines(results, baseline)
    key = choose_latency_key(results, latency_key)
    by_name = {result.name: result for result in results}
    rows = []
    for result in results:
        base_name = baselines[result.name]
        rows.append(_row(result, by_name[base_name] if base_name is not None else None, key))
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


def ratio(baseline_value: float | None, variant_value: float | None) -> float | None:
    """``baseline / variant``, or ``None`` when either is missing or the variant is 0."""
    if baseline_value is None or variant_value is None or variant_value == 0:
        return None
    return baseline_value / variant_value


# The step fields worth a column: what a reader needs to tell two variants apart.
# Records also carry bookkeeping (format versions, pruning history, per-layer ranks).
STEP_SUMMARY_KEYS: tuple[str, ...] = (
    "method", "ratio", "target_macs", "importance", "scope", "rank", "rank_rule", "calibration",
)  # fmt: skip


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


def _row(result: RunResult, base: RunResult | None, latency_key: str | None) -> ComparisonRow:
    """A run against its reference: the baseline measured beside it in the same process
    when the result holds one (schema 2), else the baseline run's own result. Only figures
    measured alike are divided or subtracted; the others are left out with a note."""
    miou = result.metrics.miou if result.metrics is not None else None
    latency = _latency(result, latency_key)
    delta = speedup = size_ratio = macs_ratio = eager = None
    notes: list[str] = []
    own = result.baseline_measurement
    references = [m for m in (own, base) if m is not None]
    if references:
        delta = _delta(result, references, notes)
        speedup = _speedup(result, references, latency_key, notes)
        size_ratio = ratio(references[0].size_bytes, result.size_bytes)
        macs_ratio = _macs_ratio(result, references, notes)
        eager = _speedup(result, references, latency_key, [], reference_key="torch-cpu")
    return ComparisonRow(
        name=result.name,
        model=result.model,
        kind=result.kind,
        steps=steps_label(result.steps),
        baseline=base.name if base is not None else (own.name if own is not None else None),
        miou=miou,
        delta_miou=delta,
        latency_ms=latency,
        speedup=speedup,
        size_bytes=result.size_bytes,
        size_ratio=size_ratio,
        macs=result.macs,
        macs_ratio=macs_ratio,
        params=result.params,
        training_seconds=_training_seconds(result),
        speedup_vs_eager=eager if latency_key != "torch-cpu" else None,
        notes=tuple(notes),
    )


def _delta(result: RunResult, references: list[Any], notes: list[str]) -> float | None:
    """mIoU points against the first reference scored on the same split and image count."""
    if result.metrics is None:
        return None
    for reference in references:
        other = reference.metrics
        if other is None:
            continue
        if other.split != result.metrics.split or (
            other.num_images and result.metrics.num_images
            and other.num_images != result.metrics.num_images
        ):
            notes.append(f"mIoU: {result.metrics.split} vs baseline {other.split} - not comparable")
            continue
        return 100.0 * (result.metrics.miou - other.miou)
    return None


def _speedup(
    result: RunResult, references: list[Any], key: str | None, notes: list[str],
    reference_key: str | None = None,
) -> float | None:  # fmt: skip
    """Reference latency / this latency, only at the same input size and thread count."""
    mine = result.latency_ms.get(key) if key is not None else None
    if mine is None:
        return None
    for reference in references:
        theirs = reference.latency_ms.get(reference_key or key)
        if theirs is None:
            continue
        if tuple(theirs.input_size) != tuple(mine.input_size) or (
            theirs.threads and mine.threads and theirs.threads != mine.threads
        ):
            notes.append(
                f"latency: {mine.input_size[0]}x{mine.input_size[1]}, {mine.threads} threads vs "
                f"baseline {theirs.input_size[0]}x{theirs.input_size[1]}, {theirs.threads} "
                "threads - not comparable"
            )
            continue
        return ratio(theirs.p50, mine.p50)
    return None


def _macs_ratio(result: RunResult, references: list[Any], notes: list[str]) -> float | None:
    """Reference MACs / these MACs, only when both were counted at the same input size."""
    if result.macs is None:
        return None
    for reference in references:
        if reference.macs is None:
            continue
        if reference.macs_input_size is not None and result.macs_input_size is not None and (
            tuple(reference.macs_input_size) != tuple(result.macs_input_size)
        ):
            notes.append(
                f"MACs: counted at {_size(result.macs_input_size)} vs baseline at "
                f"{_size(reference.macs_input_size)} - not comparable"
            )
            continue
        return ratio(reference.macs, result.macs)
    return None


def _size(size: Any) -> str:
    return f"{size[0]}x{size[1]}"


def _latency(result: RunResult, key: str | None) -> float | None:
    stats = result.latency_ms.get(key) if key is not None else None
    return stats.p50 if stats is not None else None


def _training_seconds(result: RunResult) -> float | None:
    seconds = (result.training or {}).get("seconds")
    if isinstance(seconds, (int, float)) and not isinstance(seconds, bool):
        return float(seconds)
    return None
