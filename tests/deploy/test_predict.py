"""predict_mask, colorize, save_panel and predict_folder on tiny images and a tiny UNet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from compress.core.errors import CompressError
from compress.deploy.predict import (
    colorize,
    default_palette,
    find_images,
    normalize,
    predict_folder,
    predict_mask,
    save_panel,
)

PALETTE = [(10, 20, 30), (40, 50, 60), (70, 80, 90)]
DATASET = {
    "name": "toy",
    "class_names": ["sky", "road", "car"],
    "ignore_index": 255,
    "palette": PALETTE,
}


class Threshold(nn.Module):
    """Class 1 where channel 0 is positive, else 0; has dropout so its mode matters."""

    def __init__(self) -> None:
        super().__init__()
        self.drop = nn.Dropout(0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        positive = (self.drop(x[:, :1]) > 0).float()
        return torch.cat([1 - positive, positive], dim=1)


def test_predict_mask_single_and_batch() -> None:
    model = Threshold().train()
    image = torch.zeros(3, 4, 5)
    image[0, :2] = 1.0
    mask = predict_mask(model, image, device="cpu")
    assert mask.dtype == torch.int64 and mask.shape == (4, 5)
    assert mask[:2].eq(1).all() and mask[2:].eq(0).all()  # eval mode: dropout is off
    assert model.training
    batch = predict_mask(model, torch.stack([image, -image]))
    assert batch.shape == (2, 4, 5) and torch.equal(batch[0], mask) and batch[1].eq(0).all()


@pytest.mark.parametrize(
    "image", [torch.zeros(4, 4), torch.zeros(1, 4, 4, 4), torch.zeros(3, 4, 4, dtype=torch.uint8)]
)
def test_predict_mask_rejects_bad_images(image) -> None:
    with pytest.raises(CompressError, match=r"\[3, H, W\]"):
        predict_mask(Threshold(), image)


def test_colorize_uses_palette_and_blacks_out_ignored() -> None:
    mask = torch.tensor([[0, 1], [2, 255]])
    rgb = colorize(mask, PALETTE, 255)
    assert rgb.dtype == np.uint8 and rgb.shape == (2, 2, 3)
    assert rgb.tolist() == [[[10, 20, 30], [40, 50, 60]], [[70, 80, 90], [0, 0, 0]]]


def test_colorize_default_palette_is_distinct_and_never_black() -> None:
    palette = default_palette(40)
    assert len(set(palette)) == 40 and (0, 0, 0) not in palette
    rgb = colorize(np.array([[0, 3]]))
    assert rgb[0, 0].tolist() == list(palette[0]) and rgb[0, 1].tolist() == list(palette[3])


@pytest.mark.parametrize(
    ("mask", "ignore"), [([[0, 3]], None), ([[0, -1]], None), ([[0, 255]], None)]
)
def test_colorize_refuses_ids_outside_the_palette(mask, ignore) -> None:
    with pytest.raises(CompressError, match="palette has 3 colours"):
        colorize(np.array(mask), PALETTE, ignore)


def test_save_panel_three_and_two_columns(tmp_path: Path) -> None:
    image = torch.randint(0, 256, (3, 16, 20), dtype=torch.uint8)
    pred = torch.zeros(16, 20, dtype=torch.long)
    pred[:, 10:] = 1
    target = torch.full((16, 20), 2)
    target[0, 0] = 255
    path = save_panel(
        image,
        pred,
        target,
        tmp_path / "p.png",
        palette=PALETTE,
        class_names=["sky", "road", "car"],
        ignore_index=255,
    )
    panel = np.asarray(Image.open(path).convert("RGB"))
    assert panel.shape[1] == 3 * 20 + 2 * 4  # three columns, 4 px gaps
    band = _first_row_of(panel, image.permute(1, 2, 0).numpy())
    assert (panel[band : band + 16, :20] == image.permute(1, 2, 0).numpy()).all()
    assert panel[band + 5, 24 + 2].tolist() == list(PALETTE[0])
    assert panel[band + 5, 24 + 15].tolist() == list(PALETTE[1])
    assert panel[band + 5, 48 + 5].tolist() == list(PALETTE[2])
    assert panel[band, 48].tolist() == [0, 0, 0]  # ignored pixel
    two = save_panel(image.permute(1, 2, 0).numpy(), pred, None, tmp_path / "q.png")
    assert np.asarray(Image.open(two)).shape[1] == 2 * 20 + 4
    assert [p.name for p in tmp_path.iterdir()].count("p.png") == 1
    assert len(list(tmp_path.iterdir())) == 2  # nothing but the two panels (atomic writes)


def _first_row_of(panel: np.ndarray, image: np.ndarray) -> int:
    for row in range(panel.shape[0] - image.shape[0] + 1):
        if (panel[row, : image.shape[1]] == image[0]).all():
            return row
    raise AssertionError("image not found in the panel")


def test_save_panel_refuses_mismatched_sizes(tmp_path: Path) -> None:
    image = np.zeros((8, 8, 3), dtype=np.uint8)
    with pytest.raises(CompressError, match="differs from image shape"):
        save_panel(image, np.zeros((8, 9), dtype=np.int64), None, tmp_path / "p.png")


# --- predict_folder ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    from compress.core.checkpoint import save_checkpoint
    from compress.core.specs import ModelSpec

    torch.manual_seed(0)
    spec = ModelSpec(name="unet", num_classes=3, options={"base_channels": 8})
    path = tmp_path_factory.mktemp("ckpt") / "m.pt"
    return save_checkpoint(path, spec.build(), spec, dataset=DATASET)


@pytest.fixture()
def floodnet_like(tmp_path: Path) -> Path:
    """test/image/{a.png, b.jpg}; a label test/mask/a_lab.png only for a."""
    rng = np.random.default_rng(0)
    (tmp_path / "test" / "image").mkdir(parents=True)
    (tmp_path / "test" / "mask").mkdir()
    for name in ("a.png", "b.jpg"):
        Image.fromarray(rng.integers(0, 256, (32, 48, 3), dtype=np.uint8)).save(
            tmp_path / "test" / "image" / name
        )
    label = rng.integers(0, 3, (32, 48)).astype(np.uint8)
    label[0, :5] = 255
    Image.fromarray(label).save(tmp_path / "test" / "mask" / "a_lab.png")
    return tmp_path


def test_predict_folder_writes_mask_color_and_panel(checkpoint, floodnet_like, tmp_path) -> None:
    from compress.core.checkpoint import load_checkpoint
    from compress.deploy.predict import read_image_tensor

    out = tmp_path / "out"
    written = predict_folder(checkpoint, floodnet_like / "test" / "image", out, device="cpu")
    names = sorted(p.name for p in written)
    assert names == sorted(f"{s}_{k}.png" for s in "ab" for k in ("mask", "color", "panel"))
    assert all(p.is_file() for p in written)
    model = load_checkpoint(checkpoint).model
    expected = predict_mask(model, normalize(read_image_tensor(floodnet_like / "test/image/a.png")))
    ids = np.asarray(Image.open(out / "a_mask.png"))
    assert ids.dtype == np.uint8 and np.array_equal(ids, expected.numpy())
    color = np.asarray(Image.open(out / "a_color.png").convert("RGB"))
    assert np.array_equal(color, np.asarray(PALETTE, dtype=np.uint8)[expected.numpy()])
    assert Image.open(out / "a_panel.png").size[0] == 3 * 48 + 2 * 4  # label found
    assert Image.open(out / "b_panel.png").size[0] == 2 * 48 + 4  # no label: two columns


def test_predict_folder_accepts_one_file_and_a_split_folder(
    checkpoint, floodnet_like, tmp_path
) -> None:
    one = predict_folder(
        checkpoint, floodnet_like / "test/image/b.jpg", tmp_path / "one", device="cpu"
    )
    assert sorted(p.name for p in one) == ["b_color.png", "b_mask.png", "b_panel.png"]
    split = predict_folder(checkpoint, floodnet_like / "test", tmp_path / "split", device="cpu")
    assert len(split) == 6  # found test/image/


def test_predicting_into_the_input_folder_twice_skips_outputs(checkpoint, tmp_path) -> None:
    Image.fromarray(np.zeros((16, 16, 3), dtype=np.uint8)).save(tmp_path / "x.png")
    predict_folder(checkpoint, tmp_path, tmp_path, device="cpu")
    assert len(find_images(tmp_path)) == 1
    assert len(predict_folder(checkpoint, tmp_path, tmp_path, device="cpu")) == 3


def test_predict_folder_bad_inputs(checkpoint, tmp_path) -> None:
    with pytest.raises(CompressError, match="does not exist"):
        predict_folder(checkpoint, tmp_path / "missing", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CompressError, match="holds no"):
        predict_folder(checkpoint, tmp_path / "empty", tmp_path / "out")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(CompressError, match="is not an image"):
        predict_folder(checkpoint, tmp_path / "notes.txt", tmp_path / "out")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(CompressError, match="broken.png"):
        predict_folder(checkpoint, tmp_path / "broken.png", tmp_path / "out")
    with pytest.raises(CompressError, match="does not exist"):
        predict_folder(tmp_path / "nope.pt", tmp_path / "broken.png", tmp_path / "out")


def test_normalize_matches_imagenet_statistics() -> None:
    image = torch.tensor([124, 116, 104], dtype=torch.uint8).view(3, 1, 1)  # ~ the mean
    assert normalize(image).abs().max() < 0.01
    white = normalize(torch.full((3, 1, 1), 255, dtype=torch.uint8)).flatten()
    assert white.tolist() == pytest.approx(
        [(1 - 0.485) / 0.229, (1 - 0.456) / 0.224, (1 - 0.406) / 0.225]
    )
