"""``compress.save`` / ``compress.load``: checkpoints of any model, loaded without pickle.

A checkpoint holds the model's builder by name, its options, the structure steps that
compressed it and the weights (:mod:`compress.core.checkpoint`). Loading rebuilds the
model from the builder, replays the steps and loads the weights strictly; a builder
given as ``"package.module:builder"`` is imported only when the caller names it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from torch import nn

from compress.api.record import record_of
from compress.core.errors import CompressError
from compress.core.specs import ModelSpec


def save(
    model: nn.Module,
    path: str | os.PathLike[str],
    *,
    builder: str | None = None,
    num_classes: int | None = None,
    options: dict[str, Any] | None = None,
    dataset: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` to ``path`` (atomically) as a weights-only checkpoint.

    A model from :func:`compress.build` (or :func:`compress.load`) knows its builder;
    any other needs ``builder`` (a registered name or ``"package.module:builder"``),
    ``num_classes`` and the builder's ``options``. The structure steps recorded by
    :func:`compress.prune` / :func:`compress.factorize` are saved with it.
    """
    from compress.core.checkpoint import save_checkpoint

    record = record_of(model)
    if builder is not None:
        if num_classes is None:
            raise CompressError("compress.save: builder= needs num_classes= too")
        spec = ModelSpec(name=builder, num_classes=num_classes, options=dict(options or {}))
    elif record["spec"] is not None:
        spec = ModelSpec.model_validate(record["spec"])
    else:
        raise CompressError(
            f"compress.save: this {type(model).__name__} was not built by compress.build; "
            "say how to rebuild it: builder='package.module:function', num_classes=..., "
            "options={...}"
        )
    return Path(
        save_checkpoint(path, model, spec, structure=list(record["structure"]), dataset=dataset)
    )


def load(path: str | os.PathLike[str], *, builder: str | None = None) -> nn.Module:
    """The model saved at ``path``, rebuilt and in eval mode.

    A checkpoint of a ``"package.module:builder"`` model loads only when that builder
    is named: pass it as ``builder`` (or set ``$SEGCOMPRESS_MODELS``).
    """
    from baselines.registry import name_builder
    from compress.core.checkpoint import load_checkpoint

    if builder is not None:
        name_builder(builder)
    checkpoint = load_checkpoint(path)
    record = record_of(checkpoint.model)
    record["spec"] = checkpoint.spec.model_dump(mode="json")
    record["structure"] = list(checkpoint.structure)
    return checkpoint.model
