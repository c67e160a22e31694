"""Progress output that reads well twice: live while a notebook runs (papermill's log, Jupyter),
and as one final line per loop in the executed copy a reader opens later.

- `PlainProgress` is Trainer's text progress bar without its per-log dict lines; `plain_progress`
  puts it in place of the HTML table Trainer uses inside a notebook (one table per model).
- `clean_notebook` folds an executed notebook's stream outputs the way a terminal shows them:
  consecutive stream outputs are merged and read as a terminal would show them (carriage returns,
  and tqdm's cursor-up for nested bars), so a tqdm loop leaves one line.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
from tqdm.auto import tqdm
from transformers import Trainer
from transformers.trainer_callback import ProgressCallback

from distilrank.paths import atomic_path


class PlainProgress(ProgressCallback):
    """tqdm progress for training and evaluation; logged losses go to the learning curves, not to
    the output."""

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self.training_bar = tqdm(total=state.max_steps, desc="training", unit="step", dynamic_ncols=True)
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
    nb = clean_notebook(nbformat.read(path, as_version=4))
    with atomic_path(path) as tmp:
        nbformat.write(nb, str(tmp))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m distilrank.progress NOTEBOOK.ipynb [...]", file=sys.stderr)
        return 2
    for arg in args:
        clean_file(Path(arg))
    return 0


if __name__ == "__main__":
    sys.exit(main())
