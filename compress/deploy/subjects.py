"""Models and ONNX files timed side by side: every runner of every subject interleaved.

A subject is an in-memory model, an ONNX file, or both (the same model). It is timed on
every runtime named (``torch``: eager PyTorch; ``ort``: the ONNX file, or the model
exported to a temporary one); an ONNX-only subject has no PyTorch timing. All runners
go through the one timer, :func:`compress.measure.latency.time_runners`, in one process.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from compress.core.measurements import LatencyStats


@dataclass
class Subject:
    """One thing to time: a model, an ONNX file, or both; ``macs`` per image adds GMAC/s;
    ``runtimes`` (None: those the caller names for all) are this subject's own."""

    model: nn.Module | None = None
    onnx: Path | None = None
    macs: int | None = None
    runtimes: Sequence[str] | None = None


def time_subjects(
    subjects: Sequence[Subject],
    *,
    runtimes: Sequence[str],
    input_size: tuple[int, int],
    warmup: int,
    runs: int,
    threads: int | None = None,
    seed: int = 0,
) -> list[dict[str, LatencyStats]]:
    """Latency per subject on CPU at batch 1, keyed ``<runtime>-cpu``, all interleaved.

    The input is a seeded random 1x3xHxW tensor; torch's thread count is ``threads``
    (default: as it is) during the measurement and restored afterwards.
    """
    import torch

    from compress.measure.latency import time_runners, torch_threads

    x = torch.randn(1, 3, *input_size, generator=torch.Generator().manual_seed(seed))
    with (
        torch_threads(threads) as used,
        tempfile.TemporaryDirectory(prefix="segcompress-bench-") as scratch,
    ):
        opened = _open(subjects, runtimes, Path(scratch), input_size, used)
        timings = time_runners(
            [runner for _, runner in opened], x, warmup=warmup, runs=runs, threads=used
        )
        latencies: list[dict[str, LatencyStats]] = [{} for _ in subjects]
        for (index, runner), timing in zip(opened, timings, strict=True):
            latencies[index][runner.key] = timing.to_stats(
                input_size=input_size,
                threads=runner.threads,
                device_name=runner.device_name,
                macs=subjects[index].macs,
            )
        return latencies


def _open(
    subjects: Sequence[Subject],
    runtimes: Sequence[str],
    scratch: Path,
    input_size: tuple[int, int],
    threads: int,
) -> list[tuple[int, Any]]:
    """``(subject index, runner)`` for every runtime of every subject that can run on it."""
    from compress.deploy.export import export_onnx
    from compress.measure.runtimes import RUNTIMES, open_runner

    runners: list[tuple[int, Any]] = []
    for index, subject in enumerate(subjects):
        exported = subject.onnx
        for runtime in subject.runtimes or runtimes:
            target: Any = subject.model.eval() if subject.model is not None else None
            if RUNTIMES[runtime].reads_onnx:
                if exported is None and subject.model is not None:
                    exported = export_onnx(
                        subject.model.cpu().eval(),
                        scratch / f"subject-{index}.onnx",
                        input_size=input_size,
                    )
                target = exported
            if target is not None:
                runners.append((index, open_runner(runtime, target, threads=threads)))
    return runners
