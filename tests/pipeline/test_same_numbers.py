"""The technique commands, now one-step variants through ``run_variant``, reproduce the
numbers the pre-pipeline runners wrote (``tests/fixtures/results-v1``) on the same tiny
trained checkpoint and synthetic data: params, MACs, sizes, mIoU of variant and baseline.

Latency is never compared (timings do not go into tests). The fixture files were written
by the runners of commit 1da72b4 from exactly the setup below.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from compress.core.results import load_result
from compress.core.specs import ModelSpec

FIXTURES = Path(__file__).parents[1] / "fixtures" / "results-v1"
TINY_UNET = ModelSpec(name="unet", num_classes=8, options={"base_channels": 8})
COMMON = dict(
    model="unet",
    input_size=(64, 64),
    device="cpu",
    finetune_epochs=1,
    batch_size=2,
    crop=48,
    lr=1e-3,
)
QUANTIZE = dict(calib_images=2, input_size=(64, 64), runs=1, warmup=0)


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> tuple[Path, Path]:
    """Six 64x64 scenes and a UNet trained 40 full-batch Adam steps (seed 0), as in 1da72b4."""
    from compress.core.checkpoint import save_checkpoint
    from compress.data import SegmentationFolder, write_synthetic_dataset

    root = tmp_path_factory.mktemp("same")
    data = write_synthetic_dataset(root / "data", n=6, size=64, seed=0)
    torch.manual_seed(0)
    model = TINY_UNET.build()
    torch.manual_seed(0)
    dataset = SegmentationFolder(data, "train")
    images = torch.stack([dataset[i][0] for i in range(len(dataset))])
    masks = torch.stack([dataset[i][1] for i in range(len(dataset))])
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(40):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(images), masks).backward()
        optimizer.step()
    return data, save_checkpoint(root / "base" / "best.pt", model.eval(), TINY_UNET)


def run(name: str, data: Path, checkpoint: Path, out: Path):
    """The run ``compress prune`` / ``factorize`` / ``quantize`` make from these options: the
    VariantSpec the command builds, run as its kind."""
    from compress.pipeline.run_kinds import run_as
    from compress.pipeline.spec import VariantSpec

    baseline = {"model": COMMON["model"], "checkpoint": str(checkpoint)}
    finetune = {"kind": "finetune", "epochs": COMMON["finetune_epochs"]}
    finetune |= {key: COMMON[key] for key in ("batch_size", "crop", "lr")}
    size = COMMON["input_size"]
    common = {"baseline": baseline, "data": str(data), "device": COMMON["device"]}
    if name in ("prune", "factorize"):
        step = (
            {"kind": "prune", "ratio": 0.5}
            if name == "prune"
            else {"kind": "factorize", "method": "tucker", "rank_rule": "macs", "target_macs": 0.5}
        )
        bench = {"enabled": False, "input_size": size}
        spec = VariantSpec.model_validate(common | {"steps": [step, finetune], "bench": bench})
        return run_as(spec, out, kind=name, progress=False).result
    qat = {"epochs": 1, "batch_size": 2, "crop": 48} if name == "qat" else {}
    step = {"kind": "quantize", "method": "qat" if name == "qat" else "ptq"}
    step |= {"calib_images": QUANTIZE["calib_images"], **qat}
    bench = {"runtimes": ["ort"], "input_size": QUANTIZE["input_size"]}
    bench |= {"runs": QUANTIZE["runs"], "warmup": QUANTIZE["warmup"]}
    spec = VariantSpec.model_validate(
        {"baseline": {"checkpoint": str(checkpoint)}, "steps": [step], "data": str(data)}
        | {"eval_split": "test", "bench": bench}
    )
    return run_as(spec, out, kind="quantize", progress=False).result


@pytest.mark.slow
@pytest.mark.parametrize("name", ["prune", "factorize", "ptq", "qat"])
def test_same_numbers_as_the_runners_before_the_pipeline(setup, tmp_path, name) -> None:
    data, checkpoint = setup
    before = load_result(FIXTURES / f"{name}.json")
    after = run(name, data, checkpoint, tmp_path / name)
    assert after.schema_version == 2
    for field in (
        "model",
        "kind",
        "params",
        "macs",
        "macs_input_size",
        "size_bytes",
        "size_artifact",
        "baseline",
    ):
        assert getattr(after, field) == getattr(before, field), field
    assert after.metrics.miou == pytest.approx(before.metrics.miou, abs=1e-9)
    assert after.metrics.split == before.metrics.split
    old, new = before.baseline_measurement, after.baseline_measurement
    assert (new.params, new.macs, new.size_bytes) == (old.params, old.macs, old.size_bytes)
    assert new.metrics.miou == pytest.approx(old.metrics.miou, abs=1e-9)
    assert [s["kind"] for s in after.steps] == [s["kind"] for s in before.steps]
    assert set(before.artifacts) <= set(after.artifacts)
    assert json.loads((tmp_path / name / "result.json").read_text())["schema_version"] == 2
