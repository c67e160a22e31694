"""What every process of a launch runs (`parallel.launch`): `python -m distilrank.launch_jobs job.json`.

Each process reads the job, joins the process group (`accelerate.PartialState`: gloo on a CPU,
nccl on GPUs) and runs the job's task, which lives beside the loop it runs in one process:

- `score`: `parallel.score_task`, `rankers.score_candidates` on the process's contiguous share of
  each frame's rows, written as `shards/<frame>.rank<k>.npy`;
- `train`: `training.train_task`, `training.fit_ranker` under the Trainer's DDP, rank 0 saving
  the model, every process scoring its share of the evaluation frames;
- `cpt`: `continued_pretraining.cpt_task`, `continued_pretraining.train_cpt` under DDP, rank 0 saving the decoder.

(The tasks are named here as `module:function` and imported when run, so that this module pulls
no stage's imports into the notebooks that launch it: `make` re-runs a notebook when a module it
imports changes, and each task's module is one its notebook imports anyway.) A failing process
writes its traceback to `errors/rank<k>.txt` before it exits, which `parallel.launch` reports.
Ranks other than 0 draw no progress bars.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import traceback
from datetime import timedelta
from pathlib import Path

TASKS = {"score": "distilrank.parallel:score_task", "train": "distilrank.training:train_task", "cpt": "distilrank.stages.continued_pretraining:cpt_task"}
TIMEOUT = timedelta(hours=6)  # how long a collective waits: rank 0 alone measures a teacher's dev learning-curve point
# (20 minutes of a 7B decoder on the paper profile) and saves the model while the others wait; torch's default (10 min
# for NCCL) would kill the launch


def device_of(state) -> str:
    """The device string the library's loops take: `cpu`, or this process's `cuda:<k>`."""
    return "cpu" if state.device.type == "cpu" else str(state.device)


def fail_here(job: dict, rank: int) -> None:
    """Fault injection for the tests (`fail_rank` in a job; no profile sets it): that rank dies
    from SIGKILL, as a process the kernel's OOM killer picks would."""
    if job.get("fail_rank") == rank:
        os.kill(os.getpid(), signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    """Run the job file named on the command line on this process."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: accelerate launch ... -m distilrank.launch_jobs job.json", file=sys.stderr)
        return 2
    job = json.loads(Path(args[0]).read_text())
    if job["task"] not in TASKS:
        print(f"{args[0]}: unknown task {job['task']!r} (one of {sorted(TASKS)})", file=sys.stderr)
        return 2
    from accelerate import PartialState

    from distilrank import progress
    from distilrank.notebook import quiet_libraries

    state = PartialState(cpu=job["device"] == "cpu", backend=job["backend"], timeout=TIMEOUT)
    quiet_libraries()
    if state.process_index != 0:
        progress.silence()
    try:
        module, name = TASKS[job["task"]].split(":")
        with progress.task(job.get("label", "")):
            getattr(importlib.import_module(module), name)(job, state)
        state.wait_for_everyone()
    except BaseException:
        errors = Path(job["job_dir"]) / "errors"
        errors.mkdir(parents=True, exist_ok=True)
        (errors / f"rank{state.process_index}.txt").write_text(traceback.format_exc())
        raise
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
