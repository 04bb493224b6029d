"""Fold every BatchNorm that directly follows a convolution into that convolution.

Inference-time int8 kernels see one convolution with a bias, not Conv + BN, so
quantization-aware training must quantize the *folded* weights (otherwise it trains
ranges for weights that never ship). Conv -> BN pairs are found by running one example
through the model with hooks (a BN whose input is exactly a conv's output tensor), which
works for any module structure - Sequential blocks, torchvision's ResNet attributes,
MobileNet's Conv2dNormActivation - without tracing. The folded copy is then checked
against the original on the example: a conv whose output is also used elsewhere would
change the result, and is reported instead of silently mis-folded.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
from torch import nn

from compress.measure.inference import output_logits


@dataclass
class FoldReport:
    """Which pairs were folded and how far the folded copy is from the original."""

    folded: list[tuple[str, str]] = field(default_factory=list)  # (conv name, bn name)
    unfolded_batchnorms: list[str] = field(default_factory=list)
    max_abs_diff: float = 0.0


def conv_bn_pairs(model: nn.Module, example: torch.Tensor) -> list[tuple[str, str]]:
    """``(conv name, bn name)`` for every BatchNorm2d fed directly by a Conv2d's output."""
    names = {module: name for name, module in model.named_modules()}
    outputs: dict[int, tuple[str, torch.Tensor]] = {}
    pairs: dict[str, str] = {}
    used: set[str] = set()

    def on_conv(module: nn.Module, _inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        outputs[id(out)] = (names[module], out)  # keep `out` alive: ids stay unique

    def on_bn(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        found = outputs.get(id(inputs[0]))
        if found is not None and found[1] is inputs[0]:
            bn_name = names[module]
            if found[0] in used and pairs.get(bn_name) != found[0]:
                return  # one conv feeding two BNs: fold neither twice
            pairs[bn_name] = found[0]
            used.add(found[0])

    handles = [
        m.register_forward_hook(on_conv) for m in model.modules() if type(m) is nn.Conv2d
    ] + [m.register_forward_pre_hook(on_bn) for m in model.modules() if type(m) is nn.BatchNorm2d]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(example)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return [(conv, bn) for bn, conv in pairs.items()]


def fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    """Fold ``bn``'s (eval-mode) affine transform into ``conv``'s weight and bias, in place."""
    with torch.no_grad():
        std = torch.sqrt(bn.running_var + bn.eps)
        gamma = bn.weight if bn.weight is not None else torch.ones_like(std)
        beta = bn.bias if bn.bias is not None else torch.zeros_like(std)
        factor = gamma / std
        bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
        conv.weight.mul_(factor.reshape(-1, 1, 1, 1))
        new_bias = (bias - bn.running_mean) * factor + beta
        if conv.bias is None:
            conv.bias = nn.Parameter(new_bias)
        else:
            conv.bias.copy_(new_bias)


def fold_batchnorms(
    model: nn.Module, example: torch.Tensor, *, tolerance: float = 1e-3
) -> tuple[nn.Module, FoldReport]:
    """A deep copy of ``model`` with every foldable BN folded and replaced by Identity.

    Raises:
        RuntimeError: the folded copy's logits differ from the original's by more than
            ``tolerance`` x their largest magnitude (a conv output used twice).
    """
    folded = copy.deepcopy(model).eval()
    report = FoldReport()
    for conv_name, bn_name in conv_bn_pairs(folded, example):
        bn = folded.get_submodule(bn_name)
        if not bn.track_running_stats or bn.running_var is None:
            continue
        fold_conv_bn(folded.get_submodule(conv_name), bn)
        parent_name, _, attr = bn_name.rpartition(".")
        setattr(folded.get_submodule(parent_name), attr, nn.Identity())
        report.folded.append((conv_name, bn_name))
    report.unfolded_batchnorms = [
        name for name, m in folded.named_modules() if isinstance(m, nn.BatchNorm2d)
    ]
    was_training = model.training
    try:
        with torch.no_grad():
            reference, got = output_logits(model.eval()(example)), output_logits(folded(example))
    finally:
        model.train(was_training)
    report.max_abs_diff = float((reference - got).abs().max())
    scale = float(reference.abs().max()) or 1.0
    if report.max_abs_diff > tolerance * scale + 1e-6:
        raise RuntimeError(
            f"folding BatchNorm changed the model's output by {report.max_abs_diff:.3g} "
            f"(logit scale {scale:.3g}); a folded conv's output is used elsewhere"
        )
    return folded, report
