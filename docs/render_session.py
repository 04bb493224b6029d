#!/usr/bin/env python
"""Render docs/terminal-session.cast (asciicast v2) as text for docs/terminal-session.md.

The recording is the output of docs/terminal-session.sh, where each step starts with an
echoed prompt line (``$ compress ...``). This script replays the output through a terminal
emulator (pyte, in the dev extra) and prints, for each step: a frame captured mid-way
while a progress bar was on screen, the screen when the step finished, how long the
command took to print anything, and every stretch of 2 s or more after that with no bar
on screen and nothing new printed.

    python docs/render_session.py docs/terminal-session.cast            # markdown to stdout
    python docs/render_session.py docs/terminal-session.cast --update docs/terminal-session.md

``--update`` replaces what lies between the ``<!-- session:begin -->`` and
``<!-- session:end -->`` lines of the file.

Rich draws a bar's unfilled part with the same glyph as its filled part, only grey; colours
do not survive as text, so the unfilled part is written ``─`` (light line) here.
"""

from __future__ import annotations

import argparse
import bisect
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pyte

PROMPT = "\x1b[1;32m$\x1b[0m "  # what docs/terminal-session.sh prints before a command
TRAILER = "\n# done in "  # the script's last line
BAR_GLYPHS = "━╸╺"
UNFILLED_FG = "brightblack"  # rich's bar.back style on a 16-colour terminal (TERM=xterm)
TABLE_GLYPHS = "┏┳┓┡╇┩┗┻┛"  # heavy table borders use ━ too
TALL = 4000  # rows emulated: a step's whole output stays on screen (no scrolling)
NEAR = 8  # rows above the cursor looked at for a bar
QUIET = 2.0  # seconds without a bar or new output worth reporting
BEGIN, END = "<!-- session:begin -->", "<!-- session:end -->"
COUNT = re.compile(r"\b(\d+)/(\d+)\b")

Event = tuple[float, str]


@dataclass
class Quiet:
    """A stretch with no bar on screen and nothing new printed."""

    at: float  # seconds after the prompt
    seconds: float
    after: str  # the last line on screen when it began
    at_exit: bool  # between the last line printed and the next prompt


@dataclass
class Step:
    command: str
    start: float
    end: float
    events: list[Event]
    final: list[str] = field(default_factory=list)
    frame: list[str] = field(default_factory=list)
    frame_at: float = 0.0
    bar_seen: bool = False
    bars: dict[str, list[str]] = field(default_factory=dict)  # pattern: descriptions
    first_output: float | None = None  # seconds after the prompt
    quiet: list[Quiet] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.end - self.start

    @property
    def name(self) -> str:
        words = self.command.split()
        return " ".join(words[:3] if len(words) > 2 and words[1] in {"data", "plot"} else words[:2])


def read_cast(path: Path) -> tuple[dict, list[Event]]:
    with path.open(encoding="utf-8") as handle:
        header = json.loads(handle.readline())
        if header.get("version") != 2:
            raise SystemExit(f"{path}: not an asciicast v2 file (version {header.get('version')})")
        events = []
        for line in handle:
            if line.strip():
                t, kind, data = json.loads(line)
                if kind == "o":
                    events.append((float(t), data))
    return header, events


def split_steps(events: list[Event]) -> tuple[str, list[Step], str]:
    """(the text before the first prompt, the steps, the script's trailer)."""
    text = "".join(data for _, data in events)
    starts, offset = [], 0
    for _, data in events:
        starts.append(offset)
        offset += len(data)
    times = [t for t, _ in events]

    def index_at(position: int) -> int:
        return max(0, bisect.bisect_right(starts, position) - 1)

    def events_between(a: int, b: int) -> list[Event]:
        out = []
        i = index_at(a)
        while i < len(events) and starts[i] < b:
            lo, hi = max(a, starts[i]), min(b, starts[i] + len(events[i][1]))
            if hi > lo:
                out.append((times[i], text[lo:hi]))
            i += 1
        return out

    marks = [m.start() for m in re.finditer(re.escape(PROMPT), text)]
    if not marks:
        raise SystemExit("no prompt lines found: was this recorded from docs/terminal-session.sh?")
    trailer = text.find(TRAILER, marks[-1])
    bounds = [*marks, trailer + 1 if trailer >= 0 else len(text)]
    steps = []
    for a, b in zip(bounds, bounds[1:], strict=False):
        command = text[a + len(PROMPT) :].split("\x1b[0m", 1)[0].removeprefix("\x1b[1m")
        end = times[index_at(b)] if b < len(text) else times[-1]
        steps.append(Step(command, times[index_at(a)], end, events_between(a, b)))
    return text[: marks[0]], steps, text[bounds[-1] :]


