"""Progress of long steps: silent without a reporter, plain lines only for long steps."""

from __future__ import annotations

import io

from compress.core.progress import PlainLines, task, use


def test_no_reporter_is_silent() -> None:
    with task("anything", total=3) as step:
        step.advance("x")  # nothing to show, nothing raised


def test_plain_lines_say_nothing_for_a_short_step_and_report_a_long_one() -> None:
    stream = io.StringIO()
    with use(PlainLines(stream, interval=10.0)), task("quick", total=2) as step:
        step.advance()
        step.advance()
    assert stream.getvalue() == ""
    with use(PlainLines(stream, interval=0.0)), task("long", total=2) as step:
        step.advance("layer a")
        step.advance("layer b")
    lines = stream.getvalue().splitlines()
    assert lines[:2] == ["long: 1/2 layer a", "long: 2/2 layer b"]
    assert lines[-1].startswith("long: done (2) in ")
    assert "\x1b" not in stream.getvalue()
