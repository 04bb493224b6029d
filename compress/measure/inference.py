"""Running a model for inference: eval mode on a device, logits of a batch, masks.

Shared by evaluation (:mod:`compress.measure.evaluate`) and prediction
(:mod:`compress.deploy.predict`). A predictor is an ``nn.Module`` or any callable that
maps an NCHW float batch to logits (a tensor, an array or ``{"out": ...}``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from compress.core.device import resolve_device
from compress.core.errors import CompressError

Predictor = nn.Module | Callable[[Tensor], Any]


@contextmanager
def inference_context(predict: Predictor, device: torch.device) -> Iterator[None]:
    """Eval mode on ``device`` under ``torch.inference_mode``; modes and device restored after."""
    if not isinstance(predict, nn.Module):
        with torch.inference_mode():
            yield
        return
    modes = {module: module.training for module in predict.modules()}
    tensors = [*predict.parameters(), *predict.buffers()]
    home = tensors[0].device if tensors else None
    predict.to(device).eval()
    try:
        with torch.inference_mode():
            yield
    finally:
        if home is not None:
            predict.to(home)
        for module, training in modes.items():
            module.training = training


def output_logits(output: Any) -> Tensor:
    """The logits in a model's output: the tensor itself, ``output["out"]`` (torchvision's
    segmentation models) or the first item of a list or tuple (auxiliary heads follow)."""
    if isinstance(output, dict):
        output = output["out"]
    if isinstance(output, (list, tuple)):
        output = output[0]
    return torch.as_tensor(output)


def logits_of(predict: Predictor, batch: Tensor) -> Tensor:
    """Run ``predict`` on an NCHW float batch and check that logits ``[N, C, H, W]`` come back."""
    out = output_logits(predict(batch))
    if out.dim() != 4 or out.shape[0] != batch.shape[0]:
        raise CompressError(
            f"model returned shape {tuple(out.shape)} for input {tuple(batch.shape)}; "
            "expected logits [N, classes, H, W]"
        )
    return out


def predict_mask(model: Predictor, image: Tensor, *, device: str | torch.device = "cpu") -> Tensor:
    """Class ids (int64, CPU) of a normalised float image ``[3, H, W]`` or ``[N, 3, H, W]``."""
    single = image.dim() == 3
    batch = image.unsqueeze(0) if single else image
    if batch.dim() != 4 or batch.shape[1] != 3 or not batch.is_floating_point():
        raise CompressError(
            f"image must be a float tensor [3, H, W] or [N, 3, H, W], got "
            f"{tuple(image.shape)} {image.dtype}"
        )
    target = resolve_device(device)
    with inference_context(model, target):
        mask = logits_of(model, batch.to(target)).argmax(dim=1).cpu()
    return mask[0] if single else mask
