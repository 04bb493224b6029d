from __future__ import annotations

from pathlib import Path

import pytest

from compress.demo import DemoSpec, run_demo
from compress.results import load_result


@pytest.mark.slow
def test_demo_trains_measures_and_reuses(tmp_path: Path, capsys) -> None:
    spec = DemoSpec(
        out=tmp_path, models=["unet"], images=6, image_size=64, epochs=1, batch_size=2,
        crop=48, bench_runs=1, bench_warmup=0,
    )  # fmt: skip
    [run] = run_demo(spec, progress=False)
    result = load_result(run)
    assert result.kind == "bench" and result.model == "unet"
    assert result.metrics is not None and result.metrics.split == "test"
    assert {"torch-cpu", "ort-cpu"} <= set(result.latency_ms)
    assert result.training is not None and result.training["epochs"] == 1
    assert result.macs_input_size == (64, 64)

    # A rerun finds every stage finished and changes nothing.
    before = (run / "result.json").read_text()
    assert run_demo(spec, progress=False) == [run]
    assert (run / "result.json").read_text() == before


def test_demo_main_reports_bad_output_folder(tmp_path: Path, capsys) -> None:
    from compress.demo import main

    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["--out", str(blocker)]) == 2
    assert "error:" in capsys.readouterr().err
