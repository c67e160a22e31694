"""The library's shape, checked from its source: which module imports which (every `import` and
`from ... import`, at module level or inside a function), so that no import circle and no upward
import (a concept module importing a notebook's stage module) creeps back in."""

import ast
from pathlib import Path

import networkx as nx

from distilrank.paths import ROOT

PACKAGE = ROOT / "lib" / "distilrank"


def module_name(path: Path) -> str:
    """`lib/distilrank/a/b.py` -> `distilrank.a.b`; a package's `__init__.py` -> the package."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path, modules: set[str]) -> set[str]:
    """The library modules `path` imports: `import distilrank.x`, `from distilrank import x` (x a
    module) and `from distilrank.x import y` (x, or x.y when y is a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in modules}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("distilrank"):
            subs = {f"{node.module}.{a.name}" for a in node.names} & modules
            found |= subs or ({node.module} & modules)
    return found - {module_name(path)}


def import_graph() -> nx.DiGraph:
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(f) for f in files}
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for f in files:
        graph.add_edges_from((module_name(f), m) for m in imported(f, modules))
    return graph


def test_the_import_graph_is_read_from_the_source(tmp_path):
    graph = import_graph()
    assert ("distilrank.stages.distillation", "distilrank.losses") in graph.edges  # `from distilrank import ..., losses, ...`
    assert ("distilrank.training", "distilrank.rankers") in graph.edges  # `from distilrank.rankers import (...)`


def test_no_import_circle():
    cycles = sorted(nx.simple_cycles(import_graph()), key=len)
    assert not cycles, "import circles: " + "; ".join(" -> ".join([*c, c[0]]) for c in cycles[:5])
