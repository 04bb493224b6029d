"""Calibration images: real pictures of the data set's train split, never random tensors.

``calibration_indices`` picks ``count`` images evenly spaced over the split (first and
last included), so the choice is deterministic and covers the whole split rather than
its first scenes. ``ImageCalibrationReader`` feeds them, normalised exactly as for
evaluation, to ONNX Runtime's calibrators one at a time (images may differ in size);
it supports ``set_range`` so that ONNX Runtime can collect statistics in strides and
memory stays bounded on large images.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from onnxruntime.quantization import CalibrationDataReader

from compress.core.errors import CompressError
from compress.core.paths import require_folder

if TYPE_CHECKING:
    import numpy as np
    import torch

    from compress.data import SegmentationFolder


def calibration_indices(total: int, count: int) -> list[int]:
    """``count`` indices evenly spaced over ``range(total)`` (all of them if fewer)."""
    if total < 1:
        return []
    if count < 1:
        raise CompressError(f"--calib-images must be at least 1, got {count}")
    if count >= total:
        return list(range(total))
    if count == 1:
        return [0]
    step = (total - 1) / (count - 1)
    return sorted({round(i * step) for i in range(count)})


def calibration_dataset(
    data: str | os.PathLike[str] | None, split: str = "train"
) -> SegmentationFolder:
    """The split that calibration reads; CompressError when there is no data set."""
    from compress.data import SegmentationFolder

    if data is None:
        raise CompressError(
            "--data is required: calibration reads real images from the data set's "
            f"{split!r} split (random tensors would calibrate the wrong ranges)"
        )
    require_folder(data, "--data", "a data set folder")
    dataset = SegmentationFolder(data, split)
    if len(dataset) == 0:
        raise CompressError(f"--data {data}: split {split!r} holds no images to calibrate on")
    return dataset


def load_calibration_image(
    dataset: SegmentationFolder, index: int, size: tuple[int, int] | None = None
) -> torch.Tensor:
    """Dataset image ``index`` normalised as for evaluation, ``[1,3,H,W]``, resized to ``size``."""
    import torch.nn.functional as F

    from compress.data import normalize

    image, _ = dataset.load_raw(index)
    x = normalize(image).unsqueeze(0)
    if size is not None and tuple(x.shape[-2:]) != tuple(size):
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
    return x


def calibration_images(
    dataset: SegmentationFolder, count: int, *, size: tuple[int, int] | None = None
) -> Iterator[tuple[int, torch.Tensor]]:
    """``(index, normalised float [1,3,H,W])`` for the evenly spaced calibration images."""
    for index in calibration_indices(len(dataset), count):
        yield index, load_calibration_image(dataset, index, size)


class _RangeReader(CalibrationDataReader):
    """ONNX Runtime calibration reader serving ``len(self)`` items one per ``get_next``,
    with ``set_range`` so that ONNX Runtime can collect statistics in strides."""

    input_name: str

    def __init__(self, count: int, input_name: str) -> None:
        self.input_name = input_name
        self._count = count
        self._start, self._end = 0, count
        self._cursor = 0
        self.progress: Any = None  # a compress.core.progress Task, advanced per image

    def __len__(self) -> int:
        return self._count

    def set_range(self, start_index: int, end_index: int) -> None:
        """Serve only items ``start_index..end_index-1`` next (ONNX Runtime's strides)."""
        self._start, self._end = start_index, min(end_index, self._count)
        self._cursor = self._start

    def rewind(self) -> None:
        """Start again from the first item of the current range."""
        self._cursor = self._start

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._cursor >= self._end:
            return None
        position = self._cursor
        self._cursor += 1
        if self.progress is not None:
            self.progress.advance()
        return {self.input_name: self.item(position)}

    def item(self, position: int) -> np.ndarray:
        """The float32 ``[1, 3, H, W]`` array of the ``position``-th calibration item."""
        raise NotImplementedError


class ImageCalibrationReader(_RangeReader):
    """Calibration over real images of a data set split; one image per ``get_next``.

    Images are loaded lazily (a large split is never held in memory at once).
    """

    def __init__(
        self,
        dataset: SegmentationFolder,
        count: int,
        *,
        input_name: str = "image",
        size: tuple[int, int] | None = None,
    ) -> None:
        self.dataset = dataset
        self.size = size
        self.indices = calibration_indices(len(dataset), count)
        super().__init__(len(self.indices), input_name)

    def item(self, position: int) -> np.ndarray:
        return self.array(self.indices[position])

    def array(self, index: int) -> np.ndarray:
        """The normalised float32 ``[1,3,H,W]`` array of dataset image ``index``."""
        import numpy as np

        x = load_calibration_image(self.dataset, index, self.size)
        return np.ascontiguousarray(x.numpy(), dtype=np.float32)

    def describe(self) -> dict[str, Any]:
        """What ``result.json`` records about the calibration set."""
        return {
            "root": str(self.dataset.root),
            "split": self.dataset.split,
            "images": len(self.indices),
            "indices": list(self.indices),
            "files": [self.dataset.pairs[i][0].name for i in self.indices],
            "size": list(self.size) if self.size is not None else None,
        }


class TensorCalibrationReader(_RangeReader):
    """Calibration over images a caller already holds: tensors ``[3, H, W]`` or
    ``[N, 3, H, W]``, or ``(image, mask)`` pairs (a DataLoader's batches), up to ``count``
    images, kept in memory as float32 arrays."""

    def __init__(self, images: Any, count: int, *, input_name: str = "image") -> None:
        self.arrays = _calibration_arrays(images, count)
        super().__init__(len(self.arrays), input_name)

    def item(self, position: int) -> np.ndarray:
        return self.arrays[position]

    def tensors(self) -> list[torch.Tensor]:
        """The calibration images as ``[1, 3, H, W]`` tensors."""
        import torch

        return [torch.from_numpy(array) for array in self.arrays]

    def describe(self) -> dict[str, Any]:
        """What a result records about the calibration set."""
        return {
            "source": "tensors",
            "images": len(self.arrays),
            "sizes": sorted({tuple(a.shape[-2:]) for a in self.arrays}),
        }


def _calibration_arrays(images: Any, count: int) -> list[np.ndarray]:
    import numpy as np
    import torch

    if count < 1:
        raise CompressError(f"calibration needs at least 1 image, got count={count}")
    arrays: list[np.ndarray] = []
    for index, item in enumerate(images):
        batch = item[0] if isinstance(item, (list, tuple)) else item  # (image, mask) pairs
        batch = torch.as_tensor(batch)
        if batch.dim() == 3:
            batch = batch.unsqueeze(0)
        if batch.dim() != 4 or batch.shape[1] != 3 or not batch.is_floating_point():
            raise CompressError(
                f"calibration item {index}: expected a float image [3, H, W] or [N, 3, H, W] "
                f"(or an (image, mask) pair), got {tuple(batch.shape)} {batch.dtype}"
            )
        for image in batch.detach().cpu().float():
            arrays.append(np.ascontiguousarray(image[None].numpy(), dtype=np.float32))
            if len(arrays) == count:
                return arrays
    if not arrays:
        raise CompressError("the calibration data yielded no image")
    return arrays
