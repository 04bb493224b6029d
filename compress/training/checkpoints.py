"""The two checkpoints of a training run: ``best.pt`` (the best-validated weights) and
``checkpoints/last.pt`` (everything an exact resume needs, written after every epoch)."""

from __future__ import annotations

from typing import Any

from compress.core.checkpoint import save_checkpoint
from compress.training.files import BEST_FILE
from compress.training.seeding import rng_state
from compress.training.setup import Training


def save_best(training: Training, epoch: int, metrics: dict[str, Any]) -> None:
    """The validated weights of ``epoch`` as ``best.pt``, with their metrics."""
    save_checkpoint(
        training.run_dir / BEST_FILE,
        training.evaluated,
        training.model_spec,
        structure=training.structure,
        dataset=training.info.model_dump(mode="json"),
        meta={"kind": "train", "epoch": epoch, "split": training.val_set.split, "metrics": metrics},
    )


def save_last(training: Training, epoch: int) -> None:
    """``last.pt`` after ``epoch``: weights, optimizer, schedule, scaler, RNG, history."""
    ema = training.ema
    save_checkpoint(
        training.last_path,
        training.model,
        training.model_spec,
        structure=training.structure,
        dataset=training.info.model_dump(mode="json"),
        meta={"kind": "train", "epoch": epoch},
        extra={
            "train_spec": training.spec.model_dump(mode="json"),
            "epoch": epoch,
            "best": training.best,
            "history": training.history.to_dicts(),
            "optimizer": training.optimizer.state_dict(),
            "scheduler": training.scheduler.state_dict(),
            "scaler": training.scaler.state_dict(),
            "rng": rng_state(),
            "class_weights": training.weights,
            **({"ema": ema.state_dict()} if ema is not None else {}),
        },
    )
