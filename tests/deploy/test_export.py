"""ONNX export: every registered model exports with dynamic axes and matches PyTorch."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from baselines import get_model, list_models
from compress.core.checkpoint import save_checkpoint
from compress.core.errors import CompressError
from compress.core.onnx_files import load_onnx, read_metadata
from compress.core.specs import ModelSpec
from compress.deploy import export as export_module
from compress.deploy.export import (
    ExportSpec,
    check_parity,
    export_model,
    export_onnx,
    parity_images,
    parity_path_for,
)
from compress.measure.runtimes import OrtRunner


def tiny_unet(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return get_model("unet", num_classes=5, base_channels=8).eval()


@pytest.mark.slow
@pytest.mark.parametrize("name", list_models())
def test_every_model_exports_with_parity_at_two_sizes(name: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = get_model(name, num_classes=5).eval()
    path = export_onnx(model, tmp_path / "m.onnx", input_size=(64, 64), metadata={"num_classes": 5})
    images, source = parity_images(2, (64, 64))
    assert [tuple(image.shape[-2:]) for image in images] == [(64, 64), (96, 80)]
    report = check_parity(model, path, images, source=source)
    assert report.passed and report.agreement >= 0.999
    # Random-init logits are nearly constant, so argmax agreement alone proves little:
    # the logits themselves must match too.
    assert report.max_abs_diff <= 1e-4 * max(1.0, report.max_abs_logit)
    assert report.sizes == [[64, 64], [96, 80]]
    assert report.pixels == 64 * 64 + 96 * 80
    assert read_metadata(path)["num_classes"] == 5


def test_metadata_and_dynamic_batch(tmp_path: Path) -> None:
    model = tiny_unet()
    spec = ModelSpec(name="unet", num_classes=5, options={"base_channels": 8})
    path = export_onnx(
        model,
        tmp_path / "m.onnx",
        input_size=(64, 64),
        metadata={"model": spec.model_dump(mode="json"), "class_names": list("abcde")},
    )
    meta = read_metadata(path)
    assert meta["model"]["options"] == {"base_channels": 8}
    assert meta["class_names"] == list("abcde")
    assert meta["exporter"] == "torchscript" and meta["opset"] == 17
    assert meta["export_input_size"] == [64, 64]
    runner = OrtRunner(path)
    assert runner.metadata["segcompress.opset"] == "17"
    logits = runner(torch.randn(3, 3, 48, 80))
    assert logits.shape == (3, 5, 48, 80)


def test_parity_failure_is_an_error(tmp_path: Path) -> None:
    model = tiny_unet()
    path = export_onnx(model, tmp_path / "a.onnx", input_size=(64, 64))
    images, _ = parity_images(2, (64, 64))
    assert check_parity(model, path, images).passed
    with torch.no_grad():  # change PyTorch's weights after export: every argmax moves
        reference = model(images[0][None])
        model.classifier.bias[reference.argmax(1).unique()] -= 100.0
    with pytest.raises(CompressError, match="parity failed"):
        check_parity(model, path, images)


@pytest.mark.parametrize("content", [b"", b"not an onnx model at all"])
def test_corrupt_onnx_names_the_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.onnx"
    path.write_bytes(content)
    with pytest.raises(CompressError, match="broken.onnx"):
        load_onnx(path)
    with pytest.raises(CompressError, match="broken.onnx"):
        OrtRunner(path)


def test_missing_onnx_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(CompressError, match="absent.onnx does not exist"):
        OrtRunner(tmp_path / "absent.onnx")
    with pytest.raises(CompressError, match="absent.onnx does not exist"):
        read_metadata(tmp_path / "absent.onnx")


def test_dynamo_needs_opset_18(tmp_path: Path) -> None:
    with pytest.raises(CompressError, match="opset >= 18"):
        export_onnx(tiny_unet(), tmp_path / "m.onnx", opset=17, exporter="dynamo")


def test_export_model_from_checkpoint_writes_parity_report(tmp_path: Path) -> None:
    spec = ModelSpec(name="unet", num_classes=5, options={"base_channels": 8})
    names = ["bg", "road", "water", "tree", "car"]
    checkpoint = save_checkpoint(
        tmp_path / "ckpt.pt", tiny_unet(), spec, dataset={"class_names": names}
    )
    out = tmp_path / "out" / "model.onnx"
    outcome = export_model(
        ExportSpec(checkpoint=checkpoint, out=out, input_size=(64, 64), parity_images=2)
    )
    assert outcome.path == out and out.is_file()
    assert outcome.parity_path == tmp_path / "out" / "model.parity.json"
    assert outcome.parity_path.is_file()
    assert outcome.report.onnx == str(out) and outcome.report.passed
    meta = read_metadata(out)
    assert meta["class_names"] == names and meta["model"]["name"] == "unet"


def test_export_model_leaves_nothing_when_parity_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(*args: object, **kwargs: object) -> None:
        raise CompressError("ONNX parity failed (test)")

    monkeypatch.setattr(export_module, "check_parity", failing)
    out = tmp_path / "model.onnx"
    spec = ExportSpec(
        model="unet",
        num_classes=5,
        options={"base_channels": 8},
        out=out,
        input_size=(64, 64),
        parity_images=1,
    )
    with pytest.raises(CompressError, match="parity failed"):
        export_model(spec)
    assert list(tmp_path.iterdir()) == []  # no ONNX, no temporary file, no report


def test_parity_path_for() -> None:
    assert parity_path_for("a/model.onnx") == Path("a/model.parity.json")
    assert parity_path_for("a/model") == Path("a/model.parity.json")


def test_dynamo_exporter_without_onnxscript_is_a_user_error(tmp_path, monkeypatch) -> None:
    import compress.deploy.export as export_module
    from baselines import get_model
    from compress.core.errors import CompressError

    monkeypatch.setattr(export_module, "_module_available", lambda name: name != "onnxscript")
    model = get_model("unet", num_classes=3, base_channels=8).eval()
    with pytest.raises(CompressError, match="onnxscript"):
        export_module.export_onnx(model, tmp_path / "m.onnx", opset=18, exporter="dynamo")
    assert not (tmp_path / "m.onnx").exists()
