"""Progress of long steps, reported where the caller wants it (a terminal bar, plain
lines for logs, or nowhere) without passing a callback through every function.

Library code wraps a long loop in :func:`task` and calls ``advance()`` once per unit
(a layer, an image, a timed run); the CLI decides once, in :func:`use`, how that is
shown. Without a reporter (the library used from Python) nothing is printed.

    with task("factorizing", total=len(layers)) as step:
        for layer in layers:
            ...
            step.advance(layer.name)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol


class Task(Protocol):
    def advance(self, label: str | None = None, amount: int = 1) -> None: ...


class Reporter(Protocol):
    def start(self, description: str, total: int | None) -> Task: ...
    def finish(self, task: Task) -> None: ...


class _Silent:
    def advance(self, label: str | None = None, amount: int = 1) -> None:
        return None


class PlainLines:
    """Progress as plain lines (logs, pipes): a step that runs longer than ``interval``
    seconds prints a line every ``interval`` seconds and one when it ends; a short step
    prints nothing. No control characters, never a line per batch."""

    def __init__(self, stream=None, interval: float = 10.0) -> None:  # noqa: ANN001
        self.stream = stream
        self.interval = interval

    def start(self, description: str, total: int | None) -> Task:
        return _PlainTask(self, description, total)

    def finish(self, task: Task) -> None:
        if isinstance(task, _PlainTask):
            task.close()

    def write(self, text: str) -> None:
        print(text, file=self.stream or sys.stderr, flush=True)


class _PlainTask:
    def __init__(self, owner: PlainLines, description: str, total: int | None) -> None:
        self.owner, self.description, self.total = owner, description, total
        self.done, self.started = 0, time.monotonic()
        self.last = self.started
        self.spoke = False

    def advance(self, label: str | None = None, amount: int = 1) -> None:
        self.done += amount
        now = time.monotonic()
        if now - self.last >= self.owner.interval:
            self.last, self.spoke = now, True
            count = f"{self.done}/{self.total}" if self.total else str(self.done)
            self.owner.write(f"{self.description}: {count}" + (f" {label}" if label else ""))

    def close(self) -> None:
        if self.spoke:
            seconds = time.monotonic() - self.started
            self.owner.write(f"{self.description}: done ({self.done}) in {seconds:.1f} s")


def rich_bar(*, fields: tuple[str, ...], console: Any, auto_refresh: bool = True) -> Any:
    """The project's one bar layout: description, bar, done/total, the task ``fields``
    (``label``, ``loss``, ...), elapsed time and ETA. A transient ``rich.progress.Progress``."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    first, *rest = fields
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(f"{{task.fields[{first}]}}"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        *(TextColumn(f"{{task.fields[{name}]}}") for name in rest),
        console=console,
        transient=True,
        auto_refresh=auto_refresh,
    )


_CURRENT: ContextVar[Reporter | None] = ContextVar("segcompress_progress", default=None)


@contextmanager
def use(reporter: Reporter | None) -> Iterator[None]:
    """Report every :func:`task` inside this block through ``reporter`` (None: silent)."""
    token = _CURRENT.set(reporter)
    try:
        yield
    finally:
        _CURRENT.reset(token)


@contextmanager
def task(description: str, total: int | None = None) -> Iterator[Task]:
    """A long step of ``total`` units (None: unknown), reported by the current reporter."""
    reporter = _CURRENT.get()
    if reporter is None:
        yield _Silent()
        return
    current = reporter.start(description, total)
    try:
        yield current
    finally:
        reporter.finish(current)
