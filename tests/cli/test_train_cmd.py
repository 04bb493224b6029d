"""`compress train`: options become the right TrainSpec, bad input exits 2, a tiny run exits 0."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from compress.cli import main


def base_args(data: Path | str, out: Path | str) -> list[str]:
    return ["train", "--model", "unet", "--data", str(data), "--out", str(out)]


def test_options_become_the_spec(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import compress.cli.train_cmd
    import compress.training.train

    seen = {}

    def fake_train(spec, out, *, resume, progress):
        seen.update(spec=spec, out=out, resume=resume, progress=progress)
        return SimpleNamespace(result="stored")  # rank 0's outcome: the summary is printed

    monkeypatch.setattr(compress.training.train, "train", fake_train)
    monkeypatch.setattr(compress.cli.train_cmd, "_print_summary", lambda outcome: None)
    (tmp_path / "d").mkdir()  # paths are checked while the options are parsed
    args = base_args(tmp_path / "d", tmp_path / "o") + [
        "--epochs",
        "3",
        "--batch-size",
        "4",
        "--crop",
        "64",
        "--lr",
        "0.01",
        "--milestones",
        "1,2",
        "--gamma",
        "0.5",
        "--no-augment",
        "--device",
        "cpu",
        "--seed",
        "5",
        "--val-every",
        "2",
        "--workers",
        "1",
        "-o",
        "base_channels=8",
        "--model-option",
        "dropout=0.25",
        "--resume",
        "--no-progress",
        "--no-amp",
        "--class-weights",
        "inverse-sqrt",
        "--loss",
        "ohem",
        "--optimizer",
        "sgd",
        "--weight-decay-scope",
        "weights",
        "--warmup-epochs",
        "2",
        "--ema",
        "0.99",
        "--input-pipeline",
        "device",
        "--schedule",
        "poly",
    ]
    assert main(args) == 0
    spec = seen["spec"]
    assert (spec.epochs, spec.batch_size, spec.crop, spec.lr, spec.gamma) == (3, 4, 64, 0.01, 0.5)
    assert spec.milestones == [1, 2] and not spec.augment and spec.device == "cpu"
    assert (spec.seed, spec.val_every, spec.workers, spec.amp) == (5, 2, 1, False)
    assert spec.model_options == {"base_channels": 8, "dropout": 0.25}
    assert seen["resume"] is True and seen["progress"] is False
    assert (spec.class_weights, spec.loss, spec.optimizer, spec.weight_decay_scope) == (
        "inverse-sqrt",
        "ohem",
        "sgd",
        "weights",
    )
    assert (spec.warmup_epochs, spec.ema, spec.input_pipeline, spec.schedule) == (
        2,
        0.99,
        "device",
        "poly",
    )


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--epochs", "0"], "epochs"),
        (["--batch-size", "0"], "batch_size"),
        (["--crop", "16"], "crop"),
        (["--lr", "0"], "lr"),
        (["--milestones", "40,20"], "strictly increasing"),
        (["--model-option", "base_channels"], "key=value"),
    ],
)
def test_bad_values_exit_2_with_one_line(
    extra: list[str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(base_args(tmp_path, tmp_path / "o") + extra) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and needle in err and "\n" not in err


def test_bad_values_fail_without_importing_torch(tmp_path: Path) -> None:
    code = (
        "import sys; from compress.cli import main; "
        f"rc = main({base_args(tmp_path, tmp_path / 'o') + ['--epochs', '0']!r}); "
        "print(rc, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "2 False"


def test_missing_data_and_unknown_model_exit_2(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(base_args(tmp_path / "missing", tmp_path / "o1")) == 2
    assert "does not exist" in capsys.readouterr().err
    args = ["train", "--model", "nope", "--data", str(tiny_data), "--out", str(tmp_path / "o2")]
    assert main(args) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err


@pytest.mark.slow
def test_tiny_training_run_exits_0_and_rerun_is_reused(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = base_args(tiny_data, tmp_path / "run") + [
        "--epochs",
        "1",
        "--batch-size",
        "2",
        "--crop",
        "32",
        "--device",
        "cpu",
        "-o",
        "base_channels=8",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "best val mIoU" in out and "trained" in out
    assert (tmp_path / "run" / "result.json").is_file()
    assert main(args) == 0
    assert "already finished" in capsys.readouterr().out
    assert main(args[:-2] + ["-o", "base_channels=16"]) == 2  # another spec, same folder
    assert "different train configuration" in capsys.readouterr().err


def _devices_refused_here() -> list[str]:
    import torch

    return ["tpu", "cuda:7"] + ([] if torch.cuda.is_available() else ["cuda"])


@pytest.mark.parametrize("device", _devices_refused_here())
def test_a_refused_device_claims_no_folder(
    device: str, tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    args = base_args(tiny_data, out) + ["-o", "base_channels=8", "--device", device]
    assert main(args) == 2
    assert device in capsys.readouterr().err and not out.exists()


@pytest.mark.parametrize("command", ["prune", "factorize"])
def test_a_refused_device_claims_no_variant_folder(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    step = ["--ratio", "0.5"] if command == "prune" else ["--method", "tucker"]
    args = [
        command,
        "--model",
        "unet",
        "-o",
        "base_channels=8",
        *step,
        "--device",
        "tpu",
        "--input-size",
        "64x64",
        "--out",
        str(out),
    ]
    assert main(args) == 2
    assert "tpu" in capsys.readouterr().err and not out.exists()
