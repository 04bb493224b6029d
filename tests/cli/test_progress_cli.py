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


def _argv(command: str, tmp_path: Path) -> tuple[list[str], str, bool]:
    """A command line for ``command``, the library function it calls (patched) and whether
    that function takes ``progress`` itself."""
    (tmp_path / "c.pt").touch()
    recipe = str(Path(__file__).parents[2] / "recipes" / "quickstart.yaml")
    fresh = ["--model", "unet", "--out", str(tmp_path / "run")]
    return {
        "prune": (["prune", *fresh, "--ratio", "0.5"], "compress.pipeline.run_kinds:run_as", True),
        "factorize": (
            ["factorize", *fresh, "--method", "tucker"],
            "compress.pipeline.run_kinds:run_as",
            True,
        ),
        "quantize": (
            ["quantize", "--checkpoint", str(tmp_path / "c.pt"), "--data", str(tmp_path)],
            "compress.pipeline.run_kinds:run_as",
            True,
        ),
        "sensitivity": (
            ["sensitivity", *fresh, "--data", str(tmp_path)],
            "compress.pipeline.sensitivity_run:run_sensitivity",
            False,
        ),
        "train": (
            ["train", *fresh, "--data", str(tmp_path)],
            "compress.training.train:train",
            True,
        ),
        "run": (
            ["run", recipe, "--out", str(tmp_path / "study")],
            "compress.recipes.run:run_recipe",
            True,
        ),
    }[command]


@pytest.mark.parametrize(
    "command", ["prune", "factorize", "quantize", "sensitivity", "train", "run"]
)
@pytest.mark.parametrize("flag", ["--progress", "--no-progress"])
def test_every_command_that_shows_progress_takes_the_flag_and_passes_it_down(
    command: str, flag: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command's own flag (not only the entry point's look at argv) chooses the
    reporter of its run, and reaches the library call that takes one."""
    import importlib

    from typer.testing import CliRunner

    import compress.cli.progress_display as display
    from compress.cli.app import app
    from compress.core.progress import PlainLines

    argv, target, takes_progress = _argv(command, tmp_path)
    chosen: list[bool] = []
    monkeypatch.setattr(display, "reporter_for", lambda on: chosen.append(on) or PlainLines())
    seen: dict[str, object] = {}

    def fake(*args: object, **options: object) -> None:
        seen.update(options)
        raise SystemExit(0)

    module, _, name = target.partition(":")
    monkeypatch.setattr(importlib.import_module(module), name, fake)
    result = CliRunner().invoke(app, [*argv, flag])
    assert result.exit_code == 0, result.output
    wanted = flag == "--progress"
    assert chosen == [wanted]
    if takes_progress:
        assert seen["progress"] is wanted


@pytest.mark.parametrize(
    "argv",
    [
        ["eval", "--checkpoint", "{missing}.pt", "--data", "{data}"],
        ["bench", "--checkpoint", "{missing}.pt"],
        ["export", "--checkpoint", "{missing}.pt", "--out", "{data}/m.onnx"],
        ["predict", "--checkpoint", "{missing}.pt", "--input", "{data}", "--out", "{data}/p"],
        ["compare", "{missing}"],
        ["data", "check", "{missing}"],
    ],
)
@pytest.mark.parametrize("flag", ["--progress", "--no-progress"])
def test_the_other_commands_that_show_progress_take_the_flag(
    argv: list[str], flag: str, tmp_path: Path
) -> None:
    """eval, bench, export, predict, compare and data check accept the flag (the README
    offers it for every command that shows progress): the answer is about the missing
    path, never 'No such option'."""
    from typer.testing import CliRunner

    from compress.cli.app import app
    from compress.core.errors import CompressError

    filled = [a.format(missing=tmp_path / "nothing", data=tmp_path) for a in argv]
    result = CliRunner().invoke(app, [*filled, flag])
    assert "No such option" not in result.output
    answer = str(result.exception) if result.exception is not None else result.output
    assert isinstance(result.exception, CompressError) or result.exit_code == 2, answer
    assert "nothing" in answer


def test_data_check_runs_with_no_progress(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from compress.cli.app import app
    from compress.data import write_synthetic_dataset

    data = write_synthetic_dataset(tmp_path / "d", n=4, size=32, seed=0)
    result = CliRunner().invoke(app, ["data", "check", str(data), "--no-progress"])
    assert result.exit_code == 0, result.output
