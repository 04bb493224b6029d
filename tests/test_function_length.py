"""No function is longer than 80 lines, counted from its ``def`` line to its last line.

Typer commands in ``compress/cli/`` declare every option in their signature; for them only
the body (from its first statement, docstring included) must fit in the limit.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LIMIT = 80
ROOTS = ("compress", "baselines", "benchmarks")
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def is_typer_command(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Decorated ``@<app>.command(...)`` or ``@<app>.callback(...)``."""
    for decorator in node.decorator_list:
        call = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(call, ast.Attribute) and call.attr in ("command", "callback"):
            return True
    return False


def long_functions(source: str, where: str, commands: bool) -> list[str]:
    """``where:line name (N lines)`` for each function of ``source`` over the limit;
    ``commands``: typer commands are measured by their body only."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, FUNCTIONS):
            continue
        assert node.end_lineno is not None
        first = node.lineno
        if commands and is_typer_command(node):
            first = node.body[0].lineno
        length = node.end_lineno - first + 1
        if length > LIMIT:
            found.append(f"{where}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_no_function_is_longer_than_80_lines() -> None:
    found = []
    for root in ROOTS:
        for path in sorted((REPO / root).rglob("*.py")):
            where = path.relative_to(REPO).as_posix()
            source = path.read_text(encoding="utf-8")
            found += long_functions(source, where, where.startswith("compress/cli/"))
    assert found == []


def _function(name: str, body_lines: int, *, signature_lines: int = 0, decorator: str = "") -> str:
    options = "".join(f"    option_{i}: int = {i},\n" for i in range(signature_lines))
    body = "".join(f"    x = {i}\n" for i in range(body_lines))
    return f"{decorator}def {name}(\n{options}) -> None:\n{body}"


@pytest.mark.parametrize(
    ("source", "commands", "found"),
    [
        (_function("short", 78), False, []),  # 2 signature lines + 78: exactly 80
        (_function("long", 79), False, ["m.py:1 long (81 lines)"]),
        (_function("opts", 70, signature_lines=30, decorator='@app.command("x")\n'), True, []),
        (
            _function("opts", 70, signature_lines=30, decorator='@app.command("x")\n'),
            False,
            ["m.py:2 opts (102 lines)"],  # outside compress/cli/ a command is not special
        ),
        (_function("cb", 80, signature_lines=30, decorator="@app.callback()\n"), True, []),
        (_function("cb", 81, decorator="@app.callback()\n"), True, ["m.py:2 cb (81 lines)"]),
        (
            _function("plain", 70, signature_lines=30, decorator="@cache\n"),
            True,
            ["m.py:2 plain (102 lines)"],
        ),
        (
            "class Holder:\n"
            + "".join("    " + line + "\n" for line in _function("method", 79).splitlines()),
            False,
            ["m.py:2 method (81 lines)"],
        ),
        (
            "def outer() -> None:\n"
            + "".join("    " + line + "\n" for line in _function("inner", 79).splitlines()),
            False,
            ["m.py:1 outer (82 lines)", "m.py:2 inner (81 lines)"],
        ),
    ],
)
def test_the_check_measures_def_to_last_line(source: str, commands: bool, found: list[str]) -> None:
    assert long_functions(source, "m.py", commands) == found
