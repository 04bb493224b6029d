"""Imports go one way: down the layers of docs/architecture.md, and never in a circle.

Every ``import`` and ``from ... import`` in the package counts, at module level and inside
functions alike (a lazy import is still a dependency), and so does every string literal
that names a project module, ``"package.module"`` or ``"package.module:attribute"``: the
targets of ``importlib.import_module`` and of the tables that resolve one lazily. A module
may import its own layer and the layers below it; ``baselines`` imports nothing from
``compress``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Lowest first. A module belongs to the longest prefix listed ("=name": that module only).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("baselines",),
    ("compress.core",),
    ("compress.data",),
    ("compress.measure",),
    ("compress.training",),
    ("compress.deploy",),
    ("compress.pruning", "compress.lowrank", "compress.quantization"),
    ("compress.reporting",),
    ("compress.pipeline", "compress.api", "=compress"),  # the package: a lazy facade of api
    ("compress.recipes",),
    ("benchmarks",),
    ("compress.cli", "compress.demo", "compress.__main__"),
)


def layer_of(module: str) -> int:
    best, rank = -1, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if prefix.startswith("="):
                matches = module == prefix[1:]
            else:
                matches = module == prefix or module.startswith(prefix + ".")
            if matches and len(prefix) > best:
                best, rank = len(prefix), index
    if rank < 0:
        raise AssertionError(f"{module} is in no layer; add it to LAYERS")
    return rank


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> list[Path]:
    packages = [sorted((REPO / name).rglob("*.py")) for name in ("compress", "baselines")]
    return [*packages[0], *packages[1], *sorted((REPO / "benchmarks").glob("*.py"))]


ROOTS = ("baselines", "benchmarks", "compress")
# "a.b.c" or "a.b.c:attribute[.more]" under a root package: a lazy import target's spelling.
TARGET = re.compile(
    rf"(?P<module>(?:{'|'.join(ROOTS)})(?:\.\w+)*)(?::(?P<attribute>\w+(?:\.\w+)*))?"
)


def _literals(tree: ast.AST) -> list[str]:
    """The tree's string constants, less docstrings and the pieces of f-strings."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            skipped.update(id(value) for value in node.values)
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = body[0] if body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                skipped.add(id(first.value))
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in skipped
    ]


def string_targets(tree: ast.AST, known: set[str]) -> tuple[set[str], set[str]]:
    """Modules named by string targets in ``tree``, and ``module:attribute`` strings whose
    module is not a project module (a lazy import that would fail)."""
    found: set[str] = set()
    broken: set[str] = set()
    for text in _literals(tree):
        match = TARGET.fullmatch(text)
        if match is None:
            continue
        if match["module"] in known:
            found.add(match["module"])
        elif match["attribute"] is not None:
            broken.add(text)
    return found, broken


def imports_of(path: Path, known: set[str], strings: bool = True) -> set[str]:
    """The project modules ``path`` imports."""
    source = path.read_text(encoding="utf-8")
    return imports_in(source, module_name(path), path.name == "__init__.py", known, strings)


def imports_in(
    source: str, name: str, is_package: bool, known: set[str], strings: bool = True
) -> set[str]:
    """The project modules module ``name`` imports (``from a import b`` counts ``a.b`` if a
    module), by an import statement or (``strings``) by a string target."""
    package = name if is_package else name.rpartition(".")[0]
    tree = ast.parse(source)
    found = string_targets(tree, known)[0] - {name} if strings else set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def project_modules() -> set[str]:
    return {module_name(path) for path in source_files()}


def import_graph(strings: bool = True) -> dict[str, set[str]]:
    known = project_modules()
    return {module_name(path): imports_of(path, known, strings) for path in source_files()}


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{module} (layer {layer_of(module)}) imports {target} (layer {layer_of(target)})"
        for module, targets in graph.items()
        for target in targets
        if layer_of(target) > layer_of(module)
    )


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt.startswith(node + ".") or node.startswith(nxt + "."):
                continue  # a package and its own modules are one unit
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_module_has_a_layer() -> None:
    for module in import_graph():
        layer_of(module)


