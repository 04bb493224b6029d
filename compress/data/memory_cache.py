"""A split decoded once into uint8 tensors in memory (issue #15).

Decoding JPEG/PNG files every epoch bounds training on a fast GPU: CamVid's 367 training
images take seconds per epoch to decode, while holding them decoded takes ~250 MB. So a
split that fits under a byte limit is decoded once, through
:meth:`SegmentationFolder.load_raw` (which validates every pair), and kept as uint8; the
caller falls back to the per-sample DataLoader when :func:`decode_split` returns None.

Masks are stored as uint8 when every label the data set can hold (its class ids and its
ignore index) fits 0..255, else as int32 (an ignore index may be up to 65535, beyond
int16); :meth:`DecodedSplit.__getitem__` hands them out as int64, like ``load_raw``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.utils.data import Dataset

from compress.core.errors import CompressError
from compress.core.progress import task
from compress.data.folder import SegmentationFolder
from compress.data.info import DatasetInfo

DEFAULT_CACHE_LIMIT_BYTES = 4 * 1024**3  # 4 GiB


def mask_dtype(info: DatasetInfo) -> torch.dtype:
    """The narrowest stored mask dtype for ``info``'s labels: uint8 when they fit, else int32."""
    largest = max(info.num_classes - 1, info.ignore_index or 0)
    return torch.uint8 if largest <= 255 else torch.int32


class DecodedSplit(Dataset):
    """A split held decoded in memory; items are ``(uint8 [3,H,W], int64 [H,W])`` like
    :meth:`SegmentationFolder.load_raw` (no transform: augmentation runs per batch)."""

    def __init__(
        self,
        images: Sequence[torch.Tensor],
        masks: Sequence[torch.Tensor],
        *,
        split: str,
        info: DatasetInfo,
    ) -> None:
        if len(images) != len(masks):
            raise ValueError(f"{len(images)} images but {len(masks)} masks")
        self.images: list[torch.Tensor] = list(images)
        self.masks: list[torch.Tensor] = list(masks)
        self.split = split
        self.info = info

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[index], self.masks[index].to(torch.int64)

    @property
    def nbytes(self) -> int:
        """Bytes held by the decoded images and masks."""
        return sum(t.element_size() * t.numel() for t in (*self.images, *self.masks))

    @property
    def same_size(self) -> bool:
        """Whether every image has the same height and width (so batches can be stacked)."""
        return len({tuple(image.shape[-2:]) for image in self.images}) <= 1

    def __repr__(self) -> str:
        return f"DecodedSplit({self.split!r}, {len(self)} pairs, {self.nbytes / 2**20:.1f} MiB)"


def decode_split(dataset: SegmentationFolder, *, limit_bytes: int) -> DecodedSplit | None:
    """Decode every pair of ``dataset`` into memory, or None when it needs more than
    ``limit_bytes``.

    The size is estimated from the first pair's shape times the number of pairs before
    the rest is decoded, and checked again while decoding (images may differ in size), so
    a split far over the limit costs one decode, not all of them.
    """
    if limit_bytes < 0:
        raise CompressError(f"cache limit must be 0 bytes or more, got {limit_bytes}")
    n = len(dataset)
    dtype = mask_dtype(dataset.info)
    per_label = torch.empty((), dtype=dtype).element_size()
    images: list[torch.Tensor] = []
    masks: list[torch.Tensor] = []
    total = 0
    with task(f"decoding {dataset.split}", total=n) as bar:
        for index in range(n):
            image, mask = dataset.load_raw(index)
            size = image.numel() + mask.numel() * per_label
            if index == 0 and size * n > limit_bytes:
                return None
            total += size
            if total > limit_bytes:
                return None
            images.append(image)
            masks.append(mask.to(dtype))
            bar.advance(dataset.pairs[index][0].name)
    return DecodedSplit(images, masks, split=dataset.split, info=dataset.info)
