"""`compress eval` and `compress predict`: options reach the library, user errors exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from compress.cli import main
from compress.core.errors import CompressError

DATASET_8 = {
    "name": "toy",
    "class_names": [f"c{i}" for i in range(8)],
    "ignore_index": None,
    "palette": None,
}


def _checkpoint(path: Path, num_classes: int, dataset: dict | None = None) -> Path:
    import torch

    from compress.core.checkpoint import save_checkpoint
    from compress.core.specs import ModelSpec

    torch.manual_seed(0)
    spec = ModelSpec(name="unet", num_classes=num_classes, options={"base_channels": 8})
    return save_checkpoint(path, spec.build(), spec, dataset=dataset)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    from compress.data import write_synthetic_dataset

    root = tmp_path_factory.mktemp("data") / "synthetic"
    write_synthetic_dataset(root, n=3, size=64, seed=0)
    return root


# --- eval ---------------------------------------------------------------------------------


def test_eval_passes_options_to_the_library(monkeypatch, tmp_path, capsys) -> None:
    import compress.measure.evaluate

    seen = {}

    def fake(checkpoint, data, *, split, device, progress=None, tta=None):
        seen.update(checkpoint=checkpoint, data=data, split=split, device=device, tta=tta)
        raise CompressError("stop here")

    monkeypatch.setattr(compress.measure.evaluate, "evaluate_checkpoint", fake)
    monkeypatch.chdir(tmp_path)  # the paths are checked while the options are parsed
    (tmp_path / "a.pt").touch()
    (tmp_path / "d").mkdir()
    code = main(
        [
            "eval",
            "--checkpoint",
            "a.pt",
            "--data",
            "d",
            "--split",
            "val",
            "--device",
            "cpu",
            "--tta",
            "flip",
            "--json",
        ]
    )
    assert code == 2 and "error: stop here" in capsys.readouterr().err
    assert seen == {
        "checkpoint": Path("a.pt"),
        "data": Path("d"),
        "split": "val",
        "device": "cpu",
        "tta": "flip",
    }


def test_eval_missing_checkpoint_exits_2(synthetic, tmp_path, capsys) -> None:
    code = main(["eval", "--checkpoint", str(tmp_path / "none.pt"), "--data", str(synthetic)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: checkpoint") and "none.pt does not exist" in err
    assert len(err.strip().splitlines()) == 1


def test_eval_class_count_mismatch_exits_2(synthetic, tmp_path, capsys) -> None:
    ckpt = _checkpoint(tmp_path / "m3.pt", 3)
    code = main(["eval", "--checkpoint", str(ckpt), "--data", str(synthetic), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2 and "predicts 3 classes" in err and "has 8" in err


def test_eval_bad_device_exits_2(synthetic, tmp_path, capsys) -> None:
    ckpt = _checkpoint(tmp_path / "m8.pt", 8)
    code = main(["eval", "--checkpoint", str(ckpt), "--data", str(synthetic), "--device", "tpu"])
    assert code == 2 and "cpu, cuda, cuda:N or auto" in capsys.readouterr().err


def test_eval_json_and_table(synthetic, tmp_path, capsys) -> None:
    ckpt = _checkpoint(tmp_path / "m8.pt", 8)
    args = ["eval", "--checkpoint", str(ckpt), "--data", str(synthetic), "--device", "cpu"]
    assert main([*args, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["split"] == "test" and data["checkpoint"] == str(ckpt)
    assert 0.0 <= data["miou"] <= 1.0 and len(data["per_class_iou"]) == 8
    assert {"class_acc", "pixel_acc", "study_miou", "num_images"} <= set(data)
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "mIoU" in out and "study per-image mIoU" in out and "per class" in out


# --- predict ------------------------------------------------------------------------------


def test_predict_writes_files(tmp_path, capsys) -> None:
    ckpt = _checkpoint(tmp_path / "m8.pt", 8, DATASET_8)
    Image.fromarray(np.zeros((32, 32, 3), dtype=np.uint8)).save(tmp_path / "x.jpg")
    code = main(
        [
            "predict",
            "--checkpoint",
            str(ckpt),
            "--input",
            str(tmp_path / "x.jpg"),
            "--out",
            str(tmp_path / "out"),
            "--device",
            "cpu",
        ]
    )
    assert code == 0 and "wrote 3 files for 1 image(s)" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "x_color.png",
        "x_mask.png",
        "x_panel.png",
    ]


def test_predict_missing_checkpoint_exits_2(tmp_path, capsys) -> None:
    Image.fromarray(np.zeros((32, 32, 3), dtype=np.uint8)).save(tmp_path / "x.png")
    code = main(
        [
            "predict",
            "--checkpoint",
            str(tmp_path / "none.pt"),
            "--input",
            str(tmp_path / "x.png"),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 2 and "none.pt does not exist" in capsys.readouterr().err


def test_predict_missing_input_exits_2(tmp_path, capsys) -> None:
    ckpt = _checkpoint(tmp_path / "m8.pt", 8, DATASET_8)
    code = main(
        [
            "predict",
            "--checkpoint",
            str(ckpt),
            "--input",
            str(tmp_path / "nothing"),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 2 and "nothing does not exist" in capsys.readouterr().err


def test_predict_class_count_mismatch_exits_2(tmp_path, capsys) -> None:
    ckpt = _checkpoint(tmp_path / "m3.pt", 3, DATASET_8)  # model: 3 classes, info: 8
    Image.fromarray(np.zeros((32, 32, 3), dtype=np.uint8)).save(tmp_path / "x.png")
    code = main(
        [
            "predict",
            "--checkpoint",
            str(ckpt),
            "--input",
            str(tmp_path / "x.png"),
            "--out",
            str(tmp_path / "out"),
            "--device",
            "cpu",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "names 8 classes but the model predicts 3" in err
    assert not (tmp_path / "out").exists()


def test_eval_out_writes_a_run_folder_that_compare_reads_and_reuses(
    tiny_data, tmp_path, capsys
) -> None:
    import json

    from baselines import get_model
    from compress.core.checkpoint import save_checkpoint
    from compress.core.specs import ModelSpec

    spec = ModelSpec(name="unet", num_classes=8, options={"base_channels": 8})
    checkpoint = save_checkpoint(
        tmp_path / "m.pt", get_model("unet", num_classes=8, base_channels=8), spec
    )
    out = tmp_path / "eval-run"
    argv = ["eval", "--checkpoint", str(checkpoint), "--data", str(tiny_data), "--out", str(out)]
    assert main(argv) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["kind"] == "eval" and result["metrics"]["split"] == "test"
    assert 0.0 <= result["metrics"]["miou"] <= 1.0 and result["model"] == "unet"
    capsys.readouterr()
    assert main(argv) == 0  # the same evaluation: returned, not scored again
    assert "already holds this finished evaluation" in capsys.readouterr().err
    assert main(["compare", str(out)]) == 0
