"""Training runs: ``train(spec, out)`` builds the spec's model (or loads ``--init``) into a
run folder and trains it with :func:`compress.training.fit.fit`.

``fit``, ``TrainResult`` and the run folder's file names are re-exported here, so
``from compress.training.train import fit`` keeps working.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from compress.core.errors import CompressError
from compress.core.paths import require_file
from compress.core.results import load_result
from compress.core.runs import prepare_run_dir
from compress.training.distributed import main_first, processes
from compress.training.fit import BEST_FILE, CURVES_FILE, LAST_FILE, TrainResult, fit, resolve_spec
from compress.training.history import HISTORY_JSON, EpochReporter, History
from compress.training.train_spec import TrainSpec

__all__ = [
    "BEST_FILE",
    "CURVES_FILE",
    "LAST_FILE",
    "TrainResult",
    "fit",
    "resolve_spec",
    "stored_result",
    "train",
]


def train(
    spec: TrainSpec,
    out: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    stop_after_epoch: int | None = None,
) -> TrainResult:
    """Build the spec's model and train it into the run folder ``out``.

    A folder already holding a finished run of this very spec returns its stored result
    without training; an unfinished one needs ``resume=True``. ``stop_after_epoch`` is a
    test hook that simulates an interruption after that (absolute) epoch.
    """
    from baselines.registry import get_model, model_options
    from compress.core.device import resolve_device

    spec, _ = resolve_spec(spec)
    structure: list[dict[str, Any]] = []
    # Build first: a bad option or a missing weights file must not leave a run folder
    # behind that would then refuse the corrected spec.
    if spec.init is not None:
        model, spec, structure = _initial_model(spec)
    else:
        options = dict(spec.model_options)
        if spec.pretrained:
            if "pretrained" not in model_options(spec.model):
                raise CompressError(
                    f"model {spec.model!r} has no pretrained weights option; drop --pretrained"
                )
            options["pretrained"] = True
        torch.manual_seed(spec.seed)  # weight initialisation
        model = get_model(spec.model, num_classes=spec.num_classes, **options)
    device = resolve_device(spec.device)  # no CUDA, an unknown name: refused before the folder
    procs = processes(device.type)  # under torchrun: rank 0 claims the folder for all
    folder = main_first(
        procs, lambda: prepare_run_dir(out, spec.model_dump(mode="json"), kind="train")
    )
    if folder.finished:
        EpochReporter(enabled=progress, total_epochs=spec.epochs).note(
            f"{folder.path} already holds this finished run; returning its result"
        )
        return stored_result(folder.path)
    last = folder.path / LAST_FILE
    if last.is_file() and not resume:
        raise CompressError(
            f"run folder {folder.path} holds an unfinished run of this spec ({last}); "
            "pass --resume to continue it, or choose another --out"
        )
    return fit(
        model,
        spec,
        folder.path,
        structure=structure,
        resume=resume,
        progress=progress,
        stop_after_epoch=stop_after_epoch,
    )


def _initial_model(spec: TrainSpec) -> tuple[nn.Module, TrainSpec, list[dict[str, Any]]]:
    """The model of ``spec.init`` (structure steps replayed), checked against the spec.

    Returns the model, the spec with the checkpoint's architecture options, absolute path
    and digest filled in (a retrained file at the same path is another run), and the
    checkpoint's structure steps, which every checkpoint of this run carries on.
    """
    from compress.core.checkpoint import load_checkpoint
    from compress.core.runs import file_sha256

    assert spec.init is not None
    path = require_file(Path(spec.init).expanduser(), "--init", "a checkpoint (.pt) file")
    loaded = load_checkpoint(path)
    if loaded.spec.name != spec.model:
        raise CompressError(
            f"--init {spec.init} holds model {loaded.spec.name!r}, not {spec.model!r}; "
            f"pass --model {loaded.spec.name}"
        )
    if loaded.spec.num_classes != spec.num_classes:
        raise CompressError(
            f"--init {spec.init} predicts {loaded.spec.num_classes} classes but data set "
            f"{spec.data} has {spec.num_classes}"
        )
    resolved = spec.model_copy(
        update={
            "init": str(path.resolve()),
            "init_sha256": file_sha256(str(path)),
            "model_options": dict(loaded.spec.options),
        }
    )
    return loaded.model.train(), resolved, list(loaded.structure)


def stored_result(run_dir: str | Path) -> TrainResult:
    """The TrainResult of a finished run folder, read back from its files."""
    run_dir = Path(run_dir)
    history_path = run_dir / HISTORY_JSON
    history = History.load(history_path) if history_path.is_file() else History()
    return TrainResult(run_dir=run_dir, history=history, result=load_result(run_dir), reused=True)
