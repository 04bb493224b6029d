from __future__ import annotations

from pathlib import Path

import pytest

from compress.core.errors import CompressError
from compress.core.results import LatencyStats, Metrics, RunResult
from compress.reporting.plots.pareto import pareto_front, pareto_points, plot_pareto

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run(name: str, ms: float | None, miou: float | None, key: str = "ort-cpu") -> RunResult:
    return RunResult(
        name=name,
        kind="train",
        model="unet",
        latency_ms={}
        if ms is None
        else {key: LatencyStats(p50=ms, p90=ms, min=ms, runs=3, warmup=1, input_size=(64, 64))},
        metrics=None
        if miou is None
        else Metrics(miou=miou, class_acc=miou, pixel_acc=miou, per_class_iou=[miou]),
    )


def test_front_on_a_hand_made_set() -> None:
    points = [
        (100.0, 0.60),  # 0: front (most accurate)
        (50.0, 0.55),  # 1: front
        (60.0, 0.50),  # 2: dominated by 1 (slower and worse)
        (10.0, 0.30),  # 3: front (fastest)
        (50.0, 0.50),  # 4: dominated by 1 (same latency, worse)
        (120.0, 0.60),  # 5: dominated by 0 (same mIoU, slower)
        (30.0, 0.30),  # 6: dominated by 3
    ]
    assert pareto_front(points) == [3, 1, 0]


def test_front_edge_cases() -> None:
    assert pareto_front([]) == []
    assert pareto_front([(5.0, 0.1)]) == [0]
    assert pareto_front([(5.0, 0.1), (5.0, 0.1)]) == [0, 1]  # exact ties both stay
    # strictly faster and strictly better on every step: all on the front, sorted by latency
    assert pareto_front([(3.0, 0.9), (1.0, 0.2), (2.0, 0.5)]) == [1, 2, 0]


def test_plot_writes_png_and_returns_front(tmp_path: Path) -> None:
    results = [
        run("base", 100.0, 0.60),
        run("pruned", 40.0, 0.58),
        run("bad", 120.0, 0.50),
        run("no-latency", None, 0.7),
        run("no-metrics", 5.0, None),
    ]
    path = tmp_path / "plots" / "pareto.png"
    front = plot_pareto(results, path)
    assert [p.name for p in front] == ["pruned", "base"]
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1024


def test_wide_latency_range_and_explicit_key(tmp_path: Path) -> None:
    results = [run("a", 1.0, 0.3, "torch-cuda"), run("b", 1000.0, 0.6, "torch-cuda")]
    path = tmp_path / "p.png"
    plot_pareto(results, path, latency_key="torch-cuda")
    assert path.read_bytes().startswith(PNG_SIGNATURE)


def test_nothing_plottable_is_a_clear_error(tmp_path: Path) -> None:
    results = [run("a", None, 0.3), run("b", 3.0, None)]
    with pytest.raises(CompressError, match=r"a \(no latency ort-cpu\), b \(no metrics\)"):
        pareto_points(results)
    with pytest.raises(CompressError, match="no run has both"):
        plot_pareto(results, tmp_path / "p.png")
    assert not (tmp_path / "p.png").exists()


def test_labels_on_a_crowded_plot_do_not_overlap(tmp_path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from compress.reporting.plots.pareto import place_labels, text_box

    fig = Figure(figsize=(7.5, 5.0), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    crowd = [(f"variant-{i}", 100.0 + (i % 4), 50.0 + 0.1 * i) for i in range(12)]
    ax.scatter([x for _, x, _ in crowd], [y for _, _, y in crowd])
    ax.set_xlim(90, 120)
    ax.set_ylim(45, 60)
    notes = place_labels(ax, crowd)
    assert len(notes) == len(crowd)
    renderer = fig.canvas.get_renderer()
    boxes = [text_box(note, renderer) for note in notes]
    for i, box in enumerate(boxes):
        for other in boxes[i + 1 :]:
            assert not box.overlaps(other)


def test_runs_measured_unalike_are_not_plotted_together(tmp_path: Path) -> None:
    wide = run("wide", 50.0, 0.5)
    wide.latency_ms["ort-cpu"] = wide.latency_ms["ort-cpu"].model_copy(
        update={"input_size": (750, 1000)}
    )
    with pytest.raises(CompressError, match="different input sizes.*wide: 750x1000"):
        plot_pareto([run("a", 10.0, 0.4), wide], tmp_path / "p.png")
    val = run("val", 50.0, 0.5)
    val.metrics = val.metrics.model_copy(update={"split": "val"})
    test = run("test", 40.0, 0.5)
    test.metrics = test.metrics.model_copy(update={"split": "test"})
    with pytest.raises(CompressError, match="different splits"):
        plot_pareto([val, test], tmp_path / "p.png")
