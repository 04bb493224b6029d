"""The model a compression step starts from, and the data it is measured on.

Shared by every technique's runner (``compress prune``, ``compress sensitivity``,
``compress factorize``): a trained checkpoint (with any structure steps it already
carries) or a freshly initialised registered model, the data set's info checked against
the model's classes, val-split metrics, and a file digest so that a retrained checkpoint
at the same path keys a new run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from compress.core.checkpoint import load_checkpoint
from compress.core.errors import CompressError
from compress.core.paths import require_folder
from compress.core.runs import file_sha256
from compress.core.specs import ModelSpec

DEFAULT_NUM_CLASSES = 8  # a fresh model without --data or --num-classes


@dataclass(frozen=True)
class BaseModelSource:
    """What names a base model: a registered name (fresh init) or a checkpoint, and data."""

    model: str
    checkpoint: str | None
    num_classes: int | None
    model_options: dict[str, Any]
    data: str | None
    seed: int

    @classmethod
    def of(cls, spec: Any) -> BaseModelSource:
        """The source named by a run spec with these fields (SensitivitySpec, ...)."""
        return cls(
            spec.model,
            spec.checkpoint,
            spec.num_classes,
            dict(spec.model_options),
            spec.data,
            spec.seed,
        )


def load_base(
    spec: BaseModelSource, canonical: str
) -> tuple[nn.Module, ModelSpec, list[dict[str, Any]], dict[str, Any] | None, bool]:
    """(model, base spec, structure so far, dataset info, fresh init?)."""
    if spec.checkpoint is None:
        num_classes = spec.num_classes
        if num_classes is None and spec.data is not None:
            from compress.data import load_dataset_info

            num_classes = load_dataset_info(spec.data).num_classes
        model_spec = ModelSpec(
            name=canonical,
            num_classes=num_classes or DEFAULT_NUM_CLASSES,
            options=spec.model_options,
        )
        torch.manual_seed(spec.seed)
        return model_spec.build(), model_spec, [], None, True
    loaded = load_checkpoint(spec.checkpoint)
    if loaded.spec.name != canonical:
        raise CompressError(
            f"checkpoint {spec.checkpoint} holds model {loaded.spec.name!r}, not {canonical!r} "
            f"(--model {spec.model}); pass --model {loaded.spec.name}"
        )
    if spec.num_classes is not None and spec.num_classes != loaded.spec.num_classes:
        raise CompressError(
            f"--num-classes {spec.num_classes} does not match checkpoint {spec.checkpoint} "
            f"({loaded.spec.num_classes} classes); leave it out"
        )
    return loaded.model, loaded.spec, list(loaded.structure), loaded.dataset, False


def resolved_base(
    spec: Any,
) -> tuple[
    nn.Module, ModelSpec, list[dict[str, Any]], dict[str, Any] | None, bool, Any, dict[str, Any]
]:
    """Open a run spec's base model and data; also the spec fields to store, resolved.

    ``spec`` has the fields of :class:`BaseModelSource`.
    Returns (model, base spec, structure so far, dataset info dump, fresh init?, DatasetInfo
    or None, spec update). The update makes the stored spec identify what was used: the
    canonical model name, the class count, absolute paths, and the checkpoint's digest (a
    retrained file at the same path is another run).
    """
    from baselines.registry import canonical_name

    canonical = canonical_name(spec.model)
    model, model_spec, structure, dataset, fresh = load_base(BaseModelSource.of(spec), canonical)
    info = data_info(spec.data, model_spec)
    if info is not None and dataset is None:
        dataset = info.model_dump(mode="json")
    update = {
        "model": canonical,
        "num_classes": model_spec.num_classes,
        "model_options": {} if spec.checkpoint else dict(model_spec.options),
        "checkpoint": str(Path(spec.checkpoint).resolve()) if spec.checkpoint else None,
        "checkpoint_sha256": file_sha256(spec.checkpoint) if spec.checkpoint else None,
        "data": str(Path(spec.data).resolve()) if spec.data else None,
    }
    return model, model_spec, structure, dataset, fresh, info, update


def data_info(data: str | None, model_spec: ModelSpec) -> Any:
    """The data set's :class:`DatasetInfo` (None without data); its classes must match."""
    if data is None:
        return None
    from compress.data import load_dataset_info

    require_folder(data, "--data", "a data set folder")
    info = load_dataset_info(data)
    if info.num_classes != model_spec.num_classes:
        raise CompressError(
            f"--data {data} has {info.num_classes} classes but the model has "
            f"{model_spec.num_classes}; use a data set with the model's classes"
        )
    return info


def val_metrics(model: nn.Module, data: str, info: Any, device: str) -> dict[str, Any]:
    """Val-split metrics as a plain dict (valid as :class:`compress.core.results.Metrics`)."""
    from compress.data import SegmentationFolder
    from compress.measure.evaluate import evaluate

    dataset = SegmentationFolder(data, "val", info=info)
    result = evaluate(
        model,
        dataset,
        num_classes=info.num_classes,
        ignore_index=info.ignore_index,
        device=device,
    )
    metrics, study = result.metrics, float(result.study_miou)
    return {
        "miou": float(metrics.miou),
        "class_acc": float(metrics.class_acc),
        "pixel_acc": float(metrics.pixel_acc),
        "per_class_iou": [None if v is None else float(v) for v in metrics.per_class_iou],
        "class_names": list(info.class_names),
        "study_miou": None if math.isnan(study) else study,
        "split": "val",
        "num_images": int(result.num_images),
    }
