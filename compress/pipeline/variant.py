"""``run_variant``: a baseline plus a list of steps, into one measured run folder.

One place does what every technique command needs: open the baseline (registered model,
checkpoint or ONNX file), claim the run folder, apply the steps in order (each through
its entry in :data:`compress.pipeline.techniques.TECHNIQUES`), save the checkpoint with
its structure steps, and measure the final artifact beside the baseline - latency
interleaved in this process, accuracy on the same split, costs at the same input size -
into ``result.json`` (schema 2: a typed ``baseline_measurement`` and ``step_details``).

Where the steps' intermediate models live is the :class:`StepStore`'s business: a
technique command keeps every step inside its run folder (:class:`InlineStore`); a recipe
gives every step prefix its own folder keyed by digest, so variants sharing a prefix
share its work and a rerun skips what is finished (:mod:`compress.recipes.store`).

(A little over 300 lines: the run, its step loop and its final measurement share the
run folder's state; opening the baseline lives in :mod:`compress.pipeline.baseline`.)
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from torch import nn

from compress.core.checkpoint import save_checkpoint
from compress.core.results import RunResult, load_result, write_result
from compress.core.runs import SPEC_FILE, prepare_run_dir
from compress.pipeline.baseline import OpenedBaseline, open_baseline
from compress.pipeline.context import StepContext, StepOutcome
from compress.pipeline.measure import RunFiles, Subject, measure_variant, score
from compress.pipeline.spec import VariantSpec
from compress.pipeline.techniques import technique


@dataclass
class VariantOutcome:
    """What a variant run produced (``reused``: the folder already held this finished run)."""

    run_dir: Path
    result: RunResult
    fresh_init: bool
    reused: bool = False


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

    def finetune_dir(self, index: int) -> Path: ...

    def load(self, index: int, base: OpenedBaseline) -> Applied | None: ...

    def save(self, index: int, applied: Applied, base: OpenedBaseline) -> None: ...


class InlineStore:
    """Every step works inside the variant's own run folder; nothing is kept between steps
    except what a fine-tune's ``fit`` run keeps itself (it resumes after an interruption)."""

    def __init__(self, run_dir: Path, spec: VariantSpec) -> None:
        self.run_dir = run_dir
        finetunes = [i for i, step in enumerate(spec.steps) if step.kind == "finetune"]
        self._names = {
            i: "finetune" if n == 0 else f"finetune-{n + 1}" for n, i in enumerate(finetunes)
        }

    def folder(self, index: int) -> Path:
        return self.run_dir

    def finetune_dir(self, index: int) -> Path:
        # a prune step fine-tunes (between iterations) with the step that follows it
        return self.run_dir / self._names.get(index, self._names.get(index + 1, "finetune"))

    def load(self, index: int, base: OpenedBaseline) -> Applied | None:
        return None

    def save(self, index: int, applied: Applied, base: OpenedBaseline) -> None:
        return None


def run_variant(
    spec: VariantSpec,
    out: str | Path,
    *,
    opened: tuple[OpenedBaseline, VariantSpec] | None = None,
    document: dict[str, Any] | None = None,
    kind: str = "variant",
    checkpoint_file: str = "model.pt",
    store: StepStore | None = None,
    progress: bool = True,
) -> VariantOutcome:
    """Apply ``spec``'s steps to its baseline and measure both into run folder ``out``.

    ``document`` is what the folder is keyed by (default: the resolved variant spec);
    ``kind`` names the command in ``spec.yaml`` and ``result.json``. A folder holding
    this finished run is returned as it is; one holding another configuration is refused.
    """
    from compress.core.device import resolve_device

    base, spec = opened if opened is not None else open_baseline(spec)
    resolve_device(spec.device)  # refused before the run folder is claimed
    folder = prepare_run_dir(out, document or spec.model_dump(mode="json"), kind=kind)
    if folder.finished:
        result = load_result(folder.path)
        return VariantOutcome(folder.path, result, bool(result.extra.get("fresh_init")), True)
    run_dir = folder.path
    store = store or InlineStore(run_dir, spec)
    reference = copy.deepcopy(base.model).eval() if base.model is not None else None
    baseline_metrics = None
    if base.info is not None and spec.eval_split is not None and not spec.quantized:
        assert reference is not None
        baseline_metrics = score(
            Subject(model=copy.deepcopy(reference)),
            str(spec.data),
            spec.eval_split,
            base.info,
            device=spec.device,
        )
    applied = apply_steps(spec, base, store, progress=progress, teacher=reference)
    artifacts: dict[str, str] = {"spec": SPEC_FILE}
    if applied.onnx is None:
        assert applied.model is not None and base.model_spec is not None
        save_checkpoint(
            run_dir / checkpoint_file,
            applied.model,
            base.model_spec,
            structure=applied.structure,
            dataset=base.dataset,
            meta={
                "kind": kind,
                "fresh_init": base.fresh,
                "source_checkpoint": spec.baseline.checkpoint,
            },
        )
        artifacts["checkpoint"] = checkpoint_file
    for role, path in applied.artifacts.items():
        artifacts[role] = _relative(path, run_dir)
    files = RunFiles(run_dir, kind, artifacts, checkpoint_file)
    result = measure_variant(spec, base, reference, baseline_metrics, applied, files)
    write_result(run_dir, result)
    return VariantOutcome(run_dir, result, base.fresh)


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
    for fine-tunes that distil from it.
    """
    applied = Applied(
        model=base.model, structure=list(base.structure), details=[], artifacts={}, onnx=None
    )
    index = 0
    while index < len(spec.steps):
        stored = store.load(index, base)
        if stored is not None:
            applied, index = _merge(applied, stored), index + 1
            continue
        step = spec.steps[index]
        following = spec.steps[index + 1] if index + 1 < len(spec.steps) else None
        then_finetune = following if getattr(following, "kind", None) == "finetune" else None
        context = StepContext(
            folder=store.folder(index),
            finetune_dir=store.finetune_dir(index),
            data=spec.data,
            info=base.info,
            device=spec.device,
            seed=spec.seed,
            bench=spec.bench,
            model_spec=base.model_spec,
            structure=list(applied.structure),
            dataset=base.dataset,
            own_dataset=base.own_dataset,
            progress=progress,
            eval_split=spec.eval_split,
            then_finetune=then_finetune,
            onnx=base.onnx,  # type: ignore[arg-type]
            teacher=teacher,
        )
        context.folder.mkdir(parents=True, exist_ok=True)
        outcome: StepOutcome = technique(step.kind).load_apply()(applied.model, step, context)
        fresh = _as_applied(outcome, applied.structure)
        applied = _merge(applied, fresh)
        store.save(index, fresh, base)
        if outcome.consumed_next:
            index += 1
            store.save(index, fresh, base)
        index += 1
    return applied


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


def _relative(path: Path, run_dir: Path) -> str:
    """``path`` relative to the run folder (``../../steps/...`` for a recipe's shared steps),
    so that the folders move together and ``result.json`` holds no machine's absolute path."""
    return os.path.relpath(Path(path).resolve(), run_dir.resolve())
