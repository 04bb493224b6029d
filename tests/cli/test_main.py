from __future__ import annotations

import subprocess
import sys

import pytest

from compress.cli import main


def test_help_lists_commands(capsys) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("train", "eval", "predict", "models", "export", "bench", "compare", "data"):
        assert command in out


def test_unknown_option_exits_2() -> None:
    assert main(["models", "--no-such-option"]) == 2


def test_help_does_not_import_heavy_dependencies() -> None:
    code = (
        "import sys; from compress.cli import main; main(['--help']); "
        "heavy = [m for m in ('torch', 'onnxruntime', 'torch_pruning', 'tensorly', 'matplotlib') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from compress.core.version import __version__

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"segcompress {__version__}"


def test_ctrl_c_says_how_to_continue_and_exits_130(
    monkeypatch: pytest.MonkeyPatch, tiny_data, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    import compress.training.train

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(compress.training.train, "train", interrupted)
    argv = ["train", "--model", "unet", "--data", str(tiny_data), "--out", str(tmp_path / "r")]
    assert main(argv) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("interrupted; to continue, run: compress train --model unet")
    assert err.rstrip().endswith("--resume")  # train needs it to pick up an unfinished run


@pytest.mark.parametrize(
    "argv",
    [
        ["eval", "--checkpoint", "missing.pt", "--data", "x"],
        ["train", "--model", "unet", "--data", "missing", "--out", "r"],
        ["quantize", "--checkpoint", "missing.pt", "--data", "x"],
        ["bench", "--onnx", "missing.onnx"],
        ["prune", "--model", "unet", "--checkpoint", "missing.pt", "--ratio", "0.5"],
    ],
)
def test_a_missing_path_is_refused_before_torch_is_imported(argv: list[str], tmp_path) -> None:
    code = (
        f"import sys; from compress.cli import main; code = main({argv!r}); "
        "print(code, 'torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True
    )
    assert out.stdout.split() == ["2", "False"]
    assert "missing" in out.stderr and out.stderr.count("\n") == 1
    assert not list(tmp_path.iterdir())  # nothing claimed


@pytest.mark.parametrize(
    ("command", "option", "typed", "offered"),
    [
        ("prune", "importance", "ta", ["taylor"]),
        ("prune", "runtime", "o", ["ort"]),
        ("quantize", "calibration", "en", ["entropy"]),
        ("factorize", "method", "spa", ["spatial-svd"]),
    ],
)
def test_option_values_complete_from_their_tables(
    command: str, option: str, typed: str, offered: list[str]
) -> None:
    import typer.main

    from compress.cli.app import app

    params = typer.main.get_command(app).commands[command].params
    param = next(p for p in params if p.name == option)
    assert [item.value for item in param.shell_complete(None, typed)] == offered
