"""``open_baseline``: the model (or ONNX file) and data a variant starts from.

A baseline is a registered model (fresh init), a checkpoint (which names its own model
and replays its structure steps) or an fp32 ONNX file (quantization only). Opening it
also resolves the spec: canonical model name, class count, absolute paths and the
file's SHA-256, so a retrained file at the same path keys another run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from compress.core.results import RESULT_FILE
from compress.core.specs import ModelSpec
from compress.pipeline.spec import VariantSpec


@dataclass
class OpenedBaseline:
    """The baseline a variant starts from, opened: model (None for an ONNX file), spec, data."""

    model: nn.Module | None
    model_spec: ModelSpec | None
    structure: list[dict[str, Any]]
    dataset: dict[str, Any] | None
    fresh: bool
    info: Any
    onnx: Path | None = None
    name: str | None = None  # the run folder name of a checkpoint's training run
    own_dataset: dict[str, Any] | None = None  # what the checkpoint itself recorded


def open_baseline(spec: VariantSpec) -> tuple[OpenedBaseline, VariantSpec]:
    """Open the spec's baseline and data; also the spec with its baseline resolved.

    Resolved: canonical model name, class count, absolute paths, and the checkpoint's
    SHA-256 (a retrained file at the same path is another run).
    """
    from compress.core.runs import file_sha256
    from compress.deploy.base_model import BaseModelSource, open_base

    ref = spec.baseline
    data = str(Path(spec.data).resolve()) if spec.data else None
    if ref.onnx is not None:
        from compress.core.onnx_files import check_image_input, load_onnx, read_metadata

        # CompressError if absent, corrupt or not an image model, before any folder exists
        check_image_input(load_onnx(ref.onnx), ref.onnx)
        info = None
        if data is not None:
            from compress.data import load_dataset_info

            info = load_dataset_info(data)
        meta = read_metadata(ref.onnx)
        onnx_path = Path(ref.onnx).resolve()
        resolved = spec.model_copy(
            update={
                "data": data,
                "baseline": ref.model_copy(
                    update={"onnx": str(onnx_path), "checkpoint_sha256": file_sha256(ref.onnx)}
                ),
            }
        )
        opened = OpenedBaseline(
            None,
            None,
            list(meta.get("structure") or []),
            meta.get("dataset"),
            False,
            info,
            onnx=onnx_path,
            name=onnx_path.parent.name or None,
        )
        return opened, resolved
    source = BaseModelSource(
        ref.model, ref.checkpoint, ref.num_classes, ref.model_options, data, spec.seed
    )
    base = open_base(source)
    name = None
    if ref.checkpoint is not None:
        folder = Path(ref.checkpoint).parent
        name = folder.name if (folder / RESULT_FILE).is_file() else None
    opened = OpenedBaseline(
        base.model,
        base.spec,
        base.structure,
        base.dataset,
        base.fresh,
        base.info,
        name=name,
        own_dataset=base.own_dataset,
    )
    resolved_ref = ref.model_copy(update=base.resolved)
    return opened, spec.model_copy(update={"baseline": resolved_ref, "data": data})
