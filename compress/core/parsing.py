"""Parsing text values from a command line or a file: sizes, choice lists, ``key=value``.

They raise :class:`CompressError` naming the option and what would be valid, so that
every command reports a bad value the same way (one line, exit code 2). Nothing heavy
is imported here.
"""

from __future__ import annotations

import re

from compress.core.errors import CompressError
from compress.core.specs import parse_key_values  # noqa: F401  (re-exported for the commands)

_SIZE = re.compile(r"^\s*(\d+)\s*(?:[xX]\s*(\d+)\s*)?$")


def parse_size(text: str, *, option: str = "--input-size") -> tuple[int, int]:
    """``"750x1000"`` -> ``(750, 1000)`` (height, width); ``"256"`` -> ``(256, 256)``."""
    match = _SIZE.match(text or "")
    if match is None:
        raise CompressError(
            f"{option} {text!r} is not a size; expected HxW such as 750x1000 or one number "
            "such as 256"
        )
    height = int(match.group(1))
    width = int(match.group(2)) if match.group(2) is not None else height
    if height < 1 or width < 1:
        raise CompressError(f"{option} {text!r} must have a positive height and width")
    return height, width


def parse_choices(text: str, *, option: str, valid: tuple[str, ...]) -> list[str]:
    """``"torch,ort"`` -> ``["torch", "ort"]``; every item must be one of ``valid``."""
    items = [item.strip().lower() for item in (text or "").split(",") if item.strip()]
    if not items:
        raise CompressError(f"{option} is empty; expected one or more of {', '.join(valid)}")
    for item in items:
        if item not in valid:
            raise CompressError(
                f"{option} {item!r} is not valid; expected one or more of {', '.join(valid)}"
            )
    return list(dict.fromkeys(items))


def check_positive(value: int | None, *, option: str, minimum: int = 1) -> int | None:
    """Return ``value`` if it is ``None`` or at least ``minimum``; CompressError otherwise."""
    if value is not None and value < minimum:
        raise CompressError(f"{option} must be at least {minimum}, got {value}")
    return value
