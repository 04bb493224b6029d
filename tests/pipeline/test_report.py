"""One meaning per ratio, in every door, and the one speed verdict (docs/measurement.md)."""

from __future__ import annotations

import pytest

from compress.api.benchmark import Benchmark
from compress.core.results import LatencyStats, Measurement, RunResult
from compress.pipeline.report import latency_fraction, macs_fraction, verdict
from compress.reporting.compare import compare

SIZE = (64, 64)


def stats(p50: float) -> LatencyStats:
    return LatencyStats(p50=p50, p90=p50, min=p50, runs=3, warmup=1, input_size=SIZE)


def variant(
    p50: float, *, base_p50: float = 200.0, macs: int = 4000, steps: list | None = None
) -> RunResult:
    """A variant of 2000 bytes beside a baseline of 8000 bytes and 16000 MACs."""
    baseline = Measurement(
        macs=16000,
        macs_input_size=SIZE,
        size_bytes=8000,
        latency_ms={"ort-cpu": stats(base_p50)},
    )
    return RunResult(
        name="v",
        kind="variant",
        model="unet",
        steps=steps if steps is not None else [{"kind": "prune"}],
        macs=macs,
        macs_input_size=SIZE,
        size_bytes=2000,
        latency_ms={"ort-cpu": stats(p50)},
        baseline_measurement=baseline,
    )


def test_ratios_mean_baseline_over_variant_in_the_table_and_the_api() -> None:
    [row] = compare([variant(50.0)]).rows  # against its same-process baseline
    assert (row.speedup, row.size_ratio, row.macs_ratio) == (4.0, 4.0, 4.0)
    base = Benchmark("b", "ort-cpu", SIZE, 1, 200.0, 200.0, 3, 1, 8000, macs=16000)
    mine = Benchmark("v", "ort-cpu", SIZE, 1, 50.0, 50.0, 3, 1, 2000, macs=4000, baseline=base)
    assert (mine.speedup, mine.size_ratio, mine.macs_ratio) == (4.0, 4.0, 4.0)
    assert base.speedup is None and base.size_ratio is None and base.macs_ratio is None


def test_fractions_mean_variant_over_baseline() -> None:
    result = variant(50.0)
    assert latency_fraction(result, "ort-cpu") == pytest.approx(0.25)
    assert macs_fraction(result) == pytest.approx(0.25)
    assert latency_fraction(result, "torch-cpu") is None
    other_size = result.model_copy(update={"macs_input_size": (32, 32)})
    assert macs_fraction(other_size) is None  # MACs at two sizes are not divided


def test_verdict_on_fewer_macs() -> None:
    assert verdict(variant(50.0)) is None  # faster: nothing to say
    slow = verdict(variant(195.0))  # 0.975 of the baseline's latency with a quarter of the MACs
    assert slow is not None and slow.startswith("NOT faster: 0.250x the MACs but 0.975x")
    assert verdict(variant(195.0, macs=16000)) is None  # same MACs: no promise broken


def test_verdict_on_int8() -> None:
    int8 = [{"kind": "quantize"}]
    assert verdict(variant(100.0, macs=16000, steps=int8)).startswith("int8 is 2.00x faster")
    slow = verdict(variant(250.0, macs=16000, steps=int8))
    assert slow.startswith("int8 is NOT faster than fp32 on this machine")
    unmeasured = variant(100.0, steps=int8).model_copy(update={"latency_ms": {}})
    assert verdict(unmeasured) == "latency not measured"
