from __future__ import annotations

from pathlib import Path

import pytest

from compress.core.errors import CompressError
from compress.core.results import LatencyStats, Metrics, RunResult, write_result
from compress.reporting.compare import (
    CompareSpec,
    choose_latency_key,
    compare,
    compare_runs,
    load_results,
    ratio,
    resolve_baselines,
)
from compress.reporting.step_labels import steps_label


def latency(p50: float) -> LatencyStats:
    return LatencyStats(
        p50=p50, p90=p50 * 1.1, min=p50 * 0.9, runs=5, warmup=2, input_size=(64, 64)
    )


def run(
    name: str,
    *,
    baseline: str | None = None,
    miou: float | None = 0.5,
    latencies: dict[str, float] | None = None,
    size: int | None = 1000,
    macs: int | None = 4000,
    params: int | None = 100,
    **extra,
) -> RunResult:
    metrics = None
    if miou is not None:
        metrics = Metrics(miou=miou, class_acc=miou, pixel_acc=0.9, per_class_iou=[miou, None])
    return RunResult(
        name=name,
        kind="train" if baseline is None else "prune",
        model="unet",
        baseline=baseline,
        metrics=metrics,
        size_bytes=size,
        macs=macs,
        params=params,
        latency_ms={k: latency(v) for k, v in (latencies or {}).items()},
        **extra,
    )


def study_runs() -> list[RunResult]:
    """Two baselines, each with its own variant (a variant never meets the other baseline)."""
    return [
        run("vgg", miou=0.62, latencies={"ort-cpu": 200.0}, size=8000, macs=16000),
        run(
            "vgg-pruned",
            baseline="vgg",
            miou=0.60,
            latencies={"ort-cpu": 50.0},
            size=2000,
            macs=4000,
            steps=[{"kind": "prune", "ratio": 0.5}],
        ),
        run("unet", miou=0.40, latencies={"ort-cpu": 100.0}, size=3000, macs=9000),
        run(
            "unet-int8",
            baseline="unet",
            miou=0.39,
            latencies={"ort-cpu": 40.0},
            size=750,
            macs=9000,
        ),
    ]


def test_deltas_and_ratios_against_own_baseline() -> None:
    rows = {row.name: row for row in compare(study_runs()).rows}
    pruned = rows["vgg-pruned"]
    assert pruned.baseline == "vgg"
    assert pruned.delta_miou == pytest.approx(-2.0)  # 100 x (0.60 - 0.62) points
    assert pruned.speedup == pytest.approx(4.0)  # 200 ms / 50 ms
    assert pruned.size_ratio == pytest.approx(4.0)  # 8000 / 2000 bytes
    assert pruned.macs_ratio == pytest.approx(4.0)  # 16000 / 4000
    int8 = rows["unet-int8"]
    assert int8.baseline == "unet"
    assert int8.delta_miou == pytest.approx(-1.0)
    assert int8.speedup == pytest.approx(2.5)
    assert int8.size_ratio == pytest.approx(4.0)
    assert int8.macs_ratio == pytest.approx(1.0)


def test_baseline_rows_have_no_deltas() -> None:
    for name in ("vgg", "unet"):
        row = next(r for r in compare(study_runs()).rows if r.name == name)
        assert row.baseline is None
        assert (row.delta_miou, row.speedup, row.size_ratio, row.macs_ratio) == (None,) * 4
        assert row.miou is not None and row.latency_ms is not None


def test_override_fills_only_rows_without_a_baseline() -> None:
    results = study_runs() + [run("orphan", miou=0.31, latencies={"ort-cpu": 10.0})]
    mapping = resolve_baselines(results, "vgg")
    assert mapping == {
        "vgg": None,
        "vgg-pruned": "vgg",
        "unet": "vgg",
        "unet-int8": "unet",
        "orphan": "vgg",
    }
    rows = {r.name: r for r in compare(results, baseline="vgg").rows}
    assert rows["orphan"].delta_miou == pytest.approx(-31.0)
    assert rows["orphan"].speedup == pytest.approx(20.0)
    assert rows["unet-int8"].speedup == pytest.approx(2.5)  # still its own baseline


