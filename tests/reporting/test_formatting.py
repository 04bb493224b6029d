from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from compress.core.errors import CompressError
from compress.core.results import LatencyStats, Metrics, RunResult
from compress.reporting import formatting
from compress.reporting.compare import Comparison, compare


def result(
    name: str,
    *,
    miou: float | None,
    ms: float | None,
    size: int | None,
    seconds: float | None = None,
    baseline: str | None = None,
) -> RunResult:
    return RunResult(
        name=name,
        kind="train",
        model="unet",
        baseline=baseline,
        size_bytes=size,
        macs=12_800_000_000,
        params=7_800_000,
        metrics=None
        if miou is None
        else Metrics(
            miou=miou, class_acc=miou, pixel_acc=0.8, per_class_iou=[miou], study_miou=miou
        ),
        latency_ms={}
        if ms is None
        else {
            "ort-cpu": LatencyStats(
                p50=ms, p90=ms, min=ms, runs=5, warmup=1, input_size=(750, 1000)
            )
        },
        training=None if seconds is None else {"seconds": seconds, "epochs": 65},
    )


@pytest.fixture
def comparison() -> Comparison:
    return compare(
        [
            result("unet", miou=0.368, ms=49.413, size=188_000_000, seconds=864.12),
            result("unet-half", miou=0.35, ms=20.0, size=47_000_000, baseline="unet"),
            result("unet-broken", miou=None, ms=None, size=None, baseline="unet"),
        ]
    )


def test_study_line_matches_the_study(comparison: Comparison) -> None:
    study = formatting.to_study(comparison).splitlines()
    assert study[0] == "unet (14.402 mins, 49.413 ms, 188 mb, 0.368)"
    assert study[1] == "unet-half (—, 20.000 ms, 47.0 mb, 0.350)"
    assert study[2] == "unet-broken (—, —, —, —)"


def test_study_iou_is_the_study_formula_not_the_dataset_miou() -> None:
    run = result("unet", miou=0.40, ms=None, size=None)
    assert run.metrics is not None
    run.metrics.study_miou = 0.61
    assert formatting.to_study(compare([run])) == "unet (—, —, —, 0.610)\n"
    run.metrics.study_miou = None
    assert formatting.to_study(compare([run])) == "unet (—, —, —, —)\n"


def test_csv_parses_with_raw_values(comparison: Comparison) -> None:
    rows = list(csv.DictReader(io.StringIO(formatting.to_csv(comparison))))
    assert [r["name"] for r in rows] == ["unet", "unet-half", "unet-broken"]
    assert tuple(rows[0]) == formatting.CSV_FIELDS
    half = rows[1]
    assert float(half["delta_miou"]) == pytest.approx(-1.8)
    assert float(half["speedup"]) == pytest.approx(49.413 / 20.0)
    assert float(half["size_ratio"]) == pytest.approx(4.0)
    assert half["latency_key"] == "ort-cpu" and half["baseline"] == "unet"
    assert rows[0]["delta_miou"] == "" and rows[2]["miou"] == ""


def test_json_parses(comparison: Comparison) -> None:
    document = json.loads(formatting.to_json(comparison))
    assert document["latency_key"] == "ort-cpu"
    assert document["rows"][1]["size_ratio"] == pytest.approx(4.0)
    assert document["rows"][2]["speedup"] is None
    assert document["best"]["latency_ms"] == ["unet-half"]


def test_markdown_has_dashes_and_bold_best(comparison: Comparison) -> None:
    lines = formatting.to_markdown(comparison).splitlines()
    assert lines[0].startswith("| run | baseline | steps | mIoU %")
    assert "ms (ort-cpu)" in lines[0]
    assert len(lines) == 2 + 3
    assert all(line.count("|") == lines[0].count("|") for line in lines)
    unet = lines[2].split(" | ")
    assert unet[3] == "**36.80**" and unet[4] == "—"
    half = lines[3].split(" | ")
    assert half[4] == "-1.80" and half[5] == "**20.0**" and half[6] == "2.47×"


def test_rich_table_highlights_best_and_survives_missing(comparison: Comparison) -> None:
    table = formatting.render_table(comparison)
    console = Console(file=io.StringIO(), width=200, record=True)
    console.print(table)
    text = console.export_text()
    assert "unet-broken" in text and "—" in text and "2.47×" in text
    mIoU = table.columns[3]
    cells = list(mIoU.cells)
    assert cells[0].plain == "36.80" and "bold green" in str(cells[0].style)
    assert cells[1].style == ""
    narrow = formatting.render_table(comparison, show_steps=False)
    assert "steps" not in [c.header for c in narrow.columns]


@pytest.mark.parametrize("fmt", formatting.FORMATS)
def test_write_comparison_every_format(comparison: Comparison, tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"out.{fmt}"
    assert formatting.write_comparison(comparison, path, fmt) == fmt
    text = path.read_text(encoding="utf-8")
    assert "unet-half" in text
    if fmt == "json":
        json.loads(text)


def test_format_from_extension(comparison: Comparison, tmp_path: Path) -> None:
    assert formatting.write_comparison(comparison, tmp_path / "t.csv") == "csv"
    assert formatting.write_comparison(comparison, tmp_path / "t.MD") == "md"
    assert formatting.write_comparison(comparison, tmp_path / "t.json") == "json"
    with pytest.raises(CompressError, match="extension '.txt'"):
        formatting.write_comparison(comparison, tmp_path / "t.txt")
    with pytest.raises(CompressError, match="valid formats: table, md, csv, json, study"):
        formatting.write_comparison(comparison, tmp_path / "t.md", "html")
    assert not (tmp_path / "t.txt").exists()


def test_number_formats() -> None:
    assert formatting.format_count(12_800_000_000) == "12.8 G"
    assert formatting.format_count(1_930_000) == "1.93 M"
    assert formatting.format_count(950_000) == "950 k"
    assert formatting.format_count(12) == "12"
    assert formatting.format_mb(188_000_000) == "188"
    assert formatting.format_mb(412_000) == "0.412"
    assert formatting.format_ms(1835.703) == "1836"
    assert formatting.format_ms(3.214) == "3.21"
