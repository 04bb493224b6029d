"""``compress.benchmark``: latency, MACs, parameters and size of a model or ONNX file,
timed interleaved with a baseline in one process when one is given."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from torch import nn

from compress.core.errors import CompressError
from compress.deploy.subjects import Subject
from compress.reporting.comparability import ratio


@dataclass(frozen=True)
class Benchmark:
    """One measurement. Ratios are against the ``baseline`` measured beside it (None
    without one), as everywhere (docs/measurement.md): ``speedup`` = baseline p50 /
    p50, ``size_ratio`` = baseline bytes / bytes and ``macs_ratio`` = baseline MACs /
    MACs (how many times smaller)."""

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
        return ratio(self.baseline.p50_ms, self.p50_ms) if self.baseline else None

    @property
    def size_ratio(self) -> float | None:
        return ratio(self.baseline.size_bytes, self.size_bytes) if self.baseline else None

    @property
    def macs_ratio(self) -> float | None:
        return ratio(self.baseline.macs, self.macs) if self.baseline else None


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
    (default: torch's current count, as for every command). With ``baseline`` (a module
    or ONNX file, on ``baseline_runtime``, default ``runtime``) both are timed round-robin
    in this process through the one timer every command uses
    (:func:`compress.deploy.subjects.time_subjects`) - warm-up, then ``runs`` rounds,
    ``inference_mode``; median and p90 - and the result carries the ratios to it.
    """
    from compress.deploy.subjects import time_subjects
    from compress.measure.runtimes import check_runtime

    check_runtime(runtime)
    named = [(model_or_onnx, runtime)]
    if baseline is not None:
        named.append((baseline, check_runtime(baseline_runtime or runtime)))
    subjects, labels, costs = zip(
        *(_subject(what, name, input_size) for what, name in named), strict=True
    )
    latencies = time_subjects(
        subjects,
        runtimes=[runtime],
        input_size=input_size,
        warmup=warmup,
        runs=runs,
        threads=threads,
    )
    results = []
    for label, cost, latency in zip(labels, costs, latencies, strict=True):
        [(key, stats)] = latency.items()
        results.append(
            Benchmark(
                subject=label,
                runtime=key,
                input_size=tuple(input_size),
                threads=stats.threads,
                p50_ms=stats.p50,
                p90_ms=stats.p90,
                runs=runs,
                warmup=warmup,
                **cost,
            )
        )
    return replace(results[0], baseline=results[1]) if len(results) == 2 else results[0]


def _subject(
    subject: Any, runtime: str, input_size: tuple[int, int]
) -> tuple[Subject, str, dict[str, Any]]:
    """What to time, a label, and the costs (size, MACs, params) of one subject."""
    from compress.measure.macs import count_macs_params
    from compress.measure.runtimes import RUNTIMES
    from compress.measure.size import onnx_size, state_dict_bytes

    if isinstance(subject, nn.Module):
        subject.eval()
        macs, params = count_macs_params(subject, input_size)
        costs = {"macs": macs, "params": params, "size_bytes": state_dict_bytes(subject)}
        return Subject(model=subject, runtimes=[runtime]), type(subject).__name__, costs
    path = Path(subject)
    if not RUNTIMES[runtime].reads_onnx:
        raise CompressError(f"{path}: an ONNX file runs on runtime 'ort', not {runtime!r}")
    costs = {"size_bytes": onnx_size(path).file_bytes}
    return Subject(onnx=path, runtimes=[runtime]), str(path), costs
