"""Each executed notebook depends on the lib modules it imports, the profile sections it reads and
the stages it reads, not on all of lib/ nor the whole profile (tools/deps.py)."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from deps import (  # tools/deps.py (conftest puts tools/ on sys.path)
    ALL,
    imported_names,
    make_fragment,
    make_rule,
    module_dependencies,
    notebook_dependencies,
    notebook_reads,
    parse_source,
    profile_readers,
    profile_reads,
    resolve_relative,
    split_sections,
    strip_magics,
    write_sections,
)

from distilrank.paths import ROOT

LIB = ROOT / "lib"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SCRIPT = ROOT / "tools" / "deps.py"


def _notebook(path: Path, *cells: str | tuple[str, str]) -> Path:
    """A minimal nbformat-4 notebook: code cells from strings, (cell_type, source) for others."""
    cells_json = []
    for cell in cells:
        kind, source = cell if isinstance(cell, tuple) else ("code", cell)
        cells_json.append({"cell_type": kind, "metadata": {}, "source": source.splitlines(keepends=True),
                           **({"outputs": [], "execution_count": None} if kind == "code" else {})})
    path.write_text(json.dumps({"cells": cells_json, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def _package(lib: Path, modules: dict[str, str]) -> Path:
    """Write `{"a.py": source, "sub/__init__.py": ...}` under lib/distilrank; return lib."""
    for name, source in modules.items():
        path = lib / "distilrank" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return lib


def _rel(lib: Path, files: set[Path]) -> set[str]:
    return {p.relative_to(lib / "distilrank").as_posix() for p in files}


# --- the parser, on hand-made notebooks and modules -------------------------------------------

@pytest.mark.parametrize(("source", "names"), [
    ("from distilrank import a, b", {"distilrank", "distilrank.a", "distilrank.b"}),
    ("from distilrank.x import y", {"distilrank.x", "distilrank.x.y"}),
    ("import distilrank.x", {"distilrank.x"}),
    ("import distilrank.x.y as z", {"distilrank.x.y"}),
    ("from distilrank.x.y import z", {"distilrank.x.y", "distilrank.x.y.z"}),
    ("from distilrank import (\n    a,\n    b as c,\n)", {"distilrank", "distilrank.a", "distilrank.b"}),
    ("def f():\n    if True:\n        from distilrank import late\n", {"distilrank", "distilrank.late"}),
    ("from distilrank.x import *", {"distilrank.x"}),
    ("from . import a", set()),  # relative, outside a package: nothing
])
def test_imported_names_every_form(source, names):
    assert imported_names(ast.parse(source)) == names


def test_relative_imports_resolve_against_the_module():
    assert resolve_relative("b", 1, "distilrank.a", is_package=False) == "distilrank.b"
    assert resolve_relative(None, 1, "distilrank.a", is_package=False) == "distilrank"
    assert resolve_relative("inner", 1, "distilrank.sub", is_package=True) == "distilrank.sub.inner"
    assert resolve_relative(None, 2, "distilrank.sub.inner", is_package=False) == "distilrank"
    assert resolve_relative("x", 2, "distilrank.a", is_package=False) is None  # above the top
    tree = ast.parse("from .b import c\nfrom .. import h")
    assert imported_names(tree, "distilrank.sub.a") == {
        "distilrank.sub.b", "distilrank.sub.b.c", "distilrank", "distilrank.h"}


def test_magics_are_skipped_and_unparsable_cells_ignored():
    cell = "%matplotlib inline\n!ls -l\nfor i in range(2):\n    %time x = i\nfrom distilrank import a"
    assert strip_magics(cell).splitlines()[:2] == ["pass", "pass"]
    assert imported_names(parse_source(cell)) == {"distilrank", "distilrank.a"}
    assert parse_source("%%bash\necho hi") is None
    # a continuation line that starts with != is Python, not a shell escape
    assert parse_source("ok = (1\n!= 2)\nimport distilrank.a") is not None


def test_closure_over_a_tiny_package(tmp_path):
    lib = _package(tmp_path / "lib", {
        "__init__.py": "from . import version_info\n",
        "version_info.py": "VERSION = 1\n",
        "a.py": "import json\nfrom distilrank.b import thing\n",
        "b.py": "thing = 1\n",
        "c.py": "def f():\n    from distilrank import d\n    return d\n",
        "d.py": "from .e import x\n",
        "e.py": "from . import f as g\nx = g\n",
        "f.py": "",
        "sub/__init__.py": "from .inner import z\n",
        "sub/inner.py": "from .. import h\nz = h\n",
        "h.py": "import distilrank.a\n",  # a cycle: a is already in
        "unused.py": "import distilrank.a\n",
        "report.py": "from distilrank import b\n",
    })
    nb = _notebook(
        tmp_path / "01_x.ipynb",
        ("markdown", "import distilrank.unused  # prose, not code"),
        "%matplotlib inline\nfrom distilrank import a, __version__\n!ls",
        "import distilrank.c",
        "from distilrank.sub.inner import z",
        "def broken(:\n    import distilrank.report",
    )
    assert _rel(lib, notebook_dependencies(nb, lib)) == {
        "__init__.py", "version_info.py", "a.py", "b.py", "c.py", "d.py", "e.py", "f.py",
        "sub/__init__.py", "sub/inner.py", "h.py"}


def test_a_subpackage_module_is_its_file_and_the_subpackage_init(tmp_path):
    """`from distilrank.stages import s` (how a notebook imports its stage) is stages/s.py, the
    subpackage's __init__.py and, transitively, what s imports; not the subpackage's other modules."""
    lib = _package(tmp_path / "lib", {
        "__init__.py": "", "c.py": "from distilrank.d import y\n", "d.py": "y = 1\n",
        "stages/__init__.py": "", "stages/s.py": "from distilrank import c\n", "stages/other.py": "",
    })
    nb = _notebook(tmp_path / "04_s.ipynb", "from distilrank.stages import s")
    assert _rel(lib, notebook_dependencies(nb, lib)) == {"__init__.py", "stages/__init__.py", "stages/s.py", "c.py", "d.py"}


def test_the_package_init_is_always_a_dependency(tmp_path):
    lib = _package(tmp_path / "lib", {"__init__.py": "", "a.py": ""})
    assert _rel(lib, module_dependencies([], lib)) == {"__init__.py"}
    assert _rel(lib, notebook_dependencies(_notebook(tmp_path / "n.ipynb", "import os"), lib)) == {
        "__init__.py"}
    assert _rel(lib, module_dependencies(["os", "distilrank_other.a"], lib)) == {"__init__.py"}


def test_fragment_names_the_executed_notebook_with_sorted_relative_paths(tmp_path, monkeypatch):
    lib = _package(tmp_path / "lib", {"__init__.py": "", "b.py": "", "a.py": "from . import b\n"})
    (tmp_path / "notebooks").mkdir()
    nb = _notebook(tmp_path / "notebooks" / "07_new.ipynb", "from distilrank import a")
    monkeypatch.chdir(tmp_path)
    deps = notebook_dependencies(nb, lib)
    assert make_rule(nb, deps) == (
        "$(OUT)/07_new.ipynb: lib/distilrank/__init__.py lib/distilrank/a.py lib/distilrank/b.py")
    fragment = make_fragment([nb], lib).splitlines()
    assert fragment[1] == make_rule(nb, deps)
    assert "lib/distilrank/a.py:" in fragment  # an empty rule: a deleted module is no error


# --- the real notebooks ------------------------------------------------------------------------

def _real_deps() -> dict[str, set[str]]:
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        return {nb.stem: {os.path.relpath(p) for p in notebook_dependencies(nb, LIB)} for nb in NOTEBOOKS}
    finally:
        os.chdir(cwd)


def test_script_runs_with_the_bare_standard_library():
    """`python3 -I -S`: no site-packages, so neither distilrank nor any third-party module."""
    run = subprocess.run([sys.executable, "-I", "-S", str(SCRIPT), *map(str, NOTEBOOKS)],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    rules = [line for line in run.stdout.splitlines() if line.startswith("$(OUT)/")]
    assert [r.split(":")[0] for r in rules] == [f"$(OUT)/{nb.name}" for nb in NOTEBOOKS]
    for rule, (stem, deps) in zip(rules, _real_deps().items(), strict=True):
        listed = [d for d in rule.split(": ", 1)[1].split() if d.startswith("lib/")]
        assert listed == sorted(deps), stem


def test_real_notebooks_depend_on_what_they_import():
    deps = _real_deps()
    assert deps, "no notebook found"
    training = [s for s in deps if s[:2] in {"01", "02", "03", "04"}]
    assert len(training) == 4
    for stem, modules in deps.items():
        assert {"lib/distilrank/__init__.py", "lib/distilrank/config.py"} <= modules, stem
        stages = {m for m in modules if m.startswith("lib/distilrank/stages/") and not m.endswith("__init__.py")}
        assert stages == {f"lib/distilrank/stages/{stem[3:]}.py"}, f"{stem} imports a stage other than its own: {stages}"
    for stem in training:
        assert "lib/distilrank/report.py" not in deps[stem], f"{stem} imports report?"
    by_number = {s[:2]: s for s in deps}
    assert "lib/distilrank/losses.py" in deps[by_number["03"]]  # via training
    assert "lib/distilrank/training.py" in deps[by_number["03"]]
    assert "lib/distilrank/losses.py" in deps[by_number["04"]]
    for n in ("01", "02"):
        assert "lib/distilrank/losses.py" not in deps[by_number[n]], n
        assert "lib/distilrank/training.py" not in deps[by_number[n]], n


def test_nothing_python_imports_is_missing():
    """Run each notebook's import statements for real: every distilrank module that lands in
    sys.modules is listed (one process; the heavy third-party imports are paid once)."""
    statements = {}
    for nb in NOTEBOOKS:
        cells = [c for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code"]
        trees = [parse_source("".join(c["source"])) for c in cells]
        statements[nb.stem] = [ast.unparse(node) for tree in trees if tree is not None
                               for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)
                               and "distilrank" in ast.unparse(node)]
    probe = (
        "import json, sys\n"
        "found = {}\n"
        "for stem, lines in json.loads(sys.argv[1]).items():\n"
        "    for name in [m for m in sys.modules if m == 'distilrank' or m.startswith('distilrank.')]:\n"
        "        del sys.modules[name]\n"
        "    for line in lines:\n"
        "        exec(line, {})\n"
        "    found[stem] = sorted(getattr(m, '__file__', None) or '' for n, m in sys.modules.items()\n"
        "                         if n == 'distilrank' or n.startswith('distilrank.'))\n"
        "print(json.dumps(found))\n"
    )
    run = subprocess.run([sys.executable, "-c", probe, json.dumps(statements)], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    imported = json.loads(run.stdout.splitlines()[-1])
    for stem, listed in _real_deps().items():
        real = {os.path.relpath(f, ROOT) for f in imported[stem] if f}
        assert real <= listed, f"{stem}: imported but not a make prerequisite: {sorted(real - listed)}"


# --- make, dry runs on a copy of the repository -----------------------------------------------

def _copy_repo(dst: Path) -> Path:
    """Makefile, lib/, notebooks/, params/, tools/ and a fake environment stamp, all dated an hour ago."""
    shutil.copy2(ROOT / "Makefile", dst / "Makefile")
    for folder in ("lib", "notebooks", "params", "tools"):
        shutil.copytree(ROOT / folder, dst / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", ".ipynb_checkpoints"))
    for name in ("requirements.txt", "constraints.txt", "pyproject.toml", ".venv/.installed"):
        (dst / name).parent.mkdir(parents=True, exist_ok=True)
        (dst / name).touch()
    old = time.time() - 3600
    for path in dst.rglob("*"):
        os.utime(path, (old, old))
    return dst


def _make(repo: Path, outputs: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
    return subprocess.run(["make", "-C", str(repo), f"OUTPUTS={outputs}", "PROFILE=smoke",
                           f"PYTHON={sys.executable}", *args],
                          capture_output=True, text=True, env=env, timeout=120)


def _would_run(run: subprocess.CompletedProcess) -> set[str]:
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return set(re.findall(r"papermill notebooks/(\d\d_\w+)\.ipynb", run.stdout))


@pytest.fixture
def up_to_date(tmp_path):
    """A repository copy whose smoke notebooks all look executed (fakes newer than any source)."""
    (tmp_path / "repo").mkdir()
    repo = _copy_repo(tmp_path / "repo")
    outputs = tmp_path / "outputs"  # missing: make creates it for the fragment
    targets = [str(outputs / "smoke" / nb.name) for nb in NOTEBOOKS]
    assert len(_would_run(_make(repo, outputs, "-n", *targets))) == len(NOTEBOOKS)
    assert (outputs / ".notebook-deps.mk").is_file()
    sections = sorted((outputs / "smoke" / ".params").glob("*.yaml"))
    assert {p.stem for p in sections} >= {"seed", "prep", "distill", "latency", "online"}
    for path in sections:  # written before the (fake) run, as in a real one
        _touch(path, time.time() - 3600)
    executed = time.time() - 1800
    for target in targets:
        Path(target).touch()
        os.utime(target, (executed, executed))
    assert _make(repo, outputs, "-q", *targets).returncode == 0, "fakes should be up to date"
    assert _would_run(_make(repo, outputs, "-n", *targets)) == set()
    return repo, outputs, targets


def _touch(path: Path, when: float) -> None:
    os.utime(path, (when, when))


def test_an_unimported_module_reruns_no_training_notebook(up_to_date):
    repo, outputs, targets = up_to_date
    _touch(repo / "lib" / "distilrank" / "report.py", time.time() - 60)
    rerun = _would_run(_make(repo, outputs, "-n", *targets))
    assert not {s for s in rerun if s[:2] in {"01", "02", "03", "04"}}, rerun


def test_a_module_reruns_its_importers_and_the_stages_after(up_to_date):
    repo, outputs, targets = up_to_date
    fragment = outputs / ".notebook-deps.mk"
    _touch(fragment, time.time() - 7200)  # stale: make must regenerate it and restart
    _touch(repo / "lib" / "distilrank" / "losses.py", time.time() - 60)
    rerun = _would_run(_make(repo, outputs, "-n", *targets))
    assert fragment.stat().st_mtime > time.time() - 600, "the fragment was not regenerated"
    stems = [nb.stem for nb in NOTEBOOKS]
    assert rerun == {s for s in stems if s[:2] >= "03"}, rerun


def test_a_new_import_in_a_notebook_reaches_the_fragment(up_to_date):
    repo, outputs, targets = up_to_date
    nb = next((repo / "notebooks").glob("01_*.ipynb"))
    data = json.loads(nb.read_text())
    data["cells"].append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                          "source": ["from distilrank import report"]})
    nb.write_text(json.dumps(data))
    _would_run(_make(repo, outputs, "-n", *targets))
    rule = next(line for line in (outputs / ".notebook-deps.mk").read_text().splitlines()
                if line.startswith(f"$(OUT)/{nb.name}:"))
    assert "lib/distilrank/report.py" in rule.split()


def _edit_params(repo: Path, old: str, new: str) -> None:
    path = repo / "params" / "smoke.yaml"
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def _add_key(repo: Path, section: str, line: str) -> None:
    """Put `line` (indented) first in `section` of the copy's smoke profile."""
    path = repo / "params" / "smoke.yaml"
    text, n = re.subn(rf"^({section}:[^\n]*\n)", rf"\g<1>  {line}\n", path.read_text(), count=1, flags=re.M)
    assert n == 1, section
    path.write_text(text)


