"""Setting a training run up: device and processes, data sets, the objective, a resume.

:func:`set_up` does, in a fixed order (a resumed run draws the same random numbers as an
uninterrupted one), everything before the first epoch and returns it as one
:class:`Training`, which the epoch loop, the checkpoints and the result read.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from compress.core.errors import CompressError
from compress.core.progress import use as use_progress
from compress.core.specs import ModelSpec
from compress.training.class_weights import resolve_class_weights, weights_line
from compress.training.distributed import Processes, ShardedOrder, parallel, processes
from compress.training.files import LAST_FILE
from compress.training.history import EpochReporter, History
from compress.training.input_pipeline import training_batches
from compress.training.losses import Loss, training_loss
from compress.training.optim import averaged_model, make_optimizer, make_scheduler
from compress.training.resolve import HOLDOUT_SPLIT, resolve_spec
from compress.training.resume import restore, resume_state
from compress.training.train_spec import TrainSpec

if TYPE_CHECKING:
    from compress.data import DatasetInfo, SegmentationFolder


@dataclass
class Training:
    """One training run while its epochs run."""

    spec: TrainSpec  # resolved against the data set
    info: DatasetInfo
    run_dir: Path
    structure: list[dict[str, Any]]  # the steps that turn the spec's model into ``model``
    device: torch.device
    procs: Processes
    model: nn.Module  # trained in place; what last.pt holds
    evaluated: nn.Module  # validated and kept in best.pt: ``model`` or its EMA
    trained: nn.Module  # ``model`` as the processes train it together
    ema: nn.Module | None
    train_set: SegmentationFolder
    val_set: SegmentationFolder
    weights: dict[str, Any] | None  # the class weighting (resolve_class_weights)
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    amp_dtype: torch.dtype | None
    criterion: Loss
    generator: torch.Generator  # seeded per epoch: shuffling
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]]  # (images, masks), with a len
    pipeline: str  # loader or device
    reporter: EpochReporter
    macs: int
    params: int
    history: History
    best: dict[str, Any] | None  # {"epoch", "miou", "metrics"} of the best validation
    start: int  # epochs finished before this call

    @cached_property
    def model_spec(self) -> ModelSpec:
        """The architecture checkpoints record (the base model; ``structure`` does the rest)."""
        return self.spec.model_spec()

    @property
    def last_path(self) -> Path:
        return self.run_dir / LAST_FILE


def set_up(
    model: nn.Module,
    spec: TrainSpec,
    run_dir: str | Path,
    *,
    structure: list[dict[str, Any]] | None,
    resume: bool,
    progress: bool,
    teacher: nn.Module | None,
) -> Training:
    """Everything :func:`compress.training.fit.fit` needs before the first epoch."""
    from compress.measure.macs import count_macs_params

    spec, info = resolve_spec(spec)
    run_dir = Path(run_dir)
    structure = list(structure or [])
    device, procs = _device_and_processes(spec)
    progress = progress and procs.is_main
    state = _resume_state(run_dir / LAST_FILE, spec, structure, resume)
    train_set, val_set = _data_sets(spec, info)
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
    criterion = _criterion(spec, info, weights, teacher, device)
    ema = averaged_model(model, spec.ema)
    history, best, start = History(), None, 0
    if state is not None:
        history, best, start = restore(
            state, run_dir / LAST_FILE, model, optimizer, scheduler, scaler
        )
        if ema is not None:
            ema.load_state_dict(state["ema"])
    trained = parallel(model, procs, device)
    generator = torch.Generator()
    order = ShardedOrder(len(train_set), generator, procs)
    batches, pipeline, remark = training_batches(spec, train_set, order, generator, device)
    training = Training(
        spec=spec,
        info=info,
        run_dir=run_dir,
        structure=structure,
        device=device,
        procs=procs,
        model=model,
        evaluated=ema.module if ema is not None else model,
        trained=trained,
        ema=ema,
        train_set=train_set,
        val_set=val_set,
        weights=weights,
        optimizer=optimizer,
        scheduler=scheduler,
        scaler=scaler,
        amp_dtype=amp_dtype,
        criterion=criterion,
        generator=generator,
        batches=batches,
        pipeline=pipeline,
        reporter=EpochReporter(enabled=progress, total_epochs=spec.epochs),
        macs=macs,
        params=params,
        history=history,
        best=best,
        start=start,
    )
    _announce(training, remark)
    return training


def _device_and_processes(spec: TrainSpec) -> tuple[torch.device, Processes]:
    """The spec's device and this process's place; under torchrun, this rank's GPU."""
    from compress.core.device import resolve_device

    device = resolve_device(spec.device)
    procs = processes(device.type)
    if procs.distributed and device.type == "cuda":
        device = torch.device("cuda", procs.local_rank)
        torch.cuda.set_device(device)
    return device, procs


def _resume_state(
    last_path: Path, spec: TrainSpec, structure: list[dict[str, Any]], resume: bool
) -> dict[str, Any] | None:
    """``last.pt``'s contents when resuming; refuses to start over an unfinished run."""
    spec_dump = spec.model_dump(mode="json")
    state = resume_state(last_path, spec_dump, structure) if resume else None
    if state is None and last_path.is_file():
        raise CompressError(
            f"{last_path} already exists; pass --resume to continue that run or use another folder"
        )
    return state


def _data_sets(spec: TrainSpec, info: DatasetInfo) -> tuple[SegmentationFolder, SegmentationFolder]:
    """The train split (augmented crops) and what validates it: val, or a held-out part."""
    from compress.data import SegmentationFolder, eval_transform, train_transform

    transform = train_transform(spec.crop, augment=spec.augment, ignore_index=info.ignore_index)
    train_set = SegmentationFolder(spec.data, "train", info=info, transform=transform)
    if spec.val_fraction is None:
        return train_set, SegmentationFolder(
            spec.data, "val", info=info, transform=eval_transform()
        )
    from compress.data.folder import held_out

    kept, held = held_out(train_set.pairs, spec.val_fraction)
    val_set = train_set.subset(held, split=HOLDOUT_SPLIT, transform=eval_transform())
    train_set.pairs = kept
    return train_set, val_set


def _criterion(
    spec: TrainSpec,
    info: DatasetInfo,
    weights: dict[str, Any] | None,
    teacher: nn.Module | None,
    device: torch.device,
) -> Loss:
    """The label loss (class-weighted when asked), blended with distillation when asked."""
    from compress.data.transforms import loss_ignore_index
    from compress.training.label_losses import label_loss

    if (spec.distill is None) != (teacher is None):
        raise ValueError("give a teacher exactly when the spec asks for distillation")
    weight_tensor = torch.tensor(weights["weights"]) if weights else None
    return training_loss(
        label_loss(spec.loss, loss_ignore_index(info.ignore_index), weight_tensor),
        teacher.to(device).eval().requires_grad_(False) if teacher is not None else None,
        spec.distill,
    )


def _amp_dtype(enabled: bool, device: torch.device) -> torch.dtype | None:
    """bf16 where the GPU supports it, else fp16 (with GradScaler); never on CPU."""
    if not enabled or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _announce(training: Training, remark: str | None) -> None:
    """Say why the input pipeline fell back, where a resume starts, the class weights."""
    reporter, start = training.reporter, training.start
    if remark:
        reporter.note(remark)
    if start:
        reporter.note(f"resuming {training.run_dir} after epoch {start}/{training.spec.epochs}")
    if training.weights and not start:
        reporter.note(weights_line(training.weights, training.info.class_names))
