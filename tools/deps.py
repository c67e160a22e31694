"""What each notebook reads, as a make fragment (`make` includes it): a stage re-runs only when
that changed.

    python3 tools/deps.py notebooks/*.ipynb > outputs/.notebook-deps.mk
    python3 tools/deps.py --sections params/default.yaml outputs/default/.params notebooks/*.ipynb

The first prints, for every notebook, `$(OUT)/NN_name.ipynb: ...` with
- the lib modules its code cells import (every form: `from distilrank import a`, `from
  distilrank.x import y`, `import distilrank.x`, imports inside functions; a subpackage's modules
  too: `from distilrank.stages import distillation` is `lib/distilrank/stages/distillation.py`, with
  the subpackage's `__init__.py`), followed transitively through the modules' own imports
  (relative ones included). `distilrank/__init__.py` runs on any
  import of the package, so it is always there. Imports built at run time
  (`importlib.import_module(name)`) are not seen;
- the profile sections it reads, as `$(OUT)/.params/<section>.yaml`: every `cfg.<section>` in its
  cells, and the sections a lib function reads from a `cfg` parameter when the notebook passes it
  the whole profile (`start_run(cfg)`, `notebook.setup(cfg)`: followed through the functions they
  hand it on to); a profile passed anywhere else means every section;
- the executed notebooks of the stages whose artifacts it reads: its metadata's
  `distilrank.reads` (notebook stems), or the notebook before it when it names none.

The second writes each top-level section of a params file to `<dir>/<section>.yaml`, rewriting a
file only when the section's text changed (comment-only and blank lines dropped), so that its
modification time says when that section last changed.

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
PROFILE = "cfg"  # the name notebooks and lib functions give the validated profile
ALL = None  # "every section"
PROFILE_METHODS = {"dict", "json", "copy"}  # pydantic methods without the model_ prefix


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


def profile_reads(tree: ast.AST, readers: dict[str, set[str] | None], name: str = PROFILE) -> set[str] | None:
    """The profile sections code reads from the variable `name`: each `name.<section>`, and for
    `name` passed to a function of `readers`, what that function reads; `ALL` (None) when `name`
    is used any other way (passed to an unknown function, stored elsewhere, iterated)."""
    as_value = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    sections: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == name:
            if node.attr.startswith(("model_", "_")) or node.attr in PROFILE_METHODS:
                return ALL  # a method of the whole profile (model_dump, copy, ...), not a section
            sections.add(node.attr)
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load)) or id(node) in as_value:
            continue
        call = next((c for c in ast.walk(tree) if isinstance(c, ast.Call)
                     and any(a is node for a in [*c.args, *(k.value for k in c.keywords)])), None)
        func = None if call is None else getattr(call.func, "id", getattr(call.func, "attr", None))
        if func not in readers or readers[func] is ALL:
            return ALL
        sections |= readers[func]
    return sections


def profile_readers(lib: Path, package: str = PACKAGE) -> dict[str, set[str] | None]:
    """Function name -> the sections it reads from its `cfg` parameter, for every function of the
    package that takes one (by that name), followed through the functions it hands `cfg` on to
    (`notebook.setup(cfg)` reads what `start_run(cfg)` reads); a name defined twice is read as `ALL`."""
    bodies: dict[str, list[ast.Module]] = {}
    for path in sorted((lib / package).rglob("*.py")):
        tree = parse_source(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree) if tree is not None else ():
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and PROFILE in {a.arg for a in node.args.args + node.args.kwonlyargs}:
                bodies.setdefault(node.name, []).append(ast.Module(body=node.body, type_ignores=[]))
    readers: dict[str, set[str] | None] = {}
    for _ in range(len(bodies) + 1):  # to a fixed point: each pass resolves one more level of hand-offs
        new = {name: ALL if len(b) > 1 else profile_reads(b[0], readers) for name, b in bodies.items()}
        if new == readers:
            break
        readers = new
    return readers


def notebook_sections(notebook: Path, readers: dict[str, set[str] | None]) -> set[str] | None:
    """The profile sections a notebook's code cells read (`ALL` when that cannot be told)."""
    sections: set[str] = set()
    for source in notebook_sources(notebook):
        tree = parse_source(source)
        reads = ALL if tree is None else profile_reads(tree, readers)
        if reads is ALL:
            return ALL
        sections |= reads
    return sections


