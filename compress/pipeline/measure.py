"""Baseline and variant measured alike: latency interleaved in one process, accuracy on
one split, costs at one input size, into the variant's ``RunResult``.

Timing several models round-robin (:func:`compress.deploy.subjects.time_subjects`, through
the one timer :func:`compress.measure.latency.measure_interleaved`) lets drift of the
machine fall on all of them alike. A model is timed on every runtime the bench settings
name (``torch``: eager PyTorch; ``ort``: exported to a temporary ONNX file); an ONNX file
only on ONNX Runtime.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from compress.core.measurements import Metrics
from compress.core.results import Measurement, RunResult
from compress.deploy.subjects import Subject, time_subjects
from compress.pipeline.baseline import OpenedBaseline
from compress.pipeline.spec import BenchSettings, VariantSpec

__all__ = ["BASELINE_ONNX", "Subject", "bench_timing", "measure_variant", "score"]

BASELINE_ONNX = "baseline.onnx"  # the baseline as fp32 ONNX, beside a quantized variant


class AppliedSteps(Protocol):
    """What :func:`measure_variant` reads of the steps' outcome (``variant.Applied``)."""

    model: nn.Module | None
    structure: list[dict[str, Any]]
    details: list[Any]
    onnx: Path | None
    fp32_onnx: Path | None
    metrics: Any
    training: dict[str, Any] | None
    final_record: dict[str, Any] | None


@dataclass
class RunFiles:
    """Where a variant's run lives and what it names its files."""

    run_dir: Path
    kind: str
    artifacts: dict[str, str]
    checkpoint_file: str


@dataclass
class Costs:
    """The costs of baseline and variant at one input size, and the subjects to time."""

    base: Subject
    variant: Subject
    base_params: int | None
    params: int | None
    base_size: tuple[int, str]  # (bytes, artifact)
    size: tuple[int, str]


def bench_timing(bench: BenchSettings) -> dict[str, Any]:
    """The keyword arguments of :func:`~compress.deploy.subjects.time_subjects` that a
    variant's bench settings name."""
    return {
        "runtimes": bench.runtimes,
        "input_size": bench.input_size,
        "warmup": bench.warmup,
        "runs": bench.runs,
        "threads": bench.threads,
    }


def score(subject: Subject, data: str, split: str, info: Any, *, device: str = "cpu") -> Metrics:
    """Accuracy of a model (PyTorch) or an ONNX file (ONNX Runtime) on ``split``."""
    from compress.data import SegmentationFolder
    from compress.measure.evaluate import evaluate

    dataset = SegmentationFolder(data, split, info=info)
    if subject.onnx is not None:
        from compress.measure.runtimes import OrtRunner

        predict: Any = OrtRunner(subject.onnx, device="cpu")
        device = "cpu"
    else:
        assert subject.model is not None
        predict = subject.model
    result = evaluate(
        predict,
        dataset,
        num_classes=info.num_classes,
        ignore_index=info.ignore_index,
        device=device,
    )
    return result.record(split=split, class_names=info.class_names)


def measure_variant(
    spec: VariantSpec,
    base: OpenedBaseline,
    reference: nn.Module | None,
    baseline_metrics: Metrics | None,
    applied: AppliedSteps,
    files: RunFiles,
) -> RunResult:
    """Measure baseline and variant alike (same process, split, input size, threads)."""
    costs = _costs(spec, base, reference, applied, files)
    base_latency: dict[str, Any] = {}
    latency: dict[str, Any] = {}
    if spec.bench.enabled:
        base_latency, latency = time_subjects(
            [costs.base, costs.variant], **bench_timing(spec.bench), seed=spec.seed
        )
    metrics = None
    if base.info is not None and spec.eval_split is not None:
        split, data = spec.eval_split, str(spec.data)
        if applied.onnx is not None:
            baseline_metrics = score(Subject(onnx=costs.base.onnx), data, split, base.info)
            metrics = score(costs.variant, data, split, base.info)
        elif applied.metrics is not None and split == "val":
            metrics = applied.metrics  # the fine-tune's best epoch, scored on val
        else:
            metrics = score(costs.variant, data, split, base.info, device=spec.device)
    size_at = spec.bench.input_size
    baseline = Measurement(
        name=base.name,
        params=costs.base_params,
        macs=costs.base.macs,
        macs_input_size=size_at if costs.base.macs is not None else None,
        size_bytes=costs.base_size[0],
        size_artifact=costs.base_size[1],
        latency_ms=base_latency,
        metrics=baseline_metrics,
    )
    return _result(spec, base, applied, files, costs, baseline, latency, metrics)


