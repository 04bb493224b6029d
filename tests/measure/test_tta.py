"""Flip test-time augmentation: the mirrored prediction, mirrored back, averaged in."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from compress.data import SegmentationFolder
from compress.measure.evaluate import evaluate
from compress.measure.tta import with_tta


class LeftHalf(nn.Module):
    """Predicts class 1 on the left half of the image, class 0 on the right."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        logits = torch.zeros(n, 2, h, w)
        logits[:, 1, :, : w // 2] = 5.0
        logits[:, 0, :, w // 2 :] = 5.0
        return logits


def test_flip_averages_with_the_mirrored_prediction_mirrored_back() -> None:
    batch = torch.randn(1, 3, 4, 6)
    averaged = with_tta(LeftHalf(), "flip")(batch)
    plain = LeftHalf()(batch).softmax(dim=1)
    # the mirrored image is predicted left-half again; mirrored back it is the right half
    assert torch.allclose(averaged, (plain + plain.flip(-1)) / 2)
    assert torch.allclose(averaged.sum(dim=1), torch.ones(1, 4, 6))


def test_no_tta_is_the_callable_itself_and_unknown_modes_are_refused() -> None:
    model = LeftHalf()
    assert with_tta(model, None) is model and with_tta(model, "none") is model
    with pytest.raises(ValueError, match="flip"):
        with_tta(model, "scale")


def test_a_mirror_symmetric_model_scores_the_same_with_and_without_flip(tiny_data: Path) -> None:
    model = nn.Conv2d(3, 8, 1)  # per-pixel: mirroring commutes with it
    split = SegmentationFolder(tiny_data, "val")
    plain = evaluate(model, split, num_classes=8, ignore_index=None)
    flipped = evaluate(model, split, num_classes=8, ignore_index=None, tta="flip")
    assert flipped.tta == "flip" and plain.tta is None
    assert flipped.metrics.miou == pytest.approx(plain.metrics.miou)
    assert flipped.to_dict()["tta"] == "flip"


def test_an_evaluation_with_flip_is_another_run_than_without(
    tiny_data: Path, tmp_path: Path
) -> None:
    from baselines import get_model
    from compress.core.checkpoint import save_checkpoint
    from compress.core.errors import CompressError
    from compress.core.specs import ModelSpec
    from compress.measure.eval_run import evaluate_into

    spec = ModelSpec(name="unet", num_classes=8, options={"base_channels": 8})
    save_checkpoint(tmp_path / "m.pt", get_model("unet", num_classes=8, base_channels=8), spec)
    stored, _ = evaluate_into(tmp_path / "m.pt", tiny_data, tmp_path / "plain", split="val")
    assert "tta" not in stored.extra
    with pytest.raises(CompressError, match="tta"):
        evaluate_into(tmp_path / "m.pt", tiny_data, tmp_path / "plain", split="val", tta="flip")
    flipped, _ = evaluate_into(
        tmp_path / "m.pt", tiny_data, tmp_path / "flip", split="val", tta="flip"
    )
    assert flipped.extra["tta"] == "flip"
