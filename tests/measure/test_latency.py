"""Timing statistics, the machine's roof (derivation and cache) and environment facts.

No assertion here depends on how fast anything ran: only on structure and arithmetic.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compress.measure import roof as roof_module
from compress.measure.environment import CpuInfo, environment, parse_cpuinfo
from compress.measure.latency import Timing, measure_interleaved, percentile, time_runners
from compress.measure.roof import get_roof, simd_config, theoretical_roof

CPUINFO = """processor\t: 0
model name\t: Test CPU 9000
cpu MHz\t\t: 2450.000
flags\t\t: fpu sse2 avx fma avx2
siblings\t: 4
cpu cores\t: 2

processor\t: 1
model name\t: Test CPU 9000
cpu MHz\t\t: 2450.000
flags\t\t: fpu sse2 avx fma avx2
siblings\t: 4
cpu cores\t: 2
"""


def test_percentile_interpolates() -> None:
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile(list(range(11)), 90) == pytest.approx(9.0)
    assert percentile([5.0], 90) == 5.0


def test_one_subject_is_timed_with_sync_and_memory() -> None:
    calls: list[int] = []
    syncs: list[int] = []
    [timing] = measure_interleaved(
        [(calls.append, 1)], warmup=2, runs=5, sync=lambda: syncs.append(0)
    )
    assert calls == [1] * 7  # warm-up and timed runs
    assert len(syncs) == 2 * 7  # before starting and before stopping each clock
    assert timing.runs == 5 and timing.warmup == 2
    assert timing.min <= timing.p50 <= timing.p90 <= max(timing.samples_ms)
    assert timing.max_rss_bytes is None or timing.max_rss_bytes > 0


def test_timing_sets_threads_and_restores_them() -> None:
    import torch

    before = torch.get_num_threads()
    seen: list[int] = []
    measure_interleaved(
        [(lambda _: seen.append(torch.get_num_threads()), 0)], warmup=0, runs=1, threads=2
    )
    assert seen == [2] and torch.get_num_threads() == before


def test_time_runners_prepares_outside_the_clock_and_syncs_every_runner() -> None:
    events: list[str] = []

    class Runner:
        def __init__(self, name: str) -> None:
            self.name = name

        def prepare(self, x: object) -> str:
            events.append(f"prepare {self.name}")
            return self.name

        def run(self, native: str) -> None:
            events.append(f"run {native}")

        def sync(self) -> None:
            events.append("sync")

    timings = time_runners([Runner("a"), Runner("b")], object(), warmup=0, runs=1)
    assert events[:2] == ["prepare a", "prepare b"]  # before any timed call
    assert events[2:] == ["sync", "sync", "run a", "sync", "sync"] + [
        "sync",
        "sync",
        "run b",
        "sync",
        "sync",
    ]
    assert len(timings) == 2


def test_measure_interleaved_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        measure_interleaved([(lambda _: None, 0)], warmup=0, runs=0)
    with pytest.raises(ValueError):
        measure_interleaved([], warmup=0, runs=1)


def test_timing_to_stats_reports_rate_and_roof_share() -> None:
    timing = Timing(samples_ms=[30.0, 10.0, 20.0], warmup=1)
    stats = timing.to_stats(input_size=(64, 80), batch=2, macs=10**9, peak_gmacs=400.0)
    assert (stats.min, stats.p50, stats.mean) == (10.0, 20.0, 20.0)
    assert stats.p90 == pytest.approx(28.0)
    assert stats.gmacs_per_s == pytest.approx(2 * 1.0 / 0.020)  # 2 images of 1 GMAC in 20 ms
    assert stats.roof_fraction == pytest.approx(100.0 / 400.0)
    assert timing.to_stats(input_size=(64, 80)).gmacs_per_s is None


def test_parse_cpuinfo_counts_physical_cores() -> None:
    cpu = parse_cpuinfo(CPUINFO, available=2)
    assert cpu.model == "Test CPU 9000"
    assert cpu.logical_cpus == 2 and cpu.physical_cores == 1  # 2 hyperthreads of one core
    assert {"avx2", "fma"} <= cpu.flags and cpu.mhz == 2450.0


def test_simd_config_by_flags() -> None:
    assert simd_config(frozenset({"avx512f", "avx2", "fma"}), "x86_64") == ("avx512f", 16, 2)
    assert simd_config(frozenset({"avx2", "fma"}), "x86_64") == ("avx2+fma", 8, 2)
    assert simd_config(frozenset({"avx"}), "x86_64") == ("avx", 8, 1)


def test_theoretical_roof_derivation(tmp_path: Path) -> None:
    cpu = CpuInfo("Test CPU", 2, 2, frozenset({"avx2", "fma"}), mhz=2450.0)
    roof = theoretical_roof(8, cpu=cpu, max_freq_path=tmp_path / "absent")
    assert roof.cores == 2  # threads beyond the physical cores add no FMA units
    assert roof.peak_gmacs == pytest.approx(2 * 2.45 * 2 * 8)
    assert "cpu MHz" in roof.clock_source and "2 FMA units" in roof.derivation
    max_freq = tmp_path / "cpuinfo_max_freq"
    max_freq.write_text("3500000\n")
    roof = theoretical_roof(1, cpu=cpu, max_freq_path=max_freq)
    assert roof.peak_gmacs == pytest.approx(1 * 3.5 * 2 * 8)
    assert roof.fraction(roof.peak_gmacs / 4) == pytest.approx(0.25)


def test_roof_cache_written_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    measured: list[int] = []

    def fake_matmul(threads: int, *, size: int = 2048, repeats: int = 5) -> float:
        measured.append(threads)
        return 42.5

    monkeypatch.setattr(roof_module, "measure_matmul_gmacs", fake_matmul)
    monkeypatch.setattr(roof_module, "load_average", lambda: 0.0)  # a quiet machine
    first = get_roof(1)
    cache = tmp_path / "segcompress" / "roof.json"
    assert cache.is_file() and first.measured_gmacs == 42.5
    entries = json.loads(cache.read_text())["entries"]
    assert [key for key in entries if "threads=1 " in key and first.cpu in key]
    second = get_roof(1)
    assert measured == [1] and second.measured_gmacs == 42.5  # read from the cache
    get_roof(2)
    assert measured == [1, 2]  # another thread count is another entry
    get_roof(1, refresh=True)
    assert measured == [1, 2, 1]
    cache.write_text("{not json")
    assert get_roof(1).measured_gmacs == 42.5 and measured == [1, 2, 1, 1]  # corrupt: rebuilt
    assert get_roof(1, measure=False).measured_gmacs is None


def test_roof_measured_on_a_busy_machine_is_not_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(roof_module, "measure_matmul_gmacs", lambda threads, **_: 12.0)
    monkeypatch.setattr(roof_module, "load_average", lambda: 64.0)
    assert get_roof(1).measured_gmacs == 12.0  # reported ...
    assert not (tmp_path / "segcompress" / "roof.json").exists()  # ... but not kept


def test_environment_fields() -> None:
    env = environment(threads=3)
    for key in ("date", "python", "platform", "versions", "cpu", "cpu_flags", "gpu", "threads"):
        assert key in env
    assert env["threads"] == 3
    assert env["versions"]["torch"] and env["versions"]["onnxruntime"]
    assert "CPUExecutionProvider" in env["ort_providers"]
    json.dumps(env)  # JSON-ready as it is


def test_interleaved_timing_runs_every_call_once_per_round() -> None:
    order: list[str] = []
    timings = measure_interleaved([(order.append, "a"), (order.append, "b")], warmup=1, runs=3)
    assert order == ["a", "b"] * 4  # warm-up round + 3 timed rounds, a and b alternating
    assert [t.runs for t in timings] == [3, 3] and all(t.min <= t.p50 <= t.p90 for t in timings)
