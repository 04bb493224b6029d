"""ONNX export with dynamic batch/height/width, metadata, and a parity check that must pass.

Exporter choice: the TorchScript exporter (``dynamo=False``) is the default. It handled
every registered model - the UNet's shape-dependent padding, ASPP's adaptive pooling,
bilinear upsampling to the input size - with dynamic axes, in about a second per model,
where the torch.export-based exporter needed ~30 s for one DeepLab on this machine.
Its two deprecation notices (not about this export's correctness) are filtered by exact
message; tracer warnings are left visible. ``exporter="dynamo"`` remains available.
Whatever the exporter, ``check_parity`` (:mod:`compress.deploy.parity`) compares ONNX
Runtime with PyTorch at the export size *and* another size, and fails (CompressError)
below 99.9% argmax agreement.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from compress.core import atomic
from compress.core.errors import CompressError
from compress.core.onnx_files import METADATA_PREFIX
from compress.core.specs import Spec
from compress.deploy.base_model import open_model
from compress.deploy.parity import ParityReport, check_parity, parity_images

if TYPE_CHECKING:
    import torch
    from torch import nn

INPUT_NAME = "image"
OUTPUT_NAME = "logits"
Exporter = Literal["torchscript", "dynamo"]
_DEPRECATION_NOTICES = (
    r"You are using the legacy TorchScript-based ONNX export",
    r"The feature will be removed\. Please remove usage of this function",
)


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike[str],
    *,
    input_size: tuple[int, int] = (256, 256),
    opset: int = 17,
    metadata: dict[str, Any] | None = None,
    exporter: Exporter = "torchscript",
) -> Path:
    """Export ``model`` (in eval mode) to ``path`` atomically; return the path.

    The graph has one input ``image`` (N x 3 x H x W) and one output ``logits``
    (N x K x H x W) with dynamic N, H, W. ``metadata`` values (JSON-encoded unless
    strings) are stored in ``metadata_props`` under ``segcompress.<key>``.
    """
    import onnx
    import torch

    if exporter not in ("torchscript", "dynamo"):
        raise CompressError(f"unknown exporter {exporter!r}; valid: torchscript, dynamo")
    if exporter == "dynamo" and opset < 18:
        raise CompressError(f"the dynamo exporter needs opset >= 18, got --opset {opset}")
    if exporter == "dynamo" and not _module_available("onnxscript"):
        raise CompressError(
            "the dynamo exporter needs the onnxscript package (pip install onnxscript); "
            "or use the default --exporter torchscript"
        )
    was_training = model.training
    model.eval()
    with tempfile.TemporaryDirectory(prefix="segcompress-export-") as folder:
        raw = Path(folder) / "model.onnx"
        try:
            example = torch.randn(1, 3, *input_size, generator=torch.Generator().manual_seed(0))
            example = example.to(next(iter(model.parameters()), example).device)
            _torch_export(model, example, raw, opset=opset, exporter=exporter)
        except (RuntimeError, MemoryError):
            # only on failure: one forward pass tells "too small / too large for the model"
            # (a one-line CompressError) from an exporter bug (re-raised as it was)
            from compress.measure.macs import count_macs_params

            count_macs_params(model, input_size)
            raise
        finally:
            model.train(was_training)
        proto = onnx.load(str(raw))
    props = {"exporter": exporter, "opset": opset, "export_input_size": list(input_size)}
    props.update(metadata or {})
    for key, value in props.items():
        entry = proto.metadata_props.add()
        entry.key = METADATA_PREFIX + key
        entry.value = value if isinstance(value, str) else json.dumps(value)
    onnx.checker.check_model(proto)
    atomic.write_with(path, lambda tmp: onnx.save(proto, str(tmp)))
    return Path(path)


def _module_available(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _torch_export(
    model: nn.Module, example: torch.Tensor, path: Path, *, opset: int, exporter: Exporter
) -> None:
    import torch

    if exporter == "dynamo":
        from torch.export import Dim

        axes = {0: Dim.DYNAMIC, 2: Dim.DYNAMIC, 3: Dim.DYNAMIC}
        torch.onnx.export(
            model,
            (example,),
            str(path),
            dynamo=True,
            opset_version=opset,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_shapes=(axes,),
            verbose=False,
        )
        return
    axes_names = {0: "batch", 2: "height", 3: "width"}
    with warnings.catch_warnings():
        for message in _DEPRECATION_NOTICES:
            warnings.filterwarnings("ignore", message=message, category=DeprecationWarning)
        torch.onnx.export(
            model,
            (example,),
            str(path),
            dynamo=False,
            opset_version=opset,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            do_constant_folding=True,
            dynamic_axes={INPUT_NAME: axes_names, OUTPUT_NAME: axes_names},
        )


class ExportSpec(Spec):
    """What ``compress export`` does: which model, where, and how parity is checked."""

    model: str | None = None
    checkpoint: Path | None = None
    num_classes: int = Field(default=8, ge=1)
    options: dict[str, Any] = Field(default_factory=dict)
    out: Path
    opset: int = Field(default=17, ge=11)
    input_size: tuple[int, int] = (256, 256)
    exporter: Exporter = "torchscript"
    parity_images: int = Field(default=4, ge=1)
    data: Path | None = None
    split: str = "val"
    min_agreement: float = Field(default=0.999, gt=0, le=1)
    seed: int = 0

    @field_validator("model")
    @classmethod
    def _canonical(cls, name: str | None) -> str | None:
        from baselines.registry import canonical_name

        return None if name is None else canonical_name(name)

    @model_validator(mode="after")
    def _one_source(self) -> ExportSpec:
        if (self.model is None) == (self.checkpoint is None):
            raise ValueError("give exactly one of model (--model) or checkpoint (--checkpoint)")
        if min(self.input_size) < 1:
            raise ValueError(f"input_size must be positive, got {self.input_size}")
        return self


@dataclass
class ExportOutcome:
    """An exported ONNX file and its parity report."""

    path: Path
    parity_path: Path
    report: ParityReport
    metadata: dict[str, Any]


def parity_path_for(onnx_path: str | os.PathLike[str]) -> Path:
    """``model.onnx`` -> ``model.parity.json`` (beside it)."""
    path = Path(onnx_path)
    stem = path.stem if path.suffix == ".onnx" else path.name
    return path.with_name(f"{stem}.parity.json")


def export_model(spec: ExportSpec) -> ExportOutcome:
    """Export, check, and prove parity; the ONNX file appears only if parity passed."""
    if spec.out.is_dir():
        raise CompressError(f"--out {spec.out} is a folder; expected a file such as model.onnx")
    loaded = open_model(
        model=spec.model,
        checkpoint=spec.checkpoint,
        num_classes=spec.num_classes,
        options=spec.options,
        seed=spec.seed,
    )
    metadata = loaded.metadata()
    with atomic.atomic_path(spec.out) as tmp:
        export_onnx(
            loaded.model,
            tmp,
            input_size=spec.input_size,
            opset=spec.opset,
            metadata=metadata,
            exporter=spec.exporter,
        )
        # after the export: a size the model cannot run at is refused there, in one line
        images, source = parity_images(
            spec.parity_images, spec.input_size, data=spec.data, split=spec.split, seed=spec.seed
        )
        report = check_parity(
            loaded.model, tmp, images, min_agreement=spec.min_agreement, source=source
        )
    report.onnx = str(spec.out)
    parity_path = parity_path_for(spec.out)
    atomic.write_json(parity_path, report.to_dict())
    return ExportOutcome(spec.out, parity_path, report, metadata)
