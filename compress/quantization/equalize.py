"""Cross-layer equalisation (Nagel et al. 2019, "Data-Free Quantization"; AIMET, NNCF).

For a chain ``conv1 -> (ReLU | identity) -> conv2`` in which conv2 is the only consumer of
conv1's output, output channel ``i`` of conv1 (weights and bias) is divided by ``s_i`` and
input channel ``i`` of conv2 multiplied by ``s_i``. ReLU is positively homogeneous
(``relu(x / s) * s == relu(x)`` for ``s > 0``), so the float function is unchanged, and
``s_i = sqrt(r1_i * r2_i) / r2_i`` makes both ranges ``sqrt(r1_i * r2_i)``: per-channel
weight scales of the two layers no longer waste bits on one outlier channel each. The
range of a channel is its largest ``|w|`` (what symmetric per-channel int8 scales by).

Run it on a model whose BatchNorms are folded (:func:`compress.quantization.fold.
fold_batchnorms`): a BN between the convs is not positively homogeneous per channel.
ReLU6, hard-swish and every other activation are skipped: ReLU6 clips at 6, and scaling
its input would move the clip per channel (no ONNX op keeps that exact). Pairs are found
with forward hooks (module consumers) and each is then verified structurally: scaling it
by factors of 2 must leave the model's output unchanged on the example, which rejects
any pair whose tensors are also used by a functional op (a residual add, a concat).
Grouped and depthwise convs need nothing special: input channel ``i`` of a grouped conv2
reaches only the output channels of its group, and exactly those weights are scaled.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from compress.measure.inference import output_logits

PASS_THROUGH = (nn.Identity, nn.Dropout, nn.Dropout2d)
HOMOGENEOUS = (nn.ReLU,)  # relu(x / s) * s == relu(x) for s > 0
MAX_PASSES = 50  # chains conv -> conv -> conv converge geometrically; stop well before
CONVERGED = 1e-6  # largest |log s| of a pass below which equalisation stops


@dataclass
class EqualizeReport:
    """Which conv pairs were equalised, which were not and why, and the float change."""

    pairs: list[tuple[str, str]] = field(default_factory=list)  # (conv1, conv2)
    skipped: dict[str, str] = field(default_factory=dict)  # conv1 -> reason
    passes: int = 0
    max_abs_diff: float = 0.0


def _is_conv(module: nn.Module) -> bool:
    return type(module) is nn.Conv2d


def candidate_pairs(
    model: nn.Module, example: torch.Tensor
) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """``(conv1, conv2)`` chains seen by module hooks, and the conv1s skipped with reasons."""
    names = {module: name for name, module in model.named_modules()}
    chains: dict[int, tuple[str, torch.Tensor, int]] = {}  # id -> (conv1, tensor, hops)
    uses: dict[str, int] = {}
    calls: dict[str, int] = {}
    found: dict[str, tuple[str, int]] = {}
    skipped: dict[str, str] = {}

    def pre(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        entry = chains.get(id(inputs[0])) if inputs else None
        if entry is None or entry[1] is not inputs[0]:
            return
        uses[entry[0]] = uses.get(entry[0], 0) + 1
        if _is_conv(module):
            found.setdefault(entry[0], (names[module], entry[2]))
        elif not isinstance(module, (*PASS_THROUGH, *HOMOGENEOUS)):
            kind = type(module).__name__
            skipped[entry[0]] = f"followed by {kind}, which scaling would change"

    def post(module: nn.Module, inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        name = names[module]
        if _is_conv(module):
            calls[name] = calls.get(name, 0) + 1
            chains[id(out)] = (name, out, 0)
            return
        entry = chains.get(id(inputs[0])) if inputs else None
        passes = isinstance(module, (*PASS_THROUGH, *HOMOGENEOUS))
        if entry is not None and entry[1] is inputs[0] and isinstance(out, torch.Tensor) and passes:
            chains[id(out)] = (entry[0], out, entry[2] + 1)

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_pre_hook(pre) for m in leaves]
    handles += [m.register_forward_hook(post) for m in leaves]
    try:
        with torch.no_grad():
            model.eval()(example)
    finally:
        for handle in handles:
            handle.remove()
    pairs = []
    for conv1, (conv2, hops) in found.items():
        if uses.get(conv1, 0) != hops + 1:
            skipped[conv1] = skipped.get(conv1, "its output has more than one consumer")
        elif calls.get(conv1) != 1 or calls.get(conv2) != 1:
            skipped[conv1] = "a conv of the pair is called more than once"
        else:
            skipped.pop(conv1, None)
            pairs.append((conv1, conv2))
    return pairs, skipped


def channel_ranges(conv1: nn.Conv2d, conv2: nn.Conv2d) -> tuple[torch.Tensor, torch.Tensor]:
    """``(r1, r2)``: max |w| of conv1's output channels and of conv2's input channels."""
    r1 = conv1.weight.detach().abs().flatten(1).amax(1)
    groups = conv2.groups
    w2 = conv2.weight.detach().abs()
    per_group = w2.reshape(groups, w2.shape[0] // groups, w2.shape[1], -1)
    r2 = per_group.amax(dim=(1, 3)).reshape(-1)  # [groups * in_per_group] == in_channels
    return r1, r2


def scale_pair(conv1: nn.Conv2d, conv2: nn.Conv2d, s: torch.Tensor) -> None:
    """Divide conv1's output channel i by ``s[i]``, multiply conv2's input channel i by it."""
    with torch.no_grad():
        conv1.weight.div_(s.reshape(-1, *[1] * (conv1.weight.dim() - 1)))
        if conv1.bias is not None:
            conv1.bias.div_(s)
        groups, w2 = conv2.groups, conv2.weight
        view = w2.view(groups, w2.shape[0] // groups, w2.shape[1], *w2.shape[2:])
        view.mul_(s.reshape(groups, 1, w2.shape[1], *[1] * (w2.dim() - 2)))


def equalizing_scales(conv1: nn.Conv2d, conv2: nn.Conv2d) -> torch.Tensor:
    """``s_i = sqrt(r1_i * r2_i) / r2_i`` (1 where either range is zero: a dead channel)."""
    r1, r2 = channel_ranges(conv1, conv2)
    alive = (r1 > 0) & (r2 > 0)
    s = torch.ones_like(r1)
    s[alive] = torch.sqrt(r1[alive] * r2[alive]) / r2[alive]
    return s


def _same(model: nn.Module, example: torch.Tensor, reference: torch.Tensor, tol: float) -> float:
    with torch.no_grad():
        diff = float((output_logits(model(example)) - reference).abs().max())
    return diff if diff <= tol * (float(reference.abs().max()) or 1.0) + 1e-6 else -1.0


def equalize(model: nn.Module, example: torch.Tensor, *, tolerance: float = 1e-4) -> EqualizeReport:
    """Equalise every verified conv pair of ``model`` in place (BatchNorms folded first).

    Raises:
        RuntimeError: the equalised model's output differs from the original's by more
            than ``tolerance`` x its largest logit (cannot happen for verified pairs).
    """
    model.eval()
    with torch.no_grad():
        reference = output_logits(model(example))
    pairs, skipped = candidate_pairs(model, example)
    report = EqualizeReport(skipped=skipped)
    for conv1_name, conv2_name in pairs:
        conv1, conv2 = model.get_submodule(conv1_name), model.get_submodule(conv2_name)
        probe = torch.full((conv1.out_channels,), 2.0)
        probe[::2] = 0.5
        scale_pair(conv1, conv2, probe)
        unchanged = _same(model, example, reference, tolerance) >= 0
        scale_pair(conv1, conv2, 1.0 / probe)
        if unchanged:
            report.pairs.append((conv1_name, conv2_name))
        else:
            report.skipped[conv1_name] = "its output is also used outside the module chain"
    modules = [(model.get_submodule(a), model.get_submodule(b)) for a, b in report.pairs]
    for report.passes in range(1, MAX_PASSES + 1):
        largest = 0.0
        for conv1, conv2 in modules:
            s = equalizing_scales(conv1, conv2)
            scale_pair(conv1, conv2, s)
            largest = max(largest, float(s.log().abs().max()))
        if largest < CONVERGED:
            break
    report.max_abs_diff = _same(model, example, reference, tolerance)
    if report.max_abs_diff < 0:
        raise RuntimeError("cross-layer equalisation changed the model's output")
    return report
