"""Distillation: the loss blends cross-entropy with the teacher's softened predictions."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError
from torch import nn

from baselines import get_model
from compress.pipeline.steps import FinetuneStep
from compress.training.fit import fit
from compress.training.losses import training_loss
from compress.training.train_spec import Distill, TrainSpec


def _logits(seed: int) -> torch.Tensor:
    return torch.randn(2, 4, 6, 6, generator=torch.Generator().manual_seed(seed))


class Fixed(nn.Module):
    """A teacher that always answers ``logits``."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = logits

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.logits


def test_without_a_teacher_the_loss_is_the_cross_entropy() -> None:
    ce = nn.CrossEntropyLoss()
    logits, masks = _logits(0), torch.randint(0, 4, (2, 6, 6))
    loss = training_loss(ce, None, None)(logits, masks, torch.zeros(2, 3, 6, 6))
    assert torch.equal(loss, ce(logits, masks))


def test_a_teacher_that_agrees_adds_nothing_and_one_that_differs_pulls() -> None:
    ce = nn.CrossEntropyLoss()
    logits, masks, images = _logits(0), torch.randint(0, 4, (2, 6, 6)), torch.zeros(2, 3, 6, 6)
    distill = Distill(weight=0.25, temperature=3.0)
    agreeing = training_loss(ce, Fixed(logits.clone()), distill)(logits, masks, images)
    assert agreeing.item() == pytest.approx(0.75 * ce(logits, masks).item(), abs=1e-6)
    student = logits.clone().requires_grad_(True)
    differing = training_loss(ce, Fixed(_logits(1)), distill)(student, masks, images)
    assert differing.item() > agreeing.item()
    differing.backward()
    assert student.grad is not None and student.grad.abs().sum() > 0


def test_distill_settings_are_bounded() -> None:
    for bad in ({"weight": 0}, {"weight": 1.5}, {"temperature": 0}, {"weight": float("nan")}):
        with pytest.raises(ValidationError):
            Distill(**bad)


def test_distill_is_off_unless_given_and_then_has_its_defaults() -> None:
    assert FinetuneStep(epochs=2).model_dump(mode="json")["distill"] is None
    assert FinetuneStep(epochs=2, distill={}).model_dump()["distill"] == {
        "weight": 0.5,
        "temperature": 2.0,
    }
    assert TrainSpec(model="unet", data="d").model_dump()["distill"] is None


def test_fit_distils_from_the_given_teacher(tiny_data: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    teacher = get_model("unet", num_classes=8, base_channels=8)
    spec = TrainSpec(
        model="unet",
        model_options={"base_channels": 8},
        data=str(tiny_data),
        epochs=1,
        batch_size=2,
        crop=32,
        device="cpu",
        milestones=[],
        distill=Distill(),
    )
    with pytest.raises(ValueError, match="teacher"):
        fit(copy.deepcopy(teacher), spec, tmp_path / "none", progress=False)
    plain = fit(
        copy.deepcopy(teacher),
        spec.model_copy(update={"distill": None}),
        tmp_path / "plain",
        progress=False,
    )
    taught = fit(copy.deepcopy(teacher), spec, tmp_path / "taught", progress=False, teacher=teacher)
    assert taught.history.records[0].loss != plain.history.records[0].loss
