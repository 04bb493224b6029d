"""Folder data sets: pairing, both layouts, loading, and every bad-data error."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from compress.core.errors import CompressError
from compress.data.folder import (
    SegmentationFolder,
    check_dataset,
    check_split,
    find_pairs,
    list_splits,
)
from compress.data.images import labels_to_rgb
from compress.data.info import CAMVID, FLOODNET
from compress.data.transforms import IMAGENET_MEAN, IMAGENET_STD, denormalize


@pytest.mark.parametrize("layout", ["floodnet", "camvid"])
def test_find_pairs_in_both_layouts(write_split, layout: str) -> None:
    root = write_split(layout, n=3, suffix=".jpg")
    pairs = find_pairs(root, "train")
    assert [image.name for image, _ in pairs] == ["img0.jpg", "img1.jpg", "img2.jpg"]
    assert [mask.name for _, mask in pairs] == ["img0.png", "img1.png", "img2.png"]


def test_floodnet_lab_mask_names(write_split) -> None:
    root = write_split("floodnet", n=2, lab=True)
    assert [mask.name for _, mask in find_pairs(root, "train")] == ["img0_lab.png", "img1_lab.png"]


def test_list_splits_orders_train_val_test(write_split) -> None:
    root = write_split("floodnet", "test")
    for split in ("val", "extra", "train"):
        write_split("floodnet", split, root=root)
    assert list_splits(root) == ["train", "val", "test", "extra"]


def test_pairing_errors_name_what_is_wrong(tmp_path, write_split) -> None:
    with pytest.raises(CompressError, match="does not exist"):
        find_pairs(tmp_path / "nowhere", "train")
    root = write_split("floodnet")
    with pytest.raises(CompressError, match="val does not exist; splits found: train"):
        find_pairs(root, "val")
    (root / "empty" / "image").mkdir(parents=True)
    (root / "empty" / "mask").mkdir()
    with pytest.raises(CompressError, match="empty/image holds no images"):
        find_pairs(root, "empty")
    (root / "odd" / "pictures").mkdir(parents=True)
    with pytest.raises(CompressError, match="odd has no image/mask folders"):
        find_pairs(root, "odd")
    (root / "half" / "images").mkdir(parents=True)
    with pytest.raises(CompressError, match="has no sibling mask folder"):
        find_pairs(root, "half")
    (root / "train" / "mask" / "img1.png").unlink()
    with pytest.raises(CompressError, match=r"image .*img1.png has no mask; expected .*img1.png"):
        find_pairs(root, "train")


def test_items_are_normalised_float_images_and_int64_masks(write_split) -> None:
    dataset = SegmentationFolder(write_split("floodnet", n=2), "train")
    assert len(dataset) == 2 and dataset.info == FLOODNET and dataset.split == "train"
    image, mask = dataset[1]
    assert image.dtype == torch.float32 and image.shape == (3, 24, 32)
    assert mask.dtype == torch.int64 and mask.shape == (24, 32)
    raw_image, raw_mask = dataset.load_raw(1)
    assert raw_image.dtype == torch.uint8 and raw_image.shape == (3, 24, 32)
    assert torch.equal(raw_mask, mask) and torch.equal(denormalize(image), raw_image)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    assert torch.allclose(image, (raw_image / 255.0 - mean) / std, atol=1e-6)
    with pytest.raises(IndexError):
        dataset[2]


def test_transform_receives_raw_pair(write_split) -> None:
    seen = []

    def transform(image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        seen.append((image.dtype, mask.dtype))
        return image.float(), mask

    dataset = SegmentationFolder(write_split("camvid"), "train", transform=transform)
    dataset[0]
    assert seen == [(torch.uint8, torch.int64)] and dataset.info == CAMVID


def test_rgb_masks_with_a_palette_descriptor(tmp_path) -> None:
    palette = [(200, 0, 0), (0, 200, 0), (0, 0, 200)]
    descriptor = {
        "name": "colours",
        "class_names": ["a", "b", "c"],
        "ignore_index": 255,
        "palette": [list(c) for c in palette],
        "ignore_color": [0, 0, 0],
        "masks": "rgb",
    }
    (tmp_path / "train" / "image").mkdir(parents=True)
    (tmp_path / "train" / "mask").mkdir()
    (tmp_path / "dataset.yaml").write_text(yaml.safe_dump(descriptor))
    ids = np.array([[0, 1, 2, 255]] * 3)
    Image.fromarray(np.zeros((3, 4, 3), np.uint8)).save(tmp_path / "train" / "image" / "a.png")
    Image.fromarray(labels_to_rgb(ids, palette)).save(tmp_path / "train" / "mask" / "a.png")
    _, mask = SegmentationFolder(tmp_path, "train")[0]
    assert mask.tolist() == ids.tolist()


def _bad(root, name: str) -> str:
    with pytest.raises(CompressError) as caught:
        SegmentationFolder(root, "train")[0]
    message = str(caught.value)
    assert name in message and "\n" not in message
    with pytest.raises(CompressError):
        check_split(root, "train")
    return message


def test_corrupt_image_is_reported(write_split) -> None:
    root = write_split("floodnet", n=1)
    (root / "train" / "image" / "img0.png").write_bytes(b"garbage")
    assert "cannot be read" in _bad(root, "img0.png")


def test_size_mismatch_is_reported(write_split) -> None:
    root = write_split("floodnet", n=1)
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(root / "train" / "mask" / "img0.png")
    assert "10x10 but image" in _bad(root, "mask/img0.png")


def test_label_out_of_range_is_reported(write_split) -> None:
    root = write_split("floodnet", n=1)
    Image.fromarray(np.full((24, 32), 9, np.uint8)).save(root / "train" / "mask" / "img0.png")
    message = _bad(root, "mask/img0.png")
    assert "9 (768 px)" in message and "0..7" in message


def test_colour_not_in_palette_is_reported(write_split) -> None:
    root = write_split("floodnet", n=1)
    (root / "dataset.yaml").write_text(
        yaml.safe_dump({**FLOODNET.model_dump(mode="json"), "masks": "rgb"})
    )
    Image.fromarray(np.full((24, 32, 3), 7, np.uint8)).save(root / "train" / "mask" / "img0.png")
    assert "(7, 7, 7)" in _bad(root, "mask/img0.png")


def test_check_dataset_summarises_every_split(write_split) -> None:
    root = write_split("camvid", "train", n=2)
    write_split("camvid", "val", n=1, root=root)
    info, summaries = check_dataset(root)
    assert info == CAMVID and [s.split for s in summaries] == ["train", "val"]
    train = summaries[0]
    assert train.images == 2 and train.min_size == train.max_size == (24, 32)
    assert train.class_pixels[:4] == [2 * 24 * 8] * 4 and sum(train.class_pixels[4:]) == 0
    assert train.ignored_pixels == 0
    assert [s.split for s in check_dataset(root, splits=["val"])[1]] == ["val"]
