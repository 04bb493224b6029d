"""A ``quantize`` run (``compress quantize``): run folder, result.json, fp32 beside int8."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from compress.core.checkpoint import save_checkpoint
from compress.core.results import load_result
from compress.core.specs import ModelSpec
from compress.pipeline.report import verdict
from compress.pipeline.run_kinds import run_as
from compress.pipeline.spec import VariantSpec
from compress.pipeline.variant import VariantOutcome

BENCH = {"runtimes": ["ort"], "input_size": (64, 64), "runs": 2, "warmup": 0, "threads": 1}


def quantize_spec(checkpoint: Path, data: Path, **step: object) -> VariantSpec:
    """The variant ``compress quantize`` builds: one quantize step, scored on test."""
    return VariantSpec.model_validate(
        {
            "baseline": {"checkpoint": str(checkpoint)},
            "steps": [{"kind": "quantize", "calib_images": 2, **step}],
            "data": str(data),
            "eval_split": "test",
            "bench": BENCH,
        }
    )


def quantize(spec: VariantSpec, out: Path) -> VariantOutcome:
    return run_as(spec, out, kind="quantize", progress=False)


def test_ptq_writes_a_complete_run_folder(
    unet_checkpoint: Path, tiny_data: Path, tmp_path: Path
) -> None:
    spec = quantize_spec(unet_checkpoint, tiny_data)
    outcome = quantize(spec, tmp_path / "run")
    run = outcome.run_dir
    assert {p.name for p in run.iterdir()} >= {"model.onnx", "model.int8.onnx", "result.json"}
    result = load_result(run)
    assert result.kind == "quantize" and result.model == "unet"
    detail = result.step_details[0]
    assert detail.kind == "quantize" and detail.method == "ptq"
    step = spec.steps[0]
    assert result.steps == [
        step.record(reduce_range=detail.int8_format["reduce_range"], calib_images=2)
    ]
    assert result.steps[-1]["method"] == "ptq"
    assert result.size_artifact == "int8-onnx"
    assert result.size_bytes == (run / "model.int8.onnx").stat().st_size
    assert list(result.latency_ms) == ["ort-cpu"]
    fp32 = result.baseline_measurement
    assert fp32.size_bytes == (run / "model.onnx").stat().st_size > result.size_bytes
    assert set(fp32.latency_ms) == {"ort-cpu"} and fp32.metrics.split == "test"
    assert result.metrics is not None and result.metrics.split == "test"
    assert detail.calibration["split"] == "train"
    assert detail.calibration["images"] == detail.calibration["calibration_images"] == 2
    assert detail.calibration["calibration_seconds"] > 0
    if result.latency_ms["ort-cpu"].p50 >= fp32.latency_ms["ort-cpu"].p50:
        assert "int8 is NOT faster than fp32 on this machine" in verdict(result)
    else:
        assert "faster than fp32" in verdict(result)
    assert result.baseline == "unet-run"
    again = quantize(spec, tmp_path / "run")
    assert again.reused and again.result.created == result.created


def test_a_structure_carrying_checkpoint_quantizes_like_any_other(
    tiny_data: Path, tmp_path: Path
) -> None:
    """A pruned, then factorized checkpoint (both steps replayed by load_checkpoint) goes
    through PTQ: techniques compose."""
    from compress import lowrank, pruning

    spec = ModelSpec(name="unet", num_classes=8, options={"base_channels": 8})
    torch.manual_seed(0)
    model, pruned = pruning.prune_model(
        spec.build().eval(), pruning.PruneSpec(ratio=0.5), example_input=torch.randn(1, 3, 64, 64)
    )
    factorized = lowrank.factorize_model(
        model, lowrank.FactorizeSpec(method="tucker", rank=0.5, round_to=1), input_size=(64, 64)
    ).step
    checkpoint = save_checkpoint(
        tmp_path / "variant" / "best.pt", model, spec, structure=[pruned, factorized]
    )
    outcome = quantize(quantize_spec(checkpoint, tiny_data), tmp_path / "run")
    assert [s["kind"] for s in outcome.result.steps] == ["prune", "factorize", "quantize"]
    assert outcome.result.params == sum(p.numel() for p in model.parameters())


def test_qat_run_records_training_and_parity(
    unet_checkpoint: Path, tiny_data: Path, tmp_path: Path
) -> None:
    spec = quantize_spec(
        unet_checkpoint,
        tiny_data,
        method="qat",
        epochs=1,
        crop=64,
        batch_size=2,
        class_weights="median-frequency",
    )
    result = quantize(spec, tmp_path / "qat").result
    assert result.steps[-1]["method"] == "qat" and result.training["epochs"] == 1
    assert result.steps[-1]["class_weights"] == "median-frequency"
    weights = result.training["class_weights"]
    assert weights["method"] == "median-frequency" and len(weights["weights"]) == 8
    assert result.step_details[0].qat["torch_ort_agreement"] >= spec.steps[0].qat_min_agreement
    assert result.size_artifact == "int8-onnx"


def test_max_drop_scores_on_val_and_records_the_control(
    unet_checkpoint: Path, tiny_data: Path, tmp_path: Path
) -> None:
    spec = quantize_spec(unet_checkpoint, tiny_data, max_drop=100.0, control_images=1)
    result = quantize(spec, tmp_path / "run").result
    control = result.step_details[0].accuracy_control
    assert control["split"] == "val" and control["control_images"] == 1
    assert control["held"] and control["reverted_layers"] == []
    assert control["drop_before"] == pytest.approx(
        100 * (control["fp32_miou"] - control["int8_miou"]), abs=1e-3
    )
    assert result.steps[-1]["max_drop"] == 100.0 and result.steps[-1]["control_images"] == 1
