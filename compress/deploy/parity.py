"""The parity check every ONNX file must pass: ONNX Runtime against PyTorch, same images.

:func:`check_parity` runs both on real images (or, without a data set, seeded random
inputs at the export size and another size) and fails with a CompressError below the
required argmax agreement; the report records sizes, pixels and the largest difference.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from compress.core.errors import CompressError
from compress.core.progress import task

if TYPE_CHECKING:
    import torch
    from torch import nn


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


@dataclass
class _Tally:
    """What the images so far showed: per-image rows and the totals over all of them."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    flipped_margins: list[Any] = field(default_factory=list)  # top-2 margins where classes differ
    pixels: int = 0
    agreeing: int = 0
    elements: int = 0
    abs_sum: float = 0.0
    max_abs: float = 0.0
    logit_scale: float = 0.0

    def add(self, reference: torch.Tensor, got: torch.Tensor, size: list[int]) -> None:
        """Count one image's PyTorch logits against ONNX Runtime's."""
        diff = (got - reference).abs()
        agrees = got.argmax(1) == reference.argmax(1)
        same = int(agrees.sum())
        top2 = reference.topk(2, dim=1).values if reference.shape[1] > 1 else None
        if top2 is not None and same < agrees.numel():
            self.flipped_margins.append((top2[:, 0] - top2[:, 1])[~agrees])
        pixels = reference.shape[0] * reference.shape[-2] * reference.shape[-1]
        self.rows.append(
            {"size": size, "max_abs_diff": float(diff.max()), "agreement": same / pixels}
        )
        self.pixels += pixels
        self.agreeing += same
        self.abs_sum += float(diff.sum())
        self.elements += diff.numel()
        self.max_abs = max(self.max_abs, float(diff.max()))
        self.logit_scale = max(self.logit_scale, float(reference.abs().max()))


def check_parity(
    model: nn.Module,
    onnx_path: str | os.PathLike[str],
    images: list[torch.Tensor],
    *,
    min_agreement: float = 0.999,
    source: str = "synthetic images",
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
    tally = _Tally()
    try:
        with task("parity: PyTorch vs ONNX Runtime", total=len(images)) as bar:
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
                tally.add(reference, got, size)
                bar.advance(f"{size[0]}x{size[1]}")
    finally:
        model.train(was_training)
    agreement = tally.agreeing / tally.pixels
    report = ParityReport(
        onnx=str(onnx_path),
        source=source,
        sizes=[list(s) for s in dict.fromkeys(tuple(r["size"]) for r in tally.rows)],
        pixels=tally.pixels,
        max_abs_diff=tally.max_abs,
        mean_abs_diff=tally.abs_sum / max(1, tally.elements),
        max_abs_logit=tally.logit_scale,
        agreement=agreement,
        min_agreement=min_agreement,
        passed=agreement >= min_agreement,
        images=tally.rows,
    )
    if not report.passed:
        raise CompressError(
            f"ONNX parity failed for {onnx_path}: argmax agreement {agreement:.4%} < "
            f"{min_agreement:.2%} (max |logit diff| {tally.max_abs:.3g}) on {source}"
            + _near_ties(tally.flipped_margins, tally.logit_scale)
        )
    return report


def _near_ties(margins: list[torch.Tensor], logit_scale: float) -> str:
    """Why pixels flipped, when it is that the model barely chose between two classes."""
    import torch

    if not margins:
        return ""
    median = float(torch.cat(margins).median())
    if median > 0.05 * max(logit_scale, 1e-12):
        return ""
    return (
        f"; the flipped pixels are near ties (median top-2 margin {median:.3g} of logits up "
        f"to {logit_scale:.3g}), as in a barely trained model: train it longer, or accept "
        "it with a lower --qat-min-agreement"
    )


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
        return [torch.randn(3, h, w, generator=generator) for h, w in sizes], "synthetic images"
    from compress.data import SegmentationFolder

    dataset = SegmentationFolder(data, split)
    if len(dataset) == 0:
        raise CompressError(f"--data {data}: split {split!r} holds no images")
    images = [dataset[i][0] for i in range(min(count, len(dataset)))]
    if all(tuple(image.shape[-2:]) == tuple(input_size) for image in images):
        images.append(F.interpolate(images[0][None], size=other, mode="bilinear")[0])
    return images, f"images of {data} split {split}"
