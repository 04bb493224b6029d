"""Render a comparison as a rich table, Markdown, CSV, JSON or the study's one-line format.

Human formats (table, md, study) show a missing value as "—"; machine formats keep raw
numbers (CSV: an empty cell, JSON: ``null``) so they parse without special cases. Sizes in
MB are 10^6 bytes.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from compress.core import atomic
from compress.core.errors import CompressError
from compress.core.units import format_count, format_duration, format_mb, format_ms, format_ratio
from compress.reporting.compare import Comparison, ComparisonRow

if TYPE_CHECKING:
    from rich.table import Table

MISSING = "—"
FORMATS: tuple[str, ...] = ("table", "md", "csv", "json", "study")
EXTENSIONS: dict[str, str] = {".md": "md", ".markdown": "md", ".csv": "csv", ".json": "json"}
CSV_FIELDS: tuple[str, ...] = (
    "name",
    "baseline",
    "model",
    "kind",
    "steps",
    "miou",
    "delta_miou",
    "latency_key",
    "latency_ms",
    "speedup",
    "size_bytes",
    "size_ratio",
    "macs",
    "macs_ratio",
    "params",
    "training_seconds",
    "speedup_vs_eager",
    "study_miou",
    "parent",
    "parent_delta_miou",
    "parent_speedup",
    "parent_size_ratio",
)


@dataclass(frozen=True)
class Column:
    """A displayed column: header, the row field it shows (for "best") and its formatter."""

    header: str
    field: str
    render: Callable[[ComparisonRow], str | None]
    numeric: bool = True


def columns(latency_key: str | None) -> list[Column]:
    """The displayed columns of the table and Markdown formats."""
    latency_header = f"ms ({latency_key})" if latency_key else "ms"
    return [
        Column("run", "name", lambda r: r.name, numeric=False),
        Column("baseline", "baseline", lambda r: r.baseline, numeric=False),
        Column("steps", "steps", lambda r: r.steps or None, numeric=False),
        Column("mIoU %", "miou", lambda r: _num(r.miou, lambda v: f"{100 * v:.2f}")),
        Column("Δ pts", "delta_miou", lambda r: _num(r.delta_miou, lambda v: f"{v:+.2f}")),
        Column(latency_header, "latency_ms", lambda r: _num(r.latency_ms, format_ms)),
        Column("speedup", "speedup", lambda r: _num(r.speedup, format_ratio)),
        Column("× eager", "speedup_vs_eager", lambda r: _num(r.speedup_vs_eager, format_ratio)),
        Column("MB", "size_bytes", lambda r: _num(r.size_bytes, format_mb)),
        Column("size ×", "size_ratio", lambda r: _num(r.size_ratio, format_ratio)),
        Column("MACs", "macs", lambda r: _num(r.macs, format_count)),
        Column("MACs ×", "macs_ratio", lambda r: _num(r.macs_ratio, format_ratio)),
        Column("params", "params", lambda r: _num(r.params, format_count)),
        Column("train", "training_seconds", lambda r: _num(r.training_seconds, format_duration)),
        Column("vs parent", "parent", parent_cell, numeric=False),
    ]


def parent_cell(row: ComparisonRow) -> str | None:
    """A chained variant against its parent: ``NAME: -0.12 pts, 3.10× faster, 3.9× smaller``."""
    if row.parent is None:
        return None
    parts = [
        _num(row.parent_delta_miou, lambda v: f"{v:+.2f} pts"),
        _num(row.parent_speedup, lambda v: f"{format_ratio(v)} faster"),
        _num(row.parent_size_ratio, lambda v: f"{format_ratio(v)} smaller"),
    ]
    shown = [part for part in parts if part is not None]
    return f"{row.parent}: {', '.join(shown)}" if shown else row.parent


def render_table(comparison: Comparison, *, show_steps: bool = True) -> Table:
    """A rich table; the best value of each rankable column in bold green.

    The latency key goes into the title; ``show_steps=False`` drops the (wide) steps
    column so the numbers fit a narrow terminal.
    """
    from rich import box
    from rich.table import Table
    from rich.text import Text

    best = comparison.best()
    title = "Each variant against its own baseline"
    if comparison.latency_key:
        title += f" (latency: p50 of {comparison.latency_key})"
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    cols = [c for c in columns(None) if show_steps or c.field != "steps"]
    for column in cols:
        if column.numeric:  # numbers never wrap; names and steps may
            table.add_column(column.header, justify="right", no_wrap=True)
        else:
            table.add_column(column.header, overflow="fold", min_width=4)
    for row in comparison.rows:
        cells = []
        for column in cols:
            text = column.render(row) or MISSING
            style = "bold green" if row.name in best.get(column.field, set()) else ""
            cells.append(Text(text, style=style))
        table.add_row(*cells)
    return table


def print_table(comparison: Comparison) -> None:
    """Print the rich table to stdout; when piped, wide enough that numbers never wrap."""
    from rich.console import Console

    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    console.print(render_table(comparison, show_steps=console.width >= 120))
    for line in note_lines(comparison):
        console.print(line, markup=False)


def note_lines(comparison: Comparison) -> list[str]:
    """One line per figure left out of a row as not comparable (empty when none)."""
    return [f"{row.name}: {note}" for row in comparison.rows for note in row.notes]


def to_text_table(comparison: Comparison, *, width: int = 200) -> str:
    """The rich table as plain text (no colour), for writing to a file."""
    from rich.console import Console

    console = Console(file=io.StringIO(), width=width, color_system=None, record=True)
    console.print(render_table(comparison))
    return console.export_text()


def to_markdown(comparison: Comparison) -> str:
    """A GitHub-flavoured Markdown table; the best values in bold."""
    best = comparison.best()
    cols = columns(comparison.latency_key)
    lines = [
        "| " + " | ".join(_md_escape(c.header) for c in cols) + " |",
        "|" + "|".join("---:" if c.numeric else "---" for c in cols) + "|",
    ]
    for row in comparison.rows:
        cells = []
        for column in cols:
            text = column.render(row)
            if text is None:
                cells.append(MISSING)
                continue
            text = _md_escape(text)
            cells.append(f"**{text}**" if row.name in best.get(column.field, set()) else text)
        lines.append("| " + " | ".join(cells) + " |")
    notes = note_lines(comparison)
    if notes:
        lines += ["", *(f"- {_md_escape(line)}" for line in notes)]
    return "\n".join(lines) + "\n"


def to_csv(comparison: Comparison) -> str:
    """One CSV row per run with raw values (fractions, ms, bytes); empty cell = missing."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(CSV_FIELDS), lineterminator="\n")
    writer.writeheader()
    for row in comparison.rows:
        record = row.to_dict()
        record["latency_key"] = comparison.latency_key
        writer.writerow({k: "" if record[k] is None else record[k] for k in CSV_FIELDS})
    return buffer.getvalue()


