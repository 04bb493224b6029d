"""Fixtures for the quantization tests: a tiny synthetic data set and a briefly trained UNet."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from compress.core.specs import ModelSpec

TINY_UNET = ModelSpec(name="unet", num_classes=8, options={"base_channels": 8})


def train_briefly(model: nn.Module, data: Path, *, steps: int = 40, seed: int = 0) -> nn.Module:
    """A few Adam steps on the train split so logits are not those of a random init."""
    from compress.data import SegmentationFolder

    torch.manual_seed(seed)
    dataset = SegmentationFolder(data, "train")
    images = torch.stack([dataset[i][0] for i in range(len(dataset))])
    masks = torch.stack([dataset[i][1] for i in range(len(dataset))])
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(images), masks)
        loss.backward()
        optimizer.step()
    return model.eval()


@pytest.fixture(scope="session")
def trained_unet(tiny_data: Path) -> nn.Module:
    torch.manual_seed(0)
    return train_briefly(TINY_UNET.build(), tiny_data)


@pytest.fixture(scope="session")
def unet_checkpoint(tmp_path_factory: pytest.TempPathFactory, trained_unet: nn.Module) -> Path:
    from compress.core.checkpoint import save_checkpoint

    path = tmp_path_factory.mktemp("ckpt") / "unet-run" / "best.pt"
    return save_checkpoint(path, trained_unet, TINY_UNET)
