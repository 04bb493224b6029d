"""evaluate() on tiny in-memory data sets, evaluate_checkpoint() on a synthetic one, devices."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from compress.core.errors import CompressError
from compress.measure.evaluate import EvalResult, evaluate, evaluate_checkpoint
from compress.measure.metrics import confusion_matrix, metrics_from_confusion

K = 4


class Oracle(nn.Module):
    """Reads the class id that the test data set hides in channel 0 and returns one-hot logits."""

    def __init__(self, num_classes: int = K) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.scale = nn.Parameter(torch.ones(()))
        self.norm = nn.BatchNorm2d(3)  # a module whose mode matters

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ids = x[:, 0].round().long().clamp(0, self.num_classes - 1)
        logits = nn.functional.one_hot(ids, self.num_classes).permute(0, 3, 1, 2).float()
        return logits * self.scale


def make_items(sizes: list[tuple[int, int]], *, seed: int = 0, ignore: int | None = None):
    """(image, mask) pairs; the image's channel 0 holds the mask, so Oracle is exact."""
    g = torch.Generator().manual_seed(seed)
    items = []
    for h, w in sizes:
        mask = torch.randint(0, K, (h, w), generator=g)
        image = torch.rand(3, h, w, generator=g)
        image[0] = mask.float()
        if ignore is not None:
            mask[0, 0] = ignore
        items.append((image, mask))
    return items


def test_exact_model_scores_one_and_restores_modes() -> None:
    model = Oracle().train()
    model.norm.eval()  # mixed modes must come back exactly as they were
    result = evaluate(
        model, make_items([(8, 8), (6, 10), (5, 7)]), num_classes=K, ignore_index=None
    )
    assert isinstance(result, EvalResult)
    assert result.metrics.miou == 1.0 and result.metrics.pixel_acc == 1.0
    assert result.study_miou == pytest.approx(1.0)
    assert result.num_images == 3
    assert result.metrics.num_pixels == 64 + 60 + 35
    assert result.seconds >= 0
    assert model.training and not model.norm.training
    assert not torch.is_inference_mode_enabled()


def test_ignored_pixels_do_not_count() -> None:
    result = evaluate(Oracle(), make_items([(4, 4)], ignore=255), num_classes=K, ignore_index=255)
    assert result.metrics.num_pixels == 15 and result.metrics.miou == 1.0


def test_wrong_model_matches_hand_confusion() -> None:
    items = make_items([(5, 5), (3, 4)], seed=3)

    def always_zero(x: torch.Tensor) -> torch.Tensor:
        logits = torch.zeros(x.shape[0], K, *x.shape[2:])
        logits[:, 0] = 1.0
        return logits

    result = evaluate(always_zero, items, num_classes=K, ignore_index=None)
    matrix = sum(confusion_matrix(torch.zeros_like(m), m, K, None) for _, m in items)
    expected = metrics_from_confusion(matrix)
    assert result.metrics == expected
    zeros = sum(int((m == 0).sum()) for _, m in items)
    assert result.metrics.pixel_acc == pytest.approx(zeros / 37)


def test_callable_gets_the_same_result_as_the_module() -> None:
    items = make_items([(6, 6), (6, 6)], seed=1)
    model = Oracle()
    seen: list[tuple[int, ...]] = []

    def session(x: torch.Tensor) -> np.ndarray:  # like an ONNX Runtime wrapper
        seen.append(tuple(x.shape))
        assert x.dtype == torch.float32
        return model(x).numpy()

    by_callable = evaluate(session, items, num_classes=K, ignore_index=None)
    by_module = evaluate(model, items, num_classes=K, ignore_index=None)
    assert by_callable.metrics == by_module.metrics
    assert seen == [(1, 3, 6, 6), (1, 3, 6, 6)]


def test_batches_match_single_images_and_report_progress() -> None:
    items = make_items([(6, 6)] * 5, seed=2)
    calls: list[tuple[int, int]] = []
    batched = evaluate(
        Oracle(),
        items,
        num_classes=K,
        ignore_index=None,
        batch_size=2,
        progress=lambda done, total: calls.append((done, total)),
    )
    single = evaluate(Oracle(), items, num_classes=K, ignore_index=None)
    assert batched.metrics == single.metrics
    assert calls == [(2, 5), (4, 5), (5, 5)]


def test_per_image_iou_and_extremes() -> None:
    items = make_items([(4, 4)] * 3, seed=4)
    assert all((m == 1).any() for _, m in items)
    calls = []

    def wrong_on_second_image(x: torch.Tensor) -> torch.Tensor:
        calls.append(1)
        logits = Oracle()(x)
        if len(calls) == 2:  # everything predicted as class 0
            logits = torch.zeros_like(logits)
            logits[:, 0] = 1
        return logits

    result = evaluate(
        wrong_on_second_image, items, num_classes=K, ignore_index=None, keep_per_image=True
    )
    assert result.per_image_iou is not None and len(result.per_image_iou) == 3
    assert result.per_image_iou[0] == [1.0 if (items[0][1] == c).any() else None for c in range(K)]
    assert result.per_image_iou[1][1] == 0.0
    assert result.extremes(1, k=1) == ([0], [1])
    assert result.extremes(1, k=5) == ([0, 2, 1], [1, 0, 2])
    assert "per_image_iou" in result.to_dict()


