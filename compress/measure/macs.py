"""Count a model's multiply-accumulates (MACs) and parameters with one forward pass.

What counts as a MAC here: the multiply-adds of convolution and linear weights only -
``Conv1d/2d/3d`` (any subclass, grouped and dilated included), ``ConvTranspose1d/2d/3d``
and ``Linear``. Biases, BatchNorm, activations, pooling, interpolation and element-wise
ops (the attention gate's multiply, ASPP's concat) are not MACs and are left out; they
are a few percent of a CNN's arithmetic. This is the "conv MACs" convention of the
study's derived costs and of the DeepLab / MobileNet papers.

Why not ``torch_pruning.utils.count_ops_and_params`` as is (checked on torch-pruning
1.6): it counts a ConvTranspose2d at its *output* positions - 4x too many for the UNet's
stride-2 upsampling, whose true cost is k*k*C_in*C_out per *input* pixel; it adds one op
per element for BatchNorm (2 if affine), ReLU, pooling and ``nn.Upsample`` but none for
Hardswish, Sigmoid or ``F.interpolate``; it matches layer types exactly, so a subclass of
Conv2d counts zero; and it deep-copies the model. Its Conv2d count without bias equals
ours (tests/measure/test_macs.py checks that layer by layer).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from compress.core.errors import CompressError, first_line, out_of_memory
from compress.core.units import format_count  # one count format project-wide

__all__ = ["count_macs_params", "format_count", "registered_model_costs"]

if TYPE_CHECKING:
    from torch import nn


def _module_macs(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> int:
    """MACs of one call of ``module`` (0 for layers that hold no multiply-adds)."""
    from torch import nn

    if isinstance(module, nn.modules.conv._ConvTransposeNd):
        # Every input pixel scatters a k x k x (C_out / groups) kernel per input channel.
        kernel = math.prod(module.kernel_size)
        return inputs[0].numel() * kernel * module.out_channels // module.groups
    if isinstance(module, nn.modules.conv._ConvNd):
        kernel = math.prod(module.kernel_size)
        return output.numel() * kernel * module.in_channels // module.groups
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    return 0


def count_macs_params(
    model: nn.Module, input_size: tuple[int, int] = (256, 256), in_channels: int = 3
) -> tuple[int, int]:
    """(MACs per image, parameters) of ``model`` on a 1 x C x H x W zeros input.

    Runs one forward pass in eval mode under ``no_grad`` on the model's device, without
    copying the model; every submodule's train/eval mode is restored afterwards.

    Raises:
        CompressError: ``input_size`` or ``in_channels`` is not positive, or the model
            cannot run at that size (e.g. too small for its downsamplings).
    """
    import torch

    height, width = _check_size(input_size, in_channels)
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    dtype = first.dtype if first is not None and first.is_floating_point() else torch.float32
    modes = {module: module.training for module in model.modules()}
    total = 0

    def hook(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        nonlocal total
        total += _module_macs(module, inputs, output)

    handles = [module.register_forward_hook(hook) for module in model.modules()]
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, in_channels, height, width, device=device, dtype=dtype))
    except (RuntimeError, MemoryError) as error:
        shape = f"1x{in_channels}x{height}x{width}"
        advice = (
            "use a smaller input size"
            if out_of_memory(error)
            else _size_advice(model, in_channels, height, width, device, dtype)
        )
        raise CompressError(
            f"{type(model).__name__} cannot run on a {shape} input ({first_line(error)}); {advice}"
        ) from None
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes.items():
            module.training = training
    params = sum(parameter.numel() for parameter in model.parameters())
    return total, params


def _size_advice(
    model: nn.Module, in_channels: int, height: int, width: int, device: Any, dtype: Any
) -> str:
    """ "use HxW (a multiple of N)" when padding would make the model run, else "try a
    larger input size"."""
    import torch

    from compress.measure.padding import size_multiple

    zeros = torch.zeros(1, in_channels, height, width, device=device, dtype=dtype)
    try:
        multiple = size_multiple(model, zeros)
    except (CompressError, RuntimeError):
        return "try a larger input size"
    if multiple == 1:
        return "try a larger input size"
    up_h, up_w = -(-height // multiple) * multiple, -(-width // multiple) * multiple
    if height < multiple or width < multiple:
        return f"the input is too small for it: try at least {up_h}x{up_w}"
    return (
        f"it needs sizes divisible by {multiple}: use e.g. {up_h}x{up_w} "
        f"(evaluation pads whole images to that multiple by itself)"
    )


def _check_size(input_size: tuple[int, int], in_channels: int) -> tuple[int, int]:
    size = tuple(input_size) if isinstance(input_size, list | tuple) else ()
    if len(size) != 2 or any(type(v) is not int or v < 1 for v in size):
        raise CompressError(f"input_size must be two positive integers (H, W), got {input_size!r}")
    if type(in_channels) is not int or in_channels < 1:
        raise CompressError(f"in_channels must be a positive integer, got {in_channels!r}")
    return size  # type: ignore[return-value]


def registered_model_costs(
    *,
    num_classes: int = 8,
    input_size: tuple[int, int] = (256, 256),
    on_model: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Params and MACs of every registered model, built with default options (RGB input).

    Each entry: ``{name, aliases, params, macs, input_size: [H, W], options}``, where
    ``options`` are the builder's keyword options with their defaults. ``on_model`` is
    called with each name before it is built (progress).
    """
    from baselines import aliases_of, get_model, list_models, model_options

    _check_size(input_size, 3)
    rows: list[dict[str, Any]] = []
    for name in list_models():
        if on_model is not None:
            on_model(name)
        model = get_model(name, num_classes=num_classes)
        macs, params = count_macs_params(model, input_size)
        rows.append(
            {
                "name": name,
                "aliases": aliases_of(name),
                "params": params,
                "macs": macs,
                "input_size": list(input_size),
                "options": {k: _jsonable(v) for k, v in model_options(name).items()},
            }
        )
    return rows


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