def test_a_profile_section_reruns_only_the_notebooks_that_read_it(up_to_date):
    repo, outputs, targets = up_to_date
    stems = {nb.stem[:2]: nb.stem for nb in NOTEBOOKS}
    _edit_params(repo, "\nlatency:", "\n# a comment changes nothing\nlatency:")
    assert _would_run(_make(repo, outputs, "-n", *targets)) == set()
    _edit_params(repo, "  top_k: 10 ", "  top_k: 7 ")
    assert _would_run(_make(repo, outputs, "-n", *targets)) == {stems["09"]}
    for target in targets:  # as if 09 ran now
        _touch(Path(target), time.time())
    _edit_params(repo, "  llm_shape_gpu: llm-0.5b", "  llm_shape_gpu: llm-7b")
    rerun = _would_run(_make(repo, outputs, "-n", *targets))
    assert rerun == {stems["06"]}, rerun


def test_a_training_section_reruns_its_stage_and_the_stages_that_read_it(up_to_date):
    repo, outputs, targets = up_to_date
    _add_key(repo, "distill", "curve_queries: 2")
    rerun = _would_run(_make(repo, outputs, "-n", *targets))
    assert rerun == {nb.stem for nb in NOTEBOOKS if nb.stem[:2] >= "04"}, rerun


