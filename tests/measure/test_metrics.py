"""Metrics against hand-computed confusion matrices, plus property tests against a naive count."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from compress.measure.metrics import (
    STUDY_EPS,
    ConfusionMatrix,
    confusion_matrix,
    metrics_from_confusion,
)

# Worked by hand: pixel pairs (target, pred) = (0,0) (0,1) (1,1) (1,1) (2,2) (2,0).
TARGET = torch.tensor([[0, 0, 1], [1, 2, 2]])
PRED = torch.tensor([[0, 1, 1], [1, 2, 0]])
HAND_MATRIX = [[1, 1, 0], [0, 2, 0], [1, 0, 1]]


def test_confusion_matrix_rows_are_targets_columns_predictions() -> None:
    matrix = confusion_matrix(PRED, TARGET, 3, None)
    assert matrix.dtype == torch.int64
    assert matrix.tolist() == HAND_MATRIX


def test_metrics_of_hand_example() -> None:
    metrics = metrics_from_confusion(confusion_matrix(PRED, TARGET, 3, None))
    # IoU: class 0 = 1 / (2 + 2 - 1), class 1 = 2 / (2 + 3 - 2), class 2 = 1 / (2 + 1 - 1)
    assert metrics.per_class_iou == pytest.approx([1 / 3, 2 / 3, 1 / 2])
    assert metrics.miou == pytest.approx(0.5)
    assert metrics.per_class_acc == pytest.approx([1 / 2, 1.0, 1 / 2])
    assert metrics.class_acc == pytest.approx(2 / 3)
    assert metrics.pixel_acc == pytest.approx(4 / 6)
    assert metrics.num_pixels == 6
    assert metrics.confusion == HAND_MATRIX


def test_class_absent_from_target_and_prediction_is_skipped() -> None:
    metrics = metrics_from_confusion(confusion_matrix(PRED, TARGET, 4, None))
    assert metrics.per_class_iou[3] is None
    assert metrics.per_class_acc[3] is None
    assert metrics.miou == pytest.approx(0.5)  # not (0.5 * 3 + 0) / 4, nor (1.5 + 1) / 4
    assert metrics.class_acc == pytest.approx(2 / 3)


def test_class_only_predicted_scores_zero_iou_but_no_recall() -> None:
    target = torch.tensor([[0, 0, 0], [1, 1, 1]])
    pred = torch.tensor([[0, 0, 2], [1, 1, 1]])
    metrics = metrics_from_confusion(confusion_matrix(pred, target, 3, None))
    assert metrics.per_class_iou == pytest.approx([2 / 3, 1.0, 0.0])
    assert metrics.miou == pytest.approx(5 / 9)
    assert metrics.per_class_acc[2] is None
    assert metrics.class_acc == pytest.approx((2 / 3 + 1) / 2)


def test_ignore_index_pixels_are_left_out() -> None:
    target = torch.tensor([[0, 255, 1], [1, 255, 2]])
    pred = torch.tensor([[0, 1, 1], [1, 2, 2]])  # the ignored pixels are "wrong"
    matrix = confusion_matrix(pred, target, 3, 255)
    assert matrix.tolist() == [[1, 0, 0], [0, 2, 0], [0, 0, 1]]
    metrics = metrics_from_confusion(matrix)
    assert (metrics.miou, metrics.pixel_acc, metrics.num_pixels) == (1.0, 1.0, 4)


def test_study_formula_scores_absent_classes_one_and_averages_images() -> None:
    acc = ConfusionMatrix(4, None)
    acc.update(PRED, TARGET)  # one [H, W] image
    # classes 0..2 as in the hand example, class 3 absent -> (0 + eps) / (0 + eps) = 1
    assert acc.study_miou() == pytest.approx((1 / 3 + 2 / 3 + 1 / 2 + 1) / 4)
    assert acc.compute().miou == pytest.approx(0.5)


def test_dataset_level_differs_from_per_image_average() -> None:
    acc = ConfusionMatrix(2, None, keep_per_image=True)
    target = torch.tensor([[[0, 0]], [[1, 1]]])  # two 1x2 images in one batch
    pred = torch.tensor([[[0, 0]], [[0, 1]]])
    acc.update(pred, target)
    assert acc.num_images == 2
    assert acc.matrix.tolist() == [[2, 0], [1, 1]]
    assert acc.compute().miou == pytest.approx((2 / 3 + 1 / 2) / 2)
    # image 1: class 0 perfect, class 1 absent -> 1; image 2: IoU 0 (+eps) and 1/2
    image_2 = (STUDY_EPS / (1 + STUDY_EPS) + (1 + STUDY_EPS) / (2 + STUDY_EPS)) / 2
    assert acc.study_miou() == pytest.approx((1 + image_2) / 2)
    assert acc.per_image_iou == [[1.0, None], [0.0, 0.5]]


def test_updates_accumulate_and_reset_clears() -> None:
    acc = ConfusionMatrix(3, None)
    acc.update(PRED, TARGET)
    acc.update(PRED.unsqueeze(0), TARGET.unsqueeze(0))
    assert acc.matrix.tolist() == (2 * torch.tensor(HAND_MATRIX)).tolist()
    assert acc.num_images == 2
    acc.reset()
    assert acc.matrix.sum() == 0 and acc.num_images == 0 and math.isnan(acc.study_miou())


def test_images_without_labelled_pixels_are_not_scored_by_the_study_formula() -> None:
    acc = ConfusionMatrix(3, 255)
    acc.update(torch.tensor([[0, 1]]), torch.tensor([[255, 255]]))
    assert math.isnan(acc.study_miou())
    metrics = acc.compute()
    assert math.isnan(metrics.miou) and metrics.num_pixels == 0
    assert metrics.to_dict()["miou"] is None  # JSON has no NaN


def test_to_dict_is_plain_json() -> None:
    import json

    data = metrics_from_confusion(confusion_matrix(PRED, TARGET, 4, None)).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert set(data) >= {"miou", "per_class_iou", "class_acc", "pixel_acc", "num_pixels"}


@pytest.mark.parametrize(
    ("pred", "target", "ignore", "message"),
    [
        (PRED, torch.tensor([[0, 0, 1], [1, 2, 3]]), None, "target holds class id 3"),
        (PRED, torch.tensor([[0, 0, 1], [1, 2, -1]]), None, "target holds class id -1"),
        (PRED, torch.tensor([[0, 0, 1], [1, 2, 254]]), 255, "or 255"),
        (torch.tensor([[0, 1, 1], [1, 2, 5]]), TARGET, None, "prediction holds class id 5"),
        (PRED[:, :2], TARGET, None, "differs from target shape"),
        (PRED.float(), TARGET, None, "integer class ids"),
    ],
)
def test_invalid_inputs_raise_value_error(pred, target, ignore, message) -> None:
    with pytest.raises(ValueError, match=message):
        confusion_matrix(pred, target, 3, ignore)


def _naive_confusion(pred: np.ndarray, target: np.ndarray, k: int, ignore: int | None):
    matrix = np.zeros((k, k), dtype=np.int64)
    for t, p in zip(target.ravel().tolist(), pred.ravel().tolist(), strict=True):
        if t != ignore:
            matrix[t, p] += 1
    return matrix


@st.composite
def _labelled_batches(draw):
    k = draw(st.integers(1, 6))
    n, h, w = draw(st.integers(1, 3)), draw(st.integers(1, 5)), draw(st.integers(1, 5))
    ignore = draw(st.sampled_from([None, 255]))
    values = list(range(k)) + ([255] if ignore is not None else [])
    cells = st.lists(st.sampled_from(values), min_size=n * h * w, max_size=n * h * w)
    target = torch.tensor(draw(cells)).reshape(n, h, w)
    pred_cells = st.lists(st.integers(0, k - 1), min_size=n * h * w, max_size=n * h * w)
    pred = torch.tensor(draw(pred_cells)).reshape(n, h, w)
    return pred, target, k, ignore


@settings(max_examples=60, deadline=None)
@given(_labelled_batches())
def test_matches_naive_count_and_stays_in_range(batch) -> None:
    pred, target, k, ignore = batch
    acc = ConfusionMatrix(k, ignore)
    acc.update(pred, target)
    expected = _naive_confusion(pred.numpy(), target.numpy(), k, ignore)
    assert acc.matrix.tolist() == expected.tolist()
    metrics = acc.compute()
    labelled = int((target != ignore).sum()) if ignore is not None else target.numel()
    assert metrics.num_pixels == labelled
    if labelled:
        for value in (metrics.miou, metrics.pixel_acc, metrics.class_acc, acc.study_miou()):
            assert 0.0 <= value <= 1.0 + 1e-12


@settings(max_examples=60, deadline=None)
@given(_labelled_batches())
def test_perfect_prediction_scores_one(batch) -> None:
    _, target, k, ignore = batch
    pred = target.clone()
    if ignore is not None:
        pred[pred == ignore] = 0  # whatever is predicted on ignored pixels must not count
    acc = ConfusionMatrix(k, ignore)
    acc.update(pred, target)
    metrics = acc.compute()
    if metrics.num_pixels:
        assert metrics.miou == metrics.pixel_acc == metrics.class_acc == 1.0
        assert acc.study_miou() == pytest.approx(1.0)
        labelled = target[target != ignore] if ignore is not None else target.reshape(-1)
        present = set(labelled.tolist())
        for c in range(k):
            assert (metrics.per_class_iou[c] is None) == (c not in present)
