"""Empirical bias correction: remove the mean output error that int8 weights cause.

Quantizing a conv's weights ``W -> W_q`` shifts the mean of each output channel by
``E[(W_q - W) x]``, over calibration images and spatial positions, ``x`` being the
layer's float input (Nagel et al. 2019, section 4.2; NNCF's fast bias correction). That
shift is measured on the calibration set in one float forward pass and subtracted from
the conv's bias (a bias is created where there is none), so the int8 layer's mean output
matches the float layer's on those images.

``W_q`` is quantized exactly as ONNX Runtime's QDQ quantizer does for Conv weights:
symmetric int8, per output channel (or per tensor), ``scale = max|w| / 127`` with
values in ``[-127, 127]``, or with ``reduce_range`` (7-bit, non-VNNI x86) ``scale =
max|w| / 64`` in ``[-64, 64]`` (``onnxruntime.quantization.quant_utils``), rounded half
to even. The correction must simulate the precision the export will use
(:func:`compress.quantization.cpu_features.choose_int8_format`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import torch
from torch import nn

# ONNX Runtime's symmetric int8 weight ranges: full, and reduce_range (7 bits)
QMAX = {False: 127, True: 64}


@dataclass
class BiasCorrectionReport:
    """Which convs were corrected, on how many images, and by how much."""

    layers: list[str] = field(default_factory=list)
    images: int = 0
    mean_abs_shift: float = 0.0  # mean over corrected channels of |bias change|
    max_abs_shift: float = 0.0
    weight_qmax: int = 127


def quantize_weight(
    weight: torch.Tensor, *, per_channel: bool = True, reduce_range: bool = False
) -> torch.Tensor:
    """``weight`` quantized to int8 and dequantized, as ONNX Runtime quantizes Conv weights."""
    qmax = QMAX[reduce_range]
    w = weight.detach().float()
    absmax = w.abs().flatten(1).amax(1) if per_channel else w.abs().amax().reshape(1)
    scale = (2 * absmax.double() / (2 * qmax)).float()  # float64 range / levels, stored fp32
    scale = torch.where(scale > torch.finfo(torch.float32).tiny, scale, torch.ones_like(scale))
    shape = (-1, *[1] * (w.dim() - 1))
    q = torch.clamp(torch.round(w / scale.reshape(shape)), -128, 127)  # fp32, half to even
    return (q * scale.reshape(shape)).to(weight.dtype)


def quantized_convs(model: nn.Module, skip: Iterable[str] = ()) -> dict[str, nn.Conv2d]:
    """The ``nn.Conv2d`` modules ONNX Runtime will quantize: all but ``skip`` subtrees."""
    prefixes = [s.strip(".") for s in skip if s]
    return {
        name: m
        for name, m in model.named_modules()
        if type(m) is nn.Conv2d and not any(name == p or name.startswith(p + ".") for p in prefixes)
    }


def mean_weight_errors(
    model: nn.Module,
    images: Iterable[torch.Tensor],
    convs: dict[str, nn.Conv2d],
    *,
    per_channel: bool = True,
    reduce_range: bool = False,
) -> tuple[dict[str, torch.Tensor], int]:
    """Per conv, the mean over images and positions of ``(W_q - W) x`` (float64), and
    the number of images; ``x`` is each conv's input in the float ``model``."""
    deltas = {
        name: quantize_weight(m.weight, per_channel=per_channel, reduce_range=reduce_range)
        - m.weight.detach()
        for name, m in convs.items()
    }
    sums = {name: torch.zeros(m.out_channels, dtype=torch.float64) for name, m in convs.items()}
    counts = dict.fromkeys(convs, 0)

    def hook(name: str):  # noqa: ANN202 - a forward pre-hook
        def record(module: nn.Conv2d, inputs: tuple[torch.Tensor, ...]) -> None:
            error = module._conv_forward(inputs[0], deltas[name], None)
            sums[name] += error.double().sum(dim=(0, 2, 3))
            counts[name] += error.shape[0] * error.shape[2] * error.shape[3]

        return record

    handles = [m.register_forward_pre_hook(hook(name)) for name, m in convs.items()]
    seen = 0
    try:
        model.eval()
        with torch.no_grad():
            for image in images:
                model(image)
                seen += 1
    finally:
        for handle in handles:
            handle.remove()
    return {name: sums[name] / counts[name] for name in convs if counts[name]}, seen


def correct_biases(
    model: nn.Module,
    images: Iterable[torch.Tensor],
    *,
    per_channel: bool = True,
    reduce_range: bool = False,
    skip: Iterable[str] = (),
) -> BiasCorrectionReport:
    """Subtract each quantized conv's mean weight-quantization error from its bias, in place."""
    convs = quantized_convs(model, skip)
    means, seen = mean_weight_errors(
        model, images, convs, per_channel=per_channel, reduce_range=reduce_range
    )
    shifts = []
    with torch.no_grad():
        for name, mean in means.items():
            conv = convs[name]
            if conv.bias is None:
                conv.bias = nn.Parameter(torch.zeros_like(conv.weight[:, 0, 0, 0]))
            conv.bias.sub_(mean.to(conv.bias.dtype))
            shifts.append(mean.abs())
    every = torch.cat(shifts) if shifts else torch.zeros(1, dtype=torch.float64)
    return BiasCorrectionReport(
        layers=list(means),
        images=seen,
        mean_abs_shift=float(every.mean()),
        max_abs_shift=float(every.max()),
        weight_qmax=QMAX[reduce_range],
    )
