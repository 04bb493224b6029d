"""What pruning reads beyond the base model: batches for gradient-based importance.

The base model and the data set's info come from :mod:`compress.deploy.base_model` (``open_base``),
shared with the other techniques.
"""

from __future__ import annotations

from typing import Any

import torch

from compress.core.errors import CompressError


def importance_loader(
    data: str, info: Any, *, crop: int, batch_size: int, seed: int
) -> torch.utils.data.DataLoader:
    """Training crops (no augmentation, seeded order) for gradient-based importance."""
    from compress.data import SegmentationFolder, train_transform

    dataset = SegmentationFolder(
        data,
        "train",
        info=info,
        transform=train_transform(crop, augment=False, ignore_index=info.ignore_index),
    )
    if len(dataset) == 0:
        raise CompressError(f"--data {data}: split 'train' holds no images")
    generator = torch.Generator().manual_seed(seed)
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=True, generator=generator
    )
