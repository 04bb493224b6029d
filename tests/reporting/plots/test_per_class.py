from __future__ import annotations

from pathlib import Path

import pytest

from compress.core.errors import CompressError
from compress.core.results import Metrics, RunResult
from compress.reporting.plots.per_class import per_class_table, plot_per_class_iou

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NAMES = ["background", "building", "road", "vehicle"]


def run(name: str, ious: list[float | None] | None, names: list[str] | None = NAMES) -> RunResult:
    metrics = None
    if ious is not None:
        present = [v for v in ious if v is not None]
        metrics = Metrics(
            miou=sum(present) / len(present),
            class_acc=0.5,
            pixel_acc=0.9,
            per_class_iou=ious,
            class_names=names,
        )
    return RunResult(name=name, kind="train", model="unet", metrics=metrics)


def test_plot_writes_png(tmp_path: Path) -> None:
    results = [
        run("base", [0.9, 0.6, 0.7, 0.3]),
        run("int8", [0.88, 0.55, 0.7, None]),
        run("no-metrics", None),
    ]
    path = tmp_path / "per_class.png"
    plot_per_class_iou(results, path)
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1024


def test_table_keeps_runs_with_metrics_and_names() -> None:
    names, ious = per_class_table(
        [
            run("a", [0.1, 0.2, 0.3, None]),
            run("b", None),
            run("c", [0.4, 0.5, 0.6, 0.7], names=None),
        ]
    )
    assert names == NAMES
    assert ious == {"a": [0.1, 0.2, 0.3, None], "c": [0.4, 0.5, 0.6, 0.7]}
    names, _ = per_class_table([run("a", [0.1, 0.2], names=None)])
    assert names == ["class 0", "class 1"]


def test_inconsistent_runs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CompressError, match="different numbers of classes"):
        per_class_table([run("a", [0.1, 0.2, 0.3, 0.4]), run("b", [0.1, 0.2], names=None)])
    other = ["sky", "building", "road", "car"]
    with pytest.raises(CompressError, match="'a' and 'b' record different class names"):
        per_class_table([run("a", [0.1] * 4), run("b", [0.1] * 4, names=other)])
    with pytest.raises(CompressError, match=r"no run has metrics.*\(runs: a\)"):
        plot_per_class_iou([run("a", None)], tmp_path / "x.png")


def test_runs_scored_on_different_splits_are_refused(tmp_path) -> None:
    import pytest

    from compress.core.errors import CompressError
    from compress.core.results import Metrics, RunResult
    from compress.reporting.plots.per_class import plot_per_class_iou

    def scored(name: str, split: str) -> RunResult:
        metrics = Metrics(
            miou=0.5, class_acc=0.5, pixel_acc=0.5, per_class_iou=[0.5, 0.5], split=split
        )
        return RunResult(name=name, kind="eval", model="unet", metrics=metrics)

    with pytest.raises(CompressError, match="different splits.*a: val, b: test"):
        plot_per_class_iou([scored("a", "val"), scored("b", "test")], tmp_path / "p.png")
    plot_per_class_iou([scored("a", "test"), scored("b", "test")], tmp_path / "p.png")
    assert (tmp_path / "p.png").is_file()
