from __future__ import annotations

from pathlib import Path

import pytest

from compress.demo import DemoSpec, run_demo
from compress.results import load_result


@pytest.mark.slow
def test_demo_trains_compresses_measures_and_reuses(tmp_path: Path) -> None:
    spec = DemoSpec(
        out=tmp_path, models=["unet"], images=6, image_size=64, epochs=1, batch_size=2,
        crop=48, bench_runs=1, bench_warmup=0, finetune_epochs=1, calib_images=2,
    )  # fmt: skip
    runs = run_demo(spec, progress=False)
    base, pruned, tucker, int8 = (load_result(run) for run in runs)
    assert base.model == pruned.model == "unet"
    assert base.metrics is not None and base.metrics.split == "test"
    assert {"torch-cpu", "ort-cpu"} <= set(base.latency_ms) <= set(pruned.latency_ms)
    assert base.training is not None and base.training["epochs"] == 1
    assert base.macs_input_size == (64, 64)
    assert pruned.baseline == base.name and [s["kind"] for s in pruned.steps] == ["prune"]
    assert pruned.macs < base.macs and pruned.params < base.params
    assert pruned.training is not None  # the fine-tune's summary
    assert tucker.baseline == base.name and [s["kind"] for s in tucker.steps] == ["factorize"]
    assert tucker.macs < base.macs and tucker.training is not None
    assert int8.baseline == base.name and [s["kind"] for s in int8.steps] == ["quantize"]
    assert set(int8.latency_ms) == {"ort-cpu"} and int8.metrics is not None
    assert int8.size_bytes < base.size_bytes / 3  # int8 weights

    # A rerun trains and prunes nothing again; it only re-measures in its own process.
    trained = (tmp_path / "train-unet" / "best.pt").stat().st_mtime_ns
    pruned_file = (tmp_path / "prune-unet" / "pruned.pt").stat().st_mtime_ns
    tucker_file = (tmp_path / "tucker-unet" / "factorized.pt").stat().st_mtime_ns
    assert run_demo(spec, progress=False) == runs
    assert (tmp_path / "train-unet" / "best.pt").stat().st_mtime_ns == trained
    assert (tmp_path / "prune-unet" / "pruned.pt").stat().st_mtime_ns == pruned_file
    assert (tmp_path / "tucker-unet" / "factorized.pt").stat().st_mtime_ns == tucker_file


def test_demo_main_reports_bad_output_folder(tmp_path: Path, capsys) -> None:
    from compress.demo import main

    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["--out", str(blocker)]) == 2
    assert "error:" in capsys.readouterr().err
