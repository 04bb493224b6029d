"""Reading a variant's result against its same-process baseline."""

from __future__ import annotations

from compress.core.results import RunResult
from compress.pruning.latency import NOT_FASTER


def latency_ratio(result: RunResult, key: str) -> float | None:
    """Variant p50 over its same-process baseline's p50 on runtime ``key`` (None: absent)."""
    base = result.baseline_measurement
    before = base.latency_ms.get(key) if base else None
    after = result.latency_ms.get(key)
    if before is None or after is None or before.p50 <= 0:
        return None
    return after.p50 / before.p50


def macs_ratio(result: RunResult) -> float | None:
    """Variant MACs over baseline MACs (both counted at the same input size)."""
    base = result.baseline_measurement
    if base is None or not base.macs or result.macs is None:
        return None
    if base.macs_input_size != result.macs_input_size:
        return None
    return result.macs / base.macs


def latency_verdict(result: RunResult) -> str | None:
    """``"NOT faster: ..."`` when fewer MACs bought no speed on some runtime; else None."""
    macs = macs_ratio(result)
    if macs is None or macs >= 1.0:
        return None
    for key in result.latency_ms:
        ratio = latency_ratio(result, key)
        if ratio is not None and ratio >= NOT_FASTER:
            return (
                f"NOT faster: {macs:.3f}x the MACs but {ratio:.3f}x the latency on {key} - "
                "fewer MACs did not buy speed here"
            )
    return None
