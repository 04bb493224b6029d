"""Checks that a path given by the user is what a command expects, in one place.

"does not exist" is said only of what does not exist: a folder given where a file is
expected (or the reverse) gets its own message.
"""

from __future__ import annotations

import os
from pathlib import Path

from compress.core.errors import CompressError


def require_file(path: str | os.PathLike[str], what: str, expected: str = "a file") -> Path:
    """``path`` as a Path if it is a file; CompressError saying what it is otherwise."""
    path = Path(path)
    if path.is_dir():
        raise CompressError(f"{what} {path} is a folder; expected {expected}")
    if not path.exists():
        raise CompressError(f"{what} {path} does not exist")
    if not path.is_file():
        raise CompressError(f"{what} {path} is not a regular file; expected {expected}")
    return path


def require_folder(path: str | os.PathLike[str], what: str, expected: str = "a folder") -> Path:
    """``path`` as a Path if it is a folder; CompressError saying what it is otherwise."""
    path = Path(path)
    if path.is_dir():
        return path
    if path.exists():
        raise CompressError(f"{what} {path} is a file; expected {expected}")
    raise CompressError(f"{what} {path} does not exist; expected {expected}")
