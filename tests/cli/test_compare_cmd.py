from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from compress.cli import main
from compress.core.results import LatencyStats, Metrics, RunResult, write_result

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def write_run(
    root: Path, name: str, *, baseline: str | None, miou: float, ms: float, size: int
) -> Path:
    result = RunResult(
        name=name,
        kind="train" if baseline is None else "prune",
        model="unet",
        baseline=baseline,
        size_bytes=size,
        macs=size * 4,
        params=size // 4,
        latency_ms={
            "ort-cpu": LatencyStats(p50=ms, p90=ms, min=ms, runs=3, warmup=1, input_size=(64, 64))
        },
        metrics=Metrics(
            miou=miou,
            class_acc=miou,
            pixel_acc=0.9,
            per_class_iou=[miou, 0.1],
            study_miou=miou,
            class_names=["background", "road"],
        ),
        training={"seconds": 120.0},
    )
    write_result(root / name, result)
    return root / name


@pytest.fixture
def runs(tmp_path: Path) -> list[str]:
    return [
        str(write_run(tmp_path, "base", baseline=None, miou=0.5, ms=40.0, size=4000)),
        str(write_run(tmp_path, "half", baseline="base", miou=0.45, ms=10.0, size=1000)),
    ]


def test_table_is_printed(runs: list[str], capsys) -> None:
    assert main(["compare", *runs]) == 0
    out = capsys.readouterr().out
    assert "base" in out and "half" in out and "4.00×" in out and "-5.00" in out


def test_csv_and_json_to_stdout(runs: list[str], capsys) -> None:
    assert main(["compare", *runs, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert float(rows[1]["speedup"]) == pytest.approx(4.0)
    assert main(["compare", *runs, "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["rows"][1]["delta_miou"] == pytest.approx(-5.0)


def test_study_format(runs: list[str], capsys) -> None:
    assert main(["compare", *runs, "--format", "study"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "base (2.000 mins, 40.000 ms, 0.004 mb, 0.500)",
        "half (2.000 mins, 10.000 ms, 0.001 mb, 0.450)",
    ]


@pytest.mark.parametrize(
    ("name", "fmt"), [("t.md", None), ("t.csv", None), ("t.json", None), ("t.txt", "study")]
)
def test_out_file(runs: list[str], tmp_path: Path, name: str, fmt: str | None) -> None:
    extra = ["--format", fmt] if fmt else []
    assert main(["compare", *runs, "--out", str(tmp_path / name), *extra]) == 0
    text = (tmp_path / name).read_text(encoding="utf-8")
    if name.endswith(".json"):
        assert json.loads(text)["rows"][0]["name"] == "base"
    elif name.endswith(".csv"):
        assert list(csv.DictReader(io.StringIO(text)))[1]["baseline"] == "base"
    else:
        assert "half" in text


def test_baseline_override(tmp_path: Path, capsys) -> None:
    a = write_run(tmp_path, "a", baseline=None, miou=0.5, ms=30.0, size=100)
    b = write_run(tmp_path, "b", baseline=None, miou=0.6, ms=10.0, size=100)
    assert main(["compare", str(a), str(b), "--baseline", "a", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert rows[0]["baseline"] is None and rows[1]["baseline"] == "a"
    assert rows[1]["speedup"] == pytest.approx(3.0)


def test_missing_baseline_exits_2(runs: list[str], capsys) -> None:
    assert main(["compare", runs[1]]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "baseline 'base'" in err and "(half)" in err
    assert len(err.strip().splitlines()) == 1
    assert main(["compare", *runs, "--baseline", "nope"]) == 2
    assert "runs given: base, half" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args",
    [
        ["--format", "html"],
        ["--latency-key", "trt-gpu"],
        ["--out", "table.xlsx"],
    ],
)
def test_bad_options_exit_2(runs: list[str], args: list[str], capsys) -> None:
    assert main(["compare", *runs, *args]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_missing_run_folder_exits_2(tmp_path: Path, capsys) -> None:
    assert main(["compare", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_plot_pareto_and_per_class(runs: list[str], tmp_path: Path, capsys) -> None:
    for command, name in (("pareto", "p.png"), ("per-class", "c.png")):
        assert main(["plot", command, *runs, "--out", str(tmp_path / name)]) == 0
        data = (tmp_path / name).read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 1024
    assert "Pareto front: half, base" in capsys.readouterr().out


def test_plot_examples_builds_the_spec(tmp_path: Path, monkeypatch, capsys) -> None:
    import compress.reporting.plots.examples as examples

    seen = []
    monkeypatch.setattr(examples, "examples_from_checkpoint", lambda spec: seen.append(spec) or [])
    monkeypatch.chdir(tmp_path)  # the paths are checked while the options are parsed
    (tmp_path / "c.pt").touch()
    (tmp_path / "d").mkdir()
    assert (
        main(
            [
                "plot",
                "examples",
                "--checkpoint",
                "c.pt",
                "--data",
                "d",
                "--split",
                "val",
                "--out",
                str(tmp_path / "e.png"),
                "--per-class",
                "2",
                "--class",
                "road",
                "--class",
                "3",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    spec = seen[0]
    assert (spec.checkpoint, spec.data, spec.split) == (Path("c.pt"), Path("d"), "val")
    assert (spec.per_class, spec.classes, spec.device) == (2, ["road", "3"], "cpu")


def test_plot_examples_errors_exit_2(tmp_path: Path, capsys) -> None:
    assert (
        main(
            ["plot", "examples", "--checkpoint", str(tmp_path / "none.pt"), "--data", str(tmp_path)]
        )
        == 2
    )
    assert "none.pt does not exist" in capsys.readouterr().err
    assert (
        main(["plot", "examples", "--checkpoint", "c.pt", "--data", "d", "--per-class", "0"]) == 2
    )
