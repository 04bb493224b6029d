"""The engine drives the steps' lifecycles: iterative pruning between fine-tunes is the
engine's doing (one stage, stored under the fine-tune), not a step running another."""

from __future__ import annotations

from pathlib import Path

import pytest

from compress.core.checkpoint import load_checkpoint
from compress.pipeline.engine import apply_steps, stages
from tests.pipeline.tiny import TRAIN, variant

PRUNE_TWICE = {"kind": "prune", "ratio": 0.5, "iterative_steps": 2, "round_to": None}


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ([PRUNE_TWICE, {"kind": "finetune", "epochs": 1}], [(0, 1)]),
        ([{**PRUNE_TWICE, "iterative_steps": 1}, {"kind": "finetune", "epochs": 1}], [(0,), (1,)]),
        ([PRUNE_TWICE, {"kind": "quantize"}], [(0,), (1,)]),
        ([{"kind": "finetune", "epochs": 1}, PRUNE_TWICE], [(0,), (1,)]),
    ],
)
def test_stages_pair_a_step_in_rounds_with_the_training_step_after_it(steps, expected) -> None:
    assert stages(variant(Path("d"), Path("c.pt"), *steps)) == expected


@pytest.mark.slow
def test_iterative_pruning_fine_tunes_after_every_round(tiny_data, tiny_checkpoint, tmp_path):
    from compress.pipeline.variant import run_variant

    spec = variant(tiny_data, tiny_checkpoint, PRUNE_TWICE, {"kind": "finetune", **TRAIN})
    outcome = run_variant(spec, tmp_path / "run", progress=False)
    result = outcome.result
    assert [d.kind for d in result.step_details] == ["prune", "finetune"]
    assert result.step_details[1].runs == ["finetune/step-1", "finetune/step-2"]
    for run in result.step_details[1].runs:  # each round's fine-tune is a finished fit run
        assert (outcome.run_dir / run / "result.json").is_file()
    assert result.steps[-1]["steps_done"] == 2 and result.training["epochs"] == 1
    assert result.metrics is not None and result.metrics.split == "val"
    loaded = load_checkpoint(outcome.run_dir / "model.pt")
    assert loaded.structure == result.steps


@pytest.mark.slow
def test_a_keyed_store_keeps_the_stage_under_its_last_step(tiny_data, tiny_checkpoint, tmp_path):
    from compress.pipeline.baseline import open_baseline
    from compress.recipes.store import STEP_FILE, KeyedStore

    spec = variant(tiny_data, tiny_checkpoint, PRUNE_TWICE, {"kind": "finetune", **TRAIN})
    base, resolved = open_baseline(spec)
    store = KeyedStore(tmp_path, resolved)
    first = apply_steps(resolved, base, store, progress=False)
    assert not (store.folder(0) / STEP_FILE).exists()  # [prune] alone is another prefix
    assert (store.folder(1) / STEP_FILE).is_file()
    assert (store.work_dir(1) / "step-2" / "result.json").is_file()
    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.pt")}
    again = apply_steps(resolved, open_baseline(spec)[0], store, progress=False)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.pt")} == stamps  # nothing redone
    assert [d.kind for d in again.details] == [d.kind for d in first.details]
    assert again.structure == first.structure
