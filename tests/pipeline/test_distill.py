"""The ``distill`` step: knowledge distillation from the variant's baseline, a step kind
of its own registered in one file (compress/pipeline/techniques/distill.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from pydantic import TypeAdapter

from compress.core.errors import CompressError
from compress.core.step_details import StepDetails
from compress.pipeline.engine import stages
from compress.pipeline.steps import Step
from compress.pipeline.techniques import technique
from compress.pipeline.techniques.distill import DistillDetails, DistillStep
from compress.recipes.load import load_recipe
from compress.reporting.step_labels import step_label
from tests.pipeline.tiny import TRAIN, variant


def test_the_step_kind_is_everywhere_the_registry_reaches(tmp_path: Path) -> None:
    step = TypeAdapter(Step).validate_python({"kind": "distill", "epochs": 3, "weight": 0.7})
    assert isinstance(step, DistillStep) and step.temperature == 2.0
    entry = technique("distill")
    assert entry.trains and entry.needs_data(step) and not entry.final
    assert step_label(step.model_dump()) == "distill(epochs=3, weight=0.7, temperature=2.0)"
    record = {"kind": "distill", "epochs": 3, "weight": 0.7, "temperature": 2.0}
    assert isinstance(TypeAdapter(StepDetails).validate_python(record), DistillDetails)
    prune = {"kind": "prune", "ratio": 0.5, "iterative_steps": 2}
    assert stages(variant(Path("d"), Path("c.pt"), prune, {"kind": "distill", "epochs": 1})) == [
        (0, 1)
    ]
    recipe = {
        "name": "kd",
        "data": "somewhere",
        "baselines": [{"name": "a", "model": "unet"}],
        "variants": [
            {"name": "v", "baseline": "a", "steps": [{"kind": "distill", "epochs": 1, "weight": 2}]}
        ],
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    with pytest.raises(CompressError, match=r"variants\[0\]\.steps\[0\]\.weight"):
        load_recipe(path)


@pytest.mark.slow
def test_distill_trains_against_the_baseline(tiny_data, tiny_checkpoint, tmp_path) -> None:
    from compress.core.checkpoint import read_payload
    from compress.pipeline.variant import run_variant

    prune = {"kind": "prune", "ratio": 0.5, "round_to": None}
    kd = {"kind": "distill", **TRAIN, "weight": 0.7, "temperature": 3.0}
    taught = run_variant(variant(tiny_data, tiny_checkpoint, prune, kd), tmp_path / "kd")
    plain = run_variant(
        variant(tiny_data, tiny_checkpoint, prune, {"kind": "finetune", **TRAIN}),
        tmp_path / "plain",
        progress=False,
    )
    result = taught.result
    assert [d.kind for d in result.step_details] == ["prune", "distill"]
    details = result.step_details[1]
    assert isinstance(details, DistillDetails) and details.teacher == "unet"
    assert details.runs == ["distill"] and result.artifacts["distill"] == "distill/result.json"
    assert result.metrics is not None and result.metrics.split == "val"
    last = read_payload(taught.run_dir / "distill" / "checkpoints" / "last.pt")
    assert last["train_spec"]["distill"] == {"weight": 0.7, "temperature": 3.0}
    losses = [
        json.loads((run.run_dir / name / "history.json").read_text())[0]["loss"]
        for run, name in ((plain, "finetune"), (taught, "distill"))
    ]
    assert losses[0] != losses[1]  # same data and seed: the teacher's term changes the loss
    saved = json.loads((taught.run_dir / "result.json").read_text())
    assert saved["step_details"][1]["kind"] == "distill"


@pytest.mark.slow
def test_its_runs_are_relative_to_the_variant_from_any_cwd(
    tiny_data, tiny_checkpoint, tmp_path, monkeypatch
) -> None:
    from compress.pipeline.variant import run_variant

    monkeypatch.chdir(tmp_path)
    kd = {"kind": "distill", **TRAIN}
    outcome = run_variant(variant(tiny_data, tiny_checkpoint, kd), Path("out"), progress=False)
    assert outcome.result.step_details[0].runs == ["distill"]
