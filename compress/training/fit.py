"""The training loop ``fit(model, spec, run_dir)``: trains any segmentation module.

``fit`` trains whatever ``nn.Module`` it is given (a baseline, a pruned or a factorized
model with its ``structure`` steps) with the spec's optimizer and schedule
(:mod:`compress.training.optim`: the study's Adam + MultiStepLR by default) and label loss
(:mod:`compress.training.label_losses`: cross-entropy by default, class-weighted when asked,
skipping the data set's ignore index and the augmentation's fill label), validates on the
*val* split (the EMA weights when asked) and keeps the best-mIoU checkpoint. Every epoch
ends with an atomic ``checkpoints/last.pt`` holding everything an exact resume needs.
Each epoch's randomness (shuffling, augmentation, dropout) is seeded from ``(seed,
epoch)`` alone, so an interrupted run resumed from ``last.pt`` ends bit-identical to an
uninterrupted one on CPU. Under ``torchrun`` every process runs ``fit``
(:mod:`compress.training.distributed`). Run folders and the model a spec names are
:mod:`compress.training.train`'s business.
"""

from __future__ import annotations

import contextlib
import math
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from compress.core.checkpoint import read_payload, save_checkpoint
from compress.core.errors import CompressError
from compress.core.progress import use as use_progress
from compress.core.results import Metrics, RunResult, write_result
from compress.core.runs import SPEC_FILE
from compress.measure.size import state_dict_bytes
from compress.training.class_weights import resolve_class_weights, weights_line
from compress.training.distributed import (
    ShardedOrder,
    barrier,
    mean_over_processes,
    parallel,
    processes,
)
from compress.training.epoch import train_epoch, validate
from compress.training.history import (
    HISTORY_CSV,
    HISTORY_JSON,
    EpochRecord,
    EpochReporter,
    History,
)
from compress.training.input_pipeline import training_batches
from compress.training.losses import training_loss
from compress.training.optim import averaged_model, make_optimizer, make_scheduler
from compress.training.resolve import HOLDOUT_SPLIT, resolve_spec
from compress.training.resume import restore, resume_state
from compress.training.seeding import rng_state, seed_epoch
from compress.training.train_spec import TrainSpec

BEST_FILE = "best.pt"
LAST_FILE = "checkpoints/last.pt"
CURVES_FILE = "curves.png"


@dataclass
class TrainResult:
    """What a training call produced; ``result`` is None when it stopped before the end."""

    run_dir: Path
    history: History
    result: RunResult | None = None
    finished: bool = True
    reused: bool = False  # a finished run of the same spec was found; nothing was trained
    start_epoch: int = 0  # epochs already done when this call began (> 0 after --resume)

    @property
    def best_checkpoint(self) -> Path:
        return self.run_dir / BEST_FILE

    @property
    def last_checkpoint(self) -> Path:
        return self.run_dir / LAST_FILE

    @property
    def best_epoch(self) -> int | None:
        best = self.history.best()
        return best.epoch if best is not None else None

    @property
    def best_miou(self) -> float | None:
        best = self.history.best()
        return best.miou if best is not None else None


