"""A tiny checkpoint on the session's synthetic scenes, for variants that train."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.pipeline.tiny import TINY_UNET


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from compress.core.checkpoint import save_checkpoint

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("base")
    return save_checkpoint(folder / "best.pt", TINY_UNET.build().eval(), TINY_UNET)
