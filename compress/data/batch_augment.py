"""The training augmentation applied to a whole batch on its device (issue #15).

Per-sample decoding and torchvision augmentation on the CPU cannot keep a fast GPU busy;
with a split held decoded (:mod:`compress.data.memory_cache`), :class:`BatchAugment`
runs :func:`~compress.data.transforms.train_transform`'s augmentation on a stacked batch
where it lives, with kornia (made for batched, on-device augmentation):

* one affine warp: zoom :data:`ZOOM_RANGE` of the native resolution, rotation
  +-:data:`ROTATION_DEGREES` (bilinear for images, nearest-neighbour for masks);
* a random ``crop x crop`` window, padded at a random offset when the image is smaller;
* horizontal and vertical flips (p=0.5 each), colour jitter :data:`JITTER` (image only);
* every parameter drawn per sample from torch's global CPU generator (kornia samples on
  the CPU by default), which :func:`compress.training.seeding.seed_epoch` seeds: the same
  seed gives the same batch, on any device.

kornia warps masks as float and fills what rotation and padding bring in with 0, which
would be a real class; so labels are shifted by +1 before and every 0 afterwards becomes
:func:`~compress.data.transforms.loss_ignore_index` - never a real class. Two differences
from torchvision, neither changes the distribution of a sample's own parameters: kornia
draws one colour-jitter order per batch (torchvision one per sample) and jitters float
images (torchvision uint8, which rounds after each step).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch.utils.data import RandomSampler

from compress.core.errors import CompressError
from compress.data.memory_cache import DecodedSplit
from compress.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    JITTER,
    ROTATION_DEGREES,
    ZOOM_RANGE,
    loss_ignore_index,
)

BatchFn = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


class BatchAugment:
    """``(uint8 [B,3,H,W], int [B,H,W]) -> (float32 [B,3,crop,crop] normalised, int64
    [B,crop,crop])``; ``augment=False`` is a plain random crop (padded) and normalise."""

    def __init__(self, crop: int, *, ignore_index: int | None, augment: bool = True) -> None:
        if isinstance(crop, bool) or not isinstance(crop, int) or crop < 1:
            raise CompressError(f"crop must be a positive whole number of pixels, got {crop!r}")
        self.crop = crop
        self.augment = augment
        self.fill = loss_ignore_index(ignore_index)
        self._pipeline: torch.nn.Module | None = None  # built on first call: kornia is heavy

    def _build(self) -> torch.nn.Module:
        import kornia.augmentation as K
        from kornia.constants import DataKey, Resample

        ops: list[torch.nn.Module] = [K.RandomCrop((self.crop, self.crop), pad_if_needed=True)]
        if self.augment:
            ops = [
                K.RandomAffine(ROTATION_DEGREES, scale=ZOOM_RANGE, p=1.0),
                *ops,
                K.RandomHorizontalFlip(p=0.5),
                K.RandomVerticalFlip(p=0.5),
                K.ColorJitter(**JITTER, p=1.0),
            ]
        return K.AugmentationSequential(
            *ops,
            data_keys=["input", "mask"],
            extra_args={DataKey.MASK: {"resample": Resample.NEAREST, "align_corners": None}},
        )

    def __call__(
        self, images: torch.Tensor, masks: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(
                f"images must be uint8 [B,3,H,W], got {images.dtype} {list(images.shape)}"
            )
        b, _, h, w = images.shape
        if masks.shape != (b, h, w) or masks.is_floating_point():
            raise ValueError(
                f"masks must be integer [{b},{h},{w}], got {masks.dtype} {list(masks.shape)}"
            )
        if self._pipeline is None:
            self._pipeline = self._build()
        x = images.to(torch.float32) / 255.0
        shifted = masks.to(torch.float32).add_(1.0).unsqueeze(1)  # 0 = brought in by the warp
        x, shifted = self._pipeline(x, shifted)
        labels = shifted.squeeze(1).round_().to(torch.int64) - 1
        labels = torch.where(labels < 0, torch.full_like(labels, self.fill), labels)
        mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
        return (x - mean) / std, labels

    def __repr__(self) -> str:
        return f"BatchAugment(crop={self.crop}, fill={self.fill}, augment={self.augment})"


def num_batches(n: int, batch_size: int, drop_last: bool) -> int:
    """Batches per epoch of ``n`` samples (the last partial one kept unless ``drop_last``)."""
    return n // batch_size if drop_last else -(-n // batch_size)


def device_batches(
    data: DecodedSplit,
    *,
    batch_size: int,
    generator: torch.Generator,
    device: torch.device,
    augment: BatchFn,
    drop_last: bool,
    indices: list[int] | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One epoch of augmented ``(images, masks)`` batches on ``device``.

    The order is drawn now, as a DataLoader's ``iter()`` would: a
    ``RandomSampler(generator=generator)`` permutation, or ``indices`` as given (a
    distributed rank's share). uint8 batches are stacked on the host and copied (pinned,
    non-blocking on CUDA: 1 byte per pixel crosses the bus, not 4 or 8), then augmented.
    """
    if batch_size < 1:
        raise CompressError(f"batch size must be at least 1, got {batch_size}")
    if not data.same_size:
        raise ValueError(
            f"the images of split {data.split!r} differ in size and cannot be stacked into "
            "batches; check DecodedSplit.same_size and use the DataLoader path instead"
        )
    if indices is None:
        order = list(RandomSampler(range(len(data)), generator=generator))
    else:
        order = list(indices)
    return _batches(data, order, batch_size, torch.device(device), augment, drop_last)


def _batches(
    data: DecodedSplit,
    order: list[int],
    batch_size: int,
    device: torch.device,
    augment: BatchFn,
    drop_last: bool,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    pin = device.type == "cuda"
    for number in range(num_batches(len(order), batch_size, drop_last)):
        chunk = order[number * batch_size : (number + 1) * batch_size]
        images = torch.stack([data.images[i] for i in chunk])
        masks = torch.stack([data.masks[i] for i in chunk])
        if pin:
            images, masks = images.pin_memory(), masks.pin_memory()
        images = images.to(device, non_blocking=True)
        masks = masks.to(device, non_blocking=True).to(torch.int64)
        yield augment(images, masks)