def test_missing_baseline_lists_the_runs_given() -> None:
    with pytest.raises(CompressError, match=r"baseline 'vgg'.*\(vgg-pruned, other\)"):
        compare([run("vgg-pruned", baseline="vgg"), run("other")])
    with pytest.raises(CompressError, match=r"--baseline 'nope'.*runs given: a, b"):
        compare([run("a"), run("b")], baseline="nope")


def test_missing_values_give_none_not_errors() -> None:
    results = [
        run("base", miou=None, latencies={}, size=None, macs=None, params=None),
        run("variant", baseline="base", miou=0.5, latencies={"ort-cpu": 5.0}, size=0),
    ]
    base, variant = compare(results).rows
    assert base.miou is None and base.latency_ms is None and base.size_bytes is None
    assert variant.delta_miou is None and variant.speedup is None
    assert variant.size_ratio is None  # variant size 0: no ratio instead of a crash
    assert variant.macs_ratio is None


def test_latency_key_preference_and_override() -> None:
    both = {"torch-cpu": 30.0, "ort-cpu": 10.0}
    results = [run("a", latencies=both), run("b", latencies=both)]
    assert choose_latency_key(results) == "ort-cpu"
    only_torch_common = [
        run("a", latencies={"torch-cpu": 1.0, "ort-cpu": 1.0}),
        run("b", latencies={"torch-cpu": 1.0}),
    ]
    assert choose_latency_key(only_torch_common) == "torch-cpu"
    cuda = [run("a", latencies={"torch-cuda": 1.0}), run("b", latencies={"torch-cuda": 2.0})]
    assert choose_latency_key(cuda) == "torch-cuda"
    assert choose_latency_key([run("a"), run("b")]) is None
    assert choose_latency_key(results, "torch-cpu") == "torch-cpu"
    with pytest.raises(CompressError, match="'ort-cuda'.*keys present: torch-cpu, ort-cpu"):
        choose_latency_key(results, "ort-cuda")
    rows = compare(results, latency_key="torch-cpu").rows
    assert rows[0].latency_ms == 30.0


def test_best_rows() -> None:
    best = compare(study_runs()).best()
    assert best == {
        "miou": {"vgg"},
        "latency_ms": {"unet-int8"},
        "size_bytes": {"unet-int8"},
        "macs": {"vgg-pruned"},
    }


def test_duplicate_names_refused(tmp_path: Path) -> None:
    with pytest.raises(CompressError, match="more than once"):
        compare([run("a"), run("a")])
    write_result(tmp_path / "one", run("same"))
    write_result(tmp_path / "two", run("same"))
    with pytest.raises(CompressError, match="both hold a run named 'same'"):
        load_results([tmp_path / "one", tmp_path / "two"])


def test_compare_runs_reads_result_files(tmp_path: Path) -> None:
    paths = []
    for result in study_runs():
        write_result(tmp_path / result.name, result)
        paths.append(tmp_path / result.name)
    comparison = compare_runs(CompareSpec(runs=paths))
    assert [r.name for r in comparison.rows] == ["vgg", "vgg-pruned", "unet", "unet-int8"]
    assert comparison.latency_key == "ort-cpu"
    with pytest.raises(CompressError, match="does not exist"):
        compare_runs(CompareSpec(runs=[tmp_path / "missing"]))


def test_small_helpers() -> None:
    assert ratio(10, 4) == 2.5
    assert ratio(None, 4) is None and ratio(10, None) is None and ratio(10, 0) is None
    steps = [{"kind": "prune", "ratio": 0.5, "layers": [1, 2]}, {"kind": "quantize"}]
    assert steps_label(steps) == "prune(ratio=0.5) → quantize"
    assert steps_label([]) == ""
