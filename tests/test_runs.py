from __future__ import annotations

from pathlib import Path

import pytest

from compress.errors import CompressError
from compress.runs import prepare_run_dir, spec_digest


def test_digest_ignores_key_order() -> None:
    assert spec_digest({"a": 1, "b": [1, 2]}) == spec_digest({"b": [1, 2], "a": 1})
    assert spec_digest({"a": 1}) != spec_digest({"a": 2})


def test_same_spec_reuses_folder_and_sees_finished(tmp_path: Path) -> None:
    run = prepare_run_dir(tmp_path / "run", {"epochs": 3}, kind="train")
    assert not run.existing and not run.finished
    (run.path / "result.json").write_text("{}")
    again = prepare_run_dir(tmp_path / "run", {"epochs": 3}, kind="train")
    assert again.existing and again.finished


def test_different_spec_is_refused(tmp_path: Path) -> None:
    prepare_run_dir(tmp_path / "run", {"epochs": 3}, kind="train")
    with pytest.raises(CompressError, match="different train configuration"):
        prepare_run_dir(tmp_path / "run", {"epochs": 4}, kind="train")


def test_foreign_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(CompressError, match="not empty"):
        prepare_run_dir(tmp_path, {"epochs": 3}, kind="train")
    with pytest.raises(CompressError, match="is a file"):
        prepare_run_dir(tmp_path / "notes.txt", {}, kind="train")
