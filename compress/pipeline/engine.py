"""The step loop of a variant: each step's lifecycle, driven in order, reusing stored work.

Every step runs by its technique's lifecycle (``on_start``, one ``on_event`` per round,
``on_end``: :class:`compress.pipeline.context.StepLifecycle`). Steps never call each
other: when a step applied in several rounds is followed by a training step (a prune
step with ``iterative_steps`` > 1, then a fine-tune), the engine runs the training step
after every round, in ``<its work folder>/step-<k>`` - iterative pruning between
fine-tunes - and the two form one *stage*, stored as a whole under the training step.

Where the steps' intermediate models live is the :class:`StepStore`'s business: a
one-off run keeps every step inside its run folder (:class:`InlineStore`); a recipe gives
every step prefix its own folder keyed by digest (:mod:`compress.recipes.store`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from compress.pipeline.context import (
    Event,
    StepContext,
    StepLifecycle,
    StepOutcome,
    VariantSettings,
)
from compress.pipeline.techniques import technique

if TYPE_CHECKING:
    from torch import nn

    from compress.pipeline.baseline import OpenedBaseline
    from compress.pipeline.spec import VariantSpec


@dataclass
class Applied:
    """The model after a run of steps, and what they recorded."""

    model: nn.Module | None
    structure: list[dict[str, Any]]
    details: list[Any]
    artifacts: dict[str, Path]
    onnx: Path | None = None
    fp32_onnx: Path | None = None
    metrics: Any = None
    training: dict[str, Any] | None = None
    final_record: dict[str, Any] | None = None  # a final step's record (quantize)


class StepStore(Protocol):
    """Where each step works and whether its result already exists."""

    def folder(self, index: int) -> Path: ...

    def work_dir(self, index: int) -> Path: ...

    def load(self, index: int, base: OpenedBaseline) -> Applied | None: ...

    def save(self, index: int, applied: Applied, base: OpenedBaseline) -> None: ...


class InlineStore:
    """Every step works inside the variant's own run folder; nothing is kept between steps
    except what a training step's ``fit`` run keeps itself (it resumes after an interruption).

    Training steps work in ``<kind>``, ``<kind>-2``, ... (``finetune``, ``finetune-2``)."""

    def __init__(self, run_dir: Path, spec: VariantSpec) -> None:
        self.run_dir = run_dir
        seen: dict[str, int] = {}
        self._names: dict[int, str] = {}
        for index, step in enumerate(spec.steps):
            count = seen[step.kind] = seen.get(step.kind, 0) + 1
            self._names[index] = step.kind if count == 1 else f"{step.kind}-{count}"

    def folder(self, index: int) -> Path:
        return self.run_dir

    def work_dir(self, index: int) -> Path:
        return self.run_dir / self._names[index]

    def load(self, index: int, base: OpenedBaseline) -> Applied | None:
        return None

    def save(self, index: int, applied: Applied, base: OpenedBaseline) -> None:
        return None


def stages(spec: VariantSpec) -> list[tuple[int, ...]]:
    """The step indices the engine runs together: ``(i,)``, or ``(i, i + 1)`` for a step
    applied in rounds with the training step that follows it run after every round."""
    found: list[tuple[int, ...]] = []
    index = 0
    while index < len(spec.steps):
        step = spec.steps[index]
        following = spec.steps[index + 1] if index + 1 < len(spec.steps) else None
        if (
            following is not None
            and technique(step.kind).rounds(step) > 1
            and technique(following.kind).trains
        ):
            found.append((index, index + 1))
        else:
            found.append((index,))
        index += len(found[-1])
    return found


def apply_steps(
    spec: VariantSpec,
    base: OpenedBaseline,
    store: StepStore,
    *,
    progress: bool = True,
    teacher: nn.Module | None = None,
) -> Applied:
    """Run the steps in order, reusing what ``store`` already holds.

    ``teacher`` is the uncompressed baseline (kept apart from the model the steps change),
    for steps that distil from it.
    """
    settings = VariantSettings(
        data=spec.data,
        eval_split=spec.eval_split,
        device=spec.device,
        seed=spec.seed,
        bench=spec.bench,
        progress=progress,
    )
    applied = Applied(
        model=base.model, structure=list(base.structure), details=[], artifacts={}, onnx=None
    )
    for stage in stages(spec):
        stored = store.load(stage[-1], base)
        if stored is None:
            stored = _run_stage(spec, stage, applied, base, store, settings, teacher)
            store.save(stage[-1], stored, base)
        applied = _merge(applied, stored)
    return applied


def _run_stage(
    spec: VariantSpec,
    stage: tuple[int, ...],
    applied: Applied,
    base: OpenedBaseline,
    store: StepStore,
    settings: VariantSettings,
    teacher: nn.Module | None,
) -> Applied:
    """One stage: the first step's rounds, the training step (if any) after each round."""

    def context(index: int, structure: list[dict[str, Any]]) -> StepContext:
        folder = store.folder(index)
        folder.mkdir(parents=True, exist_ok=True)
        work_dir = store.work_dir(index).resolve()  # details name it wherever the cwd is
        return StepContext(folder, work_dir, list(structure), settings, base, teacher)

    step = spec.steps[stage[0]]
    run = _start(applied.model, step, context(stage[0], applied.structure))
    rounds = technique(step.kind).rounds(step)
    trained: list[StepOutcome] = []
    for index in range(1, rounds + 1):
        run.on_event(Event("round", index, rounds))
        if len(stage) > 1:
            inner = context(stage[1], run.structure())
            inner.work_dir = inner.work_dir / f"step-{index}"
            trained.append(_once(run.model, spec.steps[stage[1]], inner))
    fresh = _as_applied(run.on_end(), applied.structure)
    if trained:
        fresh = _merge(fresh, _as_applied(_rounds_of(trained), fresh.structure))
    return fresh


