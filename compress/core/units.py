"""How numbers read in every table and message: milliseconds, durations, MB, ratios, counts.

One format per quantity project-wide (a MACs count prints the same in ``compress models``
and in a comparison); MB are 10^6 bytes.
"""

from __future__ import annotations

__all__ = ["format_count", "format_duration", "format_mb", "format_ms", "format_ratio"]


def format_ms(ms: float) -> str:
    """Milliseconds with sensible precision: 1836, 49.4, 3.21."""
    if ms >= 100:
        return f"{ms:.0f}"
    return f"{ms:.1f}" if ms >= 10 else f"{ms:.2f}"


def format_duration(seconds: float) -> str:
    """``42.0`` -> ``"42 s"``, ``864.1`` -> ``"14.4 min"``."""
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def format_mb(size_bytes: float) -> str:
    """Bytes as MB (10^6) with about three significant digits: 188, 20.6, 1.23, 0.412."""
    mb = size_bytes / 1e6
    if mb >= 100:
        return f"{mb:.0f}"
    if mb >= 10:
        return f"{mb:.1f}"
    return f"{mb:.2f}" if mb >= 1 else f"{mb:.3f}"


def format_ratio(value: float) -> str:
    """A ratio such as a speedup: ``2.35×``."""
    return f"{value:.2f}×"


def format_count(n: float) -> str:
    """A count with an SI suffix: ``12.8 G``, ``1.93 M``, ``950 k``, ``12``."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= scale:
            value = n / scale
            digits = 2 if value < 10 else 1 if value < 100 else 0
            return f"{value:.{digits}f} {suffix}"
    return f"{n:g}"