def test_extremes_without_per_image_raises() -> None:
    result = evaluate(Oracle(), make_items([(4, 4)]), num_classes=K, ignore_index=None)
    assert result.per_image_iou is None and "per_image_iou" not in result.to_dict()
    with pytest.raises(ValueError, match="keep_per_image"):
        result.extremes(0)


@pytest.mark.parametrize(
    ("items", "kwargs", "message"),
    [
        ([], {}, "empty"),
        (make_items([(4, 4), (5, 5)]), {"batch_size": 2}, "differ in size"),
        (make_items([(4, 4)]), {"batch_size": 0}, "batch_size"),
        ([(torch.zeros(3, 4, 4), torch.full((4, 4), 9))], {}, "class id 9"),
        ([(torch.zeros(3, 4, 4), torch.full((4, 4), 255))], {"ignore_index": 255}, "no labelled"),
    ],
)
def test_user_errors_raise_compress_error(items, kwargs, message) -> None:
    options = {"num_classes": K, "ignore_index": None, **kwargs}
    with pytest.raises(CompressError, match=message):
        evaluate(Oracle(), items, **options)


def test_model_with_wrong_class_count_is_refused() -> None:
    with pytest.raises(CompressError, match="predicts 3 classes but the data set has 4"):
        evaluate(Oracle(3), make_items([(4, 4)]), num_classes=K, ignore_index=None)


def test_to_dict_is_flat_json() -> None:
    import json

    data = evaluate(Oracle(), make_items([(4, 4)]), num_classes=K, ignore_index=None).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["miou"] == 1.0 and data["num_images"] == 1 and "study_miou" in data


def test_evaluate_checkpoint_on_synthetic_data(tmp_path) -> None:
    from compress.core.checkpoint import save_checkpoint
    from compress.core.specs import ModelSpec
    from compress.data import write_synthetic_dataset

    write_synthetic_dataset(tmp_path / "data", n=3, size=64, seed=0)
    spec = ModelSpec(name="unet", num_classes=8, options={"base_channels": 8})
    save_checkpoint(tmp_path / "m.pt", spec.build(), spec)
    evaluation = evaluate_checkpoint(
        tmp_path / "m.pt", tmp_path / "data", split="test", device="cpu"
    )
    assert evaluation.result.num_images >= 1
    assert len(evaluation.class_names) == 8
    data = evaluation.to_dict()
    assert data["split"] == "test" and data["checkpoint"].endswith("m.pt")
    assert 0.0 <= data["miou"] <= 1.0

    wrong = ModelSpec(name="unet", num_classes=3, options={"base_channels": 8})
    save_checkpoint(tmp_path / "w.pt", wrong.build(), wrong)
    with pytest.raises(CompressError, match="predicts 3 classes but data set .* has 8"):
        evaluate_checkpoint(tmp_path / "w.pt", tmp_path / "data", device="cpu")


# --- devices ------------------------------------------------------------------------


def test_resolve_device(monkeypatch) -> None:
    from compress.core.device import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(" CPU ") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device() == torch.device("cpu")
    with pytest.raises(CompressError, match="needs CUDA"):
        resolve_device("cuda")
    with pytest.raises(CompressError, match="needs CUDA"):
        resolve_device("cuda:0")
    with pytest.raises(CompressError, match="cpu, cuda, cuda:N or auto"):
        resolve_device("gpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(CompressError, match="devices 0..0"):
        resolve_device("cuda:3")


def test_an_iterable_of_pairs_or_batches_scores_like_the_data_set() -> None:
    """One scoring loop: a generator of pairs, or of batches, gives the indexable result."""

    class Noisy(Oracle):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            logits = super().forward(x)
            return logits + 2.0 * torch.roll(logits, 1, dims=1) * (x[:, 1:2] > 0.5)

    items = make_items([(8, 8)] * 4, seed=3, ignore=K)
    model = Noisy()
    reference = evaluate(model, items, num_classes=K, ignore_index=K)
    pairs = evaluate(model, (item for item in items), num_classes=K, ignore_index=K)
    batches = evaluate(
        model,
        ((torch.stack([a[0], b[0]]), torch.stack([a[1], b[1]])) for a, b in (items[:2], items[2:])),
        num_classes=K,
        ignore_index=K,
    )
    assert 0 < reference.metrics.miou < 1
    for other in (pairs, batches):
        assert other.metrics.per_class_iou == reference.metrics.per_class_iou
        assert other.num_images == 4
    with pytest.raises(CompressError, match="data item 1 is not an"):
        evaluate(model, iter([items[0], "x"]), num_classes=K, ignore_index=K)
