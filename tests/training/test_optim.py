"""Optimizer and schedule: torch's own, put together as the spec says."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from compress.core.runs import spec_digest
from compress.training.optim import make_optimizer, make_scheduler, parameter_groups
from compress.training.train_spec import TrainSpec


def _spec(**changes: object) -> TrainSpec:
    return TrainSpec.model_validate({"model": "unet", "data": "x", "epochs": 6, **changes})


def _model() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Conv2d(8, 2, 1))


def _lrs(spec: TrainSpec) -> list[float]:
    optimizer = make_optimizer(_model(), spec)
    scheduler = make_scheduler(optimizer, spec)
    lrs = []
    for _ in range(spec.epochs):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


def test_the_default_is_the_studys_adam_with_decay_on_everything() -> None:
    optimizer = make_optimizer(_model(), _spec())
    assert type(optimizer) is torch.optim.Adam and len(optimizer.param_groups) == 1
    assert optimizer.param_groups[0]["weight_decay"] == 1e-4
    assert _lrs(_spec(milestones=[2, 4], gamma=0.5)) == pytest.approx(
        [1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4, 2.5e-4]
    )


def test_weights_scope_keeps_norm_and_bias_out_of_weight_decay() -> None:
    model = _model()
    decayed, kept = parameter_groups(model, _spec(weight_decay_scope="weights"))
    assert {id(p) for p in decayed["params"]} == {id(model[0].weight), id(model[2].weight)}
    assert len(kept["params"]) == 4 and kept["weight_decay"] == 0.0  # 2 biases, BN scale+shift


@pytest.mark.parametrize(("name", "kind"), [("adamw", torch.optim.AdamW), ("sgd", torch.optim.SGD)])
def test_the_named_optimizer_is_used(name: str, kind: type) -> None:
    assert type(make_optimizer(_model(), _spec(optimizer=name))) is kind


def test_warmup_ramps_linearly_then_the_schedule_decays_to_zero() -> None:
    lrs = _lrs(_spec(warmup_epochs=2, schedule="cosine", epochs=6))
    assert lrs[0] == pytest.approx(1e-5) and lrs[1] == pytest.approx(0.5 * (1e-5 + 1e-3), rel=0.02)
    assert lrs[2] == pytest.approx(1e-3) and lrs[2] > lrs[3] > lrs[4] > lrs[5] > 0


def test_poly_decays_as_one_minus_t_to_the_power_0_9() -> None:
    lrs = _lrs(_spec(schedule="poly", epochs=4))
    assert lrs == pytest.approx([1e-3 * (1 - t / 4) ** 0.9 for t in range(4)], rel=1e-6)


def test_naming_the_defaults_is_the_same_spec() -> None:
    """The CLI passes every option's default explicitly: that must key the same run."""
    plain = _spec().model_dump(mode="json")
    defaults = {
        "class_weights": "none",
        "loss": "ce",
        "optimizer": "adam",
        "warmup_epochs": 0,
        "weight_decay_scope": "all",
        "input_pipeline": "auto",
    }
    spelled = _spec(**defaults).model_dump(mode="json")
    assert spec_digest(plain) == spec_digest(spelled)
    assert spec_digest(_spec(loss="ohem").model_dump(mode="json")) != spec_digest(plain)
