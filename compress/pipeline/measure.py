"""Baseline and variant measured alike: latency interleaved in one process, accuracy on
one split, costs at one input size.

Timing several models round-robin (:func:`compress.measure.latency.measure_interleaved`) lets
drift of the machine fall on all of them alike. A model is timed on every runtime the
bench settings name (``torch``: eager PyTorch; ``ort``: exported to a temporary ONNX
file); an ONNX file only on ONNX Runtime.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from compress.core.measurements import LatencyStats, Metrics
from compress.pipeline.spec import BenchSettings


@dataclass
class Subject:
    """One thing to measure: an in-memory model, an ONNX file, or both (the same model)."""

    model: nn.Module | None = None
    onnx: Path | None = None
    macs: int | None = None


def time_subjects(
    subjects: list[Subject], bench: BenchSettings, *, seed: int = 0
) -> list[dict[str, LatencyStats]]:
    """Latency per subject, keyed ``<runtime>-cpu``; all runners interleaved round-robin."""
    from compress.deploy.export import export_onnx
    from compress.measure.latency import measure_interleaved
    from compress.measure.runtimes import RUNTIMES, open_runner

    previous = torch.get_num_threads()
    threads = bench.threads or previous
    x = torch.randn(1, 3, *bench.input_size, generator=torch.Generator().manual_seed(seed))
    torch.set_num_threads(threads)
    try:
        with tempfile.TemporaryDirectory(prefix="segcompress-bench-") as scratch:
            runners: list[tuple[int, Any]] = []
            for index, subject in enumerate(subjects):
                for runtime in bench.runtimes:
                    target: Any = subject.model.eval() if subject.model is not None else None
                    if RUNTIMES[runtime].reads_onnx:
                        target = subject.onnx
                        if target is None and subject.model is not None:
                            target = export_onnx(
                                subject.model.cpu().eval(),
                                Path(scratch) / f"subject-{index}.onnx",
                                input_size=bench.input_size,
                            )
                    if target is not None:  # an ONNX-only subject has no PyTorch timing
                        runners.append((index, open_runner(runtime, target, threads=threads)))
            timings = measure_interleaved(
                [(runner.run, runner.prepare(x)) for _, runner in runners],
                warmup=bench.warmup,
                runs=bench.runs,
            )
            latencies: list[dict[str, LatencyStats]] = [{} for _ in subjects]
            for (index, runner), timing in zip(runners, timings, strict=True):
                latencies[index][runner.key] = timing.to_stats(
                    input_size=bench.input_size,
                    threads=runner.threads,
                    device_name=runner.device_name,
                    macs=subjects[index].macs,
                )
            return latencies
    finally:
        torch.set_num_threads(previous)


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
    metrics, study = result.metrics, result.study_miou
    return Metrics(
        miou=float(metrics.miou),
        class_acc=float(metrics.class_acc),
        pixel_acc=float(metrics.pixel_acc),
        per_class_iou=[None if v is None else float(v) for v in metrics.per_class_iou],
        class_names=list(info.class_names),
        study_miou=None if study is None or math.isnan(float(study)) else float(study),
        split=split,
        num_images=int(result.num_images),
    )


def argmax_agreement(a: Subject, b: Subject, data: str, split: str, images: int) -> float:
    """Fraction of pixels where two ONNX files pick the same class on ``split``'s first images."""
    from compress.data import SegmentationFolder
    from compress.measure.runtimes import OrtRunner
    from compress.quantization.compare import argmax_agreement as ort_agreement

    assert a.onnx is not None and b.onnx is not None
    runners = [OrtRunner(path, device="cpu") for path in (a.onnx, b.onnx)]
    return ort_agreement(runners[0], runners[1], SegmentationFolder(data, split), images)
