"""The real CamVid folder (../shared/data/camvid) loads with the inferred CamVid preset."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from compress.data.folder import SegmentationFolder, check_split, find_pairs, list_splits
from compress.data.info import CAMVID, load_dataset_info

CAMVID_ROOT = Path(__file__).parents[2] / ".." / "shared" / "data" / "camvid"

pytestmark = [
    pytest.mark.camvid,
    pytest.mark.skipif(
        not (CAMVID_ROOT / "train" / "images").is_dir(),
        reason=f"CamVid not found at {CAMVID_ROOT.resolve()} (shared/ is not beside this clone)",
    ),
]


def test_layout_and_preset_are_inferred() -> None:
    assert load_dataset_info(CAMVID_ROOT) == CAMVID
    assert list_splits(CAMVID_ROOT) == ["train", "val", "test"]
    pairs = find_pairs(CAMVID_ROOT, "val")
    assert len(pairs) == 101
    assert all(image.stem == mask.stem for image, mask in pairs[:5])


def test_a_few_samples_load_with_valid_labels() -> None:
    dataset = SegmentationFolder(CAMVID_ROOT, "train")
    for index in (0, len(dataset) - 1):
        image, mask = dataset[index]
        assert image.shape == (3, 360, 480) and image.dtype == torch.float32
        assert mask.shape == (360, 480) and mask.dtype == torch.int64
        labels = set(mask.unique().tolist())
        assert labels <= set(range(11)) | {11} and len(labels) > 3
        raw_image, _ = dataset.load_raw(index)
        assert raw_image.dtype == torch.uint8 and raw_image.float().std() > 10


def test_check_split_counts_ignored_void_pixels(tmp_path) -> None:
    # A copy of three pairs keeps the check fast.
    for sub in ("images", "labels"):
        (tmp_path / "val" / sub).mkdir(parents=True)
    for image, mask in find_pairs(CAMVID_ROOT, "val")[:3]:
        (tmp_path / "val" / "images" / image.name).write_bytes(image.read_bytes())
        (tmp_path / "val" / "labels" / mask.name).write_bytes(mask.read_bytes())
    summary = check_split(tmp_path, "val")
    assert summary.images == 3 and summary.min_size == summary.max_size == (360, 480)
    assert sum(summary.class_pixels) + summary.ignored_pixels == 3 * 360 * 480
    assert summary.class_pixels[3] > 0  # road