def _costs(
    spec: VariantSpec,
    base: OpenedBaseline,
    reference: nn.Module | None,
    applied: AppliedSteps,
    files: RunFiles,
) -> Costs:
    """MACs and parameters at the bench size, sizes, and the subjects to time."""
    from compress.measure.macs import count_macs_params
    from compress.measure.size import file_bytes, state_dict_bytes

    size_at = spec.bench.input_size
    base_macs = base_params = macs = params = None
    if reference is not None:
        base_macs, base_params = count_macs_params(reference, size_at)
    if applied.model is not None:
        macs, params = count_macs_params(applied.model, size_at)
    if applied.onnx is not None:  # like with like: the baseline as fp32 ONNX, beside int8
        only_quantized = len(spec.steps) == 1  # the step's fp32 export *is* the baseline
        base_onnx = base.onnx or (applied.fp32_onnx if only_quantized else None)
        base_onnx = base_onnx or export_reference(reference, files.run_dir, base)
        return Costs(
            Subject(model=reference, onnx=base_onnx, macs=base_macs),
            Subject(onnx=applied.onnx, macs=macs),
            base_params,
            params,
            (file_bytes(base_onnx), "fp32-onnx"),
            (file_bytes(applied.onnx), "int8-onnx"),
        )
    return Costs(
        Subject(model=reference, macs=base_macs),
        Subject(model=applied.model, macs=macs),
        base_params,
        params,
        (state_dict_bytes(reference), "fp32-state-dict"),
        (state_dict_bytes(applied.model), files.checkpoint_file),
    )


def _result(
    spec: VariantSpec,
    base: OpenedBaseline,
    applied: AppliedSteps,
    files: RunFiles,
    costs: Costs,
    baseline: Measurement,
    latency: dict[str, Any],
    metrics: Metrics | None,
) -> RunResult:
    """The variant's ``result.json`` record."""
    details = [
        d.model_copy(update={"runs": [_relative(Path(r), files.run_dir) for r in d.runs]})
        if d.kind == "finetune"
        else d
        for d in applied.details
    ]
    steps = list(applied.structure)
    if applied.final_record is not None:
        steps.append(applied.final_record)
    model_name = (
        base.model_spec.name
        if base.model_spec
        else (((base.dataset or {}).get("model") or {}).get("name") or "onnx")
    )
    threads = next(iter(latency.values())).threads if latency else torch.get_num_threads()
    macs, base_macs = costs.variant.macs, costs.base.macs
    return RunResult(
        name=spec.name or files.run_dir.name,
        kind=files.kind,
        model=model_name,
        steps=steps,
        baseline=base.name,
        params=costs.params if costs.params is not None else costs.base_params,
        macs=macs if macs is not None else base_macs,
        macs_input_size=spec.bench.input_size if (macs or base_macs) is not None else None,
        size_bytes=costs.size[0],
        size_artifact=costs.size[1],
        latency_ms=latency,
        metrics=metrics,
        training=applied.training,
        artifacts=files.artifacts,
        env=_environment(threads, quantized=applied.onnx is not None),
        extra={
            "fresh_init": base.fresh,
            "source": spec.baseline.checkpoint or spec.baseline.onnx or f"fresh {model_name}",
        },
        baseline_measurement=baseline,
        step_details=details,
    )


def _environment(threads: int, *, quantized: bool) -> dict[str, Any]:
    """The full environment for a quantized run (CPU features matter), else the short one."""
    from compress.measure.environment import available_cpus, environment, load_average

    if quantized:
        return environment(threads=threads)
    return {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": threads,
        "load_average": load_average(),
        "cpu_logical": available_cpus(),
    }


def export_reference(reference: nn.Module | None, run_dir: Path, base: OpenedBaseline) -> Path:
    """The baseline as fp32 ONNX (parity is the exporter's job), kept beside the variant."""
    from compress.core.onnx_files import onnx_metadata
    from compress.deploy.export import export_onnx

    assert reference is not None and base.model_spec is not None
    path = run_dir / BASELINE_ONNX
    if not path.is_file():
        metadata = onnx_metadata(base.model_spec, list(base.structure), base.dataset)
        export_onnx(reference, path, input_size=(64, 64), metadata=metadata)
    return path


def _relative(path: Path, run_dir: Path) -> str:
    """``path`` relative to the run folder (as ``result.json`` records every path)."""
    return os.path.relpath(Path(path).resolve(), run_dir.resolve())
