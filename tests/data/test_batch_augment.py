"""Batched on-device augmentation: train_transform's semantics, per-sample and seeded."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from compress.core.errors import CompressError
from compress.data.batch_augment import BatchAugment, device_batches, num_batches
from compress.data.folder import SegmentationFolder
from compress.data.info import CAMVID
from compress.data.memory_cache import DecodedSplit, decode_split
from compress.data.transforms import FILL_LABEL, denormalize, normalize
from compress.training.seeding import seed_epoch

LEVELS = torch.tensor([20, 70, 120, 170], dtype=torch.uint8)  # grey level per class


def checkerboards(b: int = 6, h: int = 48, w: int = 64, cell: int = 8) -> tuple[torch.Tensor, ...]:
    """A batch of 4-class cell masks (each shifted) and grey images encoding the class."""
    i, j = torch.meshgrid(torch.arange(h) // cell, torch.arange(w) // cell, indexing="ij")
    masks = torch.stack([(i + 2 * j + k + (i * j) % 3) % 4 for k in range(b)])
    images = LEVELS[masks].unsqueeze(1).expand(b, 3, h, w).contiguous()
    return images, masks.to(torch.int64)


def interior(mask: torch.Tensor, ignore: int, margin: int = 2) -> torch.Tensor:
    """Pixels whose whole neighbourhood has their label, away from borders and fill."""
    m = mask[:, None].float()
    k = 2 * margin + 1
    same = (F.max_pool2d(m, k, 1, margin) == -F.max_pool2d(-m, k, 1, margin))[:, 0]
    same[:, :margin], same[:, -margin:] = False, False
    same[:, :, :margin], same[:, :, -margin:] = False, False
    return same & (mask != ignore)


def test_shapes_and_dtypes() -> None:
    images, masks = checkerboards()
    for crop, augment in [(40, True), (80, True), (40, False), (80, False)]:
        out_images, out_masks = BatchAugment(crop, ignore_index=11, augment=augment)(images, masks)
        assert out_images.shape == (6, 3, crop, crop) and out_images.dtype == torch.float32
        assert out_masks.shape == (6, crop, crop) and out_masks.dtype == torch.int64
    with pytest.raises(CompressError, match="crop must be a positive"):
        BatchAugment(0, ignore_index=None)
    with pytest.raises(ValueError, match="uint8"):
        BatchAugment(8, ignore_index=None)(images.float(), masks)


@pytest.mark.parametrize(("ignore_index", "fill"), [(11, 11), (None, FILL_LABEL)])
def test_rotation_brings_in_the_ignore_label_never_a_class(ignore_index, fill) -> None:
    images, masks = checkerboards()
    masks = torch.where(masks == 1, 3, masks)  # classes 0, 2, 3: class 1 must never appear
    masks[:, :4] = 11  # pixels already ignored stay ignored (or become class 11 when none)
    torch.manual_seed(0)
    _, out = BatchAugment(64, ignore_index=ignore_index)(images, masks)  # crop = width
    assert set(out.unique().tolist()) <= {0, 2, 3, 11, fill}
    filled = [(sample == fill).sum().item() for sample in out]
    assert sum(f > 0 for f in filled) >= 5  # any rotation or zoom < 1 brings pixels in
    assert (out == 0).sum() > 0  # class 0 survives the +1 shift, it is not mistaken for fill


def test_image_and_mask_stay_aligned() -> None:
    images, masks = checkerboards(b=8, h=64, w=64, cell=16)
    torch.manual_seed(3)
    out_images, out_masks = BatchAugment(48, ignore_index=255)(images, masks)
    grey = denormalize(out_images).float().mean(1)
    inside = interior(out_masks, 255)
    for b in range(8):
        present = [c for c in range(4) if (inside[b] & (out_masks[b] == c)).any()]
        assert len(present) >= 2, b
        for low, high in zip(present, present[1:], strict=False):  # jitter keeps grey order
            brighter = grey[b][inside[b] & (out_masks[b] == high)].min()
            assert grey[b][inside[b] & (out_masks[b] == low)].max() < brighter, b


def test_without_augmentation_a_full_size_crop_only_normalises() -> None:
    images = torch.randint(0, 256, (3, 3, 24, 32), dtype=torch.uint8)
    masks = torch.randint(0, 5, (3, 24, 32))
    out_images, out_masks = BatchAugment(24, ignore_index=None, augment=False)(
        images[..., :24], masks[..., :24]
    )
    assert torch.equal(out_images, normalize(images[..., :24]))
    assert torch.equal(out_masks, masks[..., :24])


def test_without_augmentation_small_images_are_padded_with_fill() -> None:
    images = torch.full((4, 3, 20, 30), 200, dtype=torch.uint8)
    masks = torch.ones(4, 20, 30, dtype=torch.int64)
    torch.manual_seed(0)
    out_images, out_masks = BatchAugment(32, ignore_index=None, augment=False)(images, masks)
    for image, mask in zip(denormalize(out_images), out_masks, strict=True):
        assert (mask == FILL_LABEL).sum() == 32 * 32 - 20 * 30 and (mask == 1).sum() == 20 * 30
        assert (image[:, mask == 1] == 200).all() and (image[:, mask == FILL_LABEL] == 0).all()
    placed = {tuple(torch.nonzero(mask == 1).min(0).values.tolist()) for mask in out_masks}
    assert len(placed) > 1  # at a random offset per sample


def test_same_seed_same_batch_and_every_sample_drawn_apart() -> None:
    images, masks = checkerboards()
    images, masks = images[:1].expand(6, -1, -1, -1), masks[:1].expand(6, -1, -1)
    augment = BatchAugment(40, ignore_index=255)
    runs = []
    for seed in (7, 7, 8):
        torch.manual_seed(seed)
        runs.append(augment(images, masks))
    assert torch.equal(runs[0][0], runs[1][0]) and torch.equal(runs[0][1], runs[1][1])
    assert not torch.equal(runs[0][0], runs[2][0])
    out = runs[0][0]
    for a in range(6):  # one input repeated: different per-sample parameters, all outputs differ
        for b in range(a + 1, 6):
            assert not torch.allclose(out[a], out[b]), (a, b)


def indexed_split(n: int, size: int = 8) -> DecodedSplit:
    """Sample ``i`` is an image of value ``i`` and a mask of class ``i % 4``."""
    images = [torch.full((3, size, size), i, dtype=torch.uint8) for i in range(n)]
    masks = [torch.full((size, size), i % 4, dtype=torch.uint8) for i in range(n)]
    return DecodedSplit(images, masks, split="train", info=CAMVID)


def identity(images: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return images, masks


@pytest.mark.parametrize(("drop_last", "sizes"), [(False, [4, 4, 2]), (True, [4, 4])])
def test_device_batches_follow_the_random_sampler(drop_last: bool, sizes: list[int]) -> None:
    data = indexed_split(10)
    sampler = torch.utils.data.RandomSampler(range(10), generator=torch.Generator().manual_seed(5))
    expected = list(sampler)
    batches = list(
        device_batches(
            data,
            batch_size=4,
            generator=torch.Generator().manual_seed(5),
            device=torch.device("cpu"),
            augment=identity,
            drop_last=drop_last,
        )
    )
    assert [len(images) for images, _ in batches] == sizes == [4] * (len(sizes) - 1) + sizes[-1:]
    assert len(batches) == num_batches(10, 4, drop_last)
    seen = [int(image[0, 0, 0]) for images, _ in batches for image in images]
    assert seen == expected[: len(seen)] and len(set(seen)) == len(seen)
    if not drop_last:
        assert sorted(seen) == list(range(10))  # every index once per epoch
    for images, masks in batches:
        assert masks.dtype == torch.int64 and torch.equal(masks[:, 0, 0], images[:, 0, 0, 0] % 4)


def test_device_batches_take_an_explicit_order_and_refuse_mixed_sizes() -> None:
    data = indexed_split(6)
    batches = device_batches(
        data,
        batch_size=4,
        generator=torch.Generator(),
        augment=identity,
        device=torch.device("cpu"),
        drop_last=False,
        indices=[5, 0, 3],
    )
    assert [int(i[0, 0, 0]) for images, _ in batches for i in images] == [5, 0, 3]
    data.images[2] = torch.zeros(3, 9, 8, dtype=torch.uint8)
    assert not data.same_size
    with pytest.raises(ValueError, match="differ in size"):
        device_batches(
            data,
            batch_size=2,
            generator=torch.Generator(),
            augment=identity,
            device=torch.device("cpu"),
            drop_last=False,
        )
    with pytest.raises(CompressError, match="batch size"):
        device_batches(
            indexed_split(2),
            batch_size=0,
            generator=torch.Generator(),
            augment=identity,
            device=torch.device("cpu"),
            drop_last=False,
        )
    assert [num_batches(n, 4, d) for n in (0, 3, 4, 5) for d in (False, True)] == [
        0,
        0,
        1,
        0,
        1,
        1,
        2,
        1,
    ]


def test_an_epoch_repeats_exactly_from_its_seed(tiny_data: Path) -> None:
    data = decode_split(SegmentationFolder(tiny_data, "train"), limit_bytes=10**8)
    assert data is not None
    augment = BatchAugment(48, ignore_index=data.info.ignore_index)
    generator = torch.Generator()

    def epoch(seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        seed_epoch(seed, 0, generator)
        return list(
            device_batches(
                data,
                batch_size=3,
                generator=generator,
                augment=augment,
                device=torch.device("cpu"),
                drop_last=False,
            )
        )

    first, again, other = epoch(1), epoch(1), epoch(2)
    assert len(first) == num_batches(len(data), 3, False)
    for (a_images, a_masks), (b_images, b_masks) in zip(first, again, strict=True):
        assert torch.equal(a_images, b_images) and torch.equal(a_masks, b_masks)
    assert not torch.equal(first[0][0], other[0][0])
    labels = set(torch.cat([m.flatten() for _, m in first]).unique().tolist())
    assert labels <= set(range(data.info.num_classes)) | {FILL_LABEL}


def test_every_sample_draws_its_own_parameters_in_the_study_ranges() -> None:
    images, masks = checkerboards(b=16, h=64, w=64)
    images, masks = images[:1].expand(16, -1, -1, -1), masks[:1].expand(16, -1, -1)
    augment = BatchAugment(64, ignore_index=255)  # crop = size: the crop is the identity
    torch.manual_seed(0)
    _, out = augment(images, masks)
    # The warp alone differs per sample: no two masks agree, even up to the flips.
    for a in range(16):
        for b in range(a + 1, 16):
            flips = [out[b], out[b].flip(-1), out[b].flip(-2), out[b].flip(-1, -2)]
            assert not any(torch.equal(out[a], f) for f in flips), (a, b)
    params = {
        k: v
        for item in augment._pipeline._params
        for k, v in item.data.items()
        if k
        in (
            "angle",
            "scale",
            "brightness_factor",
            "contrast_factor",
            "saturation_factor",
            "hue_factor",
        )
    }
    ranges = {
        "angle": (-15, 15),
        "scale": (0.5, 2.0),
        "brightness_factor": (0.75, 1.25),
        "contrast_factor": (0.75, 1.25),
        "saturation_factor": (0.75, 1.25),
        "hue_factor": (-0.03, 0.03),
    }
    assert params.keys() == ranges.keys()
    for name, (low, high) in ranges.items():
        values = params[name].flatten()
        assert low <= values.min() and values.max() <= high, name
        assert len(values.unique()) >= 16, name
    flips = [item.data["batch_prob"] for item in augment._pipeline._params if "Flip" in item.name]
    assert len(flips) == 2 and all(0 < f.sum() < 16 for f in flips)
