"""Tiny folder data sets written into tmp_path, in both supported layouts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

Writer = Callable[..., Path]


def blocks(h: int = 24, w: int = 32, k: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A random image and a mask of vertical class stripes (ids 0..k-1)."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    mask = (np.arange(w)[None, :] * k // w).repeat(h, 0).astype(np.uint8)
    return image, mask


@pytest.fixture
def write_split(tmp_path: Path) -> Writer:
    """``write_split(layout, split="train", n=2, lab=False, suffix=".png")`` -> data set root.

    ``layout`` is ``"floodnet"`` ({split}/image + mask) or ``"camvid"`` (images + labels);
    ``lab`` names masks FloodNet-style ``<stem>_lab.png``.
    """

    def write(
        layout: str,
        split: str = "train",
        *,
        n: int = 2,
        lab: bool = False,
        suffix: str = ".png",
        root: Path | None = None,
    ) -> Path:
        root = root or tmp_path / layout
        image_dir, mask_dir = {"floodnet": ("image", "mask"), "camvid": ("images", "labels")}[
            layout
        ]
        (root / split / image_dir).mkdir(parents=True, exist_ok=True)
        (root / split / mask_dir).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            image, mask = blocks(seed=i)
            Image.fromarray(image).save(root / split / image_dir / f"img{i}{suffix}", quality=95)
            stem = f"img{i}_lab" if lab else f"img{i}"
            Image.fromarray(mask).save(root / split / mask_dir / f"{stem}.png")
        return root

    return write
