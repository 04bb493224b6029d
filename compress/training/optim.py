"""The optimizer and learning-rate schedule a :class:`TrainSpec` names, from torch's own.

* optimizer: Adam (the study's), AdamW (decoupled weight decay) or SGD with Nesterov
  momentum 0.9 (DeepLab's);
* ``weight_decay_scope="weights"``: no decay on biases and normalisation parameters
  (every parameter with fewer than two dimensions), the usual practice since decaying
  a BatchNorm scale only fights the next layer's weights;
* schedule, stepped once per epoch: MultiStepLR (the study's), cosine to 0, or poly
  ``(1 - t)^0.9``; ``warmup_epochs`` prepends a linear ramp from lr/100 to lr.
"""

from __future__ import annotations

import torch
from torch import nn

from compress.training.train_spec import TrainSpec

POLY_POWER = 0.9  # DeepLab's
WARMUP_START = 0.01  # the warm-up starts at lr x this
SGD_MOMENTUM = 0.9


def parameter_groups(model: nn.Module, spec: TrainSpec) -> list[dict]:
    """One group, or two when norm and bias parameters are kept out of weight decay."""
    parameters = [p for p in model.parameters() if p.requires_grad]
    if spec.weight_decay_scope != "weights":
        return [{"params": parameters, "weight_decay": spec.weight_decay}]
    decayed = [p for p in parameters if p.ndim > 1]
    kept = [p for p in parameters if p.ndim <= 1]
    return [
        {"params": decayed, "weight_decay": spec.weight_decay},
        {"params": kept, "weight_decay": 0.0},
    ]


def make_optimizer(model: nn.Module, spec: TrainSpec) -> torch.optim.Optimizer:
    """The spec's optimizer over ``model``'s trainable parameters."""
    groups = parameter_groups(model, spec)
    if spec.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=spec.lr)
    if spec.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=spec.lr, momentum=SGD_MOMENTUM, nesterov=True)
    return torch.optim.Adam(groups, lr=spec.lr)


def make_scheduler(
    optimizer: torch.optim.Optimizer, spec: TrainSpec
) -> torch.optim.lr_scheduler.LRScheduler:
    """The spec's per-epoch schedule, behind a linear warm-up when it asks for one."""
    from torch.optim import lr_scheduler

    warmup = spec.warmup_epochs
    decay_epochs = max(1, spec.epochs - warmup)
    if spec.schedule == "cosine":
        main: lr_scheduler.LRScheduler = lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=decay_epochs
        )
    elif spec.schedule == "poly":
        main = lr_scheduler.PolynomialLR(optimizer, total_iters=decay_epochs, power=POLY_POWER)
    else:
        main = lr_scheduler.MultiStepLR(optimizer, spec.milestones, spec.gamma)
    if not warmup:
        return main
    ramp = lr_scheduler.LinearLR(
        optimizer, start_factor=WARMUP_START, end_factor=1.0, total_iters=warmup
    )
    return lr_scheduler.SequentialLR(optimizer, [ramp, main], milestones=[warmup])


def averaged_model(model: nn.Module, decay: float | None) -> nn.Module | None:
    """An exponential moving average of ``model``'s weights and buffers, when asked."""
    if decay is None:
        return None
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
