"""What a measurement ran on: library versions, CPU model and flags, GPU, threads, date.

Every ``result.json`` carries this so that a latency can be read next to the machine
that produced it. Reading it is cheap: versions come from package metadata (no import),
CPU facts from ``/proc/cpuinfo``; torch is asked only for threads and the GPU name.
"""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = (
    "segcompress",
    "torch",
    "torchvision",
    "onnx",
    "onnxruntime",
    "onnxruntime-gpu",
    "onnxscript",
    "torch-pruning",
    "tensorly",
    "numpy",
)
CPUINFO = Path("/proc/cpuinfo")
SIMD_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_tile")


@dataclass(frozen=True)
class CpuInfo:
    """The facts about the CPU that latency and the roof depend on."""

    model: str
    logical_cpus: int
    physical_cores: int
    flags: frozenset[str] = field(default_factory=frozenset)
    mhz: float | None = None  # the "cpu MHz" line: the current, not the maximum, clock


def parse_cpuinfo(text: str, *, available: int | None = None) -> CpuInfo:
    """Parse ``/proc/cpuinfo`` text; ``available`` = logical CPUs this process may use."""
    blocks = [block for block in text.strip().split("\n\n") if block.strip()]
    entries = [_fields(block) for block in blocks]
    first = entries[0] if entries else {}
    logical = available or len(entries) or (os.cpu_count() or 1)
    model = first.get("model name") or first.get("Processor") or first.get("cpu model") or ""
    flags = frozenset((first.get("flags") or first.get("Features") or "").split())
    smt = 1
    siblings, cores = first.get("siblings"), first.get("cpu cores")
    if siblings and cores and siblings.isdigit() and cores.isdigit() and int(cores) > 0:
        smt = max(1, int(siblings) // int(cores))
    mhz = _float(first.get("cpu MHz"))
    return CpuInfo(
        model=model.strip() or platform.processor() or platform.machine() or "unknown CPU",
        logical_cpus=logical,
        physical_cores=max(1, -(-logical // smt)),
        flags=flags,
        mhz=mhz,
    )


def cpu_info() -> CpuInfo:
    """This machine's CPU (falls back to ``platform`` where ``/proc/cpuinfo`` is absent)."""
    try:
        text = CPUINFO.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    return parse_cpuinfo(text, available=available_cpus())


def available_cpus() -> int:
    """Logical CPUs this process may run on (its affinity mask, not the whole machine)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def busy_note(env: dict) -> str | None:
    """A warning when timings were taken on a busy machine (1-minute load average above
    the cores available), from a result's ``env``; None when quiet or unknown."""
    load, cores = env.get("load_average"), env.get("cpu_logical") or env.get("cores")
    if load is None or not cores or load <= cores:
        return None
    return (
        f"the machine was busy while timing (load average {load:g} on {cores} cores): "
        "latencies may be inflated; rerun on a quiet machine to trust them"
    )


def load_average() -> float | None:
    """The 1-minute load average: other work competing for the cores makes timings noisy."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that shape a measurement (None = not installed)."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def gpu_name() -> str | None:
    """The first CUDA device's name, or None without a usable GPU."""
    import torch

    if not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_name(0)


def environment(*, threads: int | None = None) -> dict[str, Any]:
    """Everything a result needs to say about where it was measured.

    Args:
        threads: the thread count the measurement used (torch and ONNX Runtime); the
            current ``torch.get_num_threads()`` when None.
    """
    import torch

    cpu = cpu_info()
    try:
        import onnxruntime

        providers = list(onnxruntime.get_available_providers())
    except ImportError:
        providers = []
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "versions": package_versions(),
        "cpu": cpu.model,
        "cpu_logical": cpu.logical_cpus,
        "cpu_physical_cores": cpu.physical_cores,
        "cpu_flags": sorted(flag for flag in SIMD_FLAGS if flag in cpu.flags),
        "gpu": gpu_name(),
        "cuda": torch.version.cuda if torch.cuda.is_available() else None,
        "threads": threads if threads is not None else torch.get_num_threads(),
        "load_average": load_average(),
        "ort_providers": providers,
    }


def _fields(block: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in block.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip(), value.strip())
    return fields


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None
