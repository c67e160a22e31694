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


def test_live_line_says_what_runs_how_far_and_how_long_is_left():
    running = {"task": "bert6-hybrid@seed2", "desc": "training", "unit": "step", "n": 100, "total": 250, "elapsed": 80.0, "done": False}
    assert progress.live_line(running) == "bert6-hybrid@seed2: training 100/250 steps, 1:20 elapsed, ~2:00 left"  # 0.8 s a step x 150
    done = {**running, "task": "", "desc": "test", "unit": "batch", "n": 36, "total": 36, "elapsed": 3725.0, "done": True}
    assert progress.live_line(done) == "test 36/36 batches in 1:02:05"
    assert progress.live_line({"desc": "", "unit": "it", "n": 3, "total": None, "elapsed": 0.4, "done": False}) == "working 3 its, 0:00 elapsed"


def _ev(i, n, total=4, done=False, pos=0, desc="training"):
    return {"id": i, "task": "m", "desc": desc, "unit": "step", "n": n, "total": total, "elapsed": float(n), "pos": pos, "done": done}


def test_live_view_on_a_terminal_redraws_one_line_per_loop():
    view = progress.LiveView(tty=True, prefix="[04] ")
    assert view.feed(_ev(1, 1), 0) == "\r\x1b[K[04] m: training 1/4 steps, 0:01 elapsed, ~0:03 left"
    nested = view.feed(_ev(2, 1, total=2, pos=1, desc="dev"), 1)  # an evaluation inside training shares the line
    assert nested == "\r\x1b[K[04] m: training 1/4 steps, 0:01 elapsed, ~0:03 left | m: dev 1/2 steps, 0:01 elapsed, ~0:01 left"
    assert view.feed(_ev(2, 2, total=2, pos=1, desc="dev", done=True), 2).count("\n") == 0  # a nested loop leaves no line
    assert view.feed(_ev(1, 4, done=True), 3) == "\r\x1b[K[04] m: training 4/4 steps in 0:04\n"  # the loop's final line stays
    assert view.finish() == ""


def test_live_view_in_a_log_prints_final_lines_and_a_status_every_interval():
    view = progress.LiveView(tty=False, every_s=30)
    assert view.feed(_ev(1, 1), 0) == ""  # a short loop leaves its final line alone
    assert view.feed(_ev(1, 2), 10) == ""
    assert view.feed(_ev(1, 3), 31) == "m: training 3/4 steps, 0:03 elapsed, ~0:01 left\n"
    assert view.feed(_ev(1, 4, done=True), 40) == "m: training 4/4 steps in 0:04\n"
    assert view.feed(_ev(2, 1, total=2, pos=1, desc="dev", done=True), 41) == ""


def test_bars_write_live_events_only_when_asked(tmp_path, monkeypatch):
    import io
    import json

    log = tmp_path / "live.jsonl"
    monkeypatch.delenv(progress.LIVE_ENV, raising=False)
    for _ in progress.bar(range(3), file=io.StringIO()):
        pass
    assert not log.exists()
    monkeypatch.setenv(progress.LIVE_ENV, str(log))
    with progress.task("recipe r1"), progress.task(""), progress.task("bert6-point"):  # nested names join; an empty one is skipped
        for _ in progress.bar(range(5), desc="test", unit="batch", file=io.StringIO(), mininterval=0):
            pass
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert events[0]["n"] == 0 and events[0]["total"] == 5 and events[0]["task"] == "recipe r1 / bert6-point" and events[0]["desc"] == "test"
    assert events[-1]["done"] and events[-1]["n"] == 5 and sum(e["done"] for e in events) == 1
    assert len(events) <= 3  # throttled to one a second (first, last, and at most one between in so short a loop)
    out = io.StringIO()
    assert progress.follow(log, "[07] ", poll_s=0.01, out=out, stopped=lambda: True) == 0
    assert out.getvalue() == "[07] recipe r1 / bert6-point: test 5/5 batches in 0:00\n"


def test_the_follow_command_line():
    assert progress.main(["--follow"]) == 2 and progress.main(["--bogus"]) == 2
