"""``make demo``: the quickstart recipe through ``compress run``."""

from __future__ import annotations

from pathlib import Path

import pytest

from compress.demo import QUICKSTART, main


def test_demo_runs_the_shipped_quickstart_recipe() -> None:
    assert QUICKSTART.is_file() and QUICKSTART.parent.name == "recipes"


@pytest.mark.slow
def test_demo_main_runs_a_recipe(tiny_recipe: Path, tmp_path: Path, capsys) -> None:
    recipe = tiny_recipe
    recipe.write_text(recipe.read_text().replace("- name: unet-tucker50", "- name: unet-tucker"))
    assert main(["--out", str(tmp_path / "out"), "--recipe", str(recipe)]) == 0
    assert "unet-tucker" in capsys.readouterr().out


def test_demo_main_reports_bad_output_folder(tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["--out", str(blocker)]) == 2
    assert "error:" in capsys.readouterr().err
