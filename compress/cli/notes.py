"""Short notes printed under a command's result (a busy machine during timing, ...)."""

from __future__ import annotations

from typing import Any


def warn_if_busy(env: dict[str, Any]) -> None:
    """Say so when a result's latencies were measured on a busy machine."""
    from compress.measure.environment import busy_note

    note = busy_note(env)
    if note is not None:
        from rich.console import Console

        Console().print(f"[yellow]note[/yellow]: {note}", highlight=False)
