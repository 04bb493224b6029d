"""Where training batches come from: a DataLoader, or decoded-once images augmented on
the training device.

``loader`` (the CPU default): each image is decoded and augmented per sample by
torchvision v2 in the DataLoader (``--workers`` processes). ``device`` (the CUDA default,
``input_pipeline: auto``): the split is decoded once into uint8 tensors in memory
(:mod:`compress.data.memory_cache`, up to a limit) and every batch is augmented as a
whole on the GPU (:mod:`compress.data.batch_augment`), so a fast GPU is not left waiting
on the CPU. ``auto`` falls back to the loader, with a note, when the split is larger
than the limit or its images differ in size; an explicit ``device`` is refused then.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import torch

from compress.core.errors import CompressError
from compress.training.distributed import ShardedOrder
from compress.training.seeding import seed_worker
from compress.training.train_spec import TrainSpec


class DeviceEpochs:
    """Batches of decoded images augmented on ``device``; one pass per iteration."""

    def __init__(
        self,
        data: Any,
        augment: Any,
        spec: TrainSpec,
        order: ShardedOrder,
        generator: torch.Generator,
        device: torch.device,
    ) -> None:
        self.data, self.augment, self.order = data, augment, order
        self.batch_size, self.generator, self.device = spec.batch_size, generator, device
        self.drop_last = len(order) > spec.batch_size  # a batch of 1 breaks BatchNorm

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        from compress.data.batch_augment import device_batches

        return device_batches(
            self.data,
            batch_size=self.batch_size,
            generator=self.generator,
            device=self.device,
            augment=self.augment,
            drop_last=self.drop_last,
            indices=list(self.order),
        )

    def __len__(self) -> int:
        from compress.data.batch_augment import num_batches

        return num_batches(len(self.order), self.batch_size, self.drop_last)


def training_batches(
    spec: TrainSpec,
    train_set: Any,
    order: ShardedOrder,
    generator: torch.Generator,
    device: torch.device,
) -> tuple[Iterable[tuple[torch.Tensor, torch.Tensor]], str, str | None]:
    """``(batches, pipeline, remark)``: an iterable of ``(images, masks)`` with ``len``, the
    name of the pipeline used (``loader`` or ``device``) and why ``auto`` fell back, if it
    did."""
    wanted = spec.input_pipeline
    if wanted == "auto":
        wanted = "device" if device.type == "cuda" else "loader"
    if wanted == "device":
        decoded, why_not = _decoded(train_set)
        if decoded is not None:
            from compress.data.batch_augment import BatchAugment

            augment = BatchAugment(
                spec.crop, ignore_index=train_set.info.ignore_index, augment=spec.augment
            )
            return DeviceEpochs(decoded, augment, spec, order, generator, device), "device", None
        if spec.input_pipeline == "device":
            raise CompressError(f"--input-pipeline device: {why_not}; use --input-pipeline loader")
        remark: str | None = f"input pipeline: the DataLoader ({why_not})"
    else:
        remark = None
    loader = torch.utils.data.DataLoader(
        train_set,
        batch_size=spec.batch_size,
        sampler=order,
        generator=generator,
        drop_last=len(order) > spec.batch_size,  # a batch of 1 breaks BatchNorm
        num_workers=spec.workers,
        worker_init_fn=seed_worker if spec.workers else None,
        pin_memory=device.type == "cuda",
    )
    return loader, "loader", remark


def _decoded(train_set: Any) -> tuple[Any, str]:
    """The decoded split, or None and why it cannot be used."""
    from compress.data.memory_cache import DEFAULT_CACHE_LIMIT_BYTES, decode_split

    decoded = decode_split(train_set, limit_bytes=DEFAULT_CACHE_LIMIT_BYTES)
    if decoded is None:
        limit = DEFAULT_CACHE_LIMIT_BYTES / 2**30
        return None, f"the train split does not fit the {limit:g} GiB in-memory cache"
    if not decoded.same_size:
        return None, "the train images differ in size, so they cannot be stacked into batches"
    return decoded, ""