# --- profile sections and stages ------------------------------------------------------------------

def test_split_sections_drops_comments_and_keeps_each_block():
    text = "# head\nprofile: x  # inline kept\nseed: 3\n\nbm25:\n  # note\n  k1: 1.2\n  b: 0.7\nlist:\n- a\n"
    assert split_sections(text) == {"profile": "profile: x  # inline kept\n", "seed": "seed: 3\n",
                                     "bm25": "bm25:\n  k1: 1.2\n  b: 0.7\n", "list": "list:\n- a\n"}


def test_write_sections_rewrites_only_what_changed(tmp_path):
    params = tmp_path / "p.yaml"
    params.write_text("seed: 1\nbm25:\n  k1: 1.2\n")
    out = tmp_path / "sections"
    assert write_sections(params, out, ["precision"]) == ["bm25", "precision", "seed"]
    assert "absent" in (out / "precision.yaml").read_text()
    params.write_text("# new comment\nseed: 1\nbm25:\n  k1: 1.5\n")
    assert write_sections(params, out, ["precision"]) == ["bm25"]
    assert (out / "bm25.yaml").read_text() == "bm25:\n  k1: 1.5\n"
    assert not list(out.glob("*.tmp"))


def test_profile_reads_attributes_known_readers_and_falls_back_to_all():
    readers = {"start_run": {"seed", "device"}, "greedy": ALL}
    assert profile_reads(ast.parse("cfg = load()\nx = cfg.distill.steps + cfg.seed"), readers) == {"distill", "seed"}
    assert profile_reads(ast.parse("d = start_run(cfg)\ncfg.prep"), readers) == {"seed", "device", "prep"}
    assert profile_reads(ast.parse("m.start_run(cfg=cfg)"), readers) == {"seed", "device"}
    assert profile_reads(ast.parse("unknown(cfg)"), readers) is ALL
    assert profile_reads(ast.parse("greedy(cfg)"), readers) is ALL
    assert profile_reads(ast.parse("c = cfg"), readers) is ALL
    assert profile_reads(ast.parse("d = cfg.model_dump()"), readers) is ALL  # the whole profile, not a section
    assert profile_reads(ast.parse("print(x)"), readers) == set()


