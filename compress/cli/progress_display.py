"""How the CLI shows progress: a rich bar on a terminal, plain lines otherwise (logs,
pipes, ``--no-progress``), never one line per batch."""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager
from typing import Any

from compress.core.progress import PlainLines, Task, rich_bar


class RichBars:
    """One transient rich bar per running step, with counts, elapsed time and ETA.

    Redrawn only when a step advances (no background refresh thread): latency runs are
    timed between two advances, so drawing never competes with a timed run for a core.
    """

    def __init__(self) -> None:
        from rich.console import Console

        self.progress = rich_bar(
            fields=("label",), console=Console(stderr=True), auto_refresh=False
        )
        self.open = 0

    def start(self, description: str, total: int | None) -> Task:
        if self.open == 0:
            self.progress.start()
        self.open += 1
        task_id = self.progress.add_task(description, total=total, label="")
        self.progress.refresh()
        return _RichTask(self.progress, task_id)

    def finish(self, task: Task) -> None:
        if isinstance(task, _RichTask):
            self.progress.remove_task(task.task_id)
        self.open -= 1
        if self.open == 0:
            self.progress.stop()


class _RichTask:
    def __init__(self, progress: Any, task_id: Any) -> None:
        self.progress, self.task_id = progress, task_id

    def advance(self, label: str | None = None, amount: int = 1) -> None:
        self.progress.update(self.task_id, advance=amount, label=label or "", refresh=True)


def reporter_for(enabled: bool) -> Any:
    """Bars on a terminal when ``enabled``; plain lines otherwise."""
    if enabled and sys.stderr.isatty():
        return RichBars()
    return PlainLines()


def shown(progress: bool) -> AbstractContextManager[None]:
    """A command's ``--progress/--no-progress`` in force for what it runs: bars on a
    terminal with ``--progress``, plain lines without (and in logs and pipes)."""
    from compress.core.progress import use

    return use(reporter_for(progress))
