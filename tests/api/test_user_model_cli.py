"""A user's own builder through the CLI: ``--model package.module:builder`` end to end,
and checkpoints that name a builder nobody named in this process are refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from baselines import registry
from compress.cli import main

USER_MODULE = """
from torch import nn


def tiny_net(*, num_classes: int, width: int = 8) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
        nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(),
        nn.Conv2d(2 * width, num_classes, 1),
    )
"""
BUILDER = "segc_user_models_test:tiny_net"


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "user"
    folder.mkdir()
    (folder / "segc_user_models_test.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setattr(registry, "_BUILDERS", dict(registry._BUILDERS))
    monkeypatch.setattr(registry, "_NAMED", set(registry._NAMED))
    return folder


@pytest.mark.slow
def test_train_prune_quantize_compare_a_user_model(
    user_module: Path, tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train, pruned, quantized = tmp_path / "train", tmp_path / "p50", tmp_path / "int8"
    assert (
        main(
            [
                "train",
                "--model",
                BUILDER,
                "-o",
                "width=8",
                "--data",
                str(tiny_data),
                "--out",
                str(train),
                "--epochs",
                "1",
                "--crop",
                "64",
                "--batch-size",
                "2",
                "--no-progress",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "prune",
                "--checkpoint",
                str(train / "best.pt"),
                "--model",
                BUILDER,
                "--ratio",
                "0.5",
                "--input-size",
                "64x64",
                "--data",
                str(tiny_data),
                "--finetune-epochs",
                "1",
                "--no-progress",
                "--out",
                str(pruned),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "quantize",
                "--checkpoint",
                str(pruned / "pruned.pt"),
                "--data",
                str(tiny_data),
                "--calib-images",
                "2",
                "--input-size",
                "64x64",
                "--runs",
                "2",
                "--warmup",
                "0",
                "--threads",
                "1",
                "--out",
                str(quantized),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["compare", str(train), str(pruned), str(quantized)]) == 0
    table = capsys.readouterr().out
    assert "prune(ratio=0.5" in table and "quantize(method=ptq" in table

    # A fresh process that did not name the builder refuses the checkpoint in one line...
    env = {**os.environ, "PYTHONPATH": str(user_module)}
    env.pop("SEGCOMPRESS_MODELS", None)
    command = [
        sys.executable,
        "-m",
        "compress",
        "eval",
        "--checkpoint",
        str(pruned / "pruned.pt"),
        "--data",
        str(tiny_data),
    ]
    refused = subprocess.run(command, capture_output=True, text=True, env=env)
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert BUILDER in refused.stderr and "SEGCOMPRESS_MODELS" in refused.stderr
    # ... and loads it once the user names it.
    named = subprocess.run(
        command, capture_output=True, text=True, env={**env, "SEGCOMPRESS_MODELS": BUILDER}
    )
    assert named.returncode == 0, named.stderr


def test_a_checkpoint_whose_named_builder_is_missing_says_which(
    user_module: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import compress

    model = compress.build(BUILDER, num_classes=3)
    path = compress.save(model, tmp_path / "m.pt")
    (user_module / "segc_user_models_test.py").unlink()
    sys.modules.pop("segc_user_models_test", None)
    registry._BUILDERS.pop(BUILDER, None)
    assert main(["eval", "--checkpoint", str(path), "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "segc_user_models_test" in err and "not installed" in err


@pytest.mark.slow
def test_a_builder_whose_model_returns_a_dict_trains(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry, "_BUILDERS", dict(registry._BUILDERS))
    monkeypatch.setattr(registry, "_NAMED", set(registry._NAMED))
    builder = "torchvision.models.segmentation:lraspp_mobilenet_v3_large"  # {"out": logits}
    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--model",
                builder,
                "-o",
                "weights_backbone=null",
                "--data",
                str(tiny_data),
                "--out",
                str(out),
                "--epochs",
                "1",
                "--crop",
                "64",
                "--batch-size",
                "2",
                "--no-progress",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    assert (out / "best.pt").is_file()
