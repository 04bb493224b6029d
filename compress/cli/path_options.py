"""Typer callbacks that check input paths while the options are parsed, before a command
imports torch: a missing checkpoint or data folder answers in well under a second, with
the same words as the library's own checks (:mod:`compress.core.paths`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from compress.core.paths import require_file, require_folder

CHECKPOINT = "a checkpoint (.pt) file"
DATA = (
    "a data set folder (<split>/image + <split>/mask, or <split>/images + <split>/labels; "
    "e.g. `compress data synth`)"
)


def _checked(
    require: Callable[..., Path], what: str, expected: str
) -> Callable[[Path | None], Path | None]:
    def check(value: Path | None) -> Path | None:
        if value is not None:  # None: the option is unset
            require(value, what, expected)
        return value

    return check


def existing_file(what: str, expected: str) -> Callable[[Path | None], Path | None]:
    """A callback refusing a path that is not a file."""
    return _checked(require_file, what, expected)


def existing_folder(what: str, expected: str) -> Callable[[Path | None], Path | None]:
    """A callback refusing a path that is not a folder."""
    return _checked(require_folder, what, expected)


CHECKPOINT_HELP = "Checkpoint (train, prune, factorize; any segcompress .pt)."
DATA_HELP = "Data set folder: <split>/image+mask or <split>/images+labels."

checkpoint_file = existing_file("checkpoint", CHECKPOINT)
data_folder = existing_folder("--data", DATA)
onnx_file = existing_file("--onnx", "an ONNX (.onnx) file")
