"""A data set without val/: train holds out the last part of train with --val-fraction."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from compress.cli import main


@pytest.fixture
def no_val(tiny_data: Path, tmp_path: Path) -> Path:
    root = tmp_path / "no-val"
    root.mkdir()
    shutil.copytree(tiny_data / "train", root / "train")
    shutil.copy(tiny_data / "dataset.yaml", root / "dataset.yaml")
    return root


def args(data: Path, out: Path, *extra: str) -> list[str]:
    return [
        "train",
        "--model",
        "unet",
        "-o",
        "base_channels=8",
        "--data",
        str(data),
        "--out",
        str(out),
        "--epochs",
        "1",
        "--crop",
        "64",
        "--no-progress",
        *extra,
    ]


def test_without_val_train_refuses_and_names_the_option(
    no_val: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args(no_val, tmp_path / "run")) == 2
    err = capsys.readouterr().err
    assert "no val split" in err and "--val-fraction" in err and err.count("\n") == 1
    assert not (tmp_path / "run").exists()


def test_val_fraction_holds_out_the_last_images_of_train(no_val: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main(args(no_val, out, "--val-fraction", "0.25")) == 0
    assert yaml.safe_load((out / "spec.yaml").read_text())["spec"]["val_fraction"] == 0.25
    result = json.loads((out / "result.json").read_text())
    best = result["metrics"]
    assert best["split"] == "train-holdout" and best["num_images"] == 1  # 4 train images


def test_val_fraction_is_refused_where_a_val_split_exists(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args(tiny_data, tmp_path / "run", "--val-fraction", "0.2")) == 2
    assert "has its own val split" in capsys.readouterr().err


def test_data_check_says_what_train_will_need(
    no_val: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["data", "check", str(no_val)]) == 0
    out = capsys.readouterr().out
    assert "no val split" in out and "--val-fraction" in out
