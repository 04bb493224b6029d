from __future__ import annotations

import json
from pathlib import Path

import pytest

from compress.core import atomic


def test_write_json_round_trip(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "result.json"
    atomic.write_json(target, {"a": 1, "p": Path("x/y")})
    assert json.loads(target.read_text()) == {"a": 1, "p": "x/y"}
    assert [p.name for p in target.parent.iterdir()] == ["result.json"]


def test_failed_write_leaves_previous_content_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "model.pt"
    target.write_text("old")

    def broken_writer(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic.write_with(target, broken_writer)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


def test_temporary_path_keeps_extension(tmp_path: Path) -> None:
    seen: list[str] = []
    atomic.write_with(
        tmp_path / "plot.png", lambda tmp: (seen.append(tmp.suffix), tmp.write_bytes(b"x"))
    )
    assert seen == [".png"]


def test_written_files_follow_umask(tmp_path: Path) -> None:
    import os

    target = tmp_path / "a.json"
    atomic.write_json(target, {})
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
