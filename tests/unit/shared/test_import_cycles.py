"""No import cycle among the modules of ``functions/`` and ``shared/`` (issue 9).

Imports are read with ``ast``, wherever they stand: a deferred import inside a function still
makes the two modules depend on each other. A failure names the cycle as a path of modules.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("functions", "shared")


def module_name(path: Path) -> str:
    """``shared/runs/__init__.py`` → ``shared.runs``; ``functions/judge/tick.py`` →
    ``functions.judge.tick``."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    """Every module of the checked packages, by dotted name."""
    return {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def imported(name: str) -> set[str]:
    """The checked modules ``name`` imports (``from a import b`` is ``a.b`` when that is a
    module, else ``a``; relative imports resolved)."""
    path = modules()[name]
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in modules()}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                if sub in modules():
                    found.add(sub)
                elif module in modules():
                    found.add(module)
    found.discard(name)
    return found


@cache
def graph() -> dict[str, frozenset[str]]:
    """Module → the checked modules it imports."""
    return {name: frozenset(imported(name)) for name in modules()}


def strongly_connected(edges: dict[str, frozenset[str]]) -> Iterator[frozenset[str]]:
    """The groups of two or more modules that import each other, directly or not (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(node: str) -> Iterator[frozenset[str]]:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(edges[node]):
            if other not in index:
                yield from visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                yield frozenset(group)

    for node in sorted(edges):
        if node not in index:
            yield from visit(node)


def cycle_path(group: frozenset[str], edges: dict[str, frozenset[str]]) -> str:
    """One cycle through ``group``'s first module, as ``a → b → … → a``."""
    start = min(group)
    paths = [[start]]
    while paths:
        path = paths.pop(0)
        for other in sorted(edges[path[-1]] & group):
            if other == start:
                return " → ".join([*path, start])
            if other not in path:
                paths.append([*path, other])
    raise AssertionError(f"{sorted(group)} is not a cycle")


def test_no_module_of_functions_or_shared_is_part_of_an_import_cycle() -> None:
    edges = graph()
    assert [cycle_path(g, edges) for g in strongly_connected(edges)] == []


def test_ticks_import_verdicts_and_never_the_reverse() -> None:
    edges = graph()
    for tick, verdicts in (
        ("functions.ci_status.tick", "functions.ci_status.usecase"),
        ("functions.review_gate.tick", "functions.review_gate.usecase"),
        ("functions.judge.tick", "functions.judge.usecase"),
    ):
        assert verdicts in edges[tick]
        assert tick not in edges[verdicts], f"{verdicts} imports {tick}"


def test_the_check_reports_a_cycle_as_a_path() -> None:
    edges = {
        "a": frozenset({"b"}),
        "b": frozenset({"c"}),
        "c": frozenset({"a"}),
        "d": frozenset({"a"}),
    }
    groups = list(strongly_connected(edges))
    assert groups == [frozenset({"a", "b", "c"})]
    assert cycle_path(groups[0], edges) == "a → b → c → a"
