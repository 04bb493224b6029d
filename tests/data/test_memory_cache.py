"""A split decoded into memory equals load_raw pair by pair, or is refused over the limit."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from compress.core.errors import CompressError
from compress.core.progress import PlainLines, use
from compress.data.folder import SegmentationFolder
from compress.data.info import CAMVID, DatasetInfo
from compress.data.memory_cache import (
    DEFAULT_CACHE_LIMIT_BYTES,
    DecodedSplit,
    decode_split,
    mask_dtype,
)


def split_bytes(dataset: SegmentationFolder) -> int:
    """What the decoded split holds: 3 bytes per image pixel, 1 per (uint8) mask pixel."""
    return sum(4 * dataset.load_raw(i)[1].numel() for i in range(len(dataset)))


def test_decoded_split_equals_load_raw(tiny_data: Path) -> None:
    dataset = SegmentationFolder(tiny_data, "train")
    data = decode_split(dataset, limit_bytes=DEFAULT_CACHE_LIMIT_BYTES)
    assert data is not None and len(data) == len(dataset) >= 2
    assert data.split == "train" and data.info == dataset.info
    for i in range(len(dataset)):
        image, mask = dataset.load_raw(i)
        got_image, got_mask = data[i]
        assert got_image.dtype == torch.uint8 and torch.equal(got_image, image)
        assert got_mask.dtype == torch.int64 and torch.equal(got_mask, mask)
        assert data.masks[i].dtype == torch.uint8  # stored narrow, handed out as int64
    assert data.nbytes == split_bytes(dataset) and data.same_size
    assert DEFAULT_CACHE_LIMIT_BYTES == 4 * 2**30


def test_above_the_limit_returns_none_after_one_decode(
    tiny_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset = SegmentationFolder(tiny_data, "train")
    total = split_bytes(dataset)
    assert decode_split(dataset, limit_bytes=total) is not None  # the limit is inclusive
    calls = []
    original = SegmentationFolder.load_raw
    monkeypatch.setattr(
        SegmentationFolder, "load_raw", lambda self, i: calls.append(i) or original(self, i)
    )
    assert decode_split(dataset, limit_bytes=total - 1) is None
    assert calls == [0]  # estimated from the first pair, the rest never decoded


def write_sizes(root: Path, sizes: list[tuple[int, int]]) -> Path:
    """A CamVid-layout train split with one image of each (height, width)."""
    (root / "train" / "images").mkdir(parents=True)
    (root / "train" / "labels").mkdir(parents=True)
    for i, (h, w) in enumerate(sizes):
        image = np.full((h, w, 3), 40 * i, dtype=np.uint8)
        Image.fromarray(image).save(root / "train" / "images" / f"f{i}.png")
        mask = np.full((h, w), i, dtype=np.uint8)
        Image.fromarray(mask).save(root / "train" / "labels" / f"f{i}.png")
    return root


def test_images_of_different_sizes(tmp_path: Path) -> None:
    dataset = SegmentationFolder(write_sizes(tmp_path, [(8, 8), (16, 8)]), "train")
    data = decode_split(dataset, limit_bytes=4 * (64 + 128))
    assert data is not None and not data.same_size
    assert [tuple(image.shape) for image in data.images] == [(3, 8, 8), (3, 16, 8)]
    # The first image promises 2 x 256 bytes; the second breaks the limit while decoding.
    assert decode_split(dataset, limit_bytes=4 * (64 + 128) - 1) is None


def test_invalid_files_are_still_rejected(tmp_path: Path) -> None:
    root = write_sizes(tmp_path, [(8, 8), (8, 8)])
    Image.fromarray(np.full((8, 8), 40, dtype=np.uint8)).save(root / "train" / "labels" / "f1.png")
    with pytest.raises(CompressError, match="f1.png"):
        decode_split(SegmentationFolder(root, "train", info=CAMVID), limit_bytes=10**6)
    with pytest.raises(CompressError, match="limit"):
        decode_split(SegmentationFolder(root, "train"), limit_bytes=-1)


def test_decoding_reports_progress(tiny_data: Path) -> None:
    stream = io.StringIO()
    with use(PlainLines(stream, interval=0.0)):
        decode_split(SegmentationFolder(tiny_data, "val"), limit_bytes=10**9)
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("decoding val: 1/2 ")
    assert lines[-1].startswith("decoding val: done (2)")


def test_masks_are_stored_wide_only_when_labels_need_it() -> None:
    wide = DatasetInfo(name="wide", class_names=["a", "b"], ignore_index=300)
    assert mask_dtype(CAMVID) == torch.uint8 and mask_dtype(wide) == torch.int32
    many = DatasetInfo(name="many", class_names=[str(i) for i in range(257)])
    assert mask_dtype(many) == torch.int32
    image, mask = (
        torch.zeros(3, 2, 2, dtype=torch.uint8),
        torch.full((2, 2), 300, dtype=torch.int32),
    )
    data = DecodedSplit([image], [mask], split="x", info=wide)
    assert data[0][1].dtype == torch.int64 and data[0][1].unique().tolist() == [300]
    assert data.nbytes == 12 + 16
    with pytest.raises(ValueError, match="1 images but 0 masks"):
        DecodedSplit(data.images, [], split="x", info=wide)
