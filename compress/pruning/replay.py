"""Replay a recorded pruning on a freshly built model: how pruned checkpoints reload.

A checkpoint stores the base model's spec, the structure step written by
:meth:`compress.pruning.prune.PruningSession.record` and the pruned weights. Loading
builds the base model, calls :func:`replay_prune` - which traces it on a zeros input of
the recorded shape with the same graph preparation as pruning (broadcast gates
decoupled) and re-applies torch-pruning's history, group by group - and then loads the
weights strictly. No module is unpickled; the channel counts after replay are checked
against the ones recorded, so a mismatch is reported by layer name instead of as a
cryptic shape error.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from compress.core.checkpoint import require_step_format
from compress.core.errors import CompressError
from compress.pruning.graph import build_graph, channel_counts
from compress.pruning.spec import STEP_FORMAT

SOURCE = "prune step"


def replay_prune(model: nn.Module, step: dict[str, Any]) -> nn.Module:
    """Remove from ``model`` (in place) the channels that ``step`` records; return it.

    Raises:
        CompressError: the step is malformed or does not fit this model.
    """
    require_step_format(step, STEP_FORMAT, source=SOURCE)
    shape = _input_shape(step.get("input_shape"))
    history = _history(step.get("history"))
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    was_training = model.training
    pruning = build_graph(model, torch.zeros(shape, device=device))
    try:
        pruning.graph.load_pruning_history(history)
    except (AttributeError, IndexError, KeyError, ValueError, RuntimeError) as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0][:160]
        raise CompressError(
            f"{SOURCE}: its pruning history does not fit model {type(model).__name__} "
            f"({first}); was the checkpoint written for another architecture?"
        ) from None
    finally:
        model.train(was_training)
    _check_channels(model, step.get("channels"))
    return model


def _input_shape(value: Any) -> tuple[int, ...]:
    if (
        not isinstance(value, list | tuple)
        or len(value) < 2
        or any(type(v) is not int or v < 1 for v in value)
    ):
        raise CompressError(
            f"{SOURCE}: input_shape {value!r} is not a list of positive ints such as [1, 3, 64, 64]"
        )
    return tuple(value)


def _history(value: Any) -> list[list[Any]]:
    if not isinstance(value, list):
        raise CompressError(f"{SOURCE}: history is {type(value).__name__}, expected a list")
    entries: list[list[Any]] = []
    for index, entry in enumerate(value):
        ok = (
            isinstance(entry, list | tuple)
            and len(entry) == 3
            and isinstance(entry[0], str)
            and isinstance(entry[1], bool)
            and isinstance(entry[2], list | tuple)
            and all(type(i) is int and i >= 0 for i in entry[2])
        )
        if not ok:
            raise CompressError(
                f"{SOURCE}: history[{index}] is {entry!r:.80}; expected "
                "[layer name, is_out_channels, [channel indices]]"
            )
        entries.append([entry[0], entry[1], list(entry[2])])
    return entries


def _check_channels(model: nn.Module, expected: Any) -> None:
    if expected is None:
        return
    if not isinstance(expected, dict):
        raise CompressError(f"{SOURCE}: channels is {type(expected).__name__}, expected a dict")
    actual = channel_counts(model)
    for name, counts in expected.items():
        if actual.get(name) != list(counts):
            raise CompressError(
                f"{SOURCE}: after replay layer {name!r} has in/out channels "
                f"{actual.get(name)}, but the pruned model had {list(counts)}"
            )
