"""Training from a checkpoint (``--init``: fine-tuning, also of pruned models) and the
cosine schedule."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from compress.core.checkpoint import load_checkpoint, save_checkpoint
from compress.core.errors import CompressError
from compress.core.results import load_result
from compress.core.specs import ModelSpec
from compress.training.train_spec import TrainSpec


@pytest.fixture(scope="module")
def pruned_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A UNet pruned by half, saved with its structure step (no fine-tune)."""
    from compress.pruning.prune import prune_model
    from compress.pruning.spec import PruneSpec

    spec = ModelSpec(name="unet", num_classes=8, options={"base_channels": 8})
    torch.manual_seed(0)
    model = spec.build()
    pruned, step = prune_model(
        model, PruneSpec(ratio=0.5, round_to=None), example_input=torch.randn(1, 3, 32, 32)
    )
    path = tmp_path_factory.mktemp("pruned") / "pruned.pt"
    save_checkpoint(path, pruned, spec, structure=[step])
    return path


def init_spec(data: Path, init: Path, **changes: object) -> TrainSpec:
    values: dict[str, object] = {
        "model": "unet",
        "data": str(data),
        "init": str(init),
        "epochs": 2,
        "batch_size": 2,
        "crop": 32,
        "lr": 1e-3,
        "schedule": "cosine",
        "device": "cpu",
        "augment": False,
    }
    values.update(changes)
    return TrainSpec.model_validate(values)


def test_cosine_schedule_decays_to_zero() -> None:
    from compress.training.optim import make_scheduler

    spec = TrainSpec(model="unet", data="d", epochs=4, lr=1.0, schedule="cosine")
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=spec.lr)
    scheduler = make_scheduler(optimizer, spec)
    rates = []
    for _ in range(spec.epochs):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates[0] == 1.0 and all(a > b for a, b in zip(rates, rates[1:], strict=False))
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)


def test_step_schedule_stays_the_default() -> None:
    assert TrainSpec(model="unet", data="d").schedule == "step"
    with pytest.raises(ValueError, match="schedule"):
        TrainSpec(model="unet", data="d", schedule="linear")


@pytest.mark.slow
def test_init_trains_a_pruned_checkpoint_and_keeps_its_structure(
    tiny_data: Path, pruned_checkpoint: Path, tmp_path: Path
) -> None:
    from compress.training.train import train

    start = load_checkpoint(pruned_checkpoint)
    outcome = train(init_spec(tiny_data, pruned_checkpoint), tmp_path / "ft", progress=False)
    result = load_result(outcome.run_dir)
    assert result.steps == list(start.structure) and result.training["init"]
    assert result.params == sum(p.numel() for p in start.model.parameters())
    tuned = load_checkpoint(outcome.best_checkpoint)  # rebuilds the pruned shapes
    assert tuned.structure == start.structure and tuned.spec == start.spec
    changed = [
        name
        for name, value in tuned.model.state_dict().items()
        if value.is_floating_point() and not torch.equal(value, start.model.state_dict()[name])
    ]
    assert changed  # it trained from those weights, not a fresh model of that shape


@pytest.mark.slow
def test_init_with_zero_lr_keeps_the_starting_weights(
    tiny_data: Path, pruned_checkpoint: Path, tmp_path: Path
) -> None:
    from compress.training.train import train

    spec = init_spec(tiny_data, pruned_checkpoint, epochs=1, lr=1e-30, weight_decay=0.0)
    outcome = train(spec, tmp_path / "same", progress=False)
    start = load_checkpoint(pruned_checkpoint).model
    tuned = load_checkpoint(outcome.best_checkpoint).model
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():  # BatchNorm running stats move in train mode; compare weights only
        for (name, a), b in zip(start.named_parameters(), tuned.parameters(), strict=True):
            assert torch.allclose(a, b, atol=1e-6), name
    assert start(x).shape == tuned(x).shape


def test_init_errors_are_one_line_and_leave_no_folder(
    tiny_data: Path, pruned_checkpoint: Path, tmp_path: Path
) -> None:
    from compress.training.train import train

    with pytest.raises(CompressError, match="holds model 'unet'"):
        train(init_spec(tiny_data, pruned_checkpoint, model="vgg"), tmp_path / "a")
    with pytest.raises(CompressError, match="does not exist"):
        train(init_spec(tiny_data, tmp_path / "missing.pt"), tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    with pytest.raises(ValueError, match="drop --pretrained"):
        init_spec(tiny_data, pruned_checkpoint, pretrained=True)
    with pytest.raises(ValueError, match="drop --model-option"):
        init_spec(tiny_data, pruned_checkpoint, model_options={"base_channels": 8})


def test_a_retrained_init_file_is_another_run(
    tiny_data: Path, pruned_checkpoint: Path, tmp_path: Path
) -> None:
    from compress.training.train import _initial_model, resolve_spec

    spec, _ = resolve_spec(init_spec(tiny_data, pruned_checkpoint))
    _, first, _ = _initial_model(spec)
    assert first.init_sha256 and first.init and Path(first.init).is_absolute()
    retrained = tmp_path / "retrained.pt"
    model = load_checkpoint(pruned_checkpoint)
    with torch.no_grad():
        next(model.model.parameters()).add_(1.0)
    save_checkpoint(retrained, model.model, model.spec, structure=list(model.structure))
    _, second, _ = _initial_model(spec.model_copy(update={"init": str(retrained)}))
    assert second.init_sha256 != first.init_sha256
    assert second.model_dump() != first.model_dump()  # so its run folder differs too
