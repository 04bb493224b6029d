"""Figures are divided only when measured alike; MACs are recounted from the checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from compress.core.checkpoint import save_checkpoint
from compress.core.results import Measurement, RunResult, load_result, write_result
from compress.core.specs import ModelSpec
from compress.measure.macs import count_macs_params
from compress.reporting.comparability import macs_reduction, recount_macs
from compress.reporting.compare import compare

TINY = {"base_channels": 8}


def _variant_with_checkpoint(root: Path) -> RunResult:
    spec = ModelSpec(name="unet", num_classes=3, options=TINY)
    model = spec.build().eval()
    save_checkpoint(root / "model.pt", model, spec)
    macs = count_macs_params(model, (64, 64))[0]
    result = RunResult(
        name="v",
        kind="variant",
        model="unet",
        macs=macs,
        macs_input_size=(64, 64),
        artifacts={"checkpoint": "model.pt"},
    )
    write_result(root, result)
    return load_result(root)


def test_macs_at_another_size_are_recounted_from_the_checkpoint(tmp_path: Path) -> None:
    variant = _variant_with_checkpoint(tmp_path)
    at_32 = recount_macs(variant, (32, 32))
    assert at_32 is not None and at_32 * 4 == pytest.approx(variant.macs, rel=0.02)
    reference = Measurement(macs=2 * at_32, macs_input_size=(32, 32))
    notes: list[str] = []
    assert macs_reduction(variant, [reference], notes) == pytest.approx(2.0) and notes == []


def test_macs_without_a_checkpoint_are_left_out_with_a_note() -> None:
    variant = RunResult(name="v", kind="variant", model="unet", macs=100, macs_input_size=(64, 64))
    notes: list[str] = []
    reference = Measurement(macs=400, macs_input_size=(32, 32))
    assert macs_reduction(variant, [reference], notes) is None
    assert notes and "64x64" in notes[0] and "32x32" in notes[0]


def test_a_train_run_and_its_variant_at_another_macs_size_compare(tmp_path: Path) -> None:
    variant = _variant_with_checkpoint(tmp_path)
    at_96 = recount_macs(variant, (96, 96))
    assert at_96 is not None
    base = RunResult(
        name="base", kind="train", model="unet", macs=at_96 * 3, macs_input_size=(96, 96)
    )
    variant.baseline = "base"
    row = next(r for r in compare([base, variant]).rows if r.name == "v")
    assert row.macs_ratio == pytest.approx(3.0) and row.notes == ()
