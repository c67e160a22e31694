"""Where things live: the repository root, a profile's output folder, and atomic writes.

Every artifact a later stage trusts is written through `atomic_path` / `atomic_dir`: the data go
to a temporary sibling first and are renamed into place only when complete, so a killed run never
leaves a half-written file behind under the final name.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import distilrank

ROOT = Path(distilrank.__file__).resolve().parents[2]


def outputs_root() -> Path:
    """`outputs/` under the root, or `$DISTILRANK_OUTPUTS` (the Makefile's `OUTPUTS=`) when set."""
    return Path(os.environ.get("DISTILRANK_OUTPUTS") or ROOT / "outputs")


def resolve(path: str | Path) -> Path:
    """An absolute path; relative ones are taken from the repository root, not the cwd."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else (ROOT / p).resolve()


def output_dir(profile: str) -> Path:
    """`outputs/<profile>/`, created if missing."""
    out = outputs_root() / profile
    out.mkdir(parents=True, exist_ok=True)
    return out


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary file path beside `target`; rename it onto `target` on success only."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would outlive the rename
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """Yield a fresh temporary directory beside `target`; swap it in for `target` on success.

    An existing `target` is replaced only after the new one is complete; on error the old one
    stays untouched and the temporary one is removed.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    tmp.chmod(0o777 & ~_umask())  # mkdtemp's 0700 would outlive the rename
    try:
        yield tmp
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_json(obj: Any, path: str | Path) -> None:
    """A JSON file, atomically (`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=1) + "\n")
