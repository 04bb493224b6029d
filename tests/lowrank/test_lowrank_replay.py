"""Factorized checkpoints reload in a fresh model with identical outputs; ONNX parity holds."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from compress.core.checkpoint import load_checkpoint, save_checkpoint
from compress.core.errors import CompressError
from compress.core.specs import ModelSpec
from compress.lowrank import FactorizeSpec, factorize_model
from compress.lowrank.replay import replay_factorize

SIZE = (64, 64)
SPEC = ModelSpec(name="unet-attention", num_classes=3, options={"base_channels": 8})


def _factorized(spec: FactorizeSpec) -> tuple[torch.nn.Module, dict]:
    torch.manual_seed(0)
    model = SPEC.build().eval()
    outcome = factorize_model(model, spec, input_size=SIZE)
    assert outcome.replaced
    return model, outcome.step


MIXED = [
    FactorizeSpec(method="tucker", rank=0.5),
    FactorizeSpec(method="spatial-svd", rank=0.5),
    FactorizeSpec(method="svd", rank=0.5, layers=["gates.*"], max_macs_ratio=2.0),
    # every other CP layer falls back: a step that mixes cp and tucker layers
    FactorizeSpec(
        method="cp", rank=0.5, layers=["bottleneck.*"], cp_iterations=5, cp_max_error=0.75
    ),
]


@pytest.mark.parametrize("spec", MIXED, ids=lambda s: s.method)
def test_save_load_round_trip_gives_identical_outputs(spec: FactorizeSpec, tmp_path: Path) -> None:
    model, step = _factorized(spec)
    path = save_checkpoint(tmp_path / "f.pt", model, SPEC, structure=[step])
    loaded = load_checkpoint(path)  # builds a fresh model, replays, loads strictly
    x = torch.randn(1, 3, *SIZE, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(loaded.model(x), model(x))
    assert loaded.structure == [step]


def test_cp_fallback_is_recorded_per_layer() -> None:
    spec = FactorizeSpec(
        method="cp", rank=0.5, layers=["bottleneck.*"], cp_max_error=0.0, cp_iterations=3
    )
    _, step = _factorized(spec)
    assert step["method"] == "cp"
    assert {layer["method"] for layer in step["layers"]} == {"tucker"}


def test_replay_refuses_a_step_for_another_model() -> None:
    _, step = _factorized(FactorizeSpec(method="tucker", rank=0.5))
    other = ModelSpec(name="unet", num_classes=3, options={"base_channels": 16}).build()
    with pytest.raises(CompressError, match="weight shape"):
        replay_factorize(other, step)
    broken = {**step, "layers": [{**step["layers"][0], "name": "no.such.layer"}]}
    with pytest.raises(CompressError, match="not a module"):
        replay_factorize(SPEC.build(), broken)
    with pytest.raises(CompressError, match="format"):
        replay_factorize(SPEC.build(), {**step, "format": 99})


def test_onnx_export_parity_of_a_factorized_model(tmp_path: Path) -> None:
    from compress.deploy.export import check_parity, export_onnx

    model, _ = _factorized(FactorizeSpec(method="tucker", rank=0.5))
    path = export_onnx(model, tmp_path / "f.onnx", input_size=SIZE)
    generator = torch.Generator().manual_seed(0)
    images = [
        torch.randn(3, 64, 64, generator=generator),
        torch.randn(3, 96, 80, generator=generator),
    ]
    report = check_parity(model, path, images)
    assert report.passed and report.max_abs_diff < 1e-3


def test_a_fresh_process_reloads_a_factorized_checkpoint(tmp_path: Path) -> None:
    """Loading must not depend on the factorization code having been imported first."""
    import subprocess
    import sys

    model, step = _factorized(FactorizeSpec(method="tucker", rank=0.5))
    path = save_checkpoint(tmp_path / "f.pt", model, SPEC, structure=[step])
    x = torch.randn(1, 3, *SIZE, generator=torch.Generator().manual_seed(1))
    torch.save(x, tmp_path / "x.pt")
    with torch.no_grad():
        torch.save(model(x), tmp_path / "y.pt")
    script = (
        "import sys, torch; from compress.core.checkpoint import load_checkpoint; "
        f"m = load_checkpoint({str(path)!r}).model; "
        f"x = torch.load({str(tmp_path / 'x.pt')!r}, weights_only=True); "
        f"y = torch.load({str(tmp_path / 'y.pt')!r}, weights_only=True); "
        "torch.set_num_threads(1); torch.set_grad_enabled(False); "  # as in this process
        "assert torch.equal(m(x), y), (m(x) - y).abs().max(); "
        "assert 'tensorly' not in sys.modules, 'loading needs no decomposition'; print('ok')"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr
