"""Calibration reads real train-split images, evenly spaced and deterministic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from compress.core.errors import CompressError
from compress.data import SegmentationFolder, normalize
from compress.quantization.calibration import (
    ImageCalibrationReader,
    calibration_dataset,
    calibration_indices,
)


def test_indices_are_evenly_spaced_and_include_both_ends() -> None:
    assert calibration_indices(10, 4) == [0, 3, 6, 9]
    assert calibration_indices(100, 5) == [0, 25, 50, 74, 99]
    assert calibration_indices(3, 64) == [0, 1, 2]
    assert calibration_indices(7, 1) == [0]
    assert calibration_indices(0, 4) == []
    assert calibration_indices(50, 8) == calibration_indices(50, 8)


def test_indices_need_at_least_one_image() -> None:
    with pytest.raises(CompressError, match="--calib-images"):
        calibration_indices(10, 0)


def test_reader_yields_the_real_images_of_the_train_split(tiny_data: Path) -> None:
    dataset = SegmentationFolder(tiny_data, "train")
    reader = ImageCalibrationReader(dataset, 2)
    served = []
    while (item := reader.get_next()) is not None:
        served.append(item["image"])
    assert len(served) == len(reader.indices) == 2
    assert reader.indices == calibration_indices(len(dataset), 2)
    for index, array in zip(reader.indices, served, strict=True):
        expected = normalize(dataset.load_raw(index)[0]).unsqueeze(0).numpy()
        assert array.dtype == np.float32 and array.shape == (1, 3, 64, 64)
        np.testing.assert_array_equal(array, expected)
    assert reader.describe()["split"] == "train"
    assert reader.describe()["files"] == [dataset.pairs[i][0].name for i in reader.indices]


def test_reader_serves_ranges_and_resizes(tiny_data: Path) -> None:
    dataset = SegmentationFolder(tiny_data, "train")
    reader = ImageCalibrationReader(dataset, 3, size=(32, 48))
    reader.set_range(1, 2)
    first = reader.get_next()
    assert first is not None and first["image"].shape == (1, 3, 32, 48)
    assert reader.get_next() is None
    reader.rewind()
    assert reader.get_next() is not None


def test_calibration_needs_a_data_set(tmp_path: Path) -> None:
    with pytest.raises(CompressError, match="--data is required"):
        calibration_dataset(None)
    with pytest.raises(CompressError, match="does not exist"):
        calibration_dataset(tmp_path / "missing")
