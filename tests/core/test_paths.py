"""'does not exist' is said only of what does not exist."""

from __future__ import annotations

from pathlib import Path

import pytest

from compress.core.errors import CompressError
from compress.core.paths import require_file, require_folder


def test_require_file_names_what_the_path_is(tmp_path: Path) -> None:
    (tmp_path / "x.png").mkdir()
    (tmp_path / "a.pt").write_bytes(b"x")
    assert require_file(tmp_path / "a.pt", "checkpoint") == tmp_path / "a.pt"
    with pytest.raises(CompressError, match="image .*x.png is a folder; expected an image"):
        require_file(tmp_path / "x.png", "image", "an image file")
    with pytest.raises(CompressError, match="checkpoint .*b.pt does not exist"):
        require_file(tmp_path / "b.pt", "checkpoint")


def test_require_folder_names_what_the_path_is(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    assert require_folder(tmp_path, "--data") == tmp_path
    with pytest.raises(CompressError, match="--data .*notes.txt is a file; expected a data set"):
        require_folder(tmp_path / "notes.txt", "--data", "a data set folder")
    with pytest.raises(CompressError, match="--data .*absent does not exist; expected a folder"):
        require_folder(tmp_path / "absent", "--data")
