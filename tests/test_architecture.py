"""The library's shape, checked from its source: which module imports which (every `import` and
`from ... import`, at module level or inside a function), so that no import circle and no upward
import (a concept module, or another notebook's stage, importing a notebook's stage module under
`distilrank.stages`) creeps back in."""

import ast
from pathlib import Path

import networkx as nx

from distilrank.paths import ROOT

PACKAGE = ROOT / "lib" / "distilrank"
STAGES = ("data_prep", "continued_pretraining", "teacher_finetune", "distillation", "offline_metrics", "latency",
          "rank_distillm", "curriculum", "online_simulation")  # notebooks 01-09, in order


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


def test_no_library_module_imports_a_stage():
    """`distilrank.stages.<notebook>` holds one notebook's loops and figures: only that notebook
    imports it. A stage module imported by another stage or by a concept module means something
    both need lives in the wrong place: it belongs in a concept module."""
    graph = import_graph()
    stage = lambda m: m.startswith("distilrank.stages.")  # noqa: E731
    upward = sorted(f"{a} -> {b}" for a, b in graph.edges if stage(b))
    assert not upward, "stage modules imported by library modules: " + "; ".join(upward)
    assert {m for m in graph.nodes if stage(m)} == {f"distilrank.stages.{n}" for n in STAGES}


def test_every_notebook_has_its_stage_module_and_imports_only_that_stage():
    """notebooks/NN_<name>.ipynb imports `distilrank.stages.<name>` (notebook 01, data_prep; ...)
    and no other stage."""
    import json

    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert [nb.stem[3:] for nb in notebooks] == list(STAGES)
    for nb in notebooks:
        cells = [c for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code"]
        found = set()
        for cell in cells:
            source = "".join(cell["source"])
            tree = ast.parse("\n".join("pass" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()))
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module == "distilrank.stages":
                    found |= {a.name for a in node.names}
                elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("distilrank.stages."):
                    found.add(node.module.rsplit(".", 1)[1])
                elif isinstance(node, ast.Import):
                    found |= {a.name.rsplit(".", 1)[1] for a in node.names if a.name.startswith("distilrank.stages.")}
        assert found == {nb.stem[3:]}, f"{nb.name} imports the stages {sorted(found)}"


def test_the_stages_package_imports():
    """`import distilrank.stages` works on its own, in a fresh interpreter (its __init__ imports nothing)."""
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", "import distilrank.stages"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert not [n for n in ast.walk(ast.parse((PACKAGE / "stages" / "__init__.py").read_text())) if isinstance(n, ast.Import | ast.ImportFrom)]


def test_the_package_docstring_names_every_module():
    """The tree's map: `distilrank/__init__.py` names every concept module and the stages package."""
    import re

    import distilrank

    named = set(re.findall(r"`(\w+)[`.]", distilrank.__doc__))
    concepts = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    assert concepts - named == set(), f"modules the package docstring does not name: {sorted(concepts - named)}"
    assert "stages" in named
