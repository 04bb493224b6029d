"""Latency of an in-memory model on the chosen runtime, for pruned-vs-baseline comparisons.

MACs are not latency: a pruned model with odd widths or a memory-bound layout can be
smaller and no faster. Every prune run therefore times the baseline and the pruned
model in the same process, with the same runtime, threads, input and timing protocol
(:func:`compress.deploy.subjects.time_subjects`). ONNX Runtime (the default, what ships) needs
an export first, done to a temporary file.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from compress.core.measurements import LatencyStats


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
    count is set to ``setup.threads`` for the measurement and restored afterwards, and
    so are the model's device and mode.
    """
    from compress.deploy.subjects import Subject, time_subjects

    was_training = model.training
    device = next(model.parameters()).device
    try:
        [latency] = time_subjects(
            [Subject(model=model, macs=macs)],
            runtimes=[setup.runtime],
            input_size=setup.input_size,
            warmup=setup.warmup,
            runs=setup.runs,
            threads=setup.threads,
            seed=setup.seed,
        )
    finally:
        model.to(device).train(was_training)
    [(key, stats)] = latency.items()
    return key, stats
