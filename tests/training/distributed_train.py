"""Run by ``torchrun`` in tests/training/test_distributed.py: one training process.

Usage: torchrun --nproc_per_node 2 distributed_train.py SPEC_JSON OUT [--stop-after N] [--resume]
"""

from __future__ import annotations

import json
import sys

import torch
from torch import nn

from compress.training.train import train
from compress.training.train_spec import TrainSpec


def group_norm_net(*, num_classes: int) -> nn.Module:
    """A small fully convolutional net whose normalisation is per image (GroupNorm), so
    how a batch is split between processes changes nothing but rounding."""
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.GroupNorm(4, 16),
        nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=1),
        nn.GroupNorm(4, 16),
        nn.ReLU(),
        nn.Conv2d(16, num_classes, 1),
    )


if __name__ == "__main__":
    torch.set_num_threads(1)
    spec = TrainSpec.model_validate(json.loads(sys.argv[1]))
    stop = int(sys.argv[sys.argv.index("--stop-after") + 1]) if "--stop-after" in sys.argv else None
    train(spec, sys.argv[2], progress=False, stop_after_epoch=stop, resume="--resume" in sys.argv)