def _start(model: Any, step: Any, context: StepContext) -> StepLifecycle:
    run = technique(step.kind).lifecycle(model, step, context)
    run.on_start()
    return run


def _once(model: Any, step: Any, context: StepContext) -> StepOutcome:
    """A whole step, start to end (a training step run between another step's rounds)."""
    run = _start(model, step, context)
    rounds = technique(step.kind).rounds(step)
    for index in range(1, rounds + 1):
        run.on_event(Event("round", index, rounds))
    return run.on_end()


def _rounds_of(outcomes: list[StepOutcome]) -> StepOutcome:
    """The last round's training outcome, its details naming every round's run folder."""
    last = outcomes[-1]
    runs = [run for outcome in outcomes for d in outcome.details for run in getattr(d, "runs", [])]
    details = [
        d.model_copy(update={"runs": runs}) if hasattr(d, "runs") else d for d in last.details
    ]
    return replace(last, details=details)


def _as_applied(outcome: StepOutcome, structure: list[dict[str, Any]]) -> Applied:
    new_structure = list(structure)
    if outcome.record is not None and outcome.onnx is None:
        new_structure.append(outcome.record)
    return Applied(
        model=outcome.model,
        structure=new_structure,
        details=list(outcome.details),
        artifacts=dict(outcome.artifacts),
        onnx=outcome.onnx,
        fp32_onnx=outcome.fp32_onnx,
        metrics=outcome.metrics,
        training=outcome.training,
        final_record=outcome.record if outcome.onnx is not None else None,
    )


def _merge(before: Applied, after: Applied) -> Applied:
    """``after`` (the new state) with the details and artifacts of every step so far."""
    return Applied(
        model=after.model,
        structure=after.structure,
        details=[*before.details, *after.details],
        artifacts={**before.artifacts, **after.artifacts},
        onnx=after.onnx,
        fp32_onnx=after.fp32_onnx,
        metrics=after.metrics,
        training=after.training if after.training is not None else before.training,
        final_record=after.final_record,
    )
