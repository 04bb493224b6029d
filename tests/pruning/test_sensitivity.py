"""``compress sensitivity``: per-group mIoU drop and MACs saved, the plot, the run folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from compress.cli import main
from compress.core.errors import CompressError
from compress.core.results import RunResult, write_result
from compress.pruning.profile import SensitivitySpec, load_profile
from compress.pruning.sensitivity import evaluation_subset, profile_sensitivity
from compress.pruning.spec import PruneSpec
from compress.reporting.plots.sensitivity import plot_sensitivity, sensitivity_grid


class TinyNet(nn.Module):
    """Three prunable groups (stem.0, body.0, neck.0) and a protected classifier."""

    def __init__(self, classes: int = 8) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU())
        self.body = nn.Sequential(nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU())
        self.neck = nn.Sequential(nn.Conv2d(32, 16, 1), nn.BatchNorm2d(16), nn.ReLU())
        self.classifier = nn.Conv2d(16, classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.neck(self.body(self.stem(x))))


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    from compress.data import write_synthetic_dataset

    return write_synthetic_dataset(
        tmp_path_factory.mktemp("data") / "synthetic", n=6, size=64, seed=0
    )


@pytest.fixture(scope="module")
def profile(synthetic):
    from compress.data import load_dataset_info

    info = load_dataset_info(synthetic)
    torch.manual_seed(0)
    return profile_sensitivity(
        TinyNet(),
        evaluation_subset(str(synthetic), "val", info, 20),
        num_classes=8,
        ignore_index=info.ignore_index,
        prune=PruneSpec(ratio=0.5, round_to=None),
        ratios=[0.25, 0.5, 0.75],
        input_size=(32, 32),
        model_name="tiny",
    )


def test_profile_table_shape_and_values(profile) -> None:
    assert {g.name for g in profile.groups} == {"stem.0", "body.0", "neck.0"}
    assert profile.ratios == [0.25, 0.5, 0.75] and profile.split == "val"
    assert profile.num_images == 1 and profile.baseline_macs > 0
    assert len(profile.rows()) == 3 * 3
    for group in profile.groups:
        assert [p.ratio for p in group.points] == [0.25, 0.5, 0.75]
        pruned = [p.channels_pruned for p in group.points]
        saved = [p.macs_saved for p in group.points]
        assert pruned == [round(group.channels * r) for r in (0.25, 0.5, 0.75)]
        assert saved == sorted(saved) and saved[0] > 0 and saved[-1] > saved[0]
        for point in group.points:
            assert point.macs + point.macs_saved == profile.baseline_macs
            assert point.miou_drop == pytest.approx(profile.baseline_miou - point.miou)
            assert 0.0 <= point.miou <= 1.0


def test_a_ratio_that_prunes_nothing_drops_nothing(synthetic) -> None:
    from compress.data import load_dataset_info

    info = load_dataset_info(synthetic)
    rounded = profile_sensitivity(
        TinyNet(),
        evaluation_subset(str(synthetic), "val", info, 1),
        num_classes=8,
        ignore_index=info.ignore_index,
        prune=PruneSpec(ratio=0.5, round_to=16),
        ratios=[0.25, 0.75],
        input_size=(32, 32),
        model_name="tiny",
    )
    stem = rounded.group("stem.0")  # 16 channels: 0.25 rounds back to 16 kept
    assert stem.points[0].channels_pruned == 0
    assert stem.points[0].miou_drop == 0.0 and stem.points[0].macs_saved == 0


def test_plot_is_written(profile, tmp_path) -> None:
    drops, saved = sensitivity_grid(profile)
    assert len(drops) == len(saved) == 3 and all(len(row) == 3 for row in drops + saved)
    path = tmp_path / "plots" / "sensitivity.png"
    path.parent.mkdir()
    plot_sensitivity(profile, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in path.parent.iterdir()] == ["sensitivity.png"]  # no temp left


def test_cli_writes_a_sensitivity_run_folder(synthetic, tmp_path, capsys) -> None:
    out = tmp_path / "sens"
    args = [
        "sensitivity",
        "--model",
        "unet",
        "-o",
        "base_channels=8",
        "--data",
        str(synthetic),
        "--ratios",
        "0.5",
        "--max-images",
        "1",
        "--input-size",
        "32",
        "--round-to",
        "1",
        "--device",
        "cpu",
        "--out",
        str(out),
        "--no-progress",
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "encoders.0.0.0" in printed and "freshly initialised" in printed
    result = json.loads((out / "result.json").read_text())
    assert result["kind"] == "sensitivity" and result["model"] == "unet"
    assert (out / "sensitivity.png").is_file() and result["artifacts"]["plot"] == "sensitivity.png"
    loaded = load_profile(out)
    assert len(loaded.groups) == len(result["extra"]["profile"]["groups"]) > 10
    assert all(len(g.points) == 1 and g.points[0].macs_saved > 0 for g in loaded.groups)
    assert main(args) == 0 and "already holds" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("ratios", ["0.5,abc", "0,0.5", "0.3,1.2", ""])
def test_cli_bad_ratios_exit_2(ratios: str, tmp_path, capsys) -> None:
    code = main(["sensitivity", "--model", "unet", "--data", str(tmp_path), "--ratios", ratios])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: --ratios") and len(err.strip().splitlines()) == 1


def test_cli_missing_data_exits_2(tmp_path, capsys) -> None:
    assert main(["sensitivity", "--model", "unet"]) == 2  # --data is required
    code = main(["sensitivity", "--model", "unet", "--data", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err
    assert code == 2 and "does not exist" in err and "nowhere" in err


def test_the_test_split_is_refused(tmp_path, capsys) -> None:
    code = main(["sensitivity", "--model", "unet", "--data", str(tmp_path), "--split", "test"])
    assert code == 2 and "use val" in capsys.readouterr().err
    with pytest.raises(ValueError, match="split 'test'"):
        SensitivitySpec(model="unet", data="d", split="test")


def test_load_profile_refuses_another_run_kind(tmp_path) -> None:
    write_result(tmp_path, RunResult(name="t", kind="train", model="unet"))
    with pytest.raises(CompressError, match="not a sensitivity profile"):
        load_profile(tmp_path)
