"""PTQ preparation in a run: equalised and bias-corrected file quantized, baseline untouched."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from compress.core.results import load_result
from compress.pipeline.run_kinds import run_as
from compress.pipeline.spec import VariantSpec
from compress.quantization.preparation import prepare_model

BENCH = {"runtimes": ["ort"], "input_size": (64, 64), "runs": 1, "warmup": 0, "threads": 1}


def _spec(baseline: dict[str, str], data: Path, **step: object) -> VariantSpec:
    return VariantSpec.model_validate(
        {
            "baseline": baseline,
            "steps": [{"kind": "quantize", "calib_images": 2, **step}],
            "data": str(data),
            "eval_split": "test",
            "bench": BENCH,
        }
    )


@pytest.mark.slow
def test_a_prepared_run_records_what_it_did(
    unet_checkpoint: Path, tiny_data: Path, tmp_path: Path
) -> None:
    base = {"checkpoint": str(unet_checkpoint)}
    plain = _spec(base, tiny_data, equalize=False, bias_correction=False)
    prepared = _spec(base, tiny_data, equalize=True, bias_correction=True)
    before = run_as(plain, tmp_path / "plain", kind="quantize", progress=False).result
    outcome = run_as(prepared, tmp_path / "prep", kind="quantize", progress=False)
    result = load_result(outcome.run_dir)
    details = result.step_details[0].preparation
    assert details["folded_batchnorms"] > 0 and details["file"] == "model.prepared.onnx"
    assert details["equalize"]["pairs"] == len(details["equalize"]["equalized"]) > 0
    assert details["bias_correction"]["layers"] > 0 and details["bias_correction"]["images"] == 2
    assert details["bias_correction"]["mean_abs_bias_shift"] > 0
    qmax = 64 if result.step_details[0].int8_format["reduce_range"] else 127
    assert details["bias_correction"]["weight_qmax"] == qmax
    assert (outcome.run_dir / "model.prepared.onnx").is_file()
    # the baseline is the untouched model: same fp32 score and file as the plain run
    assert result.baseline_measurement.metrics.miou == before.baseline_measurement.metrics.miou
    assert result.baseline_measurement.size_bytes == before.baseline_measurement.size_bytes
    assert before.step_details[0].preparation is None


def test_an_onnx_baseline_is_quantized_as_it_is(
    unet_checkpoint: Path, tiny_data: Path, tmp_path: Path
) -> None:
    from compress.core.checkpoint import load_checkpoint
    from compress.core.onnx_files import onnx_metadata
    from compress.deploy.export import export_onnx

    loaded = load_checkpoint(unet_checkpoint)
    metadata = onnx_metadata(loaded.spec, [], None)
    onnx = export_onnx(loaded.model, tmp_path / "m.onnx", input_size=(64, 64), metadata=metadata)
    spec = _spec({"onnx": str(onnx)}, tiny_data, bias_correction=True, equalize=True)
    result = run_as(spec, tmp_path / "run", kind="quantize", progress=False).result
    assert "ONNX baseline" in result.step_details[0].preparation["note"]


def test_prepare_model_leaves_the_model_alone(trained_unet: torch.nn.Module) -> None:
    state = {k: v.clone() for k, v in trained_unet.state_dict().items()}
    torch.manual_seed(0)
    images = [torch.randn(1, 3, 32, 32) for _ in range(2)]
    prepared, details = prepare_model(
        trained_unet, lambda: iter(images), equalize=True, bias_correction=True
    )
    assert all(torch.equal(v, trained_unet.state_dict()[k]) for k, v in state.items())
    assert prepared is not trained_unet and details["bias_correction"]["images"] == 2


def test_the_cli_flags_reach_the_step(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import compress.pipeline.run_kinds
    from compress.cli import main
    from compress.core.errors import CompressError

    seen: dict[str, VariantSpec] = {}

    def fake(spec: VariantSpec, out: object, **options: object) -> None:
        seen["spec"] = spec
        raise CompressError("built")

    monkeypatch.setattr(compress.pipeline.run_kinds, "run_as", fake)
    (tmp_path / "c.pt").touch()
    argv = ["quantize", "--checkpoint", str(tmp_path / "c.pt"), "--data", str(tmp_path)]
    assert main([*argv, "--equalize", "--bias-correction"]) == 2
    step = seen["spec"].steps[0]
    assert (step.equalize, step.bias_correction) == (True, True)
    assert main([*argv, "--no-equalize", "--no-bias-correction"]) == 2
    step = seen["spec"].steps[0]
    assert (step.equalize, step.bias_correction) == (False, False)


def test_the_python_api_quantizes_a_prepared_copy(
    trained_unet: torch.nn.Module, tmp_path: Path
) -> None:
    import compress

    torch.manual_seed(0)
    images = [torch.randn(3, 32, 32) for _ in range(2)]
    out = compress.quantize(
        trained_unet, images, tmp_path / "m.int8.onnx", equalize=True, bias_correction=True
    )
    assert out.is_file() and (tmp_path / "m.fp32.prepared.onnx").is_file()


def test_onnx_files_and_qat_refuse_the_preparation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from compress.cli import main
    from compress.core.errors import CompressError
    from compress.core.specs import parse_spec
    from compress.pipeline.steps import QuantizeStep

    (tmp_path / "m.onnx").write_bytes(b"")
    argv = ["quantize", "--onnx", str(tmp_path / "m.onnx"), "--data", str(tmp_path)]
    assert main([*argv, "--bias-correction"]) == 2
    assert "need --checkpoint, not --onnx" in capsys.readouterr().err
    with pytest.raises(CompressError, match="bias_correction"):
        parse_spec(QuantizeStep, {"method": "qat", "bias_correction": True}, source="recipe")
