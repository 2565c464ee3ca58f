"""core's import graph has no cycles between its parts (modules and packages), counting every import
statement (TYPE_CHECKING and function-level ones too): Host knows nothing of the simulation or libvirt,
binding nothing of libvirt, explain's engine and checks go one way."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "core"


def _unit(module: str) -> str:
    return ".".join(module.split(".")[:3])  # vfio_tui.core.binding.plan -> vfio_tui.core.binding


def _edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for path in CORE.rglob("*.py"):
        parts = path.relative_to(CORE.parent).with_suffix("").parts
        module = ".".join(("vfio_tui", *(parts[:-1] if parts[-1] == "__init__" else parts)))
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("vfio_tui.core"):
                targets = [node.module]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name.startswith("vfio_tui.core")]
            for t in targets:
                if _unit(t) != _unit(module):
                    edges.setdefault(_unit(module), set()).add(_unit(t))
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in list(edges):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles_in_core() -> None:
    edges = _edges()
    assert "vfio_tui.core.libvirt" in edges["vfio_tui.core.passthrough"]  # the graph is really read
    assert _cycles(edges) == []


def test_the_named_directions() -> None:
    edges = _edges()
    assert "vfio_tui.core.libvirt" not in edges.get("vfio_tui.core.binding", set())
    assert not {"vfio_tui.core.simulated", "vfio_tui.core.libvirt", "vfio_tui.core.binding"} & edges.get("vfio_tui.core.host", set())
    assert "vfio_tui.core.host" not in edges.get("vfio_tui.core.usage", set())