def split_prompt(events: list[Event]) -> tuple[str, list[Event]]:
    """(the echoed prompt line, the events after it)."""
    prompt = ""
    for i, (t, data) in enumerate(events):
        cut = data.find("\n")
        if cut >= 0:
            rest = [(t, data[cut + 1 :])] if data[cut + 1 :] else []
            return prompt + data[: cut + 1], rest + events[i + 1 :]
        prompt += data
    return prompt, []


def row_text(screen: pyte.Screen, y: int) -> str:
    line = screen.buffer[y]
    chars = []
    for x in range(screen.columns):
        cell = line[x]
        glyph = cell.data
        if glyph in BAR_GLYPHS and cell.fg == UNFILLED_FG:
            glyph = "─"
        chars.append(glyph)
    return "".join(chars).rstrip()


def is_bar(row: str) -> bool:
    """A rich progress bar of this project's layout: bar glyphs, then ``... eta ...``."""
    return (
        any(g in row for g in BAR_GLYPHS + "─")
        and " eta " in row
        and not any(g in row for g in TABLE_GLYPHS)
    )


def as_text(data: str) -> str:
    screen = pyte.Screen(200, 50)
    pyte.Stream(screen).feed(data)
    return "\n".join(r.rstrip() for r in screen.display).strip()


def replay(step: Step, columns: int) -> None:
    """Fill in ``step``'s screens and timings by feeding its output to an emulator."""
    screen = pyte.Screen(columns, TALL)
    stream = pyte.Stream(screen)
    prompt, events = split_prompt(step.events)
    stream.feed(prompt)
    base = screen.cursor.y  # the first row of the command's own output (the prompt may wrap)
    frames: list[tuple[float, list[str], dict[str, str]]] = []  # time, rows, bar by pattern
    previous: list[str] = []
    quiet_since: tuple[float, str] | None = None  # since when nothing moved, and the last line
    shown: dict[str, str] = {}  # the bars on screen (pattern: row), since when
    shown_since = step.start
    seconds: dict[str, float] = {}  # how long each bar pattern was on screen

    def close(t: float, at_exit: bool) -> None:
        if quiet_since is not None and t - quiet_since[0] >= QUIET:
            began, line = quiet_since
            step.quiet.append(Quiet(began - step.start, t - began, line, at_exit))

    for t, data in events:
        stream.feed(data)
        rows = near_cursor(screen, base)
        if rows == previous:
            continue  # nothing visible changed (the cursor hidden, moved, a blank line)
        previous = rows
        if step.first_output is None:
            step.first_output = t - step.start  # before it: startup, reported on its own
        close(t, at_exit=False)
        for key in shown:  # the bars on screen until now
            seconds[key] = seconds.get(key, 0.0) + t - shown_since
        bars = [r for r in rows if is_bar(r)]
        shown, shown_since = {note_bar(step, row): row for row in bars}, t
        if bars:
            quiet_since = None
            step.bar_seen = True
            frames.append((t, rows, shown))
        else:
            last = next((r for r in reversed(rows) if r.strip()), "")
            quiet_since = (t, last)
    close(step.end, at_exit=True)
    for key in shown:
        seconds[key] = seconds.get(key, 0.0) + step.end - shown_since
    rows = [row_text(screen, r) for r in range(min(TALL, screen.cursor.y + 1))]
    while rows and not rows[-1]:
        rows.pop()
    step.final = rows
    if frames:
        step.frame, at = pick_frame(frames, max(seconds, key=seconds.__getitem__))
        step.frame_at = at - step.start


def pick_frame(
    frames: list[tuple[float, list[str], dict[str, str]]], main: str
) -> tuple[list[str], float]:
    """The frame that shows bar ``main`` (the step's longest on screen) mid-way, part done
    with an ETA known where such a frame exists; returns its rows (up to 6) and its time."""

    def rank(bar: str) -> int:
        partial = any(0 < int(m[1]) < int(m[2]) for m in COUNT.finditer(bar))
        return partial + (partial and "-:--:--" not in bar)

    showing = [(t, rows, rank(bars[main])) for t, rows, bars in frames if main in bars]
    best = max(r for _, _, r in showing)
    chosen = [f for f in showing if f[2] == best]
    middle = (chosen[0][0] + chosen[-1][0]) / 2
    t, rows, _ = min(chosen, key=lambda f: abs(f[0] - middle))
    return [r for r in rows if r.strip()][-6:], t


