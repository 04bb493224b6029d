"""The machine's roof: the CPU's theoretical fp32 peak, and a measured matmul rate beside it.

Peak (multiply-accumulates per second) = cores x clock x FMA units x SIMD lanes, read
from ``/proc/cpuinfo`` flags (avx512f -> 16 fp32 lanes, avx2+fma -> 8) and the maximum
clock (``cpufreq/cpuinfo_max_freq``, else the "cpu MHz" line). Two FMA units per core
are *assumed* for AVX2/AVX-512-era x86 (true for recent Intel and AMD server cores,
not for every SKU). A 2048x2048 fp32 torch matmul is measured too: a GEMM rate is a
practical reference, but not a roof, since tuned convolutions can beat it. The measured
rate is cached in ``$XDG_CACHE_HOME/segcompress/roof.json`` (default ``~/.cache``),
keyed by CPU model and thread count, so it is paid once per machine and setting.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from compress.core import atomic
from compress.measure.environment import CpuInfo, available_cpus, cpu_info, load_average

MAX_FREQ = Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
CACHE_VERSION = 1
MATMUL_SIZE = 2048


@dataclass(frozen=True)
class Roof:
    """Theoretical peak (and a measured GEMM rate) of this CPU at ``threads`` threads."""

    cpu: str
    threads: int
    cores: int
    clock_ghz: float | None
    clock_source: str
    isa: str
    simd_lanes: int | None
    fma_units: int | None
    peak_gmacs: float | None
    measured_gmacs: float | None
    matmul_size: int
    derivation: str

    def fraction(self, gmacs_per_s: float | None) -> float | None:
        """Share of the theoretical peak that ``gmacs_per_s`` reaches (None if unknown)."""
        if gmacs_per_s is None or not self.peak_gmacs:
            return None
        return gmacs_per_s / self.peak_gmacs

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def simd_config(flags: frozenset[str], machine: str) -> tuple[str, int | None, int | None]:
    """``(isa, fp32 lanes, MACs per lane per cycle)`` for a CPU's feature flags."""
    if "avx512f" in flags:
        return "avx512f", 16, 2  # two FMA units assumed (some Xeon SKUs have one)
    if "avx2" in flags and "fma" in flags:
        return "avx2+fma", 8, 2  # two FMA units assumed for AVX2-era x86
    if "avx" in flags:
        return "avx", 8, 1  # separate add and multiply ports: one MAC per lane per cycle
    if "sse2" in flags or machine in ("x86_64", "AMD64"):
        return "sse2", 4, 1
    if "asimd" in flags or machine in ("aarch64", "arm64"):
        return "neon", 4, 2  # two 128-bit FMA pipes assumed
    return "unknown", None, None


def max_clock_ghz(cpu: CpuInfo, max_freq_path: Path = MAX_FREQ) -> tuple[float | None, str]:
    """The maximum clock in GHz and where it came from."""
    try:
        khz = float(max_freq_path.read_text().strip())
        if khz > 0:
            return khz / 1e6, str(max_freq_path)
    except (OSError, ValueError):
        pass
    if cpu.mhz:
        return cpu.mhz / 1e3, "/proc/cpuinfo 'cpu MHz' (current clock; no cpufreq max)"
    return None, "unknown"


def theoretical_roof(
    threads: int, *, cpu: CpuInfo | None = None, max_freq_path: Path = MAX_FREQ
) -> Roof:
    """The derived fp32 peak at ``threads`` threads (no measurement)."""
    cpu = cpu or cpu_info()
    cores = max(1, min(threads, cpu.physical_cores))
    clock, source = max_clock_ghz(cpu, max_freq_path)
    isa, lanes, units = simd_config(cpu.flags, platform.machine())
    peak = cores * clock * units * lanes if clock and lanes and units else None
    if peak is None:
        derivation = f"peak unknown (isa {isa}, clock from {source})"
    else:
        derivation = (
            f"{cores} cores x {clock:.3f} GHz x {units} FMA units x {lanes} fp32 lanes ({isa})"
            f" = {peak:.1f} GMAC/s; clock from {source}"
        )
    return Roof(
        cpu=cpu.model,
        threads=threads,
        cores=cores,
        clock_ghz=clock,
        clock_source=source,
        isa=isa,
        simd_lanes=lanes,
        fma_units=units,
        peak_gmacs=peak,
        measured_gmacs=None,
        matmul_size=MATMUL_SIZE,
        derivation=derivation,
    )


def measure_matmul_gmacs(threads: int, *, size: int = MATMUL_SIZE, repeats: int = 5) -> float:
    """Median rate of a ``size`` x ``size`` fp32 torch matmul at ``threads`` threads."""
    import torch

    from compress.measure.latency import measure_interleaved

    generator = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=generator)
    b = torch.randn(size, size, generator=generator)
    [timing] = measure_interleaved(
        [(lambda pair: torch.matmul(*pair), (a, b))], warmup=2, runs=repeats, threads=threads
    )
    return size**3 / (timing.p50 / 1e3) / 1e9


def cache_path() -> Path:
    """``$XDG_CACHE_HOME/segcompress/roof.json`` (``~/.cache`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "segcompress" / "roof.json"


def get_roof(
    threads: int, *, measure: bool = True, refresh: bool = False, size: int = MATMUL_SIZE
) -> Roof:
    """The roof at ``threads`` threads, with the measured matmul rate from the cache if any.

    Args:
        measure: also report the matmul rate (measured once, then read from the cache).
        refresh: measure again even if the cache holds a value.
    """
    roof = theoretical_roof(threads)
    if not measure:
        return roof
    key = f"{roof.cpu} | threads={threads} | matmul={size}"
    path = cache_path()
    entries = _read_cache(path)
    entry = entries.get(key)
    if refresh or not isinstance(entry, dict) or not isinstance(entry.get("gmacs"), float):
        load = load_average()
        entry = {
            "gmacs": measure_matmul_gmacs(threads, size=size),
            "measured": time.time(),
            "load_average": load,
        }
        # A rate measured while other work shares the cores would stick as the machine's
        # reference: report it, but cache only what was measured on a quiet machine.
        if load is None or load <= 0.5 * available_cpus():
            entries[key] = entry
            # A read-only home must not stop a benchmark; the value is still reported.
            with contextlib.suppress(OSError):
                atomic.write_json(path, {"version": CACHE_VERSION, "entries": entries})
    return Roof(**{**roof.to_dict(), "measured_gmacs": entry["gmacs"], "matmul_size": size})


def _read_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # absent or corrupt: a cache is rebuilt, never trusted blindly
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
        return {}
    entries = data.get("entries")
    return entries if isinstance(entries, dict) else {}
