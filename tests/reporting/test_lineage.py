"""A bench of a train run's checkpoint joins its row; chained variants meet their parent."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from compress.core.results import LatencyStats, Metrics, RunResult, load_result, write_result
from compress.core.runs import file_sha256
from compress.reporting import formatting
from compress.reporting.compare import compare
from compress.reporting.lineage import fold_bench_runs, parents_by_prefix


def _latency(ms: float) -> dict[str, LatencyStats]:
    stats = LatencyStats(p50=ms, p90=ms, min=ms, runs=3, warmup=1, input_size=(64, 64), threads=2)
    return {"ort-cpu": stats}


def _metrics(miou: float) -> Metrics:
    return Metrics(
        miou=miou,
        class_acc=miou,
        pixel_acc=0.9,
        per_class_iou=[miou],
        study_miou=miou + 0.1,
        split="test",
        num_images=4,
    )


def _train_run(root: Path) -> RunResult:
    folder = root / "unet"
    folder.mkdir()
    (folder / "best.pt").write_bytes(b"weights of the trained unet")
    result = RunResult(
        name="unet",
        kind="train",
        model="unet",
        size_bytes=4_000_000,
        metrics=_metrics(0.5),
        training={"seconds": 600.0},
        artifacts={"best": "best.pt"},
    )
    write_result(folder, result)
    return load_result(folder)


def _bench_run(root: Path, name: str, sha: str | None) -> RunResult:
    folder = root / name
    folder.mkdir()
    result = RunResult(
        name=name,
        kind="bench",
        model="unet",
        latency_ms=_latency(40.0),
        size_bytes=4_100_000,
        source_sha256=sha,
    )
    write_result(folder, result)
    return load_result(folder)


def test_a_bench_of_the_train_checkpoint_joins_the_train_row(tmp_path: Path) -> None:
    train = _train_run(tmp_path)
    bench = _bench_run(tmp_path, "unet-bench", file_sha256(str(tmp_path / "unet" / "best.pt")))
    comparison = compare([train, bench])
    (row,) = comparison.rows
    assert row.name == "unet" and row.latency_ms == 40.0 and row.training_seconds == 600.0
    assert any("unet-bench" in note for note in row.notes)
    assert formatting.to_study(comparison) == "unet (10.000 mins, 40.000 ms, 4.00 mb, 0.600)\n"


def test_a_bench_of_another_file_stays_its_own_row(tmp_path: Path) -> None:
    train = _train_run(tmp_path)
    other = _bench_run(tmp_path, "other-bench", "0" * 64)
    unknown = _bench_run(tmp_path, "old-bench", None)
    assert [r.name for r in compare([train, other, unknown]).rows] == [
        "unet",
        "other-bench",
        "old-bench",
    ]


def test_a_bench_that_is_someone_s_baseline_is_not_folded(tmp_path: Path) -> None:
    train = _train_run(tmp_path)
    bench = _bench_run(tmp_path, "unet-bench", file_sha256(str(tmp_path / "unet" / "best.pt")))
    variant = RunResult(
        name="half", kind="prune", model="unet", baseline="unet-bench", latency_ms=_latency(10.0)
    )
    results, folded = fold_bench_runs([train, bench, variant])
    assert folded == {} and [r.name for r in results] == ["unet", "unet-bench", "half"]


def _step(kind: str, **fields: object) -> dict[str, object]:
    return {"kind": kind, **fields}


def test_the_parent_is_the_longest_proper_prefix_of_the_same_baseline() -> None:
    prune, tune, ptq = _step("prune", ratio=0.5), _step("finetune", epochs=2), _step("quantize")
    entries = [
        SimpleNamespace(name="p", baseline="vgg", steps=[prune]),
        SimpleNamespace(name="pf", baseline="vgg", steps=[prune, tune]),
        SimpleNamespace(name="pfq", baseline="vgg", steps=[prune, tune, ptq]),
        SimpleNamespace(name="other-pfq", baseline="unet", steps=[prune, tune, ptq]),
        SimpleNamespace(name="q", baseline="vgg", steps=[ptq]),
        SimpleNamespace(name="p30", baseline="vgg", steps=[_step("prune", ratio=0.3), tune]),
    ]
    assert parents_by_prefix(entries) == {"pf": "p", "pfq": "pf"}


def test_a_chained_variant_is_compared_with_its_parent() -> None:
    pruned = RunResult(
        name="pf",
        kind="variant",
        model="vgg",
        size_bytes=4_000_000,
        latency_ms=_latency(30.0),
        metrics=_metrics(0.50),
    )
    chained = RunResult(
        name="pfq",
        kind="variant",
        model="vgg",
        size_bytes=1_000_000,
        latency_ms=_latency(10.0),
        metrics=_metrics(0.49),
    )
    rows = {r.name: r for r in compare([pruned, chained], parents={"pfq": "pf"}).rows}
    row = rows["pfq"]
    assert row.parent == "pf" and row.parent_delta_miou == pytest.approx(-1.0)
    assert row.parent_speedup == pytest.approx(3.0) and row.parent_size_ratio == 4.0
    assert formatting.parent_cell(row) == "pf: -1.00 pts, 3.00× faster, 4.00× smaller"
    assert rows["pf"].parent is None and formatting.parent_cell(rows["pf"]) is None
