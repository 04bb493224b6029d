"""`compress data synth` and `compress data check` through the CLI entry point."""

from __future__ import annotations

import numpy as np
from PIL import Image

from compress.cli import main


def test_synth_writes_then_reuses_then_refuses_other_parameters(tmp_path, capsys) -> None:
    out = tmp_path / "synth"
    args = ["data", "synth", "--out", str(out), "--n", "3", "--size", "32", "--seed", "5"]
    assert main(args) == 0
    assert "wrote 3 scenes" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["dataset.yaml", "test", "train", "val"]
    assert main(args) == 0
    assert "reusing" in capsys.readouterr().out
    assert main([*args[:-1], "6"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "seed=5 (requested 6)" in err and err.count("\n") == 1


def test_synth_rejects_too_few_scenes(tmp_path, capsys) -> None:
    assert main(["data", "synth", "--out", str(tmp_path / "x"), "--n", "2"]) == 2
    assert "field 'n'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_check_summarises_a_valid_data_set(tmp_path, capsys) -> None:
    out = tmp_path / "synth"
    assert main(["data", "synth", "--out", str(out), "--n", "3", "--size", "32"]) == 0
    capsys.readouterr()
    assert main(["data", "check", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "synthetic-aerial" in printed and "32x32" in printed and "grass" in printed
    assert "every pair of 3 split(s) is valid" in printed
    assert main(["data", "check", str(out), "--split", "val"]) == 0
    assert "1 split(s)" in capsys.readouterr().out


def test_check_on_a_bad_folder_exits_2(tmp_path, capsys) -> None:
    for sub in ("image", "mask"):
        (tmp_path / "train" / sub).mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "train" / "image" / "a.png")
    Image.fromarray(np.full((8, 8), 42, np.uint8)).save(tmp_path / "train" / "mask" / "a.png")
    assert main(["data", "check", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "a.png" in err and "42" in err and "0..7" in err
    assert main(["data", "check", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
