"""The training recipe's options end to end: recorded in the run, resumed bit-identically."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from compress.core.checkpoint import read_payload
from compress.training.distributed import Processes, ShardedOrder
from tests.training.test_train_resume import assert_same_state, resume_spec, without_seconds

RECIPE = {
    "class_weights": "median-frequency",
    "loss": "ce+lovasz",
    "optimizer": "adamw",
    "weight_decay_scope": "weights",
    "warmup_epochs": 1,
    "schedule": "poly",
    "ema": 0.9,
}


def test_one_process_keeps_the_order_dataloader_shuffle_drew() -> None:
    """Single-process runs written before the sharded sampler resume on the same order."""
    data = list(range(23))
    old = torch.utils.data.DataLoader(
        data, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(5)
    )
    generator = torch.Generator().manual_seed(5)
    new = torch.utils.data.DataLoader(
        data, batch_size=4, generator=generator, sampler=ShardedOrder(23, generator, Processes())
    )
    assert [b.tolist() for b in old] == [b.tolist() for b in new]


def test_ranks_together_see_one_process_batches() -> None:
    """Batch k of rank 0 and of rank 1 together = batch k of one process with twice the batch."""
    one = list(ShardedOrder(23, torch.Generator().manual_seed(3), Processes()))
    ranks = [
        list(ShardedOrder(23, torch.Generator().manual_seed(3), Processes(r, 2))) for r in range(2)
    ]
    assert len(ranks[0]) == len(ranks[1]) == 11
    for k in range(0, 10, 2):  # per-rank batch 2, single batch 4
        assert sorted(ranks[0][k : k + 2] + ranks[1][k : k + 2]) == sorted(one[2 * k : 2 * k + 4])


@pytest.mark.slow
def test_recipe_options_are_recorded_and_resume_bit_identically(
    tiny_data: Path, tmp_path: Path
) -> None:
    from compress.training.train import train

    spec = resume_spec(tiny_data, **RECIPE)
    straight = train(spec, tmp_path / "straight", progress=False)
    training = straight.result.training
    assert training["loss"] == "ce+lovasz" and training["ema"] == 0.9
    assert training["class_weights"]["method"] == "median-frequency"
    assert len(training["class_weights"]["weights"]) == 8 and training["effective_batch"] == 2
    assert training["input_pipeline"] == "loader"  # the CPU default
    stored = json.loads((tmp_path / "straight" / "result.json").read_text())
    assert stored["training"]["class_weights"] == training["class_weights"]

    train(spec, tmp_path / "resumed", progress=False, stop_after_epoch=2)
    torch.manual_seed(999)
    resumed = train(spec, tmp_path / "resumed", resume=True, progress=False)
    assert resumed.start_epoch == 2
    for name in ("best.pt", "checkpoints/last.pt"):
        a = read_payload(tmp_path / "straight" / name)
        b = read_payload(tmp_path / "resumed" / name)
        assert_same_state(a["state_dict"], b["state_dict"])
    last = read_payload(tmp_path / "straight" / "checkpoints/last.pt")
    assert_same_state(
        last["ema"], read_payload(tmp_path / "resumed" / "checkpoints/last.pt")["ema"]
    )
    assert without_seconds(straight.history.to_dicts()) == without_seconds(
        resumed.history.to_dicts()
    )


@pytest.mark.slow
def test_the_ema_weights_are_what_is_validated_and_kept(tiny_data: Path, tmp_path: Path) -> None:
    from compress.training.train import train

    # validated once, after the last epoch: that epoch's EMA weights are the best ones
    result = train(resume_spec(tiny_data, ema=0.5, val_every=3), tmp_path / "run", progress=False)
    last = read_payload(tmp_path / "run" / "checkpoints/last.pt")
    best = read_payload(tmp_path / "run" / "best.pt")
    averaged = {k.removeprefix("module."): v for k, v in last["ema"].items() if k != "n_averaged"}
    assert best["meta"]["epoch"] == 3
    assert_same_state(best["state_dict"], averaged)
    assert any(not torch.equal(last["state_dict"][k], averaged[k]) for k in averaged)
    assert result.result is not None


@pytest.mark.slow
def test_the_device_pipeline_trains_and_resumes_exactly(tiny_data: Path, tmp_path: Path) -> None:
    """Decoded once, augmented per batch (here on the CPU, which runs the same code)."""
    from compress.training.train import train

    spec = resume_spec(tiny_data, input_pipeline="device")
    straight = train(spec, tmp_path / "straight", progress=False)
    assert straight.result.training["input_pipeline"] == "device"
    train(spec, tmp_path / "resumed", progress=False, stop_after_epoch=1)
    resumed = train(spec, tmp_path / "resumed", resume=True, progress=False)
    assert without_seconds(straight.history.to_dicts()) == without_seconds(
        resumed.history.to_dicts()
    )
    assert_same_state(
        read_payload(tmp_path / "straight" / "checkpoints/last.pt")["state_dict"],
        read_payload(tmp_path / "resumed" / "checkpoints/last.pt")["state_dict"],
    )


def test_compression_fine_tunes_carry_the_loss_and_class_weights() -> None:
    from compress.core.specs import ModelSpec
    from compress.pipeline.steps import FinetuneStep
    from compress.training.train_spec import finetune_train_spec

    step = FinetuneStep(epochs=2, class_weights="median-frequency", loss="ce+lovasz")
    train_spec = finetune_train_spec(
        step,
        ModelSpec(name="unet", num_classes=8),
        data="d",
        seed=3,
        device="cpu",
        distill=step.distill,
    )
    assert (train_spec.class_weights, train_spec.loss) == ("median-frequency", "ce+lovasz")
    assert (train_spec.epochs, train_spec.lr, train_spec.milestones) == (2, step.lr, [])
    assert (train_spec.schedule, train_spec.seed, train_spec.device) == ("cosine", 3, "cpu")
    plain = FinetuneStep(epochs=2).model_dump(mode="json")
    assert (plain["class_weights"], plain["loss"]) == ("none", "ce")
