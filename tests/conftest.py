"""Shared fixtures: the real Cranfield files and small synthetic collections, and the paper-shaped
chain (`test_paper_profile.py`), started in the background as soon as the suite is collected: on
two cores it runs beside the other tests and the smoke chain instead of after them."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from distilrank.data import Collection, Doc
from distilrank.paths import ROOT

sys.path.insert(0, str(ROOT / "tools"))  # tools/deps.py, the Makefile's script, for test_makefile_deps.py
CRANFIELD = (ROOT / ".." / "shared" / "data" / "cranfield").resolve()
_PAPER_CHAIN: dict = {}


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the paper-shaped chain when a collected test asks for it (`paper_chain`)."""
    if any("paper_chain" in getattr(item, "fixturenames", ()) for item in session.items):
        import tempfile

        from test_paper_profile import start_chain  # noqa: I001 (tests/ is on sys.path: pytest's prepend import mode)

        folder = Path(tempfile.mkdtemp(prefix="paper-chain-"))
        _PAPER_CHAIN.update(folder=folder, process=start_chain(folder))


@pytest.fixture(scope="session")
def paper_chain():
    """(folder, make's exit code, make's output) of the paper-shaped chain, waiting for it."""
    if "process" not in _PAPER_CHAIN:
        pytest.fail("the paper-shaped chain was not started at collection")
    returncode = _PAPER_CHAIN["process"].wait()
    yield _PAPER_CHAIN["folder"], returncode, (_PAPER_CHAIN["folder"] / "make.log").read_text()
    shutil.rmtree(_PAPER_CHAIN["folder"], ignore_errors=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A chain still running when the session ends (a test run cut short) is stopped."""
    process = _PAPER_CHAIN.get("process")
    if process is not None and process.poll() is None:
        import os
        import signal

        os.killpg(process.pid, signal.SIGTERM)  # make, papermill and the kernels: one process group
        process.wait()
    if "folder" in _PAPER_CHAIN:
        shutil.rmtree(_PAPER_CHAIN["folder"], ignore_errors=True)


@pytest.fixture(scope="session")
def cranfield_dir() -> Path:
    if not (CRANFIELD / "cran.all.1400").is_file():
        pytest.fail(f"the embedded data is missing: {CRANFIELD} (../shared must sit beside the checkout)")
    return CRANFIELD


@pytest.fixture
def cranfield_copy(cranfield_dir: Path, tmp_path: Path) -> Path:
    """A writable copy of the Cranfield folder, to damage in tests."""
    dst = tmp_path / "cranfield"
    shutil.copytree(cranfield_dir, dst)
    for f in dst.iterdir():
        f.chmod(0o644)
    return dst


@pytest.fixture
def tiny_collection() -> Collection:
    """Six documents, three queries, graded judgments: small enough to check by hand."""
    docs = {
        "d1": Doc("d1", "wing flutter", "flutter of a swept wing at high speed"),
        "d2": Doc("d2", "heat transfer", "heat transfer in a laminar boundary layer"),
        "d3": Doc("d3", "shock waves", "shock waves in supersonic flow past a cone"),
        "d4": Doc("d4", "boundary layer", "transition of the boundary layer on a flat plate"),
        "d5": Doc("d5", "buckling", "buckling of thin cylindrical shells under pressure"),
        "d6": Doc("d6", "", ""),
    }
    queries = {"1": "flutter of swept wings", "2": "boundary layer heat transfer in supersonic flow", "3": "supersonic shock waves"}
    qrels = {"1": {"d1": 4, "d5": 1}, "2": {"d2": 3, "d4": 2, "d6": 1}, "3": {"d3": 4}}
    return Collection("tiny", docs, queries, qrels)
