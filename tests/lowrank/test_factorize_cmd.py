"""``compress factorize`` end to end: run folder, per-layer table, fine-tune, user errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compress.cli import main

TINY = [
    "factorize",
    "--model",
    "unet",
    "-o",
    "base_channels=8",
    "--input-size",
    "64",
    "--no-progress",
]


def test_factorize_writes_a_run_folder_that_reloads(tmp_path: Path, capsys) -> None:
    from compress.core.checkpoint import load_checkpoint

    out = tmp_path / "run"
    code = main(
        [
            *TINY,
            "--method",
            "tucker",
            "--rank",
            "0.5",
            "--layers",
            "bottleneck.*,ups.0",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "freshly initialised" in printed and "bottleneck" in printed and "tucker" in printed
    result = json.loads((out / "result.json").read_text())
    assert result["kind"] == "factorize" and result["steps"][0]["kind"] == "factorize"
    assert result["macs"] < result["baseline_measurement"]["macs"]
    rows = {row["name"]: row for row in result["step_details"][0]["layers"]}
    assert rows["bottleneck.1.0"]["method"] == "tucker"
    assert rows["ups.0"]["method"] is None and "transposed" in rows["ups.0"]["note"]
    assert load_checkpoint(out / "factorized.pt").structure == result["steps"]


def test_factorize_with_finetuning(tmp_path: Path) -> None:
    from compress.data import write_synthetic_dataset

    data = write_synthetic_dataset(tmp_path / "synth", n=4, size=64, seed=0)
    out = tmp_path / "run"
    args = [
        "--method",
        "svd",
        "--rank",
        "0.5",
        "--layers",
        "classifier",
        "--max-macs-ratio",
        "5",
        "--finetune-epochs",
        "1",
        "--data",
        str(data),
        "--batch-size",
        "2",
        "--crop",
        "64",
        "--device",
        "cpu",
        "--out",
        str(out),
    ]
    code = main([*TINY, *args])
    assert code == 0
    result = json.loads((out / "result.json").read_text())
    assert result["metrics"] is not None and result["training"] is not None
    assert (out / "finetune" / "result.json").is_file()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--method", "tucker", "--rank", "0"], "rank 0 must be >= 1"),
        (["--method", "tucker", "--rank", "-0.5"], "rank"),
        (["--method", "tucker", "--rank", "1.5"], "outside (0, 1]"),
        (["--method", "tucker", "--rank", "512"], "larger than layer"),
        (["--method", "qr"], "method"),
        (["--method", "tucker", "--target-macs", "0.5"], "rank rule macs"),
        (["--method", "tucker", "--layers", "nope*"], "matches no conv"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    args: list[str], needle: str, tmp_path: Path, capsys
) -> None:
    assert main([*TINY, *args, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and needle in err and "\n" not in err


@pytest.mark.slow
def test_kill_9_during_the_fine_tune_then_rerun_gives_the_same_result(
    tiny_data: Path, tmp_path: Path
) -> None:
    """The same command after kill -9 resumes the fine-tune from its last epoch and ends
    with the numbers of an uninterrupted run."""
    import os
    import signal
    import subprocess
    import sys
    import time

    def command(out: Path) -> list[str]:
        args = [
            *TINY,
            "--method",
            "tucker",
            "--rank",
            "0.5",
            "--layers",
            "bottleneck.*",
            "--finetune-epochs",
            "2",
            "--data",
            str(tiny_data),
            "--batch-size",
            "2",
            "--crop",
            "48",
            "--device",
            "cpu",
            "--out",
            str(out),
        ]
        return [sys.executable, "-m", "compress", *args]

    def numbers(out: Path) -> tuple[object, ...]:
        result = json.loads((out / "result.json").read_text())
        return (
            result["metrics"]["miou"],
            result["metrics"]["per_class_iou"],
            result["size_bytes"],
            result["steps"],
        )

    env = {**os.environ, "PYTHONHASHSEED": "0"}
    subprocess.run(command(tmp_path / "straight"), check=True, env=env, capture_output=True)
    killed = tmp_path / "killed"
    process = subprocess.Popen(
        command(killed), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if list(killed.glob("finetune/checkpoints/last.pt")):
            break  # one fine-tune epoch is saved: kill during the next
        time.sleep(0.02)
    assert process.poll() is None, "the command finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not (killed / "result.json").exists()
    subprocess.run(command(killed), check=True, env=env, capture_output=True)
    assert numbers(killed) == numbers(tmp_path / "straight")
