"""OS faults during quantization: kill -9 then the same command, and a full disk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from compress.core.results import load_result


def _command(checkpoint: Path, data: Path, out: Path, method: str) -> list[str]:
    args = [
        "quantize",
        "--checkpoint",
        str(checkpoint),
        "--data",
        str(data),
        "--method",
        method,
        "--calib-images",
        "2",
        "--input-size",
        "64x64",
        "--runs",
        "1",
        "--warmup",
        "0",
        "--threads",
        "1",
        "--epochs",
        "2",
        "--crop",
        "48",
        "--batch-size",
        "2",
        "--out",
        str(out),
    ]
    return [sys.executable, "-m", "compress", *args]


def _numbers(out: Path) -> dict[str, object]:
    """What must not depend on an interruption: accuracy and size, not timings."""
    result = load_result(out)
    assert result.metrics is not None
    return {
        "miou": result.metrics.miou,
        "per_class": result.metrics.per_class_iou,
        "size": result.size_bytes,
        "steps": result.steps,
    }


@pytest.mark.slow
@pytest.mark.parametrize("method", ["ptq", "qat"])
def test_kill_9_during_quantize_then_rerun_gives_the_same_result(
    unet_checkpoint: Path, tiny_data: Path, tmp_path: Path, method: str
) -> None:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    straight = tmp_path / "straight"
    subprocess.run(
        _command(unet_checkpoint, tiny_data, straight, method),
        check=True,
        env=env,
        capture_output=True,
    )

    killed = tmp_path / "killed"
    process = subprocess.Popen(
        _command(unet_checkpoint, tiny_data, killed, method),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if (killed / "spec.yaml").is_file():
            break  # the run is under way: kill it before it can finish
        time.sleep(0.01)
    time.sleep(0.5)
    assert process.poll() is None, "quantize finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not (killed / "result.json").exists()

    rerun = subprocess.run(
        _command(unet_checkpoint, tiny_data, killed, method),
        env=env,
        capture_output=True,
        text=True,
    )
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert _numbers(killed) == _numbers(straight)
    assert not [p for p in killed.rglob(".*.tmp*")], "a temporary file survived the rerun"


def _small_tmpfs(folder: Path, size: str) -> bool:
    folder.mkdir()
    try:
        command = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)]
        return subprocess.run(command, capture_output=True, check=False).returncode == 0
    except OSError:
        return False


@pytest.mark.parametrize("command", ["export", "prune"])
def test_a_full_disk_is_one_line_and_leaves_no_partial_file(
    unet_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """ONNX's save raises ENOSPC, torch.save an opaque RuntimeError: both become one line."""
    from compress.cli import main

    disk = tmp_path / "disk"
    if not _small_tmpfs(disk, "64k"):
        pytest.skip("cannot mount a small tmpfs here (needs root or CAP_SYS_ADMIN)")
    target = disk / ("model.onnx" if command == "export" else "run")
    argv = {
        "export": [
            "export",
            "--checkpoint",
            str(unet_checkpoint),
            "--input-size",
            "32x32",
            "--out",
            str(target),
        ],
        "prune": [
            "prune",
            "--model",
            "unet",
            "--checkpoint",
            str(unet_checkpoint),
            "--ratio",
            "0.5",
            "--no-bench",
            "--input-size",
            "32x32",
            "--out",
            str(target),
        ],
    }[command]
    try:
        code = main(argv)
        lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert code == 2 and len(lines) == 1, lines
        assert lines[0].startswith(f"error: cannot write {target}")
        assert lines[0].endswith(": No space left on device")
        assert list(disk.iterdir()) == []  # no partial file, no temporary, no claimed folder
    finally:
        subprocess.run(["umount", str(disk)], check=False)
