"""Shared fixtures: small thread counts and the location of the real CamVid data."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
CAMVID = (REPO / ".." / "shared" / "data" / "camvid").resolve()


@pytest.fixture(scope="session", autouse=True)
def _single_thread_torch() -> None:
    """Tests run on 2 shared cores: one intra-op thread keeps them predictable."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight 64x64 synthetic scenes (train/val/test), written once per test session."""
    from compress.data import write_synthetic_dataset

    return write_synthetic_dataset(tmp_path_factory.mktemp("data") / "synth", n=8, size=64, seed=0)


@pytest.fixture(scope="session")
def camvid_root() -> Path:
    """The real CamVid folder beside the repository; skip the test when it is absent."""
    if not (CAMVID / "train" / "images").is_dir():
        pytest.skip(f"CamVid not found at {CAMVID} (shared/ data is not beside this clone)")
    return CAMVID


def tiny_quickstart(tmp_path: Path) -> Path:
    """``recipes/quickstart.yaml`` at 64x64 with one-epoch trainings, written to tmp_path."""
    recipe = yaml.safe_load((REPO / "recipes" / "quickstart.yaml").read_text())
    recipe["data"] = {"synthetic": {"n": 6, "size": 64, "seed": 0}}
    recipe["train"].update(epochs=1, batch_size=2, crop=48, val_every=1)
    recipe["baselines"] = recipe["baselines"][:1]
    for variant in recipe["variants"]:
        for step in variant["steps"]:
            if step["kind"] == "finetune":
                step.update(epochs=1, batch_size=2, crop=48)
            if step["kind"] == "quantize":
                step["calib_images"] = 2
    recipe["bench"] = {
        "input_size": [64, 64],
        "runtimes": ["torch", "ort"],
        "runs": 1,
        "warmup": 0,
        "threads": 1,
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


@pytest.fixture
def tiny_recipe(tmp_path: Path) -> Path:
    return tiny_quickstart(tmp_path)
