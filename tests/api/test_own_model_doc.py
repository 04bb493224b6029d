"""docs/own-model.md runs top to bottom: every ``python`` block, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "own-model.md"


def code_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.mark.slow
def test_the_page_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # its files (data, ONNX, checkpoint) go to a fresh folder
    blocks = code_blocks(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 5
    namespace: dict = {}
    for index, block in enumerate(blocks):
        exec(compile(block, f"{DOC.name} block {index}", "exec"), namespace)  # noqa: S102
    assert (tmp_path / "lraspp-pruned.int8.onnx").is_file()
    assert (tmp_path / "lraspp-pruned.pt").is_file()
    assert 0.0 <= namespace["metrics"].miou <= 1.0
