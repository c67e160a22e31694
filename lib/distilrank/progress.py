"""Progress output that reads well three times: live in the terminal where `make replicate` runs,
live in Jupyter, and as one final line per loop in the executed copy a reader opens later.

- `bar` is the project's progress bar (tqdm): every loop that trains or scores uses it.
  `PlainProgress` is Trainer's text progress bar without its per-log dict lines; `plain_progress`
  puts it in place of the HTML table Trainer uses inside a notebook (one table per model).
- The terminal: papermill shows only its cell counter while a cell runs. When
  `DISTILRANK_PROGRESS_LOG` names a file (the Makefile sets it per notebook), every `bar` also
  appends a small JSON event to it (`event`: what runs, under which `task`, steps done, time
  spent; at most one a second per bar), and `python -m distilrank.progress --follow FILE` (which
  the Makefile runs beside papermill) turns them into one line per loop (`LiveView`, `live_line`):
  redrawn in place on a terminal, printed when the loop ends (and every half minute while a long
  one runs) when the output is a log. The executed notebook is untouched by it.
- `clean_notebook` folds an executed notebook's stream outputs the way a terminal shows them:
  consecutive stream outputs are merged and read as a terminal would show them (carriage returns,
  and tqdm's cursor-up for nested bars), so a tqdm loop leaves one line.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm.auto import tqdm
from transformers import Trainer
from transformers.trainer_callback import ProgressCallback

from distilrank.paths import atomic_path

if TYPE_CHECKING:  # nbformat (through jsonschema) takes a second to import: only the functions that read notebooks do
    import nbformat

LIVE_ENV = "DISTILRANK_PROGRESS_LOG"  # the file live progress events go to (unset: none are written)
LIVE_EVERY_S = 1.0  # at most one event a second per bar (plus its first and its last)

_TASKS: list[str] = []
_IDS = itertools.count(1)


@contextlib.contextmanager
def task(label: str) -> Iterator[None]:
    """Name what the bars inside the block belong to (`bert6-hybrid@seed2`), in the live lines; nested
    names join outermost first (`recipe len64-pseudo0-cosine-x2 / bert6-hybrid`)."""
    _TASKS.append(label)
    try:
        yield
    finally:
        _TASKS.pop()


def event(bar: tqdm, done: bool) -> dict:
    """A bar's state as one live event: its id, the current task, description, unit, steps done and
    total, seconds elapsed, nesting position and whether it finished."""
    d = bar.format_dict
    return {"id": bar._live_id, "task": " / ".join(t for t in _TASKS if t), "desc": (bar.desc or "").rstrip(": "),
            "unit": d.get("unit") or "it", "n": int(d.get("n") or 0), "total": d.get("total"), "elapsed": round(float(d.get("elapsed") or 0), 1),
            "pos": abs(int(getattr(bar, "pos", 0) or 0)), "done": done}


def _report(bar: tqdm, done: bool = False) -> None:
    path = os.environ.get(LIVE_ENV)
    if not path or bar.disable:
        return
    now = time.monotonic()
    first = not hasattr(bar, "_live_id")
    if first:
        bar._live_id = next(_IDS)
    elif not done and now - getattr(bar, "_live_at", 0.0) < LIVE_EVERY_S:
        return
    bar._live_at = now
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(event(bar, done)) + "\n")
    except OSError:  # live progress is a convenience: never the reason a run fails
        pass


_SILENT: list[bool] = []


def silence() -> None:
    """Every `bar` made from now on in this process is disabled: a data-parallel worker other than
    rank 0 (`distilrank.launch_jobs`), whose bars would repeat rank 0's."""
    _SILENT.append(True)


class bar(tqdm):  # noqa: N801 (used like tqdm, the function it replaces)
    """The project's progress bar: tqdm, plus a live event per update when `LIVE_ENV` is set."""

    def __init__(self, *args, **kwargs):
        if _SILENT:
            kwargs["disable"] = True
        super().__init__(*args, **kwargs)

    def display(self, *args, **kwargs):
        shown = super().display(*args, **kwargs)
        if not getattr(self, "_live_closed", False):
            _report(self)
        return shown

    def close(self):
        if not getattr(self, "_live_closed", bool(self.disable)):
            self._live_closed = True
            _report(self, done=True)
        super().close()


