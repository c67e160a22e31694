import nbformat
import torch
from transformers import Trainer, TrainingArguments
from transformers.trainer_callback import ProgressCallback
from transformers.utils.notebook import NotebookProgressCallback

from distilrank import progress


def test_terminal_text_keeps_the_last_redraw_of_each_line():
    assert progress.terminal_text("\rdev:   0%| 0/6\rdev: 100%| 6/6\n") == "dev: 100%| 6/6\n"
    assert progress.terminal_text("a\r\nb\n") == "a\nb\n"  # Windows line ends are not redraws
    assert progress.terminal_text("kept\n\r    \rnext\n") == "kept\nnext\n"
    assert progress.terminal_text("bar 50%\r       \r\nafter\n") == "after\n"  # leave=False clears its line
    assert progress.terminal_text("\x1b[1mbold\x1b[0m\n") == "\x1b[1mbold\x1b[0m\n"  # colours pass through


def test_terminal_text_resolves_nested_bars():
    # what tqdm writes when an evaluation bar (position 1) runs inside a training bar (position 0)
    text = ("\r 25%| 1/4" "\n\rdev:   0%| 0/2\x1b[A" "\n\rdev: 100%| 2/2\x1b[A" "\r 50%| 2/4"
            "\n\rdev: 100%| 2/2\x1b[A" "\r100%| 4/4" "\n")
    assert progress.terminal_text(text) == "100%| 4/4\ndev: 100%| 2/2"
    assert progress.terminal_text("one\n\ntwo") == "one\n\ntwo"  # blank lines a cell printed stay


def _executed(*texts: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text=t) for t in texts]
    cell.outputs.append(nbformat.v4.new_output("display_data", data={"text/plain": "table"}))
    cell.outputs.append(nbformat.v4.new_output("stream", name="stderr", text="\r"))
    nb = nbformat.v4.new_notebook()
    nb.cells = [cell]
    return nb


def test_clean_notebook_leaves_one_line_per_loop_and_drops_empty_streams():
    nb = _executed("\rtest:   0%| 0/3", "\rtest:  33%| 1/3", "\rtest: 100%| 3/3", "\n", "\rtrain: 100%| 2/2", "\n")
    assert progress.redraws(nb) == 4
    cell = progress.clean_notebook(nb).cells[0]
    assert progress.redraws(nb) == 0
    assert [o.output_type for o in cell.outputs] == ["stream", "display_data"]
    assert cell.outputs[0].text == "test: 100%| 3/3\ntrain: 100%| 2/2\n"


def test_clean_file_rewrites_in_place(tmp_path):
    path = tmp_path / "nb.ipynb"
    nbformat.write(_executed("\ra 1/2", "\ra 2/2", "\n"), str(path))
    assert progress.main([str(path)]) == 0
    assert nbformat.read(path, as_version=4).cells[0].outputs[0].text == "a 2/2\n"
    assert progress.main([]) == 2


def test_plain_progress_replaces_the_notebook_table(tmp_path):
    args = TrainingArguments(output_dir=str(tmp_path), report_to="none", use_cpu=True)
    trainer = Trainer(model=torch.nn.Linear(2, 1), args=args)
    trainer.pop_callback(ProgressCallback)
    trainer.add_callback(NotebookProgressCallback)  # what Trainer picks inside a notebook kernel
    progress.plain_progress(trainer)
    kinds = [type(c) for c in trainer.callback_handler.callbacks]
    assert progress.PlainProgress in kinds and NotebookProgressCallback not in kinds
    assert sum(issubclass(k, ProgressCallback) for k in kinds) == 1


def test_real_tqdm_nested_in_training_leaves_one_line_per_loop():
    import io

    from tqdm import tqdm

    buf = io.StringIO()
    outer = tqdm(total=3, desc="training", file=buf, mininterval=0)
    for _ in range(3):  # an evaluation inside training, as EvalEvery runs one (rankers.score_candidates: leave=None)
        for _ in tqdm(range(2), desc="dev", file=buf, leave=None, mininterval=0):
            pass
        outer.update(1)
    outer.close()
    for _ in tqdm(range(2), desc="test", file=buf, leave=None, mininterval=0):
        pass
    lines = progress.terminal_text(buf.getvalue()).splitlines()
    assert [line.split(":")[0] for line in lines] == ["training", "test"] and "3/3" in lines[0] and "2/2" in lines[1]