def test_profile_readers_come_from_functions_taking_cfg(tmp_path):
    lib = _package(tmp_path / "lib", {
        "__init__.py": "",
        "a.py": "def start(cfg, x):\n    return cfg.seed, cfg.device.upper()\n"
                "def passes(cfg):\n    return other(cfg)\n"
                "def plain(params):\n    return params.seed\n",
    })
    assert profile_readers(lib) == {"start": {"seed", "device"}, "passes": ALL}


def test_stages_read_come_from_metadata_or_the_previous_notebook(tmp_path):
    nb = _notebook(tmp_path / "05_x.ipynb", "x = 1")
    assert notebook_reads(nb, tmp_path / "04_y.ipynb") == ["04_y"]
    assert notebook_reads(nb, None) == []
    data = json.loads(nb.read_text())
    data["metadata"]["distilrank"] = {"reads": ["01_a", "03_b"]}
    nb.write_text(json.dumps(data))
    assert notebook_reads(nb, tmp_path / "04_y.ipynb") == ["01_a", "03_b"]


def test_every_real_notebook_names_the_stages_it_reads():
    stems = [nb.stem for nb in NOTEBOOKS]
    for i, nb in enumerate(NOTEBOOKS):
        meta = json.loads(nb.read_text())["metadata"]
        reads = meta.get("distilrank", {}).get("reads")
        assert reads is not None, f"{nb.stem}: metadata distilrank.reads missing"
        assert set(reads) <= set(stems[:i]), f"{nb.stem} reads a later or unknown stage: {reads}"
        source = "".join("".join(c["source"]) for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code")
        for folder, writer in (("transfer", "03"), ("cpt", "02")):
            if f'OUT / "{folder}"' in source and nb.stem[:2] != writer:
                assert any(r.startswith(writer) for r in reads), f"{nb.stem} reads {folder}/ but not stage {writer}"