def test_no_import_goes_up_a_layer() -> None:
    assert upward_imports(import_graph()) == []


def test_no_import_cycles() -> None:
    """String targets do not count here: one is resolved on use, after both modules loaded,
    which is how a table names the modules that import it (lowrank.catalog, baselines)."""
    assert cycles(import_graph(strings=False)) == []


@pytest.mark.parametrize(
    ("module", "target"),
    [
        ("compress.measure.macs", "compress.reporting.formatting"),
        ("compress.measure.evaluate", "compress.deploy.predict"),
        ("baselines.registry", "compress.core.errors"),
        ("compress.pruning.sensitivity", "compress.reporting.plots.sensitivity"),
    ],
)
def test_the_checks_catch_an_upward_import(module: str, target: str) -> None:
    graph = {name: set(targets) for name, targets in import_graph().items()}
    graph[module].add(target)
    assert any(line.startswith(f"{module} ") for line in upward_imports(graph))


def test_the_checks_catch_a_cycle() -> None:
    graph = {name: set(targets) for name, targets in import_graph().items()}
    graph["compress.core.errors"].add("compress.core.results")
    assert cycles(graph)


def test_every_string_target_names_a_module() -> None:
    known = project_modules()
    broken = {
        f"{module_name(path)}: {text}"
        for path in source_files()
        for text in string_targets(ast.parse(path.read_text(encoding="utf-8")), known)[1]
    }
    assert broken == set()


KNOWN = {"compress", "compress.core.checkpoint", "compress.pruning", "compress.pruning.replay"}


@pytest.mark.parametrize(
    ("source", "found"),
    [
        (
            'REPLAYERS = {"prune": "compress.pruning.replay:replay_prune"}',
            {"compress.pruning.replay"},
        ),
        ('importlib.import_module("compress.pruning.replay")', {"compress.pruning.replay"}),
        ('LAZY = ("compress.pruning",)', {"compress.pruning"}),
        (
            'def f():\n    return "compress.pruning.replay:replay_prune"',
            {"compress.pruning.replay"},
        ),
        ('"""compress.pruning.replay"""', set()),  # a module's docstring
        ('def f():\n    """compress.pruning.replay"""', set()),  # a function's docstring
        ('name = f"compress.pruning.{kind}"', set()),
        ('text = "see compress.pruning.replay"', set()),
        ('text = "compress.pruning.replay.replay_prune"', set()),  # no module of that name
        ('T = "compress.pruning.replay:Session.run"', {"compress.pruning.replay"}),
        ('text = "compress.pruning.replay:"', set()),
        ('text = "compress.pruning.replay:a b"', set()),
        ('text = "compress.pruned:replay"', set()),
        ('text = "xcompress.pruning.replay"', set()),
        ("import compress.pruning.replay", {"compress.pruning.replay"}),
    ],
)
def test_string_targets_count_as_imports(source: str, found: set[str]) -> None:
    assert imports_in(source, "compress.core.checkpoint", False, KNOWN) == found


def test_a_string_target_naming_no_module_is_reported() -> None:
    tree = ast.parse('T = {"a": "compress.pruning.gone:f", "b": "compress.gone", "c": "x.y:z"}')
    assert string_targets(tree, KNOWN) == (set(), {"compress.pruning.gone:f"})


def test_the_checks_catch_an_upward_string_target() -> None:
    source = 'REPLAYERS = {"prune": "compress.pruning.replay:replay_prune"}'
    graph = {
        "compress.core.checkpoint": imports_in(source, "compress.core.checkpoint", False, KNOWN)
    }
    assert upward_imports(graph) == [
        "compress.core.checkpoint (layer 1) imports compress.pruning.replay (layer 6)"
    ]
