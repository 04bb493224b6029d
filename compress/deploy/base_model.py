"""``open_base``: the one way to open the model a run starts from, and the data it is
measured on.

Shared by every run that starts from a model (a variant's baseline, ``compress
sensitivity``, ``compress bench``, ``compress export``): a trained checkpoint (with any
structure steps it already carries, its own model name) or a freshly initialised
registered model at a seeded init, the data set's info checked against the model's
classes, and the source's fields resolved (canonical name, class count, absolute paths,
the file's digest) so that a retrained checkpoint at the same path keys a new run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from compress.core.checkpoint import Checkpoint, load_checkpoint
from compress.core.errors import CompressError
from compress.core.paths import require_folder
from compress.core.runs import file_sha256
from compress.core.specs import ModelSpec

DEFAULT_NUM_CLASSES = 8  # a fresh model without --data or --num-classes


@dataclass(frozen=True)
class BaseModelSource:
    """What names a base model: a registered name (fresh init) or a checkpoint (which
    names its own model; ``model``, if given, must match), and the data."""

    model: str | None
    checkpoint: str | None
    num_classes: int | None = None
    model_options: dict[str, Any] = field(default_factory=dict)
    data: str | None = None
    seed: int = 0

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


@dataclass
class BaseModel:
    """A base model, opened.

    ``dataset`` is what the checkpoint recorded, else the data set's info dump;
    ``own_dataset`` only what the checkpoint recorded. ``resolved`` holds the source's
    fields as a run spec stores them: ``model`` (canonical), ``num_classes``,
    ``model_options``, ``checkpoint`` (absolute) and ``checkpoint_sha256``.
    """

    model: nn.Module
    spec: ModelSpec
    structure: list[dict[str, Any]]
    fresh: bool
    info: Any = None  # the data set's DatasetInfo (None without data)
    dataset: dict[str, Any] | None = None
    own_dataset: dict[str, Any] | None = None
    resolved: dict[str, Any] = field(default_factory=dict)

    def checkpoint(self) -> Checkpoint:
        """As a :class:`Checkpoint` (whose ``metadata()`` an exported ONNX file records)."""
        return Checkpoint(self.model, self.spec, list(self.structure), self.own_dataset)


def open_base(source: BaseModelSource) -> BaseModel:
    """Open ``source``'s model and data (CompressError on a mismatch, in one line)."""
    from baselines.registry import canonical_name

    named = source.model
    if named is None and source.checkpoint is not None:  # a checkpoint names its own model
        from compress.core.checkpoint import read_payload

        named = (read_payload(source.checkpoint).get("model") or {}).get("name")
    canonical = canonical_name(named or "")
    if source.checkpoint is None:
        model, spec, structure, own, fresh = _fresh(source, canonical)
    else:
        model, spec, structure, own, fresh = _loaded(source, canonical)
    info = data_info(source.data, spec)
    dataset = own if own is not None or info is None else info.model_dump(mode="json")
    checkpoint = source.checkpoint
    resolved = {
        "model": canonical,
        "num_classes": spec.num_classes,
        "model_options": {} if checkpoint else dict(spec.options),
        "checkpoint": str(Path(checkpoint).resolve()) if checkpoint else None,
        "checkpoint_sha256": file_sha256(checkpoint) if checkpoint else None,
    }
    return BaseModel(model, spec, structure, fresh, info, dataset, own, resolved)


def open_model(
    *,
    model: str | None,
    checkpoint: str | os.PathLike[str] | None,
    num_classes: int = DEFAULT_NUM_CLASSES,
    options: dict[str, Any] | None = None,
    seed: int = 0,
) -> Checkpoint:
    """:func:`open_base` of exactly one of ``model`` / ``checkpoint``, in eval mode, as
    the :class:`Checkpoint` that ``compress export`` and ``compress bench`` need."""
    if (model is None) == (checkpoint is None):
        raise CompressError("give exactly one of --model NAME or --checkpoint PATH")
    if checkpoint is not None:
        return load_checkpoint(checkpoint)
    source = BaseModelSource(model, None, num_classes, dict(options or {}), None, seed)
    opened = open_base(source)
    opened.model.eval()
    return opened.checkpoint()


def _fresh(
    source: BaseModelSource, canonical: str
) -> tuple[nn.Module, ModelSpec, list[dict[str, Any]], dict[str, Any] | None, bool]:
    num_classes = source.num_classes
    if num_classes is None and source.data is not None:
        from compress.data import load_dataset_info

        num_classes = load_dataset_info(source.data).num_classes
    spec = ModelSpec(
        name=canonical,
        num_classes=num_classes or DEFAULT_NUM_CLASSES,
        options=source.model_options,
    )
    torch.manual_seed(source.seed)
    return spec.build(), spec, [], None, True


def _loaded(
    source: BaseModelSource, canonical: str
) -> tuple[nn.Module, ModelSpec, list[dict[str, Any]], dict[str, Any] | None, bool]:
    assert source.checkpoint is not None
    loaded = load_checkpoint(source.checkpoint)
    if loaded.spec.name != canonical:
        raise CompressError(
            f"checkpoint {source.checkpoint} holds model {loaded.spec.name!r}, not "
            f"{canonical!r} (--model {source.model}); pass --model {loaded.spec.name}"
        )
    if source.num_classes is not None and source.num_classes != loaded.spec.num_classes:
        raise CompressError(
            f"--num-classes {source.num_classes} does not match checkpoint "
            f"{source.checkpoint} ({loaded.spec.num_classes} classes); leave it out"
        )
    return loaded.model, loaded.spec, list(loaded.structure), loaded.dataset, False


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
