"""The tree keeps its shape: a pure core at the bottom, node and portal above it, the CLI on top, no cycles.

The import graph is built by grimp (static, including imports inside
functions), so a lazy import cannot hide a layering breach.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "gcc_link" / "protocol"
FORBIDDEN_IN_CORE = (
    "flask",
    "werkzeug",
    "requests",
    "sqlalchemy",
    "alembic",
    "whoosh",
    "click",
    "authlib",
    "gunicorn",
    "knowledge_portal",
    "gcc_link.node",
    "gcc_link.cli",
)


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("gcc_link", "knowledge_portal", include_external_packages=True, cache_dir=None)


def test_the_core_imports_no_framework_in_a_fresh_interpreter():
    modules = sorted(p.stem for p in CORE.glob("*.py") if p.stem != "__init__")
    code = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}: importlib.import_module('gcc_link.protocol.' + m)\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    loaded = json.loads(
        subprocess.run(
            [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT, timeout=60
        ).stdout
    )
    assert len(modules) >= 12  # the whole core was imported
    leaked = [m for m in loaded if any(m == f or m.startswith(f + ".") for f in FORBIDDEN_IN_CORE)]
    assert leaked == []


CLOCK_AND_FILE_CALLS = {
    "now",
    "utcnow",
    "today",
    "time",
    "monotonic",
    "open",
    "read_bytes",
    "read_text",
    "write_bytes",
    "write_text",
    "getenv",
}


def test_the_core_reads_no_clock_no_file_and_no_environment():
    found = []
    for path in CORE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                clock_read = name in {"now", "utcnow", "today", "time", "monotonic"} and not node.args
                if clock_read or name in CLOCK_AND_FILE_CALLS - {"now", "utcnow", "today", "time", "monotonic"}:
                    found.append(f"{path.name}:{node.lineno} {name}()")
            if isinstance(node, ast.Attribute) and node.attr == "environ":
                found.append(f"{path.name}:{node.lineno} environ")
    assert found == []


def test_layers(graph):
    """protocol < (node | portal) < cli; node and portal never import each other."""
    layers = [
        grimp.Layer("gcc_link.cli"),
        grimp.Layer("gcc_link.node", "knowledge_portal", independent=True),
        grimp.Layer("gcc_link.protocol"),
    ]
    illegal = graph.find_illegal_dependencies_for_layers(layers=layers, containers=set())
    assert [(d.importer, d.imported) for d in illegal] == []


def test_the_core_depends_on_nothing_of_the_project_outside_it(graph):
    outside = {
        m
        for core in graph.find_children("gcc_link.protocol") | {"gcc_link.protocol"}
        for m in graph.find_modules_directly_imported_by(core)
        if m.startswith(("gcc_link", "knowledge_portal")) and not m.startswith("gcc_link.protocol")
    }
    assert outside == set()


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one project module (Tarjan, iterative)."""
    nodes = sorted(m for m in graph.modules if m.startswith(("gcc_link", "knowledge_portal")))
    edges = {m: sorted(n for n in graph.find_modules_directly_imported_by(m) if n in set(nodes)) for m in nodes}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    result: list[list[str]] = []
    counter = 0
    for start in nodes:
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            recurse = False
            for j in range(i, len(edges[node])):
                nxt = edges[node][j]
                if nxt not in index:
                    work.append((node, j + 1))
                    work.append((nxt, 0))
                    recurse = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if recurse:
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1:
                    result.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return result


def test_no_import_cycles(graph):
    assert _cycles(graph) == []


def test_layer_edges_point_down_only():
    from tests.architecture.import_graph import edges

    allowed = {
        ("cli", "core"),
        ("cli", "node"),
        ("cli", "portal"),
        ("cli", "shared"),
        ("node", "core"),
        ("node", "shared"),
        ("portal", "core"),
        ("portal", "shared"),
        ("shared", "core"),
    }
    found = set(edges())
    assert found <= allowed, found - allowed
    assert ("node", "core") in found and ("portal", "core") in found and ("cli", "node") in found
