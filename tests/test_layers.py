"""Layers import one way: the import graph of jaxrl/, read from the source, has no circle."""

from __future__ import annotations

import ast
from pathlib import Path

import jaxrl

ROOT = Path(jaxrl.__file__).parent
HOST = ("jaxrl.run", "jaxrl.jobs")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the jaxrl modules it imports anywhere (top level or inside a function)."""
    modules = {_module_name(p): p for p in ROOT.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                # `from pkg import mod` imports pkg.mod; `from pkg.mod import name` pkg.mod.
                subs = [f"{base}.{a.name}" for a in node.names]
                targets = [t for t in subs if t in modules] or [base]
            else:
                continue
            deps |= {t for t in targets if t in modules and t != name}
        graph[name] = deps
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_checker_finds_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_jaxrl_has_no_import_circle():
    graph = import_graph()
    assert {"jaxrl.training.loop", "jaxrl.hooks"} <= graph["jaxrl.run"]  # the parser sees them
    assert circles(graph) == []


def test_nothing_below_the_host_layer_imports_it():
    """The host layer is `run` (a run directory) and `jobs` (job lists of run directories,
    above it); no other module of the package imports either."""
    graph = import_graph()
    users = {h: sorted(m for m, deps in graph.items() if h in deps) for h in HOST}
    assert users == {"jaxrl.run": ["jaxrl.jobs"], "jaxrl.jobs": []}
