"""Imports go one way: down the layers of docs/architecture.md, and never in a circle.

Every ``import`` and ``from ... import`` in the package counts, at module level and inside
functions alike (a lazy import is still a dependency). A module may import its own layer
and the layers below it; ``baselines`` imports nothing from ``compress``.
"""

from __future__ import annotations

import ast
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
    ("compress.commands",),
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


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The project modules ``path`` imports (``from a import b`` counts ``a.b`` if a module)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
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


def import_graph() -> dict[str, set[str]]:
    files = source_files()
    known = {module_name(path) for path in files}
    return {module_name(path): imports_of(path, known) for path in files}


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
    assert cycles(import_graph()) == []


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
