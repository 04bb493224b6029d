"""The one timer: warm-up, then timed rounds over every subject interleaved, then robust stats.

Each run is timed with ``time.perf_counter`` under ``torch.inference_mode()``; with a
``sync`` callable (``torch.cuda.synchronize`` on CUDA) the device is synchronised before
starting the clock and before stopping it, so queued kernels are counted in the run that
launched them. We report the median (p50), p90, min and mean: the median is the headline
(robust to a noisy neighbour), p90 shows jitter, min the best the machine can do.

Peak memory is recorded where it can be measured: on CUDA ``torch.cuda.max_memory_allocated``
(torch allocations only), on CPU the growth of the process's maximum resident set size
(``resource.getrusage``) over the runs - a lower bound, since the high-water mark may
already have been reached before the measurement started.
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from compress.core.measurements import LatencyStats
from compress.core.progress import task


@dataclass(frozen=True)
class Timing:
    """Raw per-run times in milliseconds and the statistics derived from them."""

    samples_ms: list[float]
    warmup: int
    peak_memory_bytes: int | None = None  # CUDA peak allocation, or CPU max-RSS growth
    max_rss_bytes: int | None = None  # the process's resident high-water mark after the runs

    @property
    def runs(self) -> int:
        return len(self.samples_ms)

    @property
    def p50(self) -> float:
        return percentile(self.samples_ms, 50)

    @property
    def p90(self) -> float:
        return percentile(self.samples_ms, 90)

    @property
    def min(self) -> float:
        return min(self.samples_ms)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.samples_ms)

    def to_stats(
        self,
        *,
        input_size: tuple[int, int],
        batch: int = 1,
        threads: int | None = None,
        device_name: str | None = None,
        macs: int | None = None,
        peak_gmacs: float | None = None,
    ) -> LatencyStats:
        """The ``result.json`` form; ``macs`` per image gives the achieved GMAC/s at p50."""
        gmacs_per_s = None
        if macs is not None and self.p50 > 0:
            gmacs_per_s = macs * batch / (self.p50 / 1e3) / 1e9
        roof_fraction = gmacs_per_s / peak_gmacs if gmacs_per_s and peak_gmacs else None
        return LatencyStats(
            p50=self.p50,
            p90=self.p90,
            min=self.min,
            mean=self.mean,
            runs=self.runs,
            warmup=self.warmup,
            batch=batch,
            input_size=input_size,
            threads=threads,
            device_name=device_name,
            gmacs_per_s=gmacs_per_s,
            roof_fraction=roof_fraction,
        )


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile with linear interpolation between order statistics."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def measure_interleaved(
    calls: Sequence[tuple[Callable[[Any], Any], Any]],
    *,
    warmup: int,
    runs: int,
    sync: Callable[[], None] | None = None,
    threads: int | None = None,
    cuda_memory: bool = False,
) -> list[Timing]:
    """Time ``(fn, input)`` pairs round-robin: warm-up rounds, then ``runs`` timed rounds.

    The one timer of the project: every round calls every pair once under
    ``torch.inference_mode()``, so drift of the machine (clock boost, a noisy neighbour)
    falls on all of them alike, where timing one after the other can move a ratio by
    half (docs/measurement.md). One pair is the single-model case.

    Args:
        sync: called before starting and before stopping each call's clock (device sync).
        threads: torch's thread count during the measurement (restored afterwards).
        cuda_memory: peak memory is ``torch.cuda.max_memory_allocated`` over all pairs,
            else the growth of the process's max RSS over all pairs.
    """
    import torch

    if runs < 1 or warmup < 0:
        raise ValueError(f"need runs >= 1 and warmup >= 0, got runs={runs}, warmup={warmup}")
    if not calls:
        raise ValueError("measure_interleaved needs at least one (fn, input) pair")
    wait = sync or _no_sync
    samples: list[list[float]] = [[] for _ in calls]
    label = "timing" if len(calls) == 1 else f"timing {len(calls)} models, interleaved"
    with torch_threads(threads):
        if cuda_memory:
            torch.cuda.reset_peak_memory_stats()
        rss_before = _max_rss_bytes()
        with torch.inference_mode(), task(label, total=warmup + runs) as progress:
            for round_index in range(warmup + runs):
                for index, (fn, item) in enumerate(calls):
                    wait()
                    start = time.perf_counter()
                    fn(item)
                    wait()
                    if round_index >= warmup:
                        samples[index].append((time.perf_counter() - start) * 1e3)
                progress.advance("warm-up" if round_index < warmup else "timed rounds")
        rss_after = _max_rss_bytes()
    if cuda_memory:
        peak: int | None = int(torch.cuda.max_memory_allocated())
    else:
        peak = None if rss_before is None or rss_after is None else rss_after - rss_before
    return [
        Timing(samples_ms=times, warmup=warmup, peak_memory_bytes=peak, max_rss_bytes=rss_after)
        for times in samples
    ]


def time_runners(
    runners: Sequence[Any],
    example: Any,
    *,
    warmup: int,
    runs: int,
    threads: int | None = None,
    cuda_memory: bool = False,
) -> list[Timing]:
    """:func:`measure_interleaved` over opened runners (:mod:`compress.measure.runtimes`)
    on one example tensor, each prepared outside the timed region; every runner's device
    is synchronised around each call."""
    calls = [(runner.run, runner.prepare(example)) for runner in runners]

    def sync() -> None:
        for runner in runners:
            runner.sync()

    return measure_interleaved(
        calls, warmup=warmup, runs=runs, sync=sync, threads=threads, cuda_memory=cuda_memory
    )


@contextmanager
def torch_threads(threads: int | None) -> Iterator[int]:
    """Torch's intra-op thread count set to ``threads`` (None: as it is), then restored."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads or previous)
    try:
        yield threads or previous
    finally:
        torch.set_num_threads(previous)


def _no_sync() -> None:
    return None


def _max_rss_bytes() -> int | None:
    try:
        import resource
    except ImportError:  # Windows
        return None
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)  # Linux reports KiB
