"""The package import graph of ``src/auditledger``: dependencies point one way.

Computed from the source with ``ast`` (every ``import`` and ``from ... import``, including
those inside functions), at the level of top-level packages and modules of ``auditledger``.
The client package ``auditledger_client`` sits below all of it (it imports nothing of the
server; ``tests/client/test_imports.py`` holds it to that): ``auditledger.core`` builds on its
shared core (the event record, its errors), and on nothing else.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "src" / "auditledger"


def _unit(module: str) -> str:
    """``auditledger.store.log`` -> ``store``; ``auditledger_client.core.clock`` -> ``clock``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "<root>"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, prefix: str = "auditledger.") -> list[str]:
    """The modules ``path`` imports whose names start with ``prefix``."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append(target)
            # ``from auditledger import x`` imports the unit ``x``.
            if target == "auditledger":
                found.extend(f"auditledger.{alias.name}" for alias in node.names)
    return [name for name in found if name.startswith(prefix)]


def package_graph() -> dict[str, dict[str, set[str]]]:
    """unit -> unit it imports -> the modules that do."""
    graph: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for path in ROOT.rglob("*.py"):
        source = _module_name(path)
        for target in _imports(path):
            if _unit(target) != _unit(source):
                graph[_unit(source)][_unit(target)].add(source)
    return graph


def cycles(graph: dict[str, dict[str, set[str]]]) -> list[list[str]]:
    """Strongly connected components of more than one unit (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(unit: str) -> None:
        index[unit] = low[unit] = len(index)
        stack.append(unit)
        on_stack.add(unit)
        for target in graph.get(unit, {}):
            if target not in index:
                visit(target)
                low[unit] = min(low[unit], low[target])
            elif target in on_stack:
                low[unit] = min(low[unit], index[target])
        if low[unit] == index[unit]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == unit:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for unit in list(graph):
        if unit not in index:
            visit(unit)
    return found


def _describe(graph: dict[str, dict[str, set[str]]], component: list[str]) -> str:
    return "; ".join(
        f"{a} -> {b} ({', '.join(sorted(graph[a][b]))})"
        for a in component
        for b in component
        if b in graph.get(a, {})
    )


@pytest.mark.slow
def test_no_cycle_between_packages() -> None:
    graph = package_graph()
    found = cycles(graph)
    assert not found, " | ".join(_describe(graph, component) for component in found)


@pytest.mark.slow
def test_core_imports_nothing_else_of_auditledger() -> None:
    graph = package_graph()
    assert "core" in {_unit(_module_name(p)) for p in ROOT.rglob("*.py")}
    assert dict(graph.get("core", {})) == {}


def test_core_uses_only_the_clients_shared_core() -> None:
    # The event record and the content errors live in the client's shared core, so that the
    # client validates as the server does; the rest of the client (spool, sender, runtime) is
    # not something the server's pure core may lean on.
    used: dict[str, set[str]] = defaultdict(set)
    for path in (ROOT / "core").rglob("*.py"):
        for target in _imports(path, "auditledger_client"):
            used[target].add(_module_name(path))
    assert "auditledger_client.core.event" in used
    outside = {
        name: sorted(modules)
        for name, modules in used.items()
        if name != "auditledger_client.core" and not name.startswith("auditledger_client.core.")
    }
    assert not outside, outside


@pytest.mark.slow
def test_storage_does_not_import_the_services_built_on_it() -> None:
    graph = package_graph()
    above = {"integrity", "ingest", "retention", "query", "export", "web", "services", "cli"}
    assert not above & set(graph.get("store", {})), dict(graph["store"])


@pytest.mark.slow
def test_the_graph_sees_imports() -> None:
    # The test is only as good as its parser: known edges must show.
    graph = package_graph()
    assert "core" in graph["store"]
    assert "store" in graph["integrity"]
    assert "query" in graph["web"]
    assert cycles({"a": {"b": {"x"}}, "b": {"a": {"y"}}}) == [["a", "b"]]
