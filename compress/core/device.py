"""Turn a user's device string into a ``torch.device``, failing clearly when it cannot work."""

from __future__ import annotations

import re

import torch

from compress.core.errors import CompressError

VALID = "cpu, cuda, cuda:N or auto"
_CUDA = re.compile(r"cuda(?::(\d+))?")


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """The device for ``name``: ``auto`` is CUDA when available, else the CPU.

    Raises:
        CompressError: ``cuda``/``cuda:N`` without CUDA (or without GPU N), or a name
            that is none of cpu, cuda, cuda:N, auto.
    """
    if isinstance(name, torch.device):
        name = str(name)
    text = str(name).strip().lower()
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if text == "cpu":
        return torch.device("cpu")
    match = _CUDA.fullmatch(text)
    if match is None:
        raise CompressError(f"unknown device {name!r}; valid devices: {VALID}")
    if not torch.cuda.is_available():
        raise CompressError(
            f"device {name!r} needs CUDA, which this machine lacks; use --device cpu or auto"
        )
    if match.group(1) is not None:
        index, count = int(match.group(1)), torch.cuda.device_count()
        if index >= count:
            raise CompressError(
                f"device {name!r} does not exist; this machine has CUDA devices 0..{count - 1}"
            )
    return torch.device(text)
