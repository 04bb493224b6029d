"""Short notes printed under a command's result (a busy machine during timing, ...)."""

from __future__ import annotations

from typing import Any


def warn_if_busy(env: dict[str, Any], *, timed: bool = True) -> None:
    """Say so when a result's latencies were measured on a busy machine (``timed``: the
    command measured latency at all)."""
    from compress.measure.environment import busy_note

    note = busy_note(env) if timed else None
    if note is not None:
        from rich.console import Console

        Console().print(f"[yellow]note[/yellow]: {note}", highlight=False)
