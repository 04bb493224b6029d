"""Reading a variant's result against its same-process baseline: the ratios and the verdict.

One meaning per name, everywhere (docs/measurement.md):

- ``speedup`` = baseline p50 / variant p50 (> 1: the variant is faster);
- ``size_ratio`` = baseline bytes / variant bytes, ``macs_ratio`` = baseline MACs /
  variant MACs ("x smaller", > 1: the variant is smaller) - all three computed by
  :func:`compress.reporting.comparability.ratio` (the ``compare`` table, ``compress.benchmark``);
- a ``*_fraction`` is the other way round, variant / baseline: what is *kept*
  (``macs_fraction`` 0.25 = a quarter of the MACs, what a MACs budget targets).
"""

from __future__ import annotations

from compress.core.results import Measured, RunResult
from compress.reporting.comparability import ratio

NOT_FASTER = 0.95  # latency fraction at or above which fewer MACs bought "NOT faster"
INT8_KEY = "ort-cpu"  # where an int8 file is compared with its fp32 one


def latency_fraction(result: RunResult, key: str) -> float | None:
    """Variant p50 / baseline p50 on runtime ``key`` (1 / :func:`speedup`)."""
    before, after = _latency(result.baseline_measurement, key), _latency(result, key)
    return ratio(after, before)


def macs_fraction(result: RunResult) -> float | None:
    """Variant MACs / baseline MACs (both counted at the same input size, else None)."""
    base = result.baseline_measurement
    if base is None or base.macs_input_size != result.macs_input_size:
        return None
    return ratio(result.macs, base.macs)


def verdict(result: RunResult) -> str | None:
    """One sentence on the variant's speed against its same-process baseline, or None.

    An int8 variant (a ``quantize`` step): how much faster it is than the fp32 file on
    ``ort-cpu``, or that it is NOT ("latency not measured" without both timings). Any
    other variant: ``"NOT faster: ..."`` when fewer MACs bought no speed on some runtime
    (latency fraction >= 0.95), else None.
    """
    if any(step.get("kind") == "quantize" for step in result.steps):
        return _int8_verdict(result)
    macs = macs_fraction(result)
    if macs is None or macs >= 1.0:
        return None
    for key in result.latency_ms:
        kept = latency_fraction(result, key)
        if kept is not None and kept >= NOT_FASTER:
            return (
                f"NOT faster: {macs:.3f}x the MACs but {kept:.3f}x the latency on {key} - "
                "fewer MACs did not buy speed here"
            )
    return None


def _int8_verdict(result: RunResult) -> str:
    fp32 = _latency(result.baseline_measurement, INT8_KEY)
    int8 = _latency(result, INT8_KEY)
    if fp32 is None or int8 is None:
        return "latency not measured"
    faster = fp32 / max(int8, 1e-9)
    if int8 >= fp32:
        return (
            f"int8 is NOT faster than fp32 on this machine (ORT CPU p50 {int8:.1f} ms vs "
            f"{fp32:.1f} ms fp32, {faster:.2f}x)"
        )
    return f"int8 is {faster:.2f}x faster than fp32 (p50 {int8:.1f} ms vs {fp32:.1f} ms)"


def _latency(measured: Measured | None, key: str) -> float | None:
    stats = measured.latency_ms.get(key) if measured is not None else None
    return stats.p50 if stats is not None else None
