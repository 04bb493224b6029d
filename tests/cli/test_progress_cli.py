"""Long steps show progress on a terminal, and no control characters in a pipe."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pty = pytest.importorskip("pty")

FACTORIZE = [
    "factorize",
    "--model",
    "unet",
    "-o",
    "base_channels=8",
    "--method",
    "tucker",
    "--rank",
    "0.5",
    "--input-size",
    "64x64",
]


def run_in_terminal(argv: list[str]) -> str:
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.environ["COLUMNS"] = "160"
        os.execv(sys.executable, [sys.executable, "-m", "compress", *argv])
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode(errors="replace")


@pytest.mark.slow
def test_factorize_and_bench_show_their_steps_on_a_terminal(tmp_path: Path) -> None:
    text = run_in_terminal([*FACTORIZE, "--out", str(tmp_path / "run")])
    plain = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", text)
    assert re.search(r"factorizing \(tucker\).*\d+/18 encoders", plain)  # per layer
    assert "\x1b[" in text  # drawn as a live bar
    bench = [
        "bench",
        "--model",
        "unet",
        "-o",
        "base_channels=8",
        "--input-size",
        "64x64",
        "--runtime",
        "ort",
        "--runs",
        "3",
        "--warmup",
        "1",
    ]
    text = run_in_terminal(bench)
    plain = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", text)
    assert re.search(r"timing.*\d/4 (warm-up|timed runs)", plain)  # warm-up and timed runs


@pytest.mark.slow
@pytest.mark.parametrize("flag", [[], ["--no-progress"]])
def test_a_pipe_gets_no_control_characters(flag: list[str], tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "compress", *FACTORIZE, *flag, "--out", str(tmp_path / "run")],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert "\x1b" not in out.stdout + out.stderr