def to_json(comparison: Comparison) -> str:
    """The comparison as a JSON document (``null`` = missing)."""
    return json.dumps(comparison.to_dict(), indent=2, ensure_ascii=False) + "\n"


def study_line(row: ComparisonRow) -> str:
    """The study's line: name (training mins, inference ms, size mb, IoU).

    IoU is the study's per-image formula (``study_miou``, docs/metrics.md), as its table
    reported; the data-set-level mIoU of the other formats is a different number.
    """
    minutes = _num(row.training_seconds, lambda s: f"{s / 60:.3f} mins")
    latency = _num(row.latency_ms, lambda ms: f"{ms:.3f} ms")
    size = _num(row.size_bytes, lambda b: f"{format_mb(b)} mb")
    iou = _num(row.study_miou, lambda v: f"{v:.3f}")
    values = ", ".join(v if v is not None else MISSING for v in (minutes, latency, size, iou))
    return f"{row.name} ({values})"


def to_study(comparison: Comparison) -> str:
    """The study's comparative table: one line per run (training, inference, size, IoU)."""
    return "".join(study_line(row) + "\n" for row in comparison.rows)


def render_text(comparison: Comparison, fmt: str) -> str:
    """The comparison in the text format ``fmt`` (one of :data:`FORMATS`)."""
    check_format(fmt)
    renderers: dict[str, Callable[[Comparison], str]] = {
        "table": to_text_table,
        "md": to_markdown,
        "csv": to_csv,
        "json": to_json,
        "study": to_study,
    }
    return renderers[fmt](comparison)


def check_format(fmt: str) -> str:
    """``fmt`` itself if it is a known format; CompressError listing the valid ones otherwise."""
    if fmt not in FORMATS:
        raise CompressError(f"--format {fmt!r} is not known; valid formats: {', '.join(FORMATS)}")
    return fmt


def format_for_path(path: str | os.PathLike[str], fmt: str | None) -> str:
    """The format to write ``path`` in: ``fmt`` when given, else from the file extension."""
    if fmt is not None:
        return check_format(fmt)
    suffix = Path(path).suffix.lower()
    if suffix not in EXTENSIONS:
        known = ", ".join(EXTENSIONS)
        raise CompressError(
            f"--out {path}: cannot tell the format from extension {suffix or '(none)'!r}; "
            f"use one of {known} or pass --format ({', '.join(FORMATS)})"
        )
    return EXTENSIONS[suffix]


def write_comparison(
    comparison: Comparison, path: str | os.PathLike[str], fmt: str | None = None
) -> str:
    """Atomically write the comparison to ``path``; return the format used."""
    chosen = format_for_path(path, fmt)
    atomic.write_text(path, render_text(comparison, chosen))
    return chosen


def _num(value: float | None, render: Callable[[float], str]) -> str | None:
    return None if value is None else render(value)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")
