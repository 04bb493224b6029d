"""A ``prune`` run (``compress prune``): run folder of a fresh init, a checkpoint, fine-tuning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from compress.core.checkpoint import load_checkpoint, save_checkpoint
from compress.core.errors import CompressError
from compress.core.specs import ModelSpec
from compress.pipeline.report import macs_fraction
from compress.pipeline.run_kinds import run_as
from compress.pipeline.spec import VariantSpec

TINY = {"base_channels": 8}


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    from compress.data import write_synthetic_dataset

    return write_synthetic_dataset(
        tmp_path_factory.mktemp("data") / "synthetic", n=5, size=64, seed=0
    )


def run_spec(*, prune: dict | None = None, finetune: dict | None = None, **baseline) -> VariantSpec:
    """The variant ``compress prune`` builds: a prune step (+ a fine-tune), no timing."""
    steps = [{"kind": "prune", "ratio": 0.5, "round_to": None, **(prune or {})}]
    if finetune is not None:
        steps.append({"kind": "finetune", **finetune})
    data = baseline.pop("data", None)
    return VariantSpec.model_validate(
        {
            "baseline": {"model": "unet", "model_options": TINY, **baseline},
            "steps": steps,
            "data": data,
            "device": "cpu",
            "bench": {"enabled": False, "input_size": (64, 64)},
        }
    )


def run_prune(spec: VariantSpec, out, *, progress: bool = True):
    return run_as(spec, out, kind="prune", progress=progress)


def test_fresh_model_run_folder(tmp_path) -> None:
    outcome = run_prune(run_spec(), tmp_path / "run", progress=False)
    assert outcome.fresh_init and not outcome.reused
    result = json.loads((outcome.run_dir / "result.json").read_text())
    base, detail = result["baseline_measurement"], result["step_details"][0]
    assert result["kind"] == "prune" and result["model"] == "unet"
    assert result["schema_version"] == 2 and detail["kind"] == "prune"
    assert result["steps"][-1]["kind"] == "prune"
    assert result["params"] < 0.35 * base["params"]
    assert result["macs"] < 0.35 * base["macs"]
    assert base["macs_input_size"] == result["macs_input_size"]
    assert detail["channels_before"]["encoders.1.0.0"] == [8, 16]
    assert detail["channels_after"]["encoders.1.0.0"] == [4, 8]
    assert detail["channels_after"]["classifier"][1] == 8  # num_classes without data
    assert (outcome.run_dir / "spec.yaml").is_file()
    loaded = load_checkpoint(outcome.run_dir / "pruned.pt")
    assert loaded.model(torch.zeros(1, 3, 64, 64)).shape == (1, 8, 64, 64)
    again = run_prune(run_spec(), tmp_path / "run", progress=False)
    assert again.reused and again.result.macs == result["macs"]


def test_checkpoint_of_another_model_is_refused(tmp_path) -> None:
    spec = ModelSpec(name="unet", num_classes=3, options=TINY)
    path = save_checkpoint(tmp_path / "unet.pt", spec.build(), spec)
    with pytest.raises(CompressError, match="holds model 'unet', not 'deeplab-vgg11-aspp'"):
        run_prune(run_spec(model="vgg", model_options={}, checkpoint=str(path)), tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_trained_checkpoint_taylor_and_finetune(tmp_path, synthetic) -> None:
    torch.manual_seed(0)
    spec = ModelSpec(name="unet-attention", num_classes=8, options=TINY)
    trained = spec.build()
    path = save_checkpoint(tmp_path / "base.pt", trained, spec)
    outcome = run_prune(
        run_spec(
            model="unet-attention",
            model_options={},
            checkpoint=str(path),
            data=str(synthetic),
            prune={"importance": "taylor"},
            finetune={"epochs": 1, "batch_size": 2, "crop": 64},
        ),
        tmp_path / "run",
        progress=False,
    )
    result = outcome.result
    assert not outcome.fresh_init
    assert result.metrics is not None and result.metrics.split == "val"
    assert result.baseline_measurement.metrics.miou >= 0
    assert [d.kind for d in result.step_details] == ["prune", "finetune"]
    assert (outcome.run_dir / result.artifacts["finetune"]).is_file()
    assert result.training is not None and result.training["epochs"] == 1
    loaded = load_checkpoint(outcome.run_dir / "pruned.pt")
    assert loaded.dataset is not None and len(loaded.dataset["class_names"]) == 8
    assert loaded.structure[-1]["importance"] == "taylor"


def test_budget_mode_run(tmp_path) -> None:
    spec = run_spec(prune={"ratio": None, "target_macs": 0.5})
    result = run_prune(spec, tmp_path / "run", progress=False).result
    detail = result.step_details[0]
    assert macs_fraction(result) <= 0.5
    assert 0 < detail.ratio < 0.5
    budget = detail.budget  # no data, no profile: says it fell back to uniform
    assert budget["allocation"] == "uniform" and "uniform" in budget["note"]
    assert budget["met"] is True and budget["achieved"] == macs_fraction(result)


def test_distilling_fine_tune_learns_from_the_unpruned_model(synthetic, tmp_path) -> None:
    from compress.core.checkpoint import read_payload

    finetune = {"epochs": 1, "batch_size": 2, "crop": 48}
    plain = run_prune(
        run_spec(data=str(synthetic), finetune=finetune), tmp_path / "plain", progress=False
    )
    taught = run_prune(
        run_spec(data=str(synthetic), finetune=finetune | {"distill": {"weight": 0.5}}),
        tmp_path / "kd",
        progress=False,
    )
    assert "distill" in (taught.run_dir / "spec.yaml").read_text()
    last = read_payload(next(taught.run_dir.rglob("checkpoints/last.pt")))
    assert last["train_spec"]["distill"] == {"weight": 0.5, "temperature": 2.0}
    losses = [
        json.loads(next(run.run_dir.rglob("history.json")).read_text())[0]["loss"]
        for run in (plain, taught)
    ]
    assert losses[0] != losses[1]
