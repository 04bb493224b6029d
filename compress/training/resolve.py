"""Resolving a :class:`TrainSpec` against its data set before training: the canonical
model name, the class count, the absolute data path, the splits it needs and the number
of processes it runs in (``torchrun``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from compress.core.errors import CompressError
from compress.core.paths import require_folder
from compress.training.distributed import world_size_from_env
from compress.training.train_spec import TrainSpec

if TYPE_CHECKING:
    from compress.data import DatasetInfo

HOLDOUT_SPLIT = "train-holdout"  # what --val-fraction validates on (not the data set's val)


def resolve_spec(spec: TrainSpec) -> tuple[TrainSpec, DatasetInfo]:
    """Fill in what the data set decides: canonical model name, num_classes, absolute data path."""
    from baselines.registry import canonical_name
    from compress.data import load_dataset_info

    expected = "a data set folder with train/ and val/ splits (e.g. `compress data synth`)"
    data = require_folder(Path(spec.data).expanduser(), "--data", expected)
    info = load_dataset_info(data)
    _check_splits(data, spec.val_fraction)
    if spec.num_classes is not None and spec.num_classes != info.num_classes:
        raise CompressError(
            f"--num-classes {spec.num_classes} does not match data set {data}, which has "
            f"{info.num_classes} classes ({', '.join(info.class_names)}); leave it out"
        )
    world = world_size_from_env()
    if spec.world_size is not None and spec.world_size != world:
        raise CompressError(
            f"the spec's world_size {spec.world_size} is a run of {spec.world_size} processes: "
            f"start it with `torchrun --nproc_per_node {spec.world_size} -m compress train ...` "
            f"(this is {world})"
        )
    resolved = spec.model_copy(
        update={
            "model": canonical_name(spec.model),
            "num_classes": info.num_classes,
            "data": str(data.resolve()),
            "world_size": world if world > 1 else None,
        }
    )
    return resolved, info


def _check_splits(data: Path, val_fraction: float | None) -> None:
    """train/ must exist; val/ must exist unless ``val_fraction`` holds part of train out
    (and then must not: one source of validation images, said in the spec)."""
    from compress.data.folder import list_splits

    splits = list_splits(data)
    if "train" not in splits:
        found = ", ".join(splits) or "none"
        raise CompressError(f"--data {data} has no train split (found: {found})")
    if val_fraction is None and "val" not in splits:
        raise CompressError(
            f"--data {data} has no val split to pick the best epoch on; add one, or hold part "
            "of train out with --val-fraction (e.g. 0.15)"
        )
    if val_fraction is not None and "val" in splits:
        raise CompressError(
            f"--data {data} has its own val split; --val-fraction is for data sets without "
            "one (leave it out)"
        )
