"""Class weights from the training masks: the formulas, and one computed on a real split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from compress.data import SegmentationFolder
from compress.training.class_weights import PixelStats, class_weights, pixel_stats


def test_median_frequency_follows_its_definition() -> None:
    # class 0: 600 px over images totalling 1000 px; 1: 100 of 500; 2: 10 of 500
    stats = PixelStats(np.array([600, 100, 10]), np.array([1000, 500, 500]))
    weights, note = class_weights(stats, "median-frequency")
    freq = np.array([0.6, 0.2, 0.02])
    assert weights == pytest.approx((0.2 / freq).tolist(), rel=1e-5)
    assert weights[1] == pytest.approx(1.0) and note is None


def test_inverse_sqrt_averages_one_and_favours_rare_classes() -> None:
    stats = PixelStats(np.array([900, 90, 10]), np.array([1000, 1000, 1000]))
    weights, _ = class_weights(stats, "inverse-sqrt")
    assert np.mean(weights) == pytest.approx(1.0, rel=1e-5)
    assert weights[0] < weights[1] < weights[2]
    assert weights[2] / weights[0] == pytest.approx(np.sqrt(90), rel=1e-4)


def test_a_class_without_training_pixels_gets_weight_zero_and_is_named() -> None:
    stats = PixelStats(np.array([50, 0, 50]), np.array([100, 0, 100]))
    weights, note = class_weights(stats, "median-frequency")
    assert weights[1] == 0 and weights[0] == weights[2] == pytest.approx(1.0)
    assert note is not None and "[1]" in note


def test_pixel_stats_count_every_label_of_the_split(tiny_data: Path) -> None:
    from compress.data.images import read_mask

    split = SegmentationFolder(tiny_data, "train")
    stats = pixel_stats(split)
    masks = [read_mask(m, split.info) for _, m in split.pairs]
    k = split.info.num_classes
    expected = sum(np.bincount(m.ravel(), minlength=k) for m in masks)
    assert stats.class_pixels.tolist() == expected.tolist()
    present = sum(np.where(np.bincount(m.ravel(), minlength=k) > 0, m.size, 0) for m in masks)
    assert stats.present_image_pixels.tolist() == present.tolist()
