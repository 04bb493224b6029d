"""``run_variant``: a baseline plus a list of steps, into one measured run folder.

One place does what every technique command needs: open the baseline (registered model,
checkpoint or ONNX file), claim the run folder, apply the steps in order (the engine,
:mod:`compress.pipeline.engine`, runs each by its registered technique), save the
checkpoint with its structure steps, and measure the final artifact beside the baseline -
latency interleaved in this process, accuracy on the same split, costs at the same input
size - into ``result.json`` (schema 2: a typed ``baseline_measurement`` and
``step_details``).

Where the steps' intermediate models live is the :class:`~compress.pipeline.engine.StepStore`'s
business: a one-off run keeps every step inside its run folder
(:class:`~compress.pipeline.engine.InlineStore`); a recipe gives every step prefix its own
folder keyed by digest, so variants sharing a prefix share its work and a rerun skips
what is finished (:mod:`compress.recipes.store`).
"""

from __future__ import annotations

import copy
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from compress.core.checkpoint import save_checkpoint
from compress.core.results import Measurement, RunResult, load_result, write_result
from compress.core.runs import SPEC_FILE, prepare_run_dir
from compress.pipeline.baseline import OpenedBaseline, open_baseline
from compress.pipeline.engine import Applied, InlineStore, StepStore, apply_steps
from compress.pipeline.measure import Subject, score, time_subjects
from compress.pipeline.spec import VariantSpec

BASELINE_ONNX = "baseline.onnx"  # the baseline as fp32 ONNX, beside a quantized variant


@dataclass
class VariantOutcome:
    """What a variant run produced (``reused``: the folder already held this finished run)."""

    run_dir: Path
    result: RunResult
    fresh_init: bool
    reused: bool = False


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
    result.step_details = [_relative_runs(d, run_dir) for d in result.step_details]
    write_result(run_dir, result)
    return VariantOutcome(run_dir, result, base.fresh)


def _relative_runs(details: Any, run_dir: Path) -> Any:
    """Details whose training ``runs`` are still absolute, with them relative to the run."""
    runs = getattr(details, "runs", None)
    if not runs or not any(Path(run).is_absolute() for run in runs):
        return details
    fixed = [_relative(Path(r), run_dir) if Path(r).is_absolute() else r for r in runs]
    return details.model_copy(update={"runs": fixed})


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