def clock(seconds: float) -> str:
    """Seconds as a clock: 75 -> 1:15, 3725 -> 1:02:05."""
    s = int(round(max(seconds, 0)))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def _count(n: int, total: int | None, unit: str) -> str:
    plural = unit + ("es" if unit.endswith(("ch", "sh", "s", "x")) else "s")
    return f"{n}/{total} {plural}" if total else f"{n} {plural}"


def live_line(e: dict) -> str:
    """One loop's live line: `bert6-hybrid: training 120/250 steps, 1:19 elapsed, ~1:25 left`, or
    when it ended `... 250/250 steps in 2:44`; the time left extrapolates the mean pace so far."""
    what = (f"{e['task']}: " if e.get("task") else "") + (e.get("desc") or "working")
    count = _count(e["n"], e.get("total"), e.get("unit") or "it")
    if e.get("done"):
        return f"{what} {count} in {clock(e['elapsed'])}"
    line = f"{what} {count}, {clock(e['elapsed'])} elapsed"
    if e.get("total") and e["n"] > 0:
        line += f", ~{clock(e['elapsed'] / e['n'] * (e['total'] - e['n']))} left"
    return line


class LiveView:
    """Live events in, terminal text out (`feed`): on a terminal (`tty`), the running loops on one
    line redrawn in place, and a loop's final line kept when it ends; in a log, the final line of
    each outermost loop, and a line with the running loops at most every `every_s` seconds. A
    nested loop (an evaluation inside training) never leaves a line of its own. `prefix` starts
    every line (the notebook's name)."""

    def __init__(self, tty: bool, prefix: str = "", every_s: float = 30.0, width: int = 160) -> None:
        self.tty, self.prefix, self.every_s, self.width = tty, prefix, every_s, width
        self.active: dict[int, dict] = {}
        self.showing = False  # a redrawn status line is on screen (tty)
        self.last_status = None

    def _status(self) -> str:
        return (self.prefix + " | ".join(live_line(e) for e in sorted(self.active.values(), key=lambda e: e["pos"])))[: self.width]

    def feed(self, e: dict, now: float) -> str:
        out = ""
        if e.get("done"):
            self.active.pop(e["id"], None)
            if e.get("pos", 0) == 0:
                out += ("\r\x1b[K" if self.showing else "") + self.prefix + live_line(e) + "\n"
                self.showing = False
                self.last_status = now
        else:
            self.active[e["id"]] = e
        if self.tty and self.active:
            out += "\r\x1b[K" + self._status()
            self.showing = True
        elif self.tty and self.showing:
            out += "\r\x1b[K"
            self.showing = False
        elif not self.tty and self.active:
            if self.last_status is None:
                self.last_status = now  # a loop that ends within every_s leaves its final line alone
            elif now - self.last_status >= self.every_s:
                out += self._status() + "\n"
                self.last_status = now
        return out

    def finish(self) -> str:
        """What to write when the run ends: clear a status line left on a terminal."""
        return "\r\x1b[K" if self.tty and self.showing else ""


def follow(path: Path, prefix: str = "", poll_s: float = 0.5, out=None, stopped=None) -> int:
    """Print the live events appended to `path` as `LiveView` lines until SIGTERM or SIGINT (the
    Makefile stops it when papermill returns; `stopped`, a callable, replaces the signals), then
    drain what is left and return 0."""
    out = out or sys.stdout
    view = LiveView(out.isatty(), prefix)
    if stopped is None:
        flag: list[bool] = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: flag.append(True))
        stopped = lambda: bool(flag)  # noqa: E731
    path.touch(exist_ok=True)
    with open(path, encoding="utf-8") as f:
        buffer = ""
        while True:
            stop = stopped()  # read before the file: what was written before the stop is drained
            chunk = f.read()
            buffer += chunk
            *lines, buffer = buffer.split("\n")
            for line in lines:
                try:
                    text = view.feed(json.loads(line), time.monotonic())
                except (ValueError, KeyError, TypeError):
                    continue
                if text:
                    out.write(text)
                    out.flush()
            if stop and not chunk:
                break
            if not chunk:
                time.sleep(poll_s)
    out.write(view.finish())
    out.flush()
    return 0


