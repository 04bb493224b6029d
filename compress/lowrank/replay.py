"""Replay a recorded factorization on a freshly built model: how factorized checkpoints reload.

A checkpoint stores the base model's spec, the structure step written by
:func:`compress.lowrank.apply.factorize_model` (per layer: name, method actually used,
ranks, original weight shape) and the factorized weights. Loading builds the base model,
calls :func:`replay_factorize` - which swaps each recorded layer for the same-shaped,
uninitialised low-rank structure, without decomposing anything - and then loads the
weights strictly. A layer that is missing or has another shape is reported by name.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from compress.core.checkpoint import require_step_format
from compress.core.errors import CompressError
from compress.lowrank.catalog import FACTORIZATION_METHODS, load_method

SOURCE = "factorize step"


def replay_factorize(model: nn.Module, step: dict[str, Any]) -> nn.Module:
    """Give ``model`` (in place) the layer structure ``step`` records; return it.

    Raises:
        CompressError: the step is malformed or does not fit this model.
    """
    from compress.lowrank.apply import STEP_FORMAT

    require_step_format(step, STEP_FORMAT, source=SOURCE)
    layers = step.get("layers")
    if not isinstance(layers, list):
        raise CompressError(f"{SOURCE}: layers is {type(layers).__name__}, expected a list")
    for index, entry in enumerate(layers):
        name, method, ranks, shape = _entry(entry, index)
        layer = _layer(model, name)
        actual = [int(v) for v in layer.weight.shape]
        if actual != shape:
            raise CompressError(
                f"{SOURCE}: layer {name!r} has weight shape {actual}, but the factorized model "
                f"was made from shape {shape}; was the checkpoint written for another model?"
            )
        module = load_method(method).build(layer, ranks)
        module.train(layer.training)
        model.set_submodule(name, module)
    return model


def _entry(entry: Any, index: int) -> tuple[str, str, list[int], list[int]]:
    where = f"{SOURCE}: layers[{index}]"
    if not isinstance(entry, dict):
        raise CompressError(f"{where} is {type(entry).__name__}, expected a dict")
    name, method = entry.get("name"), entry.get("method")
    ranks, shape = entry.get("ranks"), entry.get("weight_shape")
    if not isinstance(name, str) or not name:
        raise CompressError(f"{where}: name {name!r} is not a module name")
    if method not in FACTORIZATION_METHODS:
        raise CompressError(
            f"{where}: method {method!r} is unknown; valid: {', '.join(FACTORIZATION_METHODS)}"
        )
    for field, value in (("ranks", ranks), ("weight_shape", shape)):
        if (
            not isinstance(value, list)
            or not value
            or any(type(v) is not int or v < 1 for v in value)
        ):
            raise CompressError(f"{where}: {field} {value!r} is not a list of positive ints")
    return name, method, list(ranks), list(shape)


def _layer(model: nn.Module, name: str) -> nn.Module:
    try:
        layer = model.get_submodule(name)
    except AttributeError:
        raise CompressError(
            f"{SOURCE}: layer {name!r} is not a module of {type(model).__name__}; was the "
            "checkpoint written for another model?"
        ) from None
    if not isinstance(layer, nn.Conv2d | nn.Linear):
        raise CompressError(
            f"{SOURCE}: layer {name!r} is a {type(layer).__name__}, not a Conv2d or Linear"
        )
    return layer
