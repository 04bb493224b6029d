"""ONNX export with dynamic batch/height/width, metadata, and a parity check that must pass.

Exporter choice: the TorchScript exporter (``dynamo=False``) is the default. It handled
every registered model - the UNet's shape-dependent padding, ASPP's adaptive pooling,
bilinear upsampling to the input size - with dynamic axes, in about a second per model,
where the torch.export-based exporter needed ~30 s for one DeepLab on this machine.
Its two deprecation notices (not about this export's correctness) are filtered by exact
message; tracer warnings are left visible. ``exporter="dynamo"`` remains available.
Whatever the exporter, :func:`check_parity` compares ONNX Runtime with PyTorch at the
export size *and* another size, and fails (CompressError) below 99.9% argmax agreement.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from compress.core import atomic
from compress.core.errors import CompressError
from compress.core.onnx_files import METADATA_PREFIX
from compress.core.onnx_files import decode_metadata as decode_metadata  # re-export (0.1 home)
from compress.core.onnx_files import load_onnx as load_onnx  # re-export (0.1 home)
from compress.core.onnx_files import read_metadata as read_metadata  # re-export (0.1 home)
from compress.core.specs import ModelSpec, Spec

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
    example = torch.randn(1, 3, *input_size, generator=torch.Generator().manual_seed(0))
    example = example.to(next(iter(model.parameters()), example).device)
    with tempfile.TemporaryDirectory(prefix="segcompress-export-") as folder:
        raw = Path(folder) / "model.onnx"
        try:
            _torch_export(model, example, raw, opset=opset, exporter=exporter)
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
            model, (example,), str(path), dynamo=True, opset_version=opset,
            input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], dynamic_shapes=(axes,),
            verbose=False,
        )  # fmt: skip
        return
    axes_names = {0: "batch", 2: "height", 3: "width"}
    with warnings.catch_warnings():
        for message in _DEPRECATION_NOTICES:
            warnings.filterwarnings("ignore", message=message, category=DeprecationWarning)
        torch.onnx.export(
            model, (example,), str(path), dynamo=False, opset_version=opset,
            input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], do_constant_folding=True,
            dynamic_axes={INPUT_NAME: axes_names, OUTPUT_NAME: axes_names},
        )  # fmt: skip


@dataclass
class ParityReport:
    """How closely ONNX Runtime reproduces PyTorch on the same images."""

    onnx: str
    source: str
    sizes: list[list[int]]
    pixels: int
    max_abs_diff: float
    mean_abs_diff: float
    max_abs_logit: float  # scale of PyTorch's logits, to read max_abs_diff against
    agreement: float
    min_agreement: float
    passed: bool
    images: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_parity(
    model: nn.Module,
    onnx_path: str | os.PathLike[str],
    images: list[torch.Tensor],
    *,
    min_agreement: float = 0.999,
    source: str = "synthetic",
) -> ParityReport:
    """Compare PyTorch and ONNX Runtime logits on ``images`` (CHW or NCHW tensors).

    Raises:
        CompressError: output shapes differ, or fewer than ``min_agreement`` of all
            pixels get the same argmax class.
    """
    import torch

    from compress.measure.inference import output_logits
    from compress.measure.runtimes import OrtRunner

    if not images:
        raise ValueError("check_parity needs at least one image")
    runner = OrtRunner(onnx_path, device="cpu")
    device = next(iter(model.parameters()), torch.empty(0)).device
    was_training = model.training
    model.eval()
    rows: list[dict[str, Any]] = []
    total_pixels = agreeing = elements = 0
    abs_sum = max_abs = logit_scale = 0.0
    try:
        for image in images:
            x = (image.unsqueeze(0) if image.dim() == 3 else image).float()
            with torch.inference_mode():
                reference = output_logits(model(x.to(device))).float().cpu()
            got = runner(x.cpu())
            size = [int(x.shape[-2]), int(x.shape[-1])]
            if got.shape != reference.shape:
                raise CompressError(
                    f"{onnx_path}: ONNX output shape {tuple(got.shape)} differs from PyTorch "
                    f"{tuple(reference.shape)} at input {size[0]}x{size[1]}"
                )
            diff = (got - reference).abs()
            same = int((got.argmax(1) == reference.argmax(1)).sum())
            pixels = reference.shape[0] * reference.shape[-2] * reference.shape[-1]
            rows.append({"size": size, "max_abs_diff": float(diff.max()),
                         "agreement": same / pixels})  # fmt: skip
            total_pixels += pixels
            agreeing += same
            abs_sum += float(diff.sum())
            elements += diff.numel()
            max_abs = max(max_abs, float(diff.max()))
            logit_scale = max(logit_scale, float(reference.abs().max()))
    finally:
        model.train(was_training)
    agreement = agreeing / total_pixels
    report = ParityReport(
        onnx=str(onnx_path),
        source=source,
        sizes=[list(s) for s in dict.fromkeys(tuple(r["size"]) for r in rows)],
        pixels=total_pixels,
        max_abs_diff=max_abs,
        mean_abs_diff=abs_sum / max(1, elements),
        max_abs_logit=logit_scale,
        agreement=agreement,
        min_agreement=min_agreement,
        passed=agreement >= min_agreement,
        images=rows,
    )
    if not report.passed:
        raise CompressError(
            f"ONNX parity failed for {onnx_path}: argmax agreement {agreement:.4%} < "
            f"{min_agreement:.2%} (max |logit diff| {max_abs:.3g}) on {source} images"
        )
    return report


def parity_images(
    count: int,
    input_size: tuple[int, int],
    *,
    data: str | os.PathLike[str] | None = None,
    split: str = "val",
    seed: int = 0,
) -> tuple[list[torch.Tensor], str]:
    """Images for :func:`check_parity` and a label saying where they came from.

    Without ``data``: ``max(count, 2)`` seeded random images alternating between
    ``input_size`` and a different size (+32 rows, +16 columns) to prove the dynamic
    axes. With ``data``: the first ``count`` images of ``split`` at their own size, plus
    the first one resized to another size if none differs from ``input_size``.
    """
    import torch
    import torch.nn.functional as F

    height, width = input_size
    other = (height + 32, width + 16)
    if data is None:
        generator = torch.Generator().manual_seed(seed)
        sizes = [input_size if i % 2 == 0 else other for i in range(max(count, 2))]
        return [torch.randn(3, h, w, generator=generator) for h, w in sizes], "synthetic"
    from compress.data import SegmentationFolder

    dataset = SegmentationFolder(data, split)
    if len(dataset) == 0:
        raise CompressError(f"--data {data}: split {split!r} holds no images")
    images = [dataset[i][0] for i in range(min(count, len(dataset)))]
    if all(tuple(image.shape[-2:]) == tuple(input_size) for image in images):
        images.append(F.interpolate(images[0][None], size=other, mode="bilinear")[0])
    return images, f"{data} split {split}"


@dataclass
class LoadedModel:
    """A model to export or benchmark, with what is known about it."""

    model: nn.Module
    spec: ModelSpec
    structure: list[dict[str, Any]] = field(default_factory=list)
    dataset: dict[str, Any] | None = None

    def metadata(self) -> dict[str, Any]:
        """What :func:`export_onnx` stores so that an ONNX file describes itself."""
        from compress import __version__

        names = (self.dataset or {}).get("class_names")
        return {
            "model": self.spec.model_dump(mode="json"),
            "num_classes": self.spec.num_classes,
            "class_names": names,
            "structure": self.structure,
            "dataset": self.dataset,
            "version": __version__,
        }


def load_model(
    *,
    model: str | None,
    checkpoint: str | os.PathLike[str] | None,
    num_classes: int = 8,
    options: dict[str, Any] | None = None,
    seed: int = 0,
) -> LoadedModel:
    """A checkpoint loaded safely, or registered model ``model`` at seeded random init."""
    if (model is None) == (checkpoint is None):
        raise CompressError("give exactly one of --model NAME or --checkpoint PATH")
    if checkpoint is not None:
        from compress.core.checkpoint import load_checkpoint

        loaded = load_checkpoint(checkpoint)
        return LoadedModel(loaded.model, loaded.spec, loaded.structure, loaded.dataset)
    import torch

    spec = ModelSpec(name=model, num_classes=num_classes, options=dict(options or {}))
    torch.manual_seed(seed)
    return LoadedModel(spec.build().eval(), spec)


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
    loaded = load_model(
        model=spec.model, checkpoint=spec.checkpoint, num_classes=spec.num_classes,
        options=spec.options, seed=spec.seed,
    )  # fmt: skip
    metadata = loaded.metadata()
    images, source = parity_images(
        spec.parity_images, spec.input_size, data=spec.data, split=spec.split, seed=spec.seed
    )
    with atomic.atomic_path(spec.out) as tmp:
        export_onnx(
            loaded.model, tmp, input_size=spec.input_size, opset=spec.opset,
            metadata=metadata, exporter=spec.exporter,
        )  # fmt: skip
        report = check_parity(
            loaded.model, tmp, images, min_agreement=spec.min_agreement, source=source
        )
    report.onnx = str(spec.out)
    parity_path = parity_path_for(spec.out)
    atomic.write_json(parity_path, report.to_dict())
    return ExportOutcome(spec.out, parity_path, report, metadata)
