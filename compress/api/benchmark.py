"""``compress.benchmark``: latency, MACs, parameters and size of a model or ONNX file,
timed interleaved with a baseline in one process when one is given."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from torch import nn

from compress.core.errors import CompressError


@dataclass(frozen=True)
class Benchmark:
    """One measurement. Ratios are against the ``baseline`` measured beside it (None
    without one): ``speedup`` = baseline p50 / p50, ``size_ratio`` and ``macs_ratio`` =
    baseline / this (how many times smaller)."""

    subject: str
    runtime: str
    input_size: tuple[int, int]
    threads: int
    p50_ms: float
    p90_ms: float
    runs: int
    warmup: int
    size_bytes: int
    macs: int | None = None
    params: int | None = None
    baseline: Benchmark | None = None

    @property
    def speedup(self) -> float | None:
        return self.baseline.p50_ms / self.p50_ms if self.baseline and self.p50_ms > 0 else None

    @property
    def size_ratio(self) -> float | None:
        return self.baseline.size_bytes / self.size_bytes if self.baseline else None

    @property
    def macs_ratio(self) -> float | None:
        if self.baseline is None or not self.macs or self.baseline.macs is None:
            return None
        return self.baseline.macs / self.macs


def benchmark(
    model_or_onnx: nn.Module | str | os.PathLike[str],
    *,
    input_size: tuple[int, int] = (256, 256),
    runtime: str = "ort",
    baseline: nn.Module | str | os.PathLike[str] | None = None,
    baseline_runtime: str | None = None,
    threads: int | None = None,
    warmup: int = 3,
    runs: int = 10,
) -> Benchmark:
    """Measure ``model_or_onnx`` on ``runtime`` (``ort``: ONNX Runtime, a module exported
    first; ``torch``: PyTorch eager) on CPU at batch 1, ``input_size``, ``threads``
    (default: the runtime's). With ``baseline`` (a module or ONNX file, on
    ``baseline_runtime``, default ``runtime``) both are timed round-robin in this process
    — warm-up, then ``runs`` rounds, ``inference_mode``; median and p90 — and the result
    carries the ratios to it.
    """
    import torch

    from compress.measure.latency import measure_interleaved
    from compress.measure.runtimes import check_runtime

    check_runtime(runtime)
    subjects = [(model_or_onnx, runtime)]
    if baseline is not None:
        subjects.append((baseline, check_runtime(baseline_runtime or runtime)))
    example = torch.randn(1, 3, *input_size, generator=torch.Generator().manual_seed(0))
    previous = torch.get_num_threads()
    try:
        with tempfile.TemporaryDirectory(prefix="segcompress-benchmark-") as folder:
            opened = [
                _runner(subject, name, Path(folder) / f"{index}.onnx", input_size, threads)
                for index, (subject, name) in enumerate(subjects)
            ]
            calls = [(runner.run, runner.prepare(example)) for runner, _, _ in opened]
            timings = measure_interleaved(calls, warmup=warmup, runs=runs)
    finally:
        torch.set_num_threads(previous)
    results = [
        Benchmark(
            subject=label,
            runtime=runner.key,
            input_size=tuple(input_size),
            threads=runner.threads,
            p50_ms=timing.p50,
            p90_ms=timing.p90,
            runs=runs,
            warmup=warmup,
            **costs,
        )
        for (runner, label, costs), timing in zip(opened, timings, strict=True)
    ]
    return replace(results[0], baseline=results[1]) if len(results) == 2 else results[0]


def _runner(
    subject: Any,
    runtime: str,
    onnx_path: Path,
    input_size: tuple[int, int],
    threads: int | None,
) -> tuple[Any, str, dict[str, Any]]:
    """An opened runner, a label and the costs (size, MACs, params) of one subject."""
    from compress.measure.macs import count_macs_params
    from compress.measure.runtimes import RUNTIMES, open_runner
    from compress.measure.size import onnx_size, state_dict_bytes

    reads_onnx = RUNTIMES[runtime].reads_onnx
    if isinstance(subject, nn.Module):
        subject.eval()
        macs, params = count_macs_params(subject, input_size)
        costs = {"macs": macs, "params": params, "size_bytes": state_dict_bytes(subject)}
        target: Any = subject
        if reads_onnx:
            from compress.deploy.export import export_onnx

            target = export_onnx(subject, onnx_path, input_size=input_size)
        return open_runner(runtime, target, threads=threads), type(subject).__name__, costs
    path = Path(subject)
    if not reads_onnx:
        raise CompressError(f"{path}: an ONNX file runs on runtime 'ort', not {runtime!r}")
    costs = {"size_bytes": onnx_size(path).file_bytes}
    return open_runner(runtime, path, threads=threads), str(path), costs
