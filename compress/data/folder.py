"""Segmentation data sets stored as folders of image/mask pairs.

Two layouts are understood, per split folder (``train``, ``val``, ``test``, ...):

* FloodNet: ``{split}/image/*.jpg|png`` + ``{split}/mask/<stem>.png`` (FloodNet's own
  ``<stem>_lab.png`` mask names are accepted too);
* CamVid (SegNet tutorial): ``{split}/images/*.jpg|png`` + ``{split}/labels/<stem>.png``.

Samples are checked when they are loaded (cheap: the arrays are in memory anyway);
:func:`check_split` loads every pair to validate a whole split up front.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from compress.core.errors import CompressError
from compress.core.paths import require_folder
from compress.core.progress import task
from compress.data.images import IMAGE_SUFFIXES, read_image, read_mask
from compress.data.info import LAYOUT_PRESETS, DatasetInfo, load_dataset_info

LAYOUTS: tuple[tuple[str, str], ...] = tuple(LAYOUT_PRESETS)  # (image folder, mask folder)
MASK_SUFFIXES = ("", "_lab")  # <stem>.png, or FloodNet's <stem>_lab.png
SPLIT_ORDER = ("train", "val", "test")

PairTransformFn = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def split_layout(split_dir: Path) -> tuple[Path, Path] | None:
    """The (image folder, mask folder) of a split, or None when it has neither layout."""
    for image_name, mask_name in LAYOUTS:
        if (split_dir / image_name).is_dir():
            mask_dir = split_dir / mask_name
            if not mask_dir.is_dir():
                raise CompressError(
                    f"{split_dir / image_name} has no sibling mask folder {mask_dir}"
                )
            return split_dir / image_name, mask_dir
    return None


def held_out(
    pairs: list[tuple[Path, Path]], fraction: float
) -> tuple[list[tuple[Path, Path]], list[tuple[Path, Path]]]:
    """``(kept, held out)``: the last ``fraction`` of ``pairs`` (in file-name order, at
    least one) held out. A block rather than every k-th image: consecutive frames of a
    video (CamVid's sequences) do not land on both sides of the split."""
    count = max(1, round(len(pairs) * fraction))
    if len(pairs) - count < 1:
        raise CompressError(
            f"--val-fraction {fraction:g} of {len(pairs)} training images leaves none to "
            "train on; lower it or add images"
        )
    return pairs[: len(pairs) - count], pairs[len(pairs) - count :]


def list_splits(root: str | os.PathLike[str]) -> list[str]:
    """Split folders under ``root`` that hold a known layout (train, val, test first)."""
    root = require_folder(root, "dataset folder")
    names = [
        p.name
        for p in root.iterdir()
        if p.is_dir()
        and not p.name.startswith(".")
        and any((p / image).is_dir() for image, _ in LAYOUTS)
    ]
    return sorted(names, key=lambda s: (SPLIT_ORDER.index(s) if s in SPLIT_ORDER else 99, s))


def find_pairs(root: str | os.PathLike[str], split: str) -> list[tuple[Path, Path]]:
    """Every (image, mask) pair of ``root/split``, sorted by image file name."""
    root = require_folder(root, "dataset folder")
    split_dir = root / split
    if not split_dir.is_dir():
        available = ", ".join(list_splits(root)) or "none"
        raise CompressError(f"split folder {split_dir} does not exist; splits found: {available}")
    layout = split_layout(split_dir)
    if layout is None:
        expected = " or ".join(f"{split}/{i} + {split}/{m}" for i, m in LAYOUTS)
        raise CompressError(f"{split_dir} has no image/mask folders; expected {expected}")
    image_dir, mask_dir = layout
    images = sorted(
        p
        for p in image_dir.iterdir()
        if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )
    if not images:
        raise CompressError(
            f"{image_dir} holds no images ({', '.join('*' + s for s in IMAGE_SUFFIXES)})"
        )
    pairs = []
    for image in images:
        candidates = [mask_dir / f"{image.stem}{suffix}.png" for suffix in MASK_SUFFIXES]
        mask = next((c for c in candidates if c.is_file()), None)
        if mask is None:
            raise CompressError(
                f"image {image} has no mask; expected {candidates[0]} or {candidates[1].name}"
            )
        pairs.append((image, mask))
    return pairs


def load_pair(
    image_path: Path, mask_path: Path, info: DatasetInfo
) -> tuple[np.ndarray, np.ndarray]:
    """Read and validate one pair: ``(H x W x 3 uint8, H x W int64)``."""
    image = read_image(image_path)
    mask = read_mask(mask_path, info)
    if image.shape[:2] != mask.shape:
        raise CompressError(
            f"mask {mask_path} is {mask.shape[1]}x{mask.shape[0]} but image {image_path} is "
            f"{image.shape[1]}x{image.shape[0]} (width x height); they must match"
        )
    return image, mask


class SegmentationFolder(Dataset):
    """A split of a folder data set; items are ``(float32 [3,H,W], int64 [H,W])``.

    Args:
        info: label semantics; read from ``root/dataset.yaml`` or inferred when None.
        transform: ``fn(image uint8 [3,H,W], mask int64 [H,W]) -> (image, mask)``, e.g.
            :func:`compress.data.transforms.train_transform`; None means
            :func:`~compress.data.transforms.eval_transform` (normalise only).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str,
        *,
        info: DatasetInfo | None = None,
        transform: PairTransformFn | None = None,
    ) -> None:
        from compress.data.transforms import eval_transform

        self.root = Path(root)
        self.split = split
        self.info = info if info is not None else load_dataset_info(self.root)
        self.pairs = find_pairs(self.root, split)
        self.transform = transform if transform is not None else eval_transform()

    def __len__(self) -> int:
        return len(self.pairs)

    def subset(
        self,
        pairs: list[tuple[Path, Path]],
        *,
        split: str,
        transform: PairTransformFn | None = None,
    ) -> SegmentationFolder:
        """The same data set restricted to ``pairs`` (named ``split``), e.g. a held-out part."""
        from compress.data.transforms import eval_transform

        part = copy.copy(self)
        part.pairs, part.split = list(pairs), split
        part.transform = transform if transform is not None else eval_transform()
        return part

    def load_raw(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Sample ``index`` untransformed: ``(uint8 [3,H,W], int64 [H,W])``."""
        image, mask = load_pair(*self.pairs[index], self.info)
        return torch.from_numpy(image).permute(2, 0, 1).contiguous(), torch.from_numpy(mask)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        return self.transform(*self.load_raw(index))

    def __repr__(self) -> str:
        return f"SegmentationFolder({str(self.root)!r}, {self.split!r}, {len(self)} pairs)"


@dataclass
class SplitSummary:
    """What :func:`check_split` found: counts, image sizes and a class pixel histogram."""

    split: str
    images: int
    min_size: tuple[int, int]  # (height, width), smallest area
    max_size: tuple[int, int]
    class_pixels: list[int] = field(default_factory=list)  # per class id
    ignored_pixels: int = 0


def check_split(
    root: str | os.PathLike[str], split: str, *, info: DatasetInfo | None = None
) -> SplitSummary:
    """Load and validate every pair of ``root/split``; raise on the first bad file."""
    info = info if info is not None else load_dataset_info(root)
    pairs = find_pairs(root, split)
    counts = np.zeros(info.num_classes, dtype=np.int64)
    ignored, sizes = 0, []
    with task(f"checking {split}", total=len(pairs)) as bar:
        for image_path, mask_path in pairs:
            _, mask = load_pair(image_path, mask_path, info)
            sizes.append(mask.shape)
            valid = mask[(mask >= 0) & (mask < info.num_classes)]
            counts += np.bincount(valid, minlength=info.num_classes)
            ignored += int(mask.size - valid.size)
            bar.advance(image_path.name)
    by_area = sorted(sizes, key=lambda hw: (hw[0] * hw[1], hw))
    return SplitSummary(split, len(pairs), by_area[0], by_area[-1], counts.tolist(), ignored)


def check_dataset(
    root: str | os.PathLike[str], *, splits: list[str] | None = None
) -> tuple[DatasetInfo, list[SplitSummary]]:
    """Validate every pair of every split (or of ``splits``) under ``root``."""
    info = load_dataset_info(root)
    names = splits or list_splits(root)
    if not names:
        raise CompressError(f"{root} holds no split folder with a known image/mask layout")
    return info, [check_split(root, name, info=info) for name in names]
