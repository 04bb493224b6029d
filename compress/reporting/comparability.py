"""Like with like: the rules by which one measured figure may be divided by or subtracted from
another in a comparison.

A reference is anything measured (a :class:`compress.core.results.RunResult` or the
same-process :class:`compress.core.results.Measurement` a variant carries). A figure is compared
only when both sides were measured alike:

- mIoU on the same split and the same number of images;
- latency at the same input size and thread count (the latency key fixes runtime and
  device);
- MACs at the same input size. Where the sizes differ, the run's MACs are recounted at the
  reference's size from its checkpoint when the folder still holds one (MACs are a
  property of the architecture, so recounting is exact), else the figure is left out.

Every figure left out adds one note saying why, so no table drops a number silently.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from compress.core.results import RunResult

log = logging.getLogger(__name__)

# The artifact roles that hold a run's PyTorch checkpoint, most specific first.
CHECKPOINT_ROLES: tuple[str, ...] = ("checkpoint", "best")


def ratio(baseline_value: float | None, variant_value: float | None) -> float | None:
    """``baseline / variant``, or ``None`` when either is missing or the variant is 0."""
    if baseline_value is None or variant_value is None or variant_value == 0:
        return None
    return baseline_value / variant_value


def miou_delta(result: Any, references: list[Any], notes: list[str]) -> float | None:
    """mIoU points against the first reference scored on the same split and image count."""
    if result.metrics is None:
        return None
    for reference in references:
        other = reference.metrics
        if other is None:
            continue
        if other.split != result.metrics.split or (
            other.num_images
            and result.metrics.num_images
            and other.num_images != result.metrics.num_images
        ):
            notes.append(f"mIoU: {result.metrics.split} vs baseline {other.split} - not comparable")
            continue
        return 100.0 * (result.metrics.miou - other.miou)
    return None


def speedup(
    result: Any,
    references: list[Any],
    key: str | None,
    notes: list[str],
    reference_key: str | None = None,
) -> float | None:
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
                f"baseline {theirs.input_size[0]}x{theirs.input_size[1]}, "
                f"{theirs.threads} threads - not comparable"
            )
            continue
        return ratio(theirs.p50, mine.p50)
    return None


def macs_reduction(result: RunResult, references: list[Any], notes: list[str]) -> float | None:
    """Reference MACs / these MACs at one input size (recounted from the checkpoint if need be)."""
    if result.macs is None:
        return None
    for reference in references:
        if reference.macs is None:
            continue
        theirs, mine = reference.macs_input_size, result.macs_input_size
        if theirs is None or mine is None or tuple(theirs) == tuple(mine):
            return ratio(reference.macs, result.macs)
        recounted = recount_macs(result, tuple(theirs))
        if recounted is not None:
            return ratio(reference.macs, recounted)
        notes.append(
            f"MACs: counted at {_size(mine)} vs baseline at {_size(theirs)}, "
            "and no checkpoint to recount them - not comparable"
        )
    return None


def recount_macs(result: RunResult, input_size: tuple[int, int]) -> int | None:
    """MACs of ``result``'s checkpoint at ``input_size``; ``None`` when there is none to load."""
    path = checkpoint_of(result)
    if path is None:
        return None
    from compress.core.checkpoint import load_checkpoint
    from compress.core.errors import CompressError
    from compress.measure.macs import count_macs_params

    try:
        model = load_checkpoint(path).model.eval()
        return count_macs_params(model, input_size)[0]
    except (CompressError, OSError, RuntimeError, ValueError) as error:  # BaselineError too
        log.warning("could not recount MACs from %s: %s", path, error)
        return None


def checkpoint_of(result: RunResult) -> Path | None:
    """The PyTorch checkpoint file ``result``'s folder holds, if it was loaded from one."""
    if result.folder is None:
        return None
    for role in CHECKPOINT_ROLES:
        relative = result.artifacts.get(role)
        if relative and (result.folder / relative).is_file():
            return result.folder / relative
    return None


def _size(size: Any) -> str:
    return f"{size[0]}x{size[1]}"
