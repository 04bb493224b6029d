"""pretrained=True: read torchvision's weights from the local hub cache, never download."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
import torchvision

from baselines import get_model, pretrained
from baselines.errors import BaselineError

FILES = {
    "deeplab-resnet18": "resnet18-f37072fd.pth",
    "deeplab-vgg11-aspp": "vgg11_bn-6002323d.pth",
    "deeplab-mobilenetv3-aspp": "mobilenet_v3_small-047dcff4.pth",
}


@pytest.fixture
def torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty TORCH_HOME; returns the folder torchvision caches weights in."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    return tmp_path / "hub" / "checkpoints"


@pytest.mark.parametrize(("name", "filename"), FILES.items())
def test_missing_weights_name_the_file_and_folder(
    torch_home: Path, name: str, filename: str
) -> None:
    with pytest.raises(BaselineError) as error:
        get_model(name, num_classes=3, pretrained=True)
    message = str(error.value)
    assert f"put {filename}" in message
    assert str(torch_home / filename) in message
    assert "https://download.pytorch.org/models/" + filename in message
    assert "\n" not in message


def test_weights_load_into_the_backbone(torch_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(1)
    published = torchvision.models.mobilenet_v3_small().state_dict()
    torch_home.mkdir(parents=True)
    torch.save(published, torch_home / FILES["deeplab-mobilenetv3-aspp"])
    monkeypatch.setattr(pretrained, "verify_hash", lambda path: None)  # not the real file

    model = get_model("mobilenet", num_classes=3, pretrained=True)  # dilated, stride 16
    loaded = model.backbone.body.state_dict()
    for key, value in loaded.items():
        torch.testing.assert_close(value, published[f"features.{key}"], rtol=0, atol=0)


def test_vgg_weights_load_from_the_features_part(
    torch_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    features = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs["A"], True)
    published = {f"features.{k}": v for k, v in features.state_dict().items()}
    published["classifier.0.weight"] = torch.zeros(2, 2)  # ignored: not part of the backbone
    torch_home.mkdir(parents=True)
    torch.save(published, torch_home / FILES["deeplab-vgg11-aspp"])
    monkeypatch.setattr(pretrained, "verify_hash", lambda path: None)

    model = get_model("vgg", num_classes=3, pretrained=True, output_stride=8)
    for key, value in model.backbone.body.state_dict().items():
        torch.testing.assert_close(value, published[f"features.{key}"], rtol=0, atol=0)


def test_corrupt_file_is_refused_by_its_hash(torch_home: Path) -> None:
    torch_home.mkdir(parents=True)
    (torch_home / FILES["deeplab-resnet18"]).write_bytes(b"not the weights")
    with pytest.raises(BaselineError, match="corrupt .*f37072fd"):
        get_model("deeplab-resnet18", num_classes=3, pretrained=True)


def test_weights_of_another_model_do_not_fit(
    torch_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch_home.mkdir(parents=True)
    torch.save({"weight": torch.zeros(3)}, torch_home / FILES["deeplab-resnet18"])
    monkeypatch.setattr(pretrained, "verify_hash", lambda path: None)
    with pytest.raises(BaselineError, match="do not fit ResNet"):
        get_model("deeplab-resnet18", num_classes=3, pretrained=True)


def test_verify_hash_accepts_the_matching_prefix(tmp_path: Path) -> None:
    data = b"some weights"
    prefix = hashlib.sha256(data).hexdigest()[:8]
    good = tmp_path / f"net-{prefix}.pth"
    good.write_bytes(data)
    pretrained.verify_hash(good)
    bad = tmp_path / "net-00000000.pth"
    bad.write_bytes(data)
    with pytest.raises(BaselineError, match="corrupt"):
        pretrained.verify_hash(bad)


def test_pickled_objects_are_not_loaded(torch_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    torch_home.mkdir(parents=True)
    torch.save({"model": torch.nn.Linear(2, 2)}, torch_home / FILES["deeplab-resnet18"])
    monkeypatch.setattr(pretrained, "verify_hash", lambda path: None)
    with pytest.raises(BaselineError, match="cannot be read safely"):
        get_model("deeplab-resnet18", num_classes=3, pretrained=True)
