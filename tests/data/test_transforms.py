"""Paired transforms keep image and mask aligned and produce normalised tensors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from compress.data.transforms import (
    FILL_LABEL,
    IMAGENET_MEAN,
    IMAGENET_STD,
    denormalize,
    eval_transform,
    loss_ignore_index,
    normalize,
    train_transform,
)

LEVELS = torch.tensor([20, 70, 120, 170], dtype=torch.uint8)  # grey level per class


def checkerboard(size: int = 64, cell: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """A mask of 4 classes in cells and a grey image whose brightness encodes the class."""
    i, j = torch.meshgrid(torch.arange(size) // cell, torch.arange(size) // cell, indexing="ij")
    mask = (i + 2 * j + (i * j) % 3) % 4
    image = LEVELS[mask].expand(3, size, size).contiguous()
    return image, mask.to(torch.int64)


def interior(mask: torch.Tensor, margin: int = 3) -> torch.Tensor:
    """Pixels whose whole (2*margin+1)^2 neighbourhood has their label (and is not ignored),
    away from the border (where a rotation blends the image with its fill)."""
    m = mask[None, None].float()
    k = 2 * margin + 1
    same = (F.max_pool2d(m, k, 1, margin) == -F.max_pool2d(-m, k, 1, margin))[0, 0]
    same[:margin], same[-margin:], same[:, :margin], same[:, -margin:] = False, False, False, False
    return same & (mask != 255)


@pytest.mark.parametrize("seed", range(8))
def test_train_transform_keeps_image_and_mask_aligned(seed: int) -> None:
    torch.manual_seed(seed)
    image, mask = checkerboard()
    out_image, out_mask = train_transform(48, ignore_index=255)(image, mask)
    assert out_image.shape == (3, 48, 48) and out_image.dtype == torch.float32
    assert out_mask.shape == (48, 48) and out_mask.dtype == torch.int64
    assert set(out_mask.unique().tolist()) <= {0, 1, 2, 3, 255}  # nearest: no invented ids
    grey = denormalize(out_image).float().mean(0)
    inside = interior(out_mask)
    present = [c for c in range(4) if (inside & (out_mask == c)).any()]
    assert len(present) >= 2
    # Colour jitter is monotonic on grey images: brighter class stays brighter.
    for low, high in zip(present, present[1:], strict=False):
        assert grey[inside & (out_mask == low)].max() < grey[inside & (out_mask == high)].min()


def test_rotation_fill_uses_the_ignore_index_or_the_fill_label() -> None:
    image, mask = checkerboard()
    mask = torch.full_like(mask, 2)
    filled, without = set(), set()
    for seed in range(6):
        torch.manual_seed(seed)
        filled |= set(train_transform(64, ignore_index=11)(image, mask)[1].unique().tolist())
        torch.manual_seed(seed)
        without |= set(train_transform(64)(image, mask)[1].unique().tolist())
    assert filled == {2, 11}
    assert without == {2, FILL_LABEL}  # never a real class such as background (0)
    assert loss_ignore_index(None) == FILL_LABEL and loss_ignore_index(11) == 11


def test_plain_crop_pads_small_images() -> None:
    image = torch.full((3, 20, 30), 200, dtype=torch.uint8)
    mask = torch.ones(20, 30, dtype=torch.int64)
    out_image, out_mask = train_transform(32, augment=False, ignore_index=255)(image, mask)
    assert out_image.shape == (3, 32, 32) and out_mask.shape == (32, 32)
    assert (out_mask == 255).sum() == 32 * 32 - 20 * 30 and (out_mask == 1).sum() == 20 * 30
    assert (denormalize(out_image)[:, out_mask == 1] == 200).all()
    assert (denormalize(out_image)[:, out_mask == 255] == 0).all()
    _, unlabeled = train_transform(32, augment=False)(image, mask)
    assert (unlabeled == FILL_LABEL).sum() == 32 * 32 - 20 * 30


def test_plain_crop_cuts_the_same_window() -> None:
    image, mask = checkerboard()
    torch.manual_seed(0)
    out_image, out_mask = train_transform(40, augment=False)(image, mask)
    assert torch.equal(denormalize(out_image)[0], LEVELS[out_mask])


def test_eval_transform_is_exactly_invertible() -> None:
    image = torch.randint(0, 256, (3, 17, 23), dtype=torch.uint8)
    mask = torch.randint(0, 5, (17, 23))
    out_image, out_mask = eval_transform()(image, mask)
    assert torch.equal(out_mask, mask) and torch.equal(denormalize(out_image), image)
    assert torch.allclose(out_image, normalize(image), atol=1e-6)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    assert torch.allclose(out_image, (image / 255 - mean) / std, atol=1e-6)
    batch = denormalize(torch.stack([out_image, out_image]))
    assert batch.shape == (2, 3, 17, 23) and batch.dtype == torch.uint8


def test_crop_must_be_positive() -> None:
    with pytest.raises(ValueError, match="crop"):
        train_transform(0)


def test_augmentation_keeps_objects_near_their_native_scale() -> None:
    """Stripes 8 px wide stay 4-16 px wide: the zoom is relative to the native resolution,
    so a small crop of a large frame is not a shrunken copy of the whole frame."""
    size, width = 256, 8
    stripes = (torch.arange(size) // width % 2).expand(size, size).to(torch.int64)
    image = LEVELS[stripes].expand(3, size, size).contiguous()
    widths = []
    for seed in range(12):
        torch.manual_seed(seed)
        _, mask = train_transform(64, ignore_index=255)(image, stripes)
        for row in mask[16:48:8]:  # runs of one label along a row, inner ones only
            change = torch.nonzero(row[1:] != row[:-1]).flatten()
            widths += (change[1:] - change[:-1]).tolist()
    widths_t = torch.tensor(widths, dtype=torch.float32)
    assert 4 <= widths_t.median() <= 16, widths_t.median()