def note_bar(step: Step, row: str) -> str:
    """Remember the bar's description (the text before the bar); return its pattern."""
    description = re.split(f"[{BAR_GLYPHS}─]", row, maxsplit=1)[0].strip()
    key = re.sub(r"\d+", "#", description)
    seen = step.bars.setdefault(key, [])
    if description not in seen:
        seen.append(description)
    return key


def near_cursor(screen: pyte.Screen, base: int) -> list[str]:
    """The last ``NEAR`` rows that hold text, at or above the cursor's row (and the one
    below it), from the command's first row ``base`` on."""
    y = min(TALL - 1, screen.cursor.y + 1)
    rows = [row_text(screen, r) for r in range(max(base, y - 2 * NEAR), y + 1)]
    while rows and not rows[-1]:
        rows.pop()
    return rows[-NEAR:]


def describe(quiet: Quiet) -> str:
    after = quiet.after.strip()
    if len(after) > 70:
        after = after[:67] + "..."
    where = f"after `{after}`" if after else "with nothing below the command line (its bars gone)"
    if quiet.at_exit:
        where += ", until it exited"
    return f"{quiet.seconds:.1f} s from {quiet.at:.1f} s, {where}"


def render(path: Path) -> str:
    header, events = read_cast(path)
    before, steps, after = split_steps(events)
    for step in steps:
        replay(step, header["width"])
    total = events[-1][0] if events else 0.0
    out = [
        f"Recorded as asciicast v{header.get('version')} in a {header['width']}x"
        f"{header['height']} terminal with no idle-time limit, so the times below are real. "
        "The recording's first lines:",
        "",
        "```text",
        as_text(before),
        "```",
        "",
        f"Total wall time of the recording: **{total:.0f} s** ({total / 60:.1f} min)."
        + (f" The script's last line: `{as_text(after)}`" if as_text(after) else ""),
        "",
        "| # | command | wall time | progress bar | first output after | quiet for 2 s or more"
        " (no bar, nothing new on screen) |",
        "|---|---|---|---|---|---|",
    ]
    for n, step in enumerate(steps, 1):
        first = f"{step.first_output:.1f} s" if step.first_output is not None else "never"
        quiet = "; ".join(
            f"{q.seconds:.1f} s {'before exiting' if q.at_exit else f'from {q.at:.1f} s'}"
            for q in step.quiet
        )
        out.append(
            f"| {n} | `{step.name}` | {step.seconds:.1f} s | {'yes' if step.bar_seen else 'no'} "
            f"| {first} | {quiet or '-'} |"
        )
    out.append("")
    for n, step in enumerate(steps, 1):
        out += [f"### {n}. `{step.name}` ({step.seconds:.1f} s)", ""]
        if step.bars:
            shown = ", ".join(
                f"`{seen[0]}`" + (f" (and {len(seen) - 1} more like it)" if len(seen) > 1 else "")
                for seen in step.bars.values()
            )
            out += [f"Bars: {shown}.", ""]
        if step.frame:
            out += [
                f"{step.frame_at:.1f} s after the prompt:",
                "",
                "```text",
                *step.frame,
                "```",
                "",
            ]
        else:
            out += ["No progress bar appeared.", ""]
        out += ["When it finished:", "", "```text", *step.final, "```", ""]
        if step.quiet:
            out += ["Quiet (no bar, nothing new on screen) for 2 s or more:", ""]
            out += [f"- {describe(q)}" for q in step.quiet]
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cast", type=Path, help="asciicast v2 file")
    parser.add_argument("--update", type=Path, help=f"markdown file: replace {BEGIN}...{END}")
    args = parser.parse_args(argv)
    text = render(args.cast)
    if args.update is None:
        sys.stdout.write(text)
        return 0
    doc = args.update.read_text(encoding="utf-8")
    head, sep, rest = doc.partition(BEGIN)
    _, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        raise SystemExit(f"{args.update}: needs the lines {BEGIN} and {END}")
    args.update.write_text(f"{head}{BEGIN}\n{text}{END}{tail}", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
