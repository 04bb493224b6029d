"""The top-level Python API on a tiny plain module and on torchvision's LR-ASPP."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import compress
from compress.core.errors import CompressError
from compress.measure.macs import count_macs_params

SIZE = (64, 80)


def tiny() -> nn.Module:
    torch.manual_seed(0)
    return compress.build("unet", num_classes=3, base_channels=8).eval()


def pairs(count: int = 4) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    return [
        (torch.randn(3, *SIZE, generator=generator), torch.randint(0, 3, SIZE, generator=generator))
        for _ in range(count)
    ]


def loader() -> DataLoader:
    images, masks = zip(*pairs(), strict=True)
    return DataLoader(TensorDataset(torch.stack(images), torch.stack(masks)), batch_size=2)


def test_import_is_cheap_and_the_api_loads_on_first_use() -> None:
    code = (
        "import sys, compress; before = 'torch' in sys.modules; compress.prune; "
        "print(before, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_prune_in_place_or_on_a_copy_and_save_load_round_trip(tmp_path: Path) -> None:
    model = tiny()
    example = torch.randn(1, 3, *SIZE)
    copy_pruned = compress.prune(model, example, ratio=0.5, inplace=False)
    assert copy_pruned is not model
    assert count_macs_params(copy_pruned, SIZE)[0] < 0.5 * count_macs_params(model, SIZE)[0]
    same = compress.prune(model, example, target_macs=0.5)
    assert (
        same is model
        and count_macs_params(model, SIZE)[0] <= 0.5 * count_macs_params(tiny(), SIZE)[0]
    )
    path = compress.save(copy_pruned, tmp_path / "p.pt")
    again = compress.load(path)
    with torch.no_grad():
        assert torch.equal(again(example), copy_pruned.eval()(example))


def test_factorize_then_prune_are_both_replayed(tmp_path: Path) -> None:
    model = compress.factorize(tiny(), method="tucker", rank=0.5, input_size=SIZE)
    example = torch.randn(1, 3, *SIZE)
    before = count_macs_params(tiny(), SIZE)[0]
    assert count_macs_params(model, SIZE)[0] < before
    again = compress.load(compress.save(model, tmp_path / "f.pt"))
    with torch.no_grad():
        assert torch.equal(again(example), model.eval()(example))


def test_a_module_built_elsewhere_needs_its_builder_named(tmp_path: Path) -> None:
    from baselines import get_model

    model = get_model("unet", num_classes=3, base_channels=8)
    with pytest.raises(CompressError, match="builder="):
        compress.save(model, tmp_path / "m.pt")
    path = compress.save(
        model, tmp_path / "m.pt", builder="unet", num_classes=3, options={"base_channels": 8}
    )
    assert isinstance(compress.load(path), nn.Module)


@pytest.mark.parametrize("calibration", ["tensors", "loader"])
def test_quantize_from_tensors_or_a_loader_of_pairs(calibration: str, tmp_path: Path) -> None:
    data = [image for image, _ in pairs()] if calibration == "tensors" else loader()
    path = compress.quantize(tiny(), data, tmp_path / "m.int8.onnx", calib_images=3)
    assert path.is_file() and (tmp_path / "m.fp32.onnx").is_file()
    result = compress.benchmark(
        path, input_size=SIZE, baseline=tmp_path / "m.fp32.onnx", threads=1, runs=2, warmup=0
    )
    assert result.p50_ms > 0 and result.baseline is not None
    assert result.size_ratio > 2  # int8 weights: about 4x smaller than fp32
    metrics = compress.evaluate(path, loader(), num_classes=3)
    assert 0.0 <= metrics.miou <= 1.0 and metrics.num_pixels == 4 * SIZE[0] * SIZE[1]


def test_quantize_refuses_what_it_cannot_use(tmp_path: Path) -> None:
    with pytest.raises(CompressError, match="calibration item 0"):
        compress.quantize(tiny(), [torch.zeros(5, 5)], tmp_path / "m.int8.onnx")
    with pytest.raises(CompressError, match="train_data"):
        compress.quantize(tiny(), loader(), tmp_path / "m.int8.onnx", method="qat")
    assert not list(tmp_path.iterdir())


def test_qat_leaves_the_model_unchanged(tmp_path: Path) -> None:
    model = tiny()
    state = copy.deepcopy(model.state_dict())
    path = compress.quantize(
        model,
        loader(),
        tmp_path / "q.int8.onnx",
        method="qat",
        train_data=loader(),
        epochs=1,
        calib_images=2,
    )
    assert path.is_file()
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())


def test_benchmark_of_modules_on_torch_has_macs_ratios() -> None:
    base = tiny()
    pruned = compress.prune(tiny(), torch.randn(1, 3, *SIZE), ratio=0.5)
    result = compress.benchmark(
        pruned, input_size=SIZE, runtime="torch", baseline=base, threads=1, runs=2, warmup=0
    )
    assert result.macs_ratio > 2 and result.params < result.baseline.params
    assert result.runtime == "torch-cpu"


def test_evaluate_respects_ignore_index() -> None:
    data = [(image, torch.full(SIZE, 2)) for image, _ in pairs(2)]
    with pytest.raises(CompressError, match="no labelled pixel"):
        compress.evaluate(tiny(), data, num_classes=3, ignore_index=2)


@pytest.mark.slow
def test_factorize_a_torchvision_model(tmp_path: Path) -> None:
    builder = "torchvision.models.segmentation:lraspp_mobilenet_v3_large"
    model = compress.build(builder, num_classes=3, weights_backbone=None).eval()
    before = count_macs_params(model, SIZE)[0]
    compress.factorize(model, method="svd", rank=0.5, layers=["classifier.*"], input_size=SIZE)
    assert count_macs_params(model, SIZE)[0] < before
    again = compress.load(compress.save(model, tmp_path / "f.pt"), builder=builder)
    x = torch.randn(1, 3, *SIZE)
    with torch.no_grad():
        assert torch.equal(again(x)["out"], model(x)["out"])


def test_quantize_with_max_drop_scores_val_data(tmp_path: Path) -> None:
    with pytest.raises(CompressError, match="val_data"):
        compress.quantize(tiny(), loader(), tmp_path / "m.int8.onnx", max_drop=1.0)
    path = compress.quantize(
        tiny(),
        loader(),
        tmp_path / "m.int8.onnx",
        calib_images=2,
        max_drop=100.0,
        val_data=loader(),
        control_images=2,
    )
    assert path.is_file()
    with pytest.raises(CompressError, match="post-training"):
        compress.quantize(tiny(), loader(), tmp_path / "q.onnx", method="qat", max_drop=1.0)


def test_qat_takes_the_loss_and_class_weights(tmp_path: Path) -> None:
    path = compress.quantize(
        tiny(),
        loader(),
        tmp_path / "q.int8.onnx",
        method="qat",
        train_data=loader(),
        epochs=1,
        calib_images=2,
        loss="ce+dice",
        class_weights="inverse-sqrt",
    )
    assert path.is_file()
