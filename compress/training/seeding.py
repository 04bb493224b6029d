"""Seeding and RNG state for exactly resumable training.

Every epoch re-seeds shuffling, augmentation and dropout from ``(seed, epoch)`` alone, and
a checkpoint carries the RNG states as plain values, so a run resumed after an
interruption draws the same random numbers as one that never stopped.
"""

from __future__ import annotations

import contextlib
import random
from typing import Any

import torch


def seed_epoch(seed: int, epoch: int, generator: torch.Generator) -> None:
    """Seed every RNG an epoch uses from (seed, epoch) only, so resuming repeats it exactly."""
    import numpy as np

    epoch_seed = seed * 1000 + epoch
    generator.manual_seed(epoch_seed + (1 << 32))  # shuffling and DataLoader worker seeds
    torch.manual_seed(epoch_seed)  # augmentation and dropout (all devices)
    random.seed(epoch_seed)
    np.random.seed(epoch_seed % (1 << 32))


def seed_worker(worker_id: int) -> None:
    """DataLoader workers: torch is seeded per worker from the generator; align the rest."""
    import numpy as np

    worker_seed = torch.initial_seed() % (1 << 32)
    random.seed(worker_seed)
    np.random.seed(worker_seed)


def rng_state() -> dict[str, Any]:
    """RNG states as tensors, lists and ints (loadable with ``weights_only=True``)."""
    import numpy as np

    name, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": [version, list(internal), gauss],
        "numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` saved."""
    import numpy as np

    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        with contextlib.suppress(RuntimeError):  # another GPU count than when saved
            torch.cuda.set_rng_state_all(state["cuda"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
