"""Shared fixtures: small thread counts and the location of the real CamVid data."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CAMVID = (REPO / ".." / "shared" / "data" / "camvid").resolve()


@pytest.fixture(scope="session", autouse=True)
def _single_thread_torch() -> None:
    """Tests run on 2 shared cores: one intra-op thread keeps them predictable."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def camvid_root() -> Path:
    """The real CamVid folder beside the repository; skip the test when it is absent."""
    if not (CAMVID / "train" / "images").is_dir():
        pytest.skip(f"CamVid not found at {CAMVID} (shared/ data is not beside this clone)")
    return CAMVID
