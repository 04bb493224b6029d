"""Models that need input sizes divisible by N (32 for most encoder-decoders with skip
connections, e.g. smp's Unet): find N once, pad inputs to it, crop the logits back.

CamVid's 360 rows are no multiple of 32, so such a model fails on whole validation
images with a raw shape error in a concatenation. :func:`size_multiple` probes a model
once (eval mode, ``no_grad``, modes restored) and :func:`padded_logits` pads the bottom
and right edges with zeros (the mean colour after normalisation) and crops the logits to
the input's size, so every pixel is scored at its own position.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from compress.core.errors import CompressError, first_line, out_of_memory

MULTIPLES = (8, 16, 32, 64, 128)


def pad_to_multiple(batch: Tensor, multiple: int) -> Tensor:
    """``batch`` (N x C x H x W) zero-padded at the bottom and right to multiples."""
    height, width = batch.shape[-2:]
    pad_h, pad_w = -height % multiple, -width % multiple
    return F.pad(batch, (0, pad_w, 0, pad_h)) if pad_h or pad_w else batch


def padded_logits(predict: Any, batch: Tensor, multiple: int) -> Tensor:
    """Logits of ``batch`` computed on its padded copy, cropped back to its size."""
    from compress.measure.inference import logits_of

    logits = logits_of(predict, pad_to_multiple(batch, multiple))
    return logits[..., : batch.shape[-2], : batch.shape[-1]]


class PaddingLogits:
    """Logits of batch after batch: as they are until a batch fails with a shape error or
    comes back at another size, then (``multiple`` found once by :func:`size_multiple`)
    padded for every batch after. A model that runs as it is pays nothing extra."""

    def __init__(self, predict: Any) -> None:
        self.predict = predict
        self.multiple = 1

    def __call__(self, batch: Tensor) -> Tensor:
        from compress.measure.inference import logits_of

        if self.multiple == 1:
            logits = _at_input_size(batch, lambda: logits_of(self.predict, batch))
            if logits is not None:
                return logits
            self.multiple = size_multiple(self.predict, batch)
            if self.multiple == 1:  # runs now (a transient failure): as it is
                return logits_of(self.predict, batch)
        logits = _at_input_size(batch, lambda: padded_logits(self.predict, batch, self.multiple))
        if logits is not None:
            return logits
        # a size the probe did not foresee: look further, never below what was found
        self.multiple = size_multiple(self.predict, batch, above=self.multiple)
        return padded_logits(self.predict, batch, self.multiple)


def _at_input_size(batch: Tensor, compute: Callable[[], Tensor]) -> Tensor | None:
    """``compute()``'s N x C x H x W logits if they have ``batch``'s height and width;
    None for a shape error or another size (running out of memory is raised)."""
    try:
        out = compute()
    except RuntimeError as error:
        if out_of_memory(error):
            raise
        return None
    if out.dim() != 4 or tuple(out.shape[-2:]) != tuple(batch.shape[-2:]):
        return None
    return out


def runs_at(predict: Any, batch: Tensor) -> bool:
    """Whether ``predict`` maps ``batch`` to logits of the same height and width (a shape
    error is False; running out of memory is raised)."""
    from compress.measure.inference import output_logits

    return _at_input_size(batch, lambda: output_logits(predict(batch))) is not None


def size_multiple(predict: Any, batch: Tensor, *, above: int = 0) -> int:
    """1 if ``predict`` runs on ``batch`` as it is, else the smallest of :data:`MULTIPLES`
    (greater than ``above``) that padding ``batch`` to makes it run with logits at the
    padded size — checked at the padded size and at one multiple more, so that a size
    that happens to divide by more (96 = 3 x 32) does not pass for 16.

    Raises:
        CompressError: no multiple helps (the model's output is not at its input's size,
            or it fails for another reason), naming the size and the model's error.
    """
    with _probing(predict):
        if not above and runs_at(predict, batch):
            return 1
        for multiple in (m for m in MULTIPLES if m > above):
            padded = pad_to_multiple(batch, multiple)
            if runs_at(predict, padded) and runs_at(predict, F.pad(padded, (0, multiple) * 2)):
                return multiple
        reason = _failure(predict, batch)
    height, width = batch.shape[-2:]
    raise CompressError(
        f"{type(predict).__name__} does not give logits at the size of a {height}x{width} input "
        f"({reason}), not even padded to a multiple of {MULTIPLES[-1]}; it must return "
        "N x classes x H x W logits for N x 3 x H x W images"
    )


def _failure(predict: Any, batch: Tensor) -> str:
    from compress.measure.inference import output_logits

    try:
        out = output_logits(predict(batch))
    except RuntimeError as error:
        return first_line(error)
    return f"it returned {tuple(out.shape)}"


@contextmanager
def _probing(predict: Any) -> Iterator[None]:
    """Eval mode and ``no_grad`` for a module during probes; modes restored after."""
    modes = {m: m.training for m in predict.modules()} if isinstance(predict, nn.Module) else {}
    if isinstance(predict, nn.Module):
        predict.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for module, training in modes.items():
            module.training = training
