"""Training-curve PNGs: written atomically from a History, plain dicts, or no validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from compress.core.errors import CompressError
from compress.training.curves import plot_training_curves
from compress.training.history import EpochRecord, History

PNG = b"\x89PNG\r\n\x1a\n"


def sample_history(epochs: int = 6, val_every: int = 2) -> History:
    records = []
    for epoch in range(1, epochs + 1):
        validated = epoch % val_every == 0
        records.append(
            EpochRecord(
                epoch=epoch,
                loss=2.0 / epoch,
                lr=1e-3,
                seconds=1.0,
                miou=0.1 * epoch if validated else None,
                class_acc=0.12 * epoch if validated else None,
                pixel_acc=0.15 * epoch if validated else None,
            )
        )
    return History(records)


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG and len(data) > 1024


def test_curves_png_from_history(tmp_path: Path) -> None:
    path = plot_training_curves(sample_history(), tmp_path / "out" / "curves.png", title="run")
    assert path == tmp_path / "out" / "curves.png"
    assert_png(path)
    assert [p.name for p in path.parent.iterdir()] == ["curves.png"]  # no temp file left


def test_curves_accept_plain_dicts_and_unvalidated_runs(tmp_path: Path) -> None:
    rows = sample_history().to_dicts()
    assert_png(plot_training_curves(rows, tmp_path / "dicts.png"))
    unvalidated = [{"epoch": 1, "loss": 1.0, "lr": 0.1, "seconds": 0.5}]
    assert_png(plot_training_curves(unvalidated, tmp_path / "none.png"))


def test_curves_reject_empty_or_malformed_history(tmp_path: Path) -> None:
    with pytest.raises(CompressError, match="empty"):
        plot_training_curves(History(), tmp_path / "empty.png")
    with pytest.raises(CompressError, match="loss"):
        plot_training_curves([{"epoch": 1, "lr": 0.1, "seconds": 1}], tmp_path / "bad.png")
    assert not any(tmp_path.iterdir())
