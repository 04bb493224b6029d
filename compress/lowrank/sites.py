"""The layers a factorization may touch, and where each runs in the model.

``select_layers`` keeps the Conv2d / Linear / transposed-conv modules whose names match
the spec's glob patterns; ``measure_sites`` fills in each one's input and output
resolution and MACs from one forward pass on zeros (the project's one MACs convention).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from compress.core.errors import CompressError
from compress.lowrank.modules import pair

_CANDIDATES = (nn.Conv2d, nn.Linear, nn.modules.conv._ConvTransposeNd)


@dataclass
class Site:
    """A candidate layer and where it runs: resolutions and original MACs."""

    name: str
    layer: nn.Module
    in_hw: tuple[int, int] = (0, 0)
    out_hw: tuple[int, int] = (0, 0)
    macs: int = 0
    used: bool = False


def select_layers(model: nn.Module, patterns: list[str]) -> list[tuple[str, nn.Module]]:
    """Conv2d / Linear / transposed-conv modules whose names match any glob pattern."""
    layers = [(n, m) for n, m in model.named_modules() if n and isinstance(m, _CANDIDATES)]
    for pattern in patterns:
        if not any(fnmatch.fnmatchcase(name, pattern) for name, _ in layers):
            examples = ", ".join(name for name, _ in layers[:6])
            raise CompressError(
                f"--layers pattern {pattern!r} matches no conv or linear layer of "
                f"{type(model).__name__}; names look like: {examples}"
            )
    return [(n, m) for n, m in layers if any(fnmatch.fnmatchcase(n, p) for p in patterns)]


def describe(layer: nn.Module) -> str:
    """``conv 3x3 512->256 s1 d6`` / ``linear 512->10`` / ``convT 3x3 64->32 s2``."""
    if isinstance(layer, nn.Linear):
        return f"linear {layer.in_features}->{layer.out_features}"
    kh, kw = pair(layer.kernel_size)
    sh, _ = pair(layer.stride)
    dh, _ = pair(layer.dilation)
    kind = "convT" if isinstance(layer, nn.modules.conv._ConvTransposeNd) else "conv"
    text = f"{kind} {kh}x{kw} {layer.in_channels}->{layer.out_channels} s{sh}"
    text += f" d{dh}" if dh != 1 else ""
    return text + (f" g{layer.groups}" if layer.groups != 1 else "")


def measure_sites(model: nn.Module, sites: list[Site], shape: tuple[int, ...]) -> None:
    """Fill each site's resolutions and MACs from one forward pass on zeros."""
    from compress.measure.macs import _module_macs  # the project's one MACs convention

    by_module = {id(site.layer): site for site in sites}

    def hook(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        site = by_module[id(module)]
        site.used = True
        site.macs += _module_macs(module, inputs, output)
        if isinstance(module, nn.Linear):
            tokens = output.numel() // module.out_features
            site.in_hw = site.out_hw = (1, tokens)
        else:
            site.in_hw = tuple(inputs[0].shape[-2:])  # type: ignore[assignment]
            site.out_hw = tuple(output.shape[-2:])  # type: ignore[assignment]

    handles = [site.layer.register_forward_hook(hook) for site in sites]
    modes = {m: m.training for m in model.modules()}
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(shape, device=device))
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes.items():
            module.training = training
