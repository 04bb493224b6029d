"""Resume: an interrupted run continued from last.pt ends bit-identical to an uninterrupted one."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from compress.core.checkpoint import read_payload
from compress.core.errors import CompressError
from compress.training.train_spec import TrainSpec


def resume_spec(data: Path, **changes: object) -> TrainSpec:
    # augmentation and the UNet's dropout both draw random numbers; val_every=2 leaves
    # epoch 1 unvalidated and puts the interruption between validations.
    values: dict[str, object] = {
        "model": "unet",
        "model_options": {"base_channels": 8},
        "data": str(data),
        "epochs": 3,
        "batch_size": 2,
        "crop": 48,
        "milestones": [2],
        "val_every": 2,
        "device": "cpu",
        "seed": 7,
        "augment": True,
    }
    values.update(changes)
    return TrainSpec.model_validate(values)


def assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def without_seconds(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


@pytest.mark.slow
def test_interrupted_then_resumed_run_is_bit_identical(tiny_data: Path, tmp_path: Path) -> None:
    from compress.training.train import train

    spec = resume_spec(tiny_data)
    straight = train(spec, tmp_path / "straight", progress=False)

    stopped = train(spec, tmp_path / "resumed", progress=False, stop_after_epoch=2)
    assert not stopped.finished and stopped.result is None and len(stopped.history) == 2
    assert not (tmp_path / "resumed" / "result.json").exists()
    with pytest.raises(CompressError, match="--resume"):
        train(spec, tmp_path / "resumed", progress=False)
    random.seed(12345)  # disturb every global RNG: resume must not depend on them
    torch.manual_seed(12345)
    resumed = train(spec, tmp_path / "resumed", resume=True, progress=False)
    assert resumed.finished and resumed.start_epoch == 2

    for name in ("best.pt", "checkpoints/last.pt"):
        a = read_payload(tmp_path / "straight" / name)
        b = read_payload(tmp_path / "resumed" / name)
        assert_same_state(a["state_dict"], b["state_dict"])
        assert a["meta"] == b["meta"]
    last_a = read_payload(tmp_path / "straight" / "checkpoints/last.pt")
    last_b = read_payload(tmp_path / "resumed" / "checkpoints/last.pt")
    for index, state in last_a["optimizer"]["state"].items():
        assert_same_state(state, last_b["optimizer"]["state"][index])
    assert last_a["scheduler"] == last_b["scheduler"]
    assert without_seconds(last_a["history"]) == without_seconds(last_b["history"])
    assert straight.result.metrics == resumed.result.metrics
    assert straight.history.records[0].miou is None and straight.history.records[1].miou is not None


@pytest.mark.slow
def test_resume_with_dataloader_workers_is_deterministic(tiny_data: Path, tmp_path: Path) -> None:
    from compress.training.train import train

    spec = resume_spec(tiny_data, epochs=2, val_every=1, workers=1)
    train(spec, tmp_path / "a", progress=False)
    train(spec, tmp_path / "b", progress=False, stop_after_epoch=1)
    train(spec, tmp_path / "b", resume=True, progress=False)
    assert_same_state(
        read_payload(tmp_path / "a" / "checkpoints/last.pt")["state_dict"],
        read_payload(tmp_path / "b" / "checkpoints/last.pt")["state_dict"],
    )


def test_rng_state_survives_a_weights_only_round_trip(tmp_path: Path) -> None:
    import numpy as np

    from compress.training.seeding import rng_state, set_rng_state

    torch.manual_seed(1)
    random.seed(1)
    np.random.seed(1)
    path = tmp_path / "rng.pt"
    torch.save(rng_state(), path)
    expected = (torch.rand(3), random.random(), np.random.rand())
    torch.manual_seed(99)
    random.seed(99)
    np.random.seed(99)
    set_rng_state(torch.load(path, weights_only=True))
    assert torch.equal(torch.rand(3), expected[0])
    assert random.random() == expected[1] and np.random.rand() == expected[2]
