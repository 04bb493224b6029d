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
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from compress.core.checkpoint import save_checkpoint
from compress.core.results import Measurement, RunResult, load_result, write_result
from compress.core.runs import SPEC_FILE, prepare_run_dir
from compress.pipeline.baseline import OpenedBaseline, open_baseline
from compress.pipeline.context import StepContext, StepOutcome
from compress.pipeline.measure import Subject, score, time_subjects
from compress.pipeline.spec import VariantSpec
from compress.pipeline.techniques import technique

BASELINE_ONNX = "baseline.onnx"  # the baseline as fp32 ONNX, beside a quantized variant


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
    result = _measure(
        spec, base, reference, baseline_metrics, applied, run_dir, kind, artifacts, checkpoint_file
    )
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


def _measure(
    spec: VariantSpec,
    base: OpenedBaseline,
    reference: nn.Module | None,
    baseline_metrics: Any,
    applied: Applied,
    run_dir: Path,
    kind: str,
    artifacts: dict[str, str],
    checkpoint_file: str,
) -> RunResult:
    """Measure baseline and variant alike (same process, split, input size, threads)."""
    from compress.measure.environment import available_cpus, environment, load_average
    from compress.measure.macs import count_macs_params
    from compress.measure.size import file_bytes, state_dict_bytes

    size_at = spec.bench.input_size
    quantized = applied.onnx is not None
    base_macs = base_params = macs = params = None
    if reference is not None:
        base_macs, base_params = count_macs_params(reference, size_at)
    if applied.model is not None:
        macs, params = count_macs_params(applied.model, size_at)
    if quantized:  # like with like: the baseline as fp32 ONNX, beside the int8 file
        only_quantized = len(spec.steps) == 1  # the step's fp32 export *is* the baseline
        base_onnx = base.onnx or (applied.fp32_onnx if only_quantized else None)
        base_onnx = base_onnx or _export_reference(reference, run_dir, base)
        base_subject = Subject(model=reference, onnx=base_onnx, macs=base_macs)
        variant = Subject(onnx=applied.onnx, macs=macs)
        base_size, base_artifact = file_bytes(base_onnx), "fp32-onnx"
        size, size_artifact = file_bytes(applied.onnx), "int8-onnx"
    else:
        base_subject = Subject(model=reference, macs=base_macs)
        variant = Subject(model=applied.model, macs=macs)
        base_size, base_artifact = state_dict_bytes(reference), "fp32-state-dict"
        size, size_artifact = state_dict_bytes(applied.model), checkpoint_file
    base_latency: dict[str, Any] = {}
    latency: dict[str, Any] = {}
    if spec.bench.enabled:
        base_latency, latency = time_subjects([base_subject, variant], spec.bench, seed=spec.seed)
    metrics = None
    if base.info is not None and spec.eval_split is not None:
        if quantized:
            baseline_metrics = score(
                Subject(onnx=base_subject.onnx), str(spec.data), spec.eval_split, base.info
            )
            metrics = score(variant, str(spec.data), spec.eval_split, base.info)
        elif applied.metrics is not None and spec.eval_split == "val":
            metrics = applied.metrics  # the fine-tune's best epoch, scored on val
        else:
            metrics = score(variant, str(spec.data), spec.eval_split, base.info, device=spec.device)
    details = [
        d.model_copy(update={"runs": [_relative(Path(r), run_dir) for r in d.runs]})
        if d.kind == "finetune"
        else d
        for d in applied.details
    ]
    baseline = Measurement(
        name=base.name,
        params=base_params,
        macs=base_macs,
        macs_input_size=size_at if base_macs is not None else None,
        size_bytes=base_size,
        size_artifact=base_artifact,
        latency_ms=base_latency,
        metrics=baseline_metrics,
    )
    steps = list(applied.structure)
    if applied.final_record is not None:
        steps.append(applied.final_record)
    model_name = (
        base.model_spec.name
        if base.model_spec
        else (((base.dataset or {}).get("model") or {}).get("name") or "onnx")
    )
    threads = next(iter(latency.values())).threads if latency else torch.get_num_threads()
    env = (
        environment(threads=threads)
        if quantized
        else {
            "torch": torch.__version__,
            "python": platform.python_version(),
            "threads": threads,
            "load_average": load_average(),
            "cpu_logical": available_cpus(),
        }
    )
    return RunResult(
        name=spec.name or run_dir.name,
        kind=kind,
        model=model_name,
        steps=steps,
        baseline=base.name,
        params=params if params is not None else base_params,
        macs=macs if macs is not None else base_macs,
        macs_input_size=size_at if (macs or base_macs) is not None else None,
        size_bytes=size,
        size_artifact=size_artifact,
        latency_ms=latency,
        metrics=metrics,
        training=applied.training,
        artifacts=artifacts,
        env=env,
        extra={
            "fresh_init": base.fresh,
            "source": spec.baseline.checkpoint or spec.baseline.onnx or f"fresh {model_name}",
        },
        baseline_measurement=baseline,
        step_details=details,
    )


def _export_reference(reference: nn.Module | None, run_dir: Path, base: OpenedBaseline) -> Path:
    """The baseline as fp32 ONNX (parity is the exporter's job), kept beside the variant."""
    from compress.core.onnx_files import onnx_metadata
    from compress.deploy.export import export_onnx

    assert reference is not None and base.model_spec is not None
    path = run_dir / BASELINE_ONNX
    if not path.is_file():
        metadata = onnx_metadata(base.model_spec, list(base.structure), base.dataset)
        export_onnx(reference, path, input_size=(64, 64), metadata=metadata)
    return path
