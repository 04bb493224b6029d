"""Latency of an in-memory model on the chosen runtime, for pruned-vs-baseline comparisons.

MACs are not latency: a pruned model with odd widths or a memory-bound layout can be
smaller and no faster. Every prune run therefore times the baseline and the pruned
model in the same process, with the same runtime, threads, input and timing protocol
(:func:`compress.measure.latency.measure_latency`). ONNX Runtime (the default, what ships) needs
an export first, done to a temporary file.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from compress.core.measurements import LatencyStats

NOT_FASTER = 0.95  # latency ratio at or above which a pruned model is "NOT faster"


@dataclass(frozen=True)
class LatencySetup:
    """How latency is measured: runtime, input size and the timing protocol."""

    runtime: str = "ort"
    input_size: tuple[int, int] = (256, 256)
    runs: int = 10
    warmup: int = 3
    threads: int | None = None
    seed: int = 0


def measure_model(
    model: nn.Module, setup: LatencySetup, *, macs: int | None = None
) -> tuple[str, LatencyStats]:
    """``(runtime key, stats)`` of ``model`` on CPU; ``macs`` per image adds GMAC/s.

    The model is timed in eval mode on a seeded random 1x3xHxW input; torch's thread
    count is set to ``setup.threads`` for the measurement and restored afterwards.
    """
    from compress.deploy.export import export_onnx
    from compress.measure.latency import measure_latency
    from compress.measure.runtimes import RUNTIMES, open_runner

    previous = torch.get_num_threads()
    threads = setup.threads or previous
    was_training = model.training
    device = next(model.parameters()).device
    x = torch.randn(1, 3, *setup.input_size, generator=torch.Generator().manual_seed(setup.seed))
    torch.set_num_threads(threads)
    try:
        with tempfile.TemporaryDirectory(prefix="segcompress-prune-bench-") as folder:
            target: Any = model
            if RUNTIMES[setup.runtime].reads_onnx:
                target = export_onnx(
                    model.cpu(), Path(folder) / "model.onnx", input_size=setup.input_size
                )
            runner = open_runner(setup.runtime, target, threads=threads)
            timing = measure_latency(
                runner.run, [runner.prepare(x)], warmup=setup.warmup, runs=setup.runs
            )
            stats = timing.to_stats(
                input_size=setup.input_size,
                threads=runner.threads,
                device_name=runner.device_name,
                macs=macs,
            )
            return runner.key, stats
    finally:
        torch.set_num_threads(previous)
        model.to(device).train(was_training)


def latency_ratio(pruned: LatencyStats, baseline: LatencyStats) -> float | None:
    """Pruned p50 over baseline p50 (None when the baseline took no measurable time)."""
    return pruned.p50 / baseline.p50 if baseline.p50 > 0 else None


def verdict(latency: float | None, macs: float | None) -> str | None:
    """``"NOT faster"`` when the latency ratio is >= 0.95 although MACs fell; else None."""
    if latency is None or macs is None:
        return None
    return "NOT faster" if latency >= NOT_FASTER and macs < 1.0 else None
