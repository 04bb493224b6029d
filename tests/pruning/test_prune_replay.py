"""Pruned checkpoints reload: structure replay on a fresh model gives identical outputs."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

from baselines import list_models
from compress.core.checkpoint import load_checkpoint, make_payload, save_checkpoint
from compress.core.errors import CompressError
from compress.core.specs import ModelSpec
from compress.deploy.export import check_parity, export_onnx
from compress.pruning import PruneSpec, prune_model, replay_prune

NUM_CLASSES = 5
SIZE = (64, 64)
TINY = {"unet": {"base_channels": 8}, "unet-attention": {"base_channels": 8}}


def spec_of(name: str) -> ModelSpec:
    return ModelSpec(name=name, num_classes=NUM_CLASSES, options=TINY.get(name, {}))


def pruned(name: str, **fields) -> tuple[nn.Module, dict]:
    torch.manual_seed(0)
    model = spec_of(name).build().eval()
    spec = PruneSpec(**({"ratio": 0.5} | fields))
    model, step = prune_model(model, spec, example_input=torch.zeros(1, 3, *SIZE))
    return model.eval(), step


@pytest.mark.parametrize("name", list_models())
def test_save_then_load_in_a_fresh_model_gives_identical_outputs(name: str, tmp_path) -> None:
    # global + iterative: the hardest history to replay (several steps, uneven layers)
    model, step = pruned(name, scope="global", iterative_steps=2, round_to=None)
    path = save_checkpoint(tmp_path / "pruned.pt", model, spec_of(name), structure=[step])
    loaded = load_checkpoint(path)
    x = torch.randn(2, 3, 72, 80)
    with torch.no_grad():
        assert torch.equal(model(x), loaded.model(x))
    assert loaded.structure == [step]


def test_step_holds_plain_json_values_only() -> None:
    model, step = pruned("unet-attention")
    assert json.loads(json.dumps(step)) == step
    make_payload(model, spec_of("unet-attention"), structure=[step])  # refuses non-plain values
    assert step["kind"] == "prune" and step["input_shape"] == [1, 3, *SIZE]


def test_replay_on_a_model_that_is_no_registered_baseline() -> None:
    def build() -> nn.Module:
        torch.manual_seed(0)
        return torchvision.models.segmentation.lraspp_mobilenet_v3_large(
            weights=None, weights_backbone=None, num_classes=NUM_CLASSES
        ).eval()

    example = torch.zeros(1, 3, 64, 64)
    model, step = prune_model(build(), PruneSpec(ratio=0.5), example_input=example)
    fresh = replay_prune(build(), step)
    fresh.load_state_dict(model.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x)["out"], fresh.eval()(x)["out"])


def test_history_of_another_architecture_is_a_user_error() -> None:
    _, step = pruned("unet")
    with pytest.raises(CompressError, match="prune step"):
        replay_prune(spec_of("deeplab-vgg11").build(), step)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"format": 99}, "format"),
        ({"input_shape": "64x64"}, "input_shape"),
        ({"history": [["encoders.0.0.0", True, [-1]]]}, "history[0]"),
        ({"channels": {"classifier": [3, 3]}}, "classifier"),
    ],
)
def test_malformed_steps_are_reported(change: dict, words: str) -> None:
    _, step = pruned("unet")
    bad = copy.deepcopy(step) | change
    with pytest.raises(CompressError) as error:
        replay_prune(spec_of("unet").build(), bad)
    assert words in str(error.value)


@pytest.mark.parametrize("name", ["unet-attention", "deeplab-mobilenetv3-aspp"])
def test_pruned_models_export_to_onnx_with_parity(name: str, tmp_path) -> None:
    model, _ = pruned(name)
    path = export_onnx(model, tmp_path / "model.onnx", input_size=SIZE)
    generator = torch.Generator().manual_seed(0)
    images = [
        torch.randn(3, *SIZE, generator=generator),
        torch.randn(3, 96, 80, generator=generator),
    ]
    assert check_parity(model, path, images).passed


def test_a_fresh_process_reloads_a_pruned_checkpoint(tmp_path) -> None:
    """Loading must not depend on the pruning code having been imported by the caller."""
    probe = "import compress.core.checkpoint as c; print('prune' in c.STRUCTURE_REPLAYERS)"
    known = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert known.stdout.strip() == "True", "checkpoint.py must declare the prune replayer"
    model, step = pruned("unet-attention")
    path = save_checkpoint(tmp_path / "p.pt", model, spec_of("unet-attention"), structure=[step])
    x = torch.randn(1, 3, *SIZE, generator=torch.Generator().manual_seed(1))
    torch.save(x, tmp_path / "x.pt")
    with torch.no_grad():
        torch.save(model(x), tmp_path / "y.pt")
    script = (
        "import sys, torch; from compress.core.checkpoint import load_checkpoint; "
        f"m = load_checkpoint({str(path)!r}).model; "
        f"x = torch.load({str(tmp_path / 'x.pt')!r}, weights_only=True); "
        f"y = torch.load({str(tmp_path / 'y.pt')!r}, weights_only=True); "
        "assert 'compress.pruning.prune' not in sys.modules; "
        "torch.set_num_threads(1); print(torch.equal(m(x), y))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=Path(__file__).parent
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"
