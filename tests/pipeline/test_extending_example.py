"""The fuse example of docs/extending.md, run as written: a technique in one file that
changes shapes, with its replayer (its checkpoint reloads with the fused shapes)."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import torch

from compress.core import checkpoint, step_details
from compress.core.specs import ModelSpec
from compress.pipeline import techniques

DOC = Path(__file__).resolve().parents[2] / "docs" / "extending.md"


def example_source() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    return next(b for b in blocks if b.startswith("# compress/pipeline/techniques/fuse.py"))


def test_the_fuse_example_folds_batchnorm_and_its_checkpoint_reloads(tmp_path, monkeypatch):
    monkeypatch.setattr(techniques, "TECHNIQUES", dict(techniques.TECHNIQUES))
    monkeypatch.setattr(step_details, "STEP_KINDS", dict(step_details.STEP_KINDS))
    monkeypatch.setattr(checkpoint, "STRUCTURE_REPLAYERS", dict(checkpoint.STRUCTURE_REPLAYERS))
    module = types.ModuleType("fuse_example")
    monkeypatch.setitem(sys.modules, "fuse_example", module)  # pydantic resolves names there
    exec(compile(example_source(), str(DOC), "exec"), module.__dict__)  # noqa: S102
    entry = techniques.technique("fuse")
    assert entry.checkpoint_file == "fused.pt" and "fuse" in checkpoint.STRUCTURE_REPLAYERS

    spec = ModelSpec(name="unet", num_classes=4, options={"base_channels": 8})
    torch.manual_seed(0)
    model = spec.build().eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        before = model(x)
    outcome = entry.lifecycle(model, module.FuseStep(), None).on_end()
    norms = [m for m in outcome.model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert outcome.details[0].fused and not norms
    with torch.no_grad():
        assert torch.allclose(outcome.model(x), before, atol=1e-5)
    path = checkpoint.save_checkpoint(
        tmp_path / "fused.pt", outcome.model, spec, structure=[outcome.record]
    )
    loaded = checkpoint.load_checkpoint(path).model  # replays the fuse record, loads strictly
    with torch.no_grad():
        assert torch.allclose(loaded(x), before, atol=1e-5)
