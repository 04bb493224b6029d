"""Resuming a training run from ``checkpoints/last.pt`` exactly where it stopped.

``resume_state`` reads the file and refuses one written by another configuration or for
another structure; ``restore`` puts back weights, optimizer, schedule, scaler, history
and the RNG state, so the resumed run ends bit-identical to an uninterrupted one (CPU).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from compress.core.checkpoint import read_payload
from compress.core.errors import CompressError
from compress.core.runs import same_spec
from compress.training.history import History
from compress.training.seeding import set_rng_state


def resume_state(last_path: Path, spec_dump: dict[str, Any], structure: list) -> dict[str, Any]:
    """Read ``last.pt`` and check that it belongs to this spec and structure."""
    if not last_path.is_file():
        raise CompressError(
            f"--resume: there is no checkpoint {last_path} to resume from; "
            "run without --resume to start this run"
        )
    state = read_payload(last_path)
    stored_spec = state.get("train_spec")
    if not isinstance(stored_spec, dict) or not same_spec(stored_spec, spec_dump):
        raise CompressError(
            f"{last_path} was written by a different training configuration; "
            "resume with the same options or choose another --out"
        )
    if canonical_json(state.get("structure") or []) != canonical_json(structure):
        raise CompressError(f"{last_path} was written for a model with a different structure")
    return state


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def restore(
    state: dict[str, Any],
    last_path: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler,
) -> tuple[History, dict[str, Any] | None, int]:
    """Load ``last.pt``'s weights, optimizer, schedule, scaler and RNG state; return the
    history so far, the best epoch's record and the last finished epoch."""
    try:
        model.load_state_dict(state["state_dict"], strict=True)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[0][:200]
        raise CompressError(f"{last_path}: weights do not fit the given model ({first})") from None
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    scaler.load_state_dict(state["scaler"])
    history = History.from_dicts(state["history"], source=f"{last_path} history")
    set_rng_state(state["rng"])
    return history, state.get("best"), int(state["epoch"])
