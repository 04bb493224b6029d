"""Per-epoch training history: one record per epoch, saved as JSON and CSV, reported live.

The history is stored inside ``checkpoints/last.pt`` too (as plain dicts), so a resumed
run continues the same list and its total training time is the sum over all epochs,
however many times it was interrupted. :class:`EpochReporter` shows the same records
while training: a rich progress bar on a terminal, one plain line per epoch elsewhere.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from compress.core import atomic
from compress.core.errors import CompressError
from compress.core.json_files import read_json
from compress.core.specs import Spec, validation_message

HISTORY_JSON = "history.json"
HISTORY_CSV = "history.csv"


class EpochRecord(Spec):
    """One epoch: mean training loss, validation metrics (None when not validated), lr, time."""

    epoch: int = Field(ge=1)
    loss: float
    miou: float | None = None
    class_acc: float | None = None
    pixel_acc: float | None = None
    lr: float
    seconds: float = Field(ge=0)

    @property
    def validated(self) -> bool:
        return self.miou is not None


FIELDS: tuple[str, ...] = tuple(EpochRecord.model_fields)


class History:
    """An ordered list of :class:`EpochRecord` with JSON/CSV round trips."""

    def __init__(self, records: Iterable[EpochRecord] = ()) -> None:
        self.records: list[EpochRecord] = list(records)

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[EpochRecord]:
        return iter(self.records)

    def append(self, record: EpochRecord) -> None:
        """Add the next epoch; epochs must follow each other without gaps."""
        expected = self.records[-1].epoch + 1 if self.records else record.epoch
        if record.epoch != expected:
            raise ValueError(f"history expects epoch {expected}, got {record.epoch}")
        self.records.append(record)

    def best(self) -> EpochRecord | None:
        """The validated epoch with the highest mIoU (the earliest one on ties)."""
        best: EpochRecord | None = None
        for record in self.records:
            if record.miou is not None and (best is None or record.miou > best.miou):
                best = record
        return best

    def total_seconds(self) -> float:
        return float(sum(record.seconds for record in self.records))

    def to_dicts(self) -> list[dict[str, Any]]:
        return [record.model_dump() for record in self.records]

    @classmethod
    def from_dicts(cls, rows: Iterable[Mapping[str, Any]], *, source: str = "history") -> History:
        """Validate plain dicts (from JSON or a checkpoint); CompressError naming ``source``."""
        records = []
        for index, row in enumerate(rows):
            try:
                records.append(EpochRecord.model_validate(dict(row)))
            except (ValidationError, TypeError, ValueError) as error:
                detail = (
                    validation_message(error, source=f"{source}[{index}]")
                    if isinstance(error, ValidationError)
                    else f"{source}[{index}]: {error}"
                )
                raise CompressError(detail) from None
        return cls(records)

    def to_csv_text(self) -> str:
        """CSV with a header row; empty cells where an epoch was not validated."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(FIELDS)
        for record in self.records:
            writer.writerow(_cell(getattr(record, name)) for name in FIELDS)
        return buffer.getvalue()

    def write(self, run_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
        """Atomically write ``history.json`` and ``history.csv`` into ``run_dir``."""
        run_dir = Path(run_dir)
        json_path, csv_path = run_dir / HISTORY_JSON, run_dir / HISTORY_CSV
        atomic.write_json(json_path, self.to_dicts())
        atomic.write_text(csv_path, self.to_csv_text())
        return json_path, csv_path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> History:
        """Read ``history.json`` (or the one inside a run folder)."""
        path, rows = read_json(
            path, default_name=HISTORY_JSON, what=f"a {HISTORY_JSON} of a train run"
        )
        if not isinstance(rows, list):
            raise CompressError(f"{path}: expected a list of epoch records")
        return cls.from_dicts(rows, source=str(path))


class EpochReporter:
    """A rich progress bar per epoch (only on a terminal) and one summary line per epoch."""

    def __init__(self, *, enabled: bool, total_epochs: int) -> None:
        from rich.console import Console

        self.enabled = enabled
        self.total_epochs = total_epochs
        self.console = Console(stderr=True)
        self._progress: Any = None
        self._task: Any = None
        self._epoch = 0
        self._started: float | None = None  # when the first epoch of this process began
        self._first_epoch = 0

    def __enter__(self) -> EpochReporter:
        if self.enabled and self.console.is_terminal:
            from compress.core.progress import rich_bar

            self._progress = rich_bar(fields=("loss", "run_eta"), console=self.console)
            self._progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = self._task = None

    def note(self, text: str) -> None:
        if self.enabled:
            self.console.print(text, markup=False, highlight=False)

    def start_epoch(self, epoch: int, batches: int) -> None:
        self._epoch = epoch
        if self._progress is None:
            return
        description = f"epoch {epoch}/{self.total_epochs}"
        fields = {"loss": "loss (first batch running)", "run_eta": self._run_eta(epoch)}
        if self._task is None:
            self._task = self._progress.add_task(description, total=batches, **fields)
        else:
            self._progress.reset(self._task, total=batches, description=description, **fields)

    def advance(self, mean_loss: float) -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=1, loss=f"loss {mean_loss:.4f}")

    def validation(self, images: int) -> Callable[[int, int], None] | None:
        """A progress callback ``(done, total)`` for this epoch's validation pass."""
        if self._progress is None:
            return None
        self._progress.reset(
            self._task,
            total=images,
            loss="",
            run_eta="",
            description=f"validating epoch {self._epoch}",
        )

        def update(done: int, total: int) -> None:
            self._progress.update(self._task, completed=done, total=total)

        return update

    def _run_eta(self, epoch: int) -> str:
        """ "run eta H:MM:SS" from the mean duration of the epochs done in this process."""
        import time

        now = time.monotonic()
        if self._started is None:
            self._started, self._first_epoch = now, epoch
            return ""
        done = epoch - self._first_epoch
        if done < 1:
            return ""
        left = (now - self._started) / done * (self.total_epochs - epoch + 1)
        minutes, seconds = divmod(int(left), 60)
        return f"(all epochs: {minutes // 60}:{minutes % 60:02d}:{seconds:02d} left)"

    def end_epoch(self, record: EpochRecord, improved: bool) -> None:
        parts = [f"epoch {record.epoch}/{self.total_epochs}", f"loss {record.loss:.4f}"]
        if record.miou is not None:
            parts.append(f"val mIoU {100 * record.miou:.2f}%" + (" (best)" if improved else ""))
        parts += [f"lr {record.lr:.3g}", f"{record.seconds:.1f} s"]
        self.note("  ".join(parts))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(value)
    return str(value)