def fit(
    model: nn.Module,
    spec: TrainSpec,
    run_dir: str | Path,
    *,
    structure: list[dict[str, Any]] | None = None,
    resume: bool = False,
    progress: bool = True,
    stop_after_epoch: int | None = None,
    restore_best: bool = True,
    teacher: nn.Module | None = None,
) -> TrainResult:
    """Train ``model`` as ``spec`` says, writing checkpoints, history, curves and result.json.

    Args:
        model: any segmentation module returning logits at the input size; trained in place.
        spec: hyper-parameters; ``spec.model``/``model_options`` name the *base* architecture
            that checkpoints record, and ``structure`` the steps that turn it into ``model``.
        structure: e.g. pruning steps; stored in every checkpoint so it reloads.
        resume: continue from ``run_dir/checkpoints/last.pt`` (same spec and structure).
        stop_after_epoch: test hook, return (unfinished) after this absolute epoch.
        restore_best: on return, ``model`` holds the best-validated weights (else the last).
        teacher: the model ``spec.distill`` distils from (frozen, eval mode); needed exactly
            when ``spec.distill`` is set.

    Under ``torchrun`` every process calls ``fit``; rank 0 alone validates and writes, and
    the other ranks return a result of ``None``.
    """
    from compress.core.device import resolve_device
    from compress.data import SegmentationFolder, eval_transform, train_transform
    from compress.data.transforms import loss_ignore_index
    from compress.measure.macs import count_macs_params
    from compress.training.curves import plot_training_curves
    from compress.training.label_losses import label_loss

    spec, info = resolve_spec(spec)
    run_dir = Path(run_dir)
    structure = list(structure or [])
    device = resolve_device(spec.device)
    procs = processes(device.type)
    if procs.distributed and device.type == "cuda":
        device = torch.device("cuda", procs.local_rank)
        torch.cuda.set_device(device)
    progress = progress and procs.is_main
    model_spec = spec.model_spec()
    dataset_dump = info.model_dump(mode="json")
    spec_dump = spec.model_dump(mode="json")
    last_path = run_dir / LAST_FILE
    state = resume_state(last_path, spec_dump, structure) if resume else None
    if state is None and last_path.is_file():
        raise CompressError(
            f"{last_path} already exists; pass --resume to continue that run or use another folder"
        )

    train_set = SegmentationFolder(
        spec.data,
        "train",
        info=info,
        transform=train_transform(spec.crop, augment=spec.augment, ignore_index=info.ignore_index),
    )
    if spec.val_fraction is not None:
        from compress.data.folder import held_out

        kept, held = held_out(train_set.pairs, spec.val_fraction)
        val_set = train_set.subset(held, split=HOLDOUT_SPLIT, transform=eval_transform())
        train_set.pairs = kept
    else:
        val_set = SegmentationFolder(spec.data, "val", info=info, transform=eval_transform())
    with use_progress(None) if not progress else contextlib.nullcontext():
        weights = resolve_class_weights(spec, train_set, state)
    model.to(device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed crop size: pick the fastest kernels once
    macs, params = count_macs_params(model, (spec.crop, spec.crop))

    optimizer = make_optimizer(model, spec)
    scheduler = make_scheduler(optimizer, spec)
    amp_dtype = _amp_dtype(spec.amp, device)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype is torch.float16)
    if (spec.distill is None) != (teacher is None):
        raise ValueError("give a teacher exactly when the spec asks for distillation")
    weight_tensor = torch.tensor(weights["weights"]) if weights else None
    criterion = training_loss(
        label_loss(spec.loss, loss_ignore_index(info.ignore_index), weight_tensor),
        teacher.to(device).eval().requires_grad_(False) if teacher is not None else None,
        spec.distill,
    )
    ema = averaged_model(model, spec.ema)
    history, best, start = History(), None, 0
    if state is not None:
        history, best, start = restore(state, last_path, model, optimizer, scheduler, scaler)
        if ema is not None:
            ema.load_state_dict(state["ema"])
    evaluated = ema.module if ema is not None else model  # what is validated and kept
    trained = parallel(model, procs, device)

    generator = torch.Generator()
    order = ShardedOrder(len(train_set), generator, procs)
    batches, pipeline, remark = training_batches(spec, train_set, order, generator, device)
    reporter = EpochReporter(enabled=progress, total_epochs=spec.epochs)
    if remark:
        reporter.note(remark)
    if start:
        reporter.note(f"resuming {run_dir} after epoch {start}/{spec.epochs}")
    if weights and not start:
        reporter.note(weights_line(weights, info.class_names))
    after_step = (lambda: ema.update_parameters(model)) if ema is not None else None
    # the epoch bar shows validation too: steps inside training report nowhere else
    with reporter, use_progress(None):
        for epoch in range(start + 1, spec.epochs + 1):
            began = time.perf_counter()
            seed_epoch(spec.seed, epoch, generator)
            if procs.rank:  # the same order on every rank, other augmentation draws
                torch.manual_seed(spec.seed * 1000 + epoch + 7919 * procs.rank)
            lr = float(optimizer.param_groups[0]["lr"])
            reporter.start_epoch(epoch, len(batches))
            loss = train_epoch(
                trained,
                batches,
                optimizer,
                scaler,
                criterion,
                device,
                amp_dtype,
                reporter,
                after_step=after_step,
            )
            loss = mean_over_processes(loss, procs, device)
            if not math.isfinite(loss):
                raise CompressError(
                    f"{run_dir}: epoch {epoch}: the training loss became {loss} (not finite); "
                    f"the learning rate {lr:g} is likely too high for this model: use a lower "
                    "--lr (the last finished epoch is kept in checkpoints/last.pt)"
                )
            scheduler.step()
            metrics = None
            if procs.is_main and (epoch % spec.val_every == 0 or epoch == spec.epochs):
                metrics = validate(
                    evaluated, val_set, info, device, progress=reporter.validation(len(val_set))
                )
            record = EpochRecord(
                epoch=epoch,
                loss=loss,
                lr=lr,
                seconds=time.perf_counter() - began,
                **({k: metrics[k] for k in ("miou", "class_acc", "pixel_acc")} if metrics else {}),
            )
            history.append(record)
            improved = metrics is not None and (best is None or metrics["miou"] > best["miou"])
            if improved:
                best = {"epoch": epoch, "miou": metrics["miou"], "metrics": metrics}
                save_checkpoint(
                    run_dir / BEST_FILE,
                    evaluated,
                    model_spec,
                    structure=structure,
                    dataset=dataset_dump,
                    meta={
                        "kind": "train",
                        "epoch": epoch,
                        "split": val_set.split,
                        "metrics": metrics,
                    },
                )
            if procs.is_main:
                save_checkpoint(
                    last_path,
                    model,
                    model_spec,
                    structure=structure,
                    dataset=dataset_dump,
                    meta={"kind": "train", "epoch": epoch},
                    extra={
                        "train_spec": spec_dump,
                        "epoch": epoch,
                        "best": best,
                        "history": history.to_dicts(),
                        "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(),
                        "scaler": scaler.state_dict(),
                        "rng": rng_state(),
                        "class_weights": weights,
                        **({"ema": ema.state_dict()} if ema is not None else {}),
                    },
                )
                history.write(run_dir)
            barrier(procs)  # no rank starts the next epoch before last.pt is written
            reporter.end_epoch(record, improved)
            if stop_after_epoch is not None and stop_after_epoch <= epoch < spec.epochs:
                return TrainResult(run_dir, history, finished=False, start_epoch=start)

    if not procs.is_main:
        return TrainResult(run_dir, history, start_epoch=start)
    if best is None:  # only when resuming a run whose last.pt lacks it: a bug, not user input
        raise RuntimeError(f"{last_path} records no validated epoch")
    best_payload = read_payload(run_dir / BEST_FILE)
    if restore_best:
        model.load_state_dict(best_payload["state_dict"])
    title = f"{run_dir.name} ({model_spec.name})"
    plot_training_curves(history, run_dir / CURVES_FILE, title=title, split=val_set.split)
    artifacts = {
        "best": BEST_FILE,
        "last": LAST_FILE,
        "history": HISTORY_JSON,
        "history_csv": HISTORY_CSV,
        "curves": CURVES_FILE,
    }
    if (run_dir / SPEC_FILE).is_file():
        artifacts["spec"] = SPEC_FILE
    result = RunResult(
        name=run_dir.name,
        kind="train",
        model=model_spec.name,
        steps=structure,
        params=params,
        macs=macs,
        macs_input_size=(spec.crop, spec.crop),
        size_bytes=state_dict_bytes(best_payload["state_dict"]),
        size_artifact=BEST_FILE,
        metrics=Metrics.model_validate(best["metrics"]),
        training={
            "epochs": spec.epochs,
            "seconds": round(history.total_seconds(), 3),
            "best_epoch": best["epoch"],
            "batch_size": spec.batch_size,
            "crop": spec.crop,
            "lr": spec.lr,
            "schedule": spec.schedule,
            "init": spec.init,
            "device": str(device),
            "seed": spec.seed,
            "augment": spec.augment,
            "amp": str(amp_dtype).removeprefix("torch.") if amp_dtype is not None else None,
            "processes": procs.world_size,
            "effective_batch": spec.effective_batch,
            "input_pipeline": pipeline,
            "loss": spec.loss,
            "optimizer": spec.optimizer,
            "warmup_epochs": spec.warmup_epochs,
            "ema": spec.ema,
            "class_weights": weights,
        },
        artifacts=artifacts,
        env={
            "torch": torch.__version__,
            "python": platform.python_version(),
            "device": str(device),
            "threads": torch.get_num_threads(),
        },
    )
    write_result(run_dir, result)
    reporter.note(
        f"best val mIoU {100 * best['miou']:.2f}% at epoch {best['epoch']}; wrote {run_dir}"
    )
    return TrainResult(run_dir, history, result=result, start_epoch=start)


def _amp_dtype(enabled: bool, device: torch.device) -> torch.dtype | None:
    """bf16 where the GPU supports it, else fp16 (with GradScaler); never on CPU."""
    if not enabled or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
