"""Training: spec validation, history files, a tiny real run and its run folder, fit() reuse."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import torch

from compress.core.checkpoint import STRUCTURE_REPLAYERS, load_checkpoint, read_payload
from compress.core.errors import USER_ERRORS, CompressError
from compress.core.results import load_result
from compress.core.specs import parse_spec
from compress.training.history import EpochRecord, History
from compress.training.train_spec import TrainSpec, parse_model_options


def tiny_spec(data: Path, **changes: object) -> TrainSpec:
    values: dict[str, object] = {
        "model": "unet",
        "model_options": {"base_channels": 8},
        "data": str(data),
        "epochs": 2,
        "batch_size": 2,
        "crop": 32,
        "lr": 3e-3,
        "milestones": [1],
        "device": "cpu",
        "seed": 0,
        "augment": False,
    }
    values.update(changes)
    return TrainSpec.model_validate(values)


@pytest.fixture(scope="module")
def trained(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory):
    """One tiny finished run shared by the tests that only read its folder."""
    from compress.training.train import train

    out = tmp_path_factory.mktemp("runs") / "unet-tiny"
    return train(tiny_spec(tiny_data, epochs=3), out, progress=False)


# --- spec and history (no training) -------------------------------------------------


def test_spec_defaults_are_the_studys() -> None:
    spec = TrainSpec(model="unet", data="d")
    assert (spec.epochs, spec.batch_size, spec.crop, spec.lr) == (65, 16, 256, 1e-3)
    assert (spec.weight_decay, spec.milestones, spec.gamma) == (1e-4, [20, 40, 60], 0.3)
    assert spec.augment and spec.val_every == 1 and spec.workers == 0


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("epochs", 0, "epochs"),
        ("batch_size", 0, "batch_size"),
        ("crop", 16, "crop"),
        ("lr", 0.0, "lr"),
        ("milestones", [40, 20], "strictly increasing"),
        ("milestones", "20,x", "--milestones"),
        ("val_every", 0, "val_every"),
        ("model_options", {"pretrained": True}, "--pretrained"),
        ("bogus", 1, "bogus"),
    ],
)
def test_bad_spec_values_are_one_line_errors(field: str, value: object, needle: str) -> None:
    with pytest.raises(CompressError) as caught:
        parse_spec(TrainSpec, {"model": "unet", "data": "d", field: value}, source="train")
    assert needle in str(caught.value) and "\n" not in str(caught.value)


def test_milestones_parse_from_text() -> None:
    assert TrainSpec(model="unet", data="d", milestones="5, 10").milestones == [5, 10]
    assert TrainSpec(model="unet", data="d", milestones="").milestones == []


def test_model_options_parse_yaml_scalars() -> None:
    parsed = parse_model_options(["base_channels=8", "dropout=0.1", "attention=true", "x=[1, 2]"])
    assert parsed == {"base_channels": 8, "dropout": 0.1, "attention": True, "x": [1, 2]}
    for bad in ("base_channels", "=3", "1x=2", "a=[1"):
        with pytest.raises(CompressError, match="--model-option"):
            parse_model_options([bad])


def test_history_json_csv_round_trip(tmp_path: Path) -> None:
    history = History(
        [
            EpochRecord(epoch=1, loss=1.5, lr=1e-3, seconds=2.0),
            EpochRecord(
                epoch=2, loss=1.2, miou=0.4, class_acc=0.5, pixel_acc=0.8, lr=1e-3, seconds=2
            ),
            EpochRecord(
                epoch=3, loss=1.1, miou=0.4, class_acc=0.5, pixel_acc=0.8, lr=3e-4, seconds=1
            ),
        ]
    )
    json_path, csv_path = history.write(tmp_path)
    assert History.load(tmp_path).to_dicts() == history.to_dicts()
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text())))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert rows[0]["miou"] == "" and float(rows[1]["miou"]) == 0.4
    assert history.best().epoch == 2  # earliest of equal mIoUs
    assert history.total_seconds() == 5.0
    with pytest.raises(ValueError):
        history.append(EpochRecord(epoch=5, loss=1.0, lr=1e-3, seconds=1))
    json_path.write_text(json.dumps([{"epoch": 0, "loss": 1, "lr": 1, "seconds": 1}]))
    with pytest.raises(CompressError, match="epoch"):
        History.load(json_path)


# --- a tiny real run --------------------------------------------------------------------


@pytest.mark.slow
def test_training_lowers_loss_and_writes_the_run_folder(trained) -> None:
    run = trained.run_dir
    losses = [record.loss for record in trained.history]
    assert len(losses) == 3 and losses[-1] < losses[0]
    for name in (
        "spec.yaml",
        "checkpoints/last.pt",
        "best.pt",
        "history.json",
        "history.csv",
        "curves.png",
        "result.json",
    ):
        assert (run / name).is_file(), name
    result = load_result(run)
    assert result.kind == "train" and result.model == "unet" and result.size_artifact == "best.pt"
    assert result.metrics is not None and result.metrics.split == "val"
    assert 0.0 <= result.metrics.miou <= 1.0 and len(result.metrics.per_class_iou) == 8
    assert result.training["epochs"] == 3 and result.training["best_epoch"] == trained.best_epoch
    assert result.training["seconds"] > 0 and result.macs_input_size == (32, 32)
    best_model = load_checkpoint(run / "best.pt").model
    assert result.params == sum(p.numel() for p in best_model.parameters())
    assert set(result.artifacts) >= {"best", "last", "history", "curves"}
    best_state = read_payload(run / "best.pt")["state_dict"]
    buffer = io.BytesIO()
    torch.save(best_state, buffer)
    assert result.size_bytes == buffer.getbuffer().nbytes
    assert (run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_checkpoints_load_safely_and_hold_what_they_should(trained) -> None:
    best = torch.load(trained.best_checkpoint, weights_only=True)
    last = torch.load(trained.last_checkpoint, weights_only=True)
    assert "optimizer" not in best and best["meta"]["split"] == "val"
    assert best["meta"]["epoch"] == trained.best_epoch
    assert best["dataset"]["class_names"][1] == "building"
    for key in ("optimizer", "scheduler", "scaler", "rng", "history", "best", "train_spec"):
        assert key in last, key
    assert last["epoch"] == 3 and len(last["history"]) == 3


@pytest.mark.slow
def test_rerun_of_a_finished_run_returns_the_stored_result(trained, tiny_data: Path) -> None:
    from compress.training.train import train

    before = trained.best_checkpoint.stat().st_mtime_ns
    again = train(tiny_spec(tiny_data, epochs=3), trained.run_dir, progress=False)
    assert again.reused and again.result == load_result(trained.run_dir)
    assert trained.best_checkpoint.stat().st_mtime_ns == before
    with pytest.raises(CompressError, match="different train configuration"):
        train(tiny_spec(tiny_data, epochs=4), trained.run_dir, progress=False)


def _identity_replay(model: torch.nn.Module, step: dict) -> torch.nn.Module:
    return model


@pytest.mark.slow
def test_fit_trains_any_model_and_stores_its_structure(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from baselines import get_model
    from compress.training.train import fit

    monkeypatch.setitem(STRUCTURE_REPLAYERS, "test-identity", f"{__name__}:_identity_replay")
    structure = [{"kind": "test-identity", "note": "stands in for a pruning step"}]
    torch.manual_seed(1)
    model = get_model("unet", num_classes=8, base_channels=8)
    spec = tiny_spec(tiny_data, epochs=1)
    outcome = fit(model, spec, tmp_path / "ft", structure=structure, progress=False)
    assert outcome.finished and outcome.result.steps == structure
    loaded = load_checkpoint(outcome.best_checkpoint)  # replays the structure, loads strictly
    assert loaded.structure == structure and loaded.spec.options == {"base_channels": 8}
    x = torch.randn(1, 3, 64, 64)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), loaded.model(x))  # restore_best: model holds best.pt
    with pytest.raises(CompressError, match="--resume"):
        fit(model, spec, tmp_path / "ft", structure=structure, progress=False)
    with pytest.raises(CompressError, match="different structure"):
        fit(model, spec, tmp_path / "ft", structure=[], resume=True, progress=False)


def test_bad_data_and_class_count_are_user_errors(tiny_data: Path, tmp_path: Path) -> None:
    from compress.training.train import train

    with pytest.raises(CompressError, match="does not exist"):
        train(tiny_spec(tmp_path / "nowhere"), tmp_path / "a", progress=False)
    with pytest.raises(CompressError, match="--num-classes 5"):
        train(tiny_spec(tiny_data, num_classes=5), tmp_path / "b", progress=False)
    with pytest.raises(USER_ERRORS, match="unknown model"):  # the model zoo's BaselineError
        train(tiny_spec(tiny_data, model="nope"), tmp_path / "c", progress=False)
    with pytest.raises(CompressError, match="no checkpoint"):
        train(tiny_spec(tiny_data), tmp_path / "d", resume=True, progress=False)
    with pytest.raises(USER_ERRORS, match="base_chanels"):
        train(tiny_spec(tiny_data, model_options={"base_chanels": 8}), tmp_path / "e")
    assert not (tmp_path / "e").exists()  # a typo leaves no folder that would refuse the fix


def test_a_loss_that_diverges_stops_with_one_line(tiny_data: Path, tmp_path: Path) -> None:
    from compress.training.train import train

    with pytest.raises(CompressError, match=r"epoch 1: the training loss became nan.*--lr"):
        train(tiny_spec(tiny_data, lr=1e30, epochs=2), tmp_path / "nan", progress=False)