def notebook_reads(notebook: Path, previous: Path | None) -> list[str]:
    """The notebook stems whose artifacts it reads: metadata `distilrank.reads`, else `previous`."""
    meta = json.loads(Path(notebook).read_text(encoding="utf-8")).get("metadata", {}).get(PACKAGE, {})
    if "reads" in meta:
        return list(meta["reads"])
    return [] if previous is None else [Path(previous).stem]


def split_sections(text: str) -> dict[str, str]:
    """The top-level keys of a (block-style) YAML file with each one's lines, comment-only and
    blank lines dropped: `{"seed": "seed: 13\n", "bm25": "bm25:\n  k1: 1.2\n..."}`."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace() and ":" in line:
            current = line.split(":", 1)[0].strip()
            sections[current] = []
        if current is not None:
            sections[current].append(line.rstrip() + "\n")
    return {k: "".join(v) for k, v in sections.items()}


def write_sections(params: Path, folder: Path, names: Iterable[str] = ()) -> list[str]:
    """Write each section of `params` (and each of `names` it lacks, as a marker) to
    `folder/<section>.yaml`, only where the text changed; returns the sections rewritten."""
    sections = split_sections(Path(params).read_text(encoding="utf-8"))
    folder.mkdir(parents=True, exist_ok=True)
    changed = []
    for name in sorted(set(sections) | set(names)):
        text = sections.get(name, f"# {name}: absent from {params} (the default applies)\n")
        path = folder / f"{name}.yaml"
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
        changed.append(name)
    return changed


def make_rule(notebook: Path, deps: Iterable[Path | str], out_var: str = "$(OUT)") -> str:
    """`$(OUT)/<notebook name>: dep ...`, file deps relative to the current folder, then the rest."""
    paths = sorted(os.path.relpath(p) for p in deps if isinstance(p, Path))
    others = [d for d in deps if isinstance(d, str)]
    return f"{out_var}/{Path(notebook).name}: {' '.join(paths + others)}".rstrip()


def make_fragment(notebooks: Iterable[Path], lib: Path, params_var: str = "$(PARAMS)",
                  sections_dir: str = "$(OUT)/.params") -> str:
    """One rule per notebook (modules, profile sections, the stages it reads), then an empty rule
    per module so a deleted one is not an error."""
    notebooks = [Path(nb) for nb in notebooks]
    readers = profile_readers(lib)
    rules, modules = [], set()
    for i, nb in enumerate(notebooks):
        deps = notebook_dependencies(nb, lib)
        sections = notebook_sections(nb, readers)
        params = [params_var] if sections is ALL else [f"{sections_dir}/{s}.yaml" for s in sorted(sections)]
        stages = [f"$(OUT)/{stem}.ipynb" for stem in notebook_reads(nb, notebooks[i - 1] if i else None)]
        rules.append(make_rule(nb, [*deps, *params, *stages]))
        modules |= {os.path.relpath(p) for p in deps}
    lines = ["# generated by tools/deps.py: the lib modules, profile sections and stages each notebook reads", *rules]
    lines += ["", "# a module that disappears re-runs its notebooks instead of stopping make"]
    lines += [f"{m}:" for m in sorted(modules)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Print the make fragment for the notebooks named on the command line, or (`--sections
    PARAMS DIR`) write the params file's sections for them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--lib", type=Path, default=Path(os.path.abspath(__file__)).parent.parent / "lib",
                        help="the folder holding the distilrank package (default: lib/ beside this file's tools/)")
    parser.add_argument("--sections", nargs=2, type=Path, metavar=("PARAMS", "DIR"),
                        help="write PARAMS' top-level sections to DIR/<section>.yaml where they changed")
    args = parser.parse_args(argv)
    if args.sections:
        params, folder = args.sections
        if not params.is_file():
            print(f"deps.py: params file not found: {params}", file=sys.stderr)
            return 2
        readers = profile_readers(args.lib)
        names = set().union(*[notebook_sections(nb, readers) or set() for nb in args.notebooks])
        write_sections(params, folder, names)
        return 0
    sys.stdout.write(make_fragment(args.notebooks, args.lib))
    return 0


if __name__ == "__main__":
    sys.exit(main())
