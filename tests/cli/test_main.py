from __future__ import annotations

import subprocess
import sys

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
