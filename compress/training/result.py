"""The end of a training run: the best weights back in the model, curves, ``result.json``."""

from __future__ import annotations

import platform
from typing import Any

import torch

from compress.core.checkpoint import read_payload
from compress.core.results import Metrics, RunResult, write_result
from compress.core.runs import SPEC_FILE
from compress.measure.size import state_dict_bytes
from compress.training.files import BEST_FILE, CURVES_FILE, LAST_FILE
from compress.training.history import HISTORY_CSV, HISTORY_JSON
from compress.training.setup import Training


def finish(training: Training, restore_best: bool) -> RunResult:
    """Write the curves and ``result.json`` of a finished run (rank 0) and return the result;
    ``restore_best``: load the best-validated weights back into the model."""
    from compress.training.curves import plot_training_curves

    best, run_dir = training.best, training.run_dir
    if best is None:  # only when resuming a run whose last.pt lacks it: a bug, not user input
        raise RuntimeError(f"{training.last_path} records no validated epoch")
    best_payload = read_payload(run_dir / BEST_FILE)
    if restore_best:
        training.model.load_state_dict(best_payload["state_dict"])
    title = f"{run_dir.name} ({training.model_spec.name})"
    split = training.val_set.split
    plot_training_curves(training.history, run_dir / CURVES_FILE, title=title, split=split)
    artifacts = {
        "best": BEST_FILE,
        "last": LAST_FILE,
        "history": HISTORY_JSON,
        "history_csv": HISTORY_CSV,
        "curves": CURVES_FILE,
    }
    if (run_dir / SPEC_FILE).is_file():
        artifacts["spec"] = SPEC_FILE
    spec = training.spec
    result = RunResult(
        name=run_dir.name,
        kind="train",
        model=training.model_spec.name,
        steps=training.structure,
        params=training.params,
        macs=training.macs,
        macs_input_size=(spec.crop, spec.crop),
        size_bytes=state_dict_bytes(best_payload["state_dict"]),
        size_artifact=BEST_FILE,
        metrics=Metrics.model_validate(best["metrics"]),
        training=training_record(training),
        artifacts=artifacts,
        env={
            "torch": torch.__version__,
            "python": platform.python_version(),
            "device": str(training.device),
            "threads": torch.get_num_threads(),
        },
    )
    write_result(run_dir, result)
    training.reporter.note(
        f"best val mIoU {100 * best['miou']:.2f}% at epoch {best['epoch']}; wrote {run_dir}"
    )
    return result


def training_record(training: Training) -> dict[str, Any]:
    """How the run trained: the ``training`` section of its result."""
    spec, amp_dtype = training.spec, training.amp_dtype
    assert training.best is not None
    return {
        "epochs": spec.epochs,
        "seconds": round(training.history.total_seconds(), 3),
        "best_epoch": training.best["epoch"],
        "batch_size": spec.batch_size,
        "crop": spec.crop,
        "lr": spec.lr,
        "schedule": spec.schedule,
        "init": spec.init,
        "device": str(training.device),
        "seed": spec.seed,
        "augment": spec.augment,
        "amp": str(amp_dtype).removeprefix("torch.") if amp_dtype is not None else None,
        "processes": training.procs.world_size,
        "effective_batch": spec.effective_batch,
        "input_pipeline": training.pipeline,
        "loss": spec.loss,
        "optimizer": spec.optimizer,
        "warmup_epochs": spec.warmup_epochs,
        "ema": spec.ema,
        "class_weights": training.weights,
    }