class PlainProgress(ProgressCallback):
    """tqdm progress for training and evaluation; logged losses go to the learning curves, not to
    the output."""

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self.training_bar = bar(total=state.max_steps, desc="training", unit="step", dynamic_ncols=True)
        self.current_step = 0

    def on_log(self, args, state, control, logs=None, **kwargs):
        return None


def plain_progress(trainer: Trainer) -> Trainer:
    """Replace `trainer`'s progress callback (the notebook HTML table, the text bar, or the log-dict
    printer Trainer picks when transformers' logging is quiet) with `PlainProgress`; returns it."""
    from transformers.trainer_callback import PrinterCallback
    from transformers.utils.notebook import NotebookProgressCallback

    for kind in (NotebookProgressCallback, ProgressCallback, PrinterCallback):  # PrinterCallback: when logging is quiet
        trainer.pop_callback(kind)
    trainer.add_callback(PlainProgress)
    return trainer


def redraws(nb: nbformat.NotebookNode) -> int:
    """How many redraws (carriage returns, cursor moves) `nb`'s stream outputs still hold (0 once
    cleaned)."""
    return sum(line.rstrip("\r").count("\r") + line.count("\x1b[A")
               for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
               if o.output_type == "stream" for line in o.text.replace("\r\n", "\n").split("\n"))


_TOKENS = re.compile(r"\x1b\[(\d*)A|\r|\n|[^\r\n\x1b]+|\x1b")


def terminal_text(text: str) -> str:
    """`text` as a terminal leaves it: a carriage return goes back to the line's start and what
    follows overwrites it, `ESC[nA` moves up n lines (tqdm's nested bars), and a line a progress bar
    cleared (`leave=False`) goes. Other escape sequences (colours) pass through as text."""
    lines, row, col, redrawn = [""], 0, 0, set()
    for m in _TOKENS.finditer(text.replace("\r\n", "\n")):
        tok = m.group(0)
        if tok == "\n":
            row, col = row + 1, 0
            if row == len(lines):
                lines.append("")
        elif tok == "\r":
            col = 0
            redrawn.add(row)
        elif m.group(1) is not None:
            row = max(0, row - int(m.group(1) or 1))
        else:
            line = lines[row].ljust(col)
            lines[row] = line[:col] + tok + line[col + len(tok):]
            col += len(tok)
    return "\n".join(line.rstrip() if r in redrawn else line for r, line in enumerate(lines)
                     if not (r in redrawn and not line.strip()))


def clean_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """`nb` with consecutive stream outputs of one name merged and read as a terminal shows them
    (`terminal_text`: each progress loop leaves its last state); stream outputs left empty are
    dropped. Mutates and returns `nb`."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        merged: list = []
        for out in cell.get("outputs", []):
            if out.output_type == "stream" and merged and merged[-1].output_type == "stream" and merged[-1].name == out.name:
                merged[-1].text += out.text
            else:
                merged.append(out)
        for out in merged:
            if out.output_type == "stream":
                out.text = terminal_text(out.text)
        cell.outputs = [o for o in merged if o.output_type != "stream" or o.text.strip()]
    return nb


def clean_file(path: Path) -> None:
    """Clean the executed notebook at `path` in place (atomically)."""
    import nbformat

    nb = clean_notebook(nbformat.read(path, as_version=4))
    with atomic_path(path) as tmp:
        nbformat.write(nb, str(tmp))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--follow"] and len(args) in (2, 3):
        return follow(Path(args[1]), f"  [{args[2]}] " if len(args) == 3 else "")
    if not args or args[0].startswith("--"):
        print("usage: python -m distilrank.progress NOTEBOOK.ipynb [...]\n"
              "       python -m distilrank.progress --follow EVENTS_FILE [LABEL]", file=sys.stderr)
        return 2
    for arg in args:
        clean_file(Path(arg))
    return 0


if __name__ == "__main__":
    sys.exit(main())
