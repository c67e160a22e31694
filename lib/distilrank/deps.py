"""Which lib/distilrank modules each notebook imports, as a make fragment (`make` includes it).

    python3 lib/distilrank/deps.py notebooks/*.ipynb > outputs/.notebook-deps.mk

prints, for every notebook, `$(OUT)/NN_name.ipynb: lib/distilrank/__init__.py ...`: the modules
its code cells import (every form: `from distilrank import a`, `from distilrank.x import y`,
`import distilrank.x`, imports inside functions), followed transitively through the modules'
own imports (relative ones included). `distilrank/__init__.py` runs on any import of the package,
so it is always there. Imports built at run time (`importlib.import_module(name)`) are not seen.

Standard library only (json, ast, argparse), and it never imports distilrank: the Makefile runs
it with the system python3, before .venv exists.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path

PACKAGE = "distilrank"
MAGIC_PREFIXES = ("%", "!")


def strip_magics(source: str) -> str:
    """The cell with its IPython magic and shell lines (starting with % or !) made `pass`.

    `pass` at the line's indentation keeps an indented block that held only a magic valid.
    """
    lines = source.splitlines()
    for i, line in enumerate(lines):
        code = line.lstrip()
        if code.startswith(MAGIC_PREFIXES):
            lines[i] = line[: len(line) - len(code)] + "pass"
    return "\n".join(lines)


def parse_source(source: str) -> ast.Module | None:
    """The AST of a code cell or module; failing that, of it without magics; else None."""
    for text in (source, strip_magics(source)):
        try:
            return ast.parse(text)
        except SyntaxError:
            continue
    return None


def notebook_sources(path: Path) -> list[str]:
    """The source of every code cell of a notebook (nbformat 4 JSON)."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    sources = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            src = cell.get("source", "")
            sources.append("".join(src) if isinstance(src, list) else src)
    return sources


def with_parents(module: str) -> set[str]:
    """A dotted module and every package above it (importing a.b.c runs a, a.b and a.b.c)."""
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


def resolve_relative(module: str | None, level: int, current: str, is_package: bool) -> str | None:
    """The absolute name of `from <level dots><module> import ...` inside module `current`."""
    package = current.split(".") if is_package else current.split(".")[:-1]
    if level > len(package):
        return None  # beyond the top-level package
    base = package[: len(package) - level + 1]
    return ".".join(base + ([module] if module else []))


def imported_names(tree: ast.AST, current: str | None = None, is_package: bool = False) -> set[str]:
    """Every dotted name an import in `tree` may load (whole tree: function-local imports too).

    `from p import x` gives p and the candidate p.x (x may be a submodule or an attribute;
    `module_file` tells them apart). Relative imports resolve against `current` (a module's
    dotted name), and are skipped outside a package (notebooks).
    """
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module
            if node.level:
                if current is None:
                    continue
                base = resolve_relative(node.module, node.level, current, is_package)
            if not base:
                continue
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


def package_names(names: Iterable[str], package: str = PACKAGE) -> set[str]:
    """The names inside `package`, with every parent package (the package itself included)."""
    found: set[str] = set()
    for name in names:
        if name == package or name.startswith(package + "."):
            found |= with_parents(name)
    return found


def module_file(name: str, lib: Path) -> Path | None:
    """The file of dotted module `name` under `lib` (x/y.py or x/y/__init__.py), if any."""
    base = lib.joinpath(*name.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def module_dependencies(
    names: Iterable[str], lib: Path, package: str = PACKAGE
) -> set[Path]:
    """The files of `names` (within `package`) and, transitively, of the modules they import.

    The package's `__init__.py` is always included: any import of the package runs it.
    """
    todo = package_names(names, package) | {package}
    seen: set[str] = set()
    files: set[Path] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = module_file(name, lib)
        if path is None:
            continue  # an attribute (`from distilrank import __version__`) or a missing module
        files.add(path)
        tree = parse_source(path.read_text(encoding="utf-8"))
        if tree is not None:
            todo |= package_names(imported_names(tree, name, path.name == "__init__.py"), package)
    return files


def notebook_dependencies(notebook: Path, lib: Path, package: str = PACKAGE) -> set[Path]:
    """The lib modules a notebook's code cells import, directly or through other modules."""
    names: set[str] = set()
    for source in notebook_sources(notebook):
        tree = parse_source(source)
        if tree is not None:
            names |= imported_names(tree)
    return module_dependencies(names, lib, package)


def make_rule(notebook: Path, deps: Iterable[Path], out_var: str = "$(OUT)") -> str:
    """`$(OUT)/<notebook name>: dep ...`, the deps relative to the current folder and sorted."""
    paths = sorted(os.path.relpath(p) for p in deps)
    return f"{out_var}/{Path(notebook).name}: {' '.join(paths)}".rstrip()


def make_fragment(notebooks: Iterable[Path], lib: Path) -> str:
    """One rule per notebook, then an empty rule per module so a deleted one is not an error."""
    rules, modules = [], set()
    for nb in notebooks:
        deps = notebook_dependencies(Path(nb), lib)
        rules.append(make_rule(nb, deps))
        modules |= {os.path.relpath(p) for p in deps}
    lines = ["# generated by lib/distilrank/deps.py: the lib modules each notebook imports", *rules]
    lines += ["", "# a module that disappears re-runs its notebooks instead of stopping make"]
    lines += [f"{m}:" for m in sorted(modules)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Print the make fragment for the notebooks named on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--lib", type=Path, default=Path(os.path.abspath(__file__)).parent.parent,
                        help="the folder holding the distilrank package (default: this file's lib/)")
    args = parser.parse_args(argv)
    sys.stdout.write(make_fragment(args.notebooks, args.lib))
    return 0


if __name__ == "__main__":
    sys.exit(main())
