"""The analysis and report packages import one way: no module imports one that (transitively) imports it back,
counting imports inside functions too (a deferred import only hides a cycle)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "mastlens"


def _imports(package: str) -> dict[str, set[str]]:
    """module -> the modules of the same package it imports (``mastlens.<package>.<name>``)."""
    prefix = f"mastlens.{package}."
    graph: dict[str, set[str]] = {}
    for path in sorted((SRC / package).glob("*.py")):
        if path.stem == "__init__":
            continue
        name = prefix + path.stem
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            found |= {t for t in targets if t.startswith(prefix) and t.count(".") == 2 and t != name}
        graph[name] = found
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 on the path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


@pytest.mark.parametrize("package", ["analysis", "report"])
def test_package_imports_are_acyclic(package: str) -> None:
    graph = _imports(package)
    assert len(graph) > 5, graph  # the walk found the package's modules
    cycle = _cycle(graph)
    assert cycle is None, " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
