"""Data parallelism for the heavy loops of notebooks 02, 03 and 04: `accelerate launch` on N processes.

With the profile's `parallel.processes` at 1 (`plan` returns None) nothing here runs and every loop
stays in the notebook's kernel, as it always did. With N > 1, a loop that would train or score in
the kernel instead

1. writes what it needs to a job folder (`<work_dir>/launch/<label>/`): its frames as Parquet, its
   settings as `job.json` (`write_frame`, `launch`);
2. starts `python -m accelerate.commands.launch --multi_gpu --num_processes N ... -m
   distilrank.launch_jobs job.json` (torchrun underneath; on a CPU the processes meet over gloo),
   streams its output into the cell (progress bars of rank 0 only) and waits;
3. reads back what the processes left where the single-process path puts it: the trained model
   (saved by rank 0 with `save_pretrained`), and each rank's scores of its contiguous share of
   the rows (`shards/<frame>.rank<k>.npy`, `shard_bounds`), merged in the original row order
   (`merge_shards`) before any cache is written (`rankers.save_scores`, atomic as ever).

Scoring is `score_frames` here; training is `training.launched_systems` (rankers: the teachers and
students) and `train_cpt` here (notebook 02's decoders). Training uses the Trainer's own
distributed path: each process draws its own batches of the same sampled groups, DDP averages the
gradients, rank 0 saves. A process that dies stops the launch:
`LaunchError` names its rank and its error (its traceback file, or torchrun's failure summary for
a process killed by a signal), and no score cache is written, since merging reads every shard or
none. See docs/scaling.md.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from distilrank import launch_jobs
from distilrank.paths import atomic_path


class LaunchError(RuntimeError):
    """A launched job failed: which rank, and why."""


@dataclass(frozen=True)
class Plan:
    """How a launch runs: `processes` on `device` ("cuda": one GPU each; "cpu"), meeting over
    `backend` (nccl, gloo), the model spread by `strategy` (ddp)."""

    processes: int
    device: str
    backend: str
    strategy: str = "ddp"


def resolve_processes(processes: int | str, device: str) -> int:
    """`parallel.processes` as a number: `auto` is every visible GPU on CUDA, 1 on a CPU."""
    if processes == "auto":
        if device != "cuda":
            return 1
        import torch

        return max(1, torch.cuda.device_count())
    return int(processes)


def plan(section: Any, device: str, *, role: str = "student") -> Plan | None:
    """The launch plan for a profile's `parallel` section on `device`, or None when it resolves to
    one process (the notebook's own kernel runs the loop). `role` "teacher" (CPT and the ranking
    teacher) takes `teacher_strategy`; students always use DDP."""
    n = resolve_processes(section.processes, device)
    if n <= 1:
        return None
    if device == "cuda":
        import torch

        if n > torch.cuda.device_count():
            raise ValueError(f"parallel.processes {n}: one process per GPU, and torch sees {torch.cuda.device_count()}")
    backend = section.backend if section.backend != "auto" else ("nccl" if device == "cuda" else "gloo")
    if backend == "nccl" and device != "cuda":
        raise ValueError(f"parallel.backend nccl needs CUDA devices; this run's device is {device!r} (use gloo or auto)")
    strategy = section.teacher_strategy if role == "teacher" else "ddp"
    if strategy == "fsdp":
        raise NotImplementedError("parallel.teacher_strategy fsdp: the estimate models it (docs/scaling.md), but the launched "
                                  "training does not gather sharded weights for save_pretrained yet; use ddp (LoRA fits a "
                                  "full bf16 copy of a 7B decoder per 80 GB GPU)")
    return Plan(n, device, backend, strategy)


def trainer_flags() -> dict[str, object]:
    """`TrainingArguments` keywords for a launched process (none in the kernel: its arguments stay
    as they were): every parameter of these rankers and decoders is used in the forward pass or
    frozen, so DDP need not search the graph for unused ones (a traversal per step, and a warning);
    and the other ranks stay as quiet as rank 0 (Trainer would set them to warnings: load reports)."""
    return {"ddp_find_unused_parameters": False, "log_level_replica": "error"} if int(os.environ.get("WORLD_SIZE", "1")) > 1 else {}


def cpu_threads(processes: int) -> int:
    """Threads per process on a CPU: the cores shared out, at least one."""
    return max(1, (os.cpu_count() or 1) // processes)


def launch_command(p: Plan, job_file: str | Path) -> list[str]:
    """`accelerate launch` of `distilrank.launch_jobs job_file` on `p.processes` processes (a free
    port each time: two launches never collide)."""
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(p.processes),
           "--num_machines", "1", "--main_process_port", "0", "--mixed_precision", "no", "--dynamo_backend", "no"]
    if p.device == "cpu":
        cmd += ["--num_cpu_threads_per_process", str(cpu_threads(p.processes))]
    return [*cmd, "-m", launch_jobs.__name__, str(job_file)]


ERRORS = "errors"  # <job>/errors/rank<k>.txt: a worker's traceback (launch_jobs writes it)
SHARDS = "shards"
_ENTRY = re.compile(r"^\s*rank\s*:\s*(\d+).*?^\s*exitcode\s*:\s*(-?\d+)[^\n]*.*?^\s*traceback\s*:\s*([^\n]*)", re.M | re.S)


def failure(job_dir: Path, output: str, returncode: int) -> str:
    """What went wrong in a launch, in a few lines: the rank that failed first (torchrun's root
    cause) with its error (the last line of its traceback file, or its exit code and signal when
    it died without writing one), then any other rank that failed after it, and the tail of the
    output."""
    tracebacks = {}
    for f in (job_dir / ERRORS).glob("rank*.txt"):
        last = [x for x in f.read_text().strip().splitlines() if x.strip()]
        tracebacks[int(f.stem[4:])] = f"{last[-1] if last else '(empty traceback)'} (traceback: {f})"
    summary, _, root = output.rpartition("Root Cause")
    died = {}
    for text in (root, summary):  # the root cause first
        for rank, code, cause in _ENTRY.findall(text):
            died.setdefault(int(rank), f"exit code {code}; {cause.strip()}")
    order = list(died) + sorted(r for r in tracebacks if r not in died)
    lines = [f"rank {r} {'failed' if r in tracebacks else 'died'}{' first' if i == 0 and len(order) > 1 else ''}: "
             f"{tracebacks.get(r) or died[r]}" for i, r in enumerate(order)]
    if not lines:
        lines.append(f"the launcher exited with code {returncode}")
    tail = "\n".join(output.strip().splitlines()[-15:])
    return "\n".join(lines) + f"\n--- last lines of the launch ---\n{tail}"


def launch(p: Plan, job: dict, job_dir: str | Path, *, out=None) -> None:
    """Run `job` (`launch_jobs` reads it) on `p`'s processes: `job.json` in `job_dir`, the launch's
    output streamed to `out` (the cell; default stdout) as it comes, and wait. Raises
    `LaunchError` naming the failed rank when any process fails."""
    job_dir = Path(job_dir)
    (job_dir / ERRORS).mkdir(parents=True, exist_ok=True)
    for f in (job_dir / ERRORS).glob("*"):
        f.unlink()
    job = {**job, "job_dir": str(job_dir), "device": p.device, "backend": p.backend}
    (job_dir / "job.json").write_text(json.dumps(job, indent=1))
    out = out or sys.stdout
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
    lib = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([lib, *[x for x in env.get("PYTHONPATH", "").split(os.pathsep) if x]])
    tail: deque[str] = deque(maxlen=400)
    proc = subprocess.Popen(launch_command(p, job_dir / "job.json"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)  # its own process group: an interrupted cell stops the launcher and its workers
    assert proc.stdout is not None
    utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
    try:
        while chunk := os.read(proc.stdout.fileno(), 4096):
            text = utf8.decode(chunk)
            out.write(text)  # as it comes: the workers' carriage-return progress bars stay bars
            out.flush()
            tail.extend(text.splitlines(keepends=True))
        returncode = proc.wait()
    except BaseException:  # the kernel interrupted (or the cell failed): no orphaned processes keep the GPUs
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()
        raise
    if returncode != 0:
        raise LaunchError(f"{job.get('task', 'job')} on {p.processes} processes failed:\n" + failure(job_dir, "".join(tail), returncode))


def shard_bounds(n: int, world: int, rank: int) -> tuple[int, int]:
    """Rows [start, stop) of rank `rank` of `world`: contiguous, sizes differing by at most one,
    in rank order (so concatenating the shards restores the original order)."""
    base, extra = divmod(n, world)
    start = rank * base + min(rank, extra)
    return start, start + base + (rank < extra)


def shard_file(job_dir: str | Path, name: str, rank: int) -> Path:
    return Path(job_dir) / SHARDS / f"{name}.rank{rank}.npy"


def write_shard(job_dir: str | Path, name: str, rank: int, scores: np.ndarray) -> None:
    """One rank's scores of frame `name`, written atomically (a shard is whole or absent)."""
    target = shard_file(job_dir, name, rank)
    with atomic_path(target) as tmp, open(tmp, "wb") as f:
        np.save(f, np.asarray(scores, dtype=np.float32))


def merge_shards(job_dir: str | Path, lengths: Mapping[str, int], world: int) -> dict[str, np.ndarray]:
    """Every frame's scores from its `world` shards, in rank order, checked: a missing shard or one
    of the wrong length is an error naming the rank (nothing is returned half-merged)."""
    merged = {}
    for name, n in lengths.items():
        parts = []
        for rank in range(world):
            f = shard_file(job_dir, name, rank)
            if not f.is_file():
                raise LaunchError(f"scores of {name!r}: rank {rank}'s shard is missing ({f})")
            part = np.load(f)
            start, stop = shard_bounds(n, world, rank)
            if len(part) != stop - start:
                raise LaunchError(f"scores of {name!r}: rank {rank}'s shard has {len(part)} rows, not {stop - start}")
            parts.append(part)
        merged[name] = np.concatenate(parts) if parts else np.empty(0, dtype=np.float32)
    return merged


def write_frame(df: pd.DataFrame, path: str | Path) -> str:
    """A frame for the workers (Parquet, index dropped); returns its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    df.reset_index(drop=True).to_parquet(path, index=False)
    return str(path)


class FrameStore:
    """The frames of one launch, each distinct frame written once (`folder/<digest>.parquet`,
    `write_frame`): the students of one launch share their training and evaluation lists, which
    on the paper profile are a million rows each. Removed with `clear` once the launch is read back."""

    def __init__(self, folder: str | Path) -> None:
        self.folder, self.paths = Path(folder), {}

    def __call__(self, df: pd.DataFrame) -> str:
        import hashlib

        digest = hashlib.blake2b(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes()
                                 + "|".join(map(str, df.columns)).encode(), digest_size=12).hexdigest()
        if digest not in self.paths:
            self.paths[digest] = write_frame(df, self.folder / f"{digest}.parquet")
        return self.paths[digest]

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def fresh_dir(path: str | Path) -> Path:
    """`path` emptied (a launch's job folder: nothing of an earlier launch is read back)."""
    path = Path(path)
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


@dataclass(frozen=True)
class ModelSpec:
    """How a worker builds the model the kernel would have built: `kind` "scorer" (the LLM teacher:
    `decoders.load_scorer(path, llm)`) or "cross_encoder" (a student: `rankers.cross_encoder(path,
    pooling)`), after `set_seed(seed)` as in the kernel (the fresh head's initial weights)."""

    kind: str
    path: str
    seed: int
    llm: dict | None = None
    pooling: str = "mean"

    def build(self):
        from distilrank.runtime import set_seed

        set_seed(self.seed)
        if self.kind == "scorer":
            from distilrank.config import LLMParams
            from distilrank.decoders import load_scorer

            return load_scorer(self.path, LLMParams.model_validate(self.llm))
        if self.kind == "cross_encoder":
            from distilrank.rankers import cross_encoder

            return cross_encoder(self.path, pooling=self.pooling)
        raise ValueError(f"ModelSpec: kind must be scorer or cross_encoder, not {self.kind!r}")


@dataclass(frozen=True)
class LossSpec:
    """A loss by name and keyword arguments (`losses.make_loss`): what a worker rebuilds."""

    name: str
    kwargs: dict = field(default_factory=dict)


def params_json(params: Any) -> dict:
    """A profile section as the workers read it back (`read_params`)."""
    return {"class": type(params).__name__, "json": params.model_dump_json()}


def read_params(spec: dict) -> Any:
    """A profile section from `params_json`."""
    from distilrank import config

    return getattr(config, spec["class"]).model_validate_json(spec["json"])


def score_frames(p: Plan, model_path: str | Path, frames: Mapping[str, pd.DataFrame], job_dir: str | Path, *, max_len: int,
                 batch_size: int, precision: str) -> dict[str, np.ndarray]:
    """Scores of every frame's rows by the ranker saved at `model_path` (`rankers.load_ranker`),
    each process scoring its share (`shard_bounds`), merged in the original order: what
    `rankers.score_candidates` gives in one process."""
    job_dir = fresh_dir(job_dir)
    store = FrameStore(job_dir / "frames")
    files = {name: store(df[["query_id", "doc_id", "query", "title", "summary"]]) for name, df in frames.items()}
    launch(p, {"task": "score", "label": job_dir.name, "model": str(model_path), "frames": files, "max_len": max_len,
               "batch_size": batch_size, "precision": precision}, job_dir)
    scores = merge_shards(job_dir, {name: len(df) for name, df in frames.items()}, p.processes)
    store.clear()
    return scores


def train_cpt(p: Plan, model: Any, init_dir: str | Path, features: Sequence[dict], *, output_dir: str, epochs: float, lr: float,
              batch_size: int, seed: int, precision: str, llm: Any) -> tuple[Any, list[dict]]:
    """`continued_pretraining.train_cpt` on `p`'s processes: the decoder `model`, as saved at `init_dir`, trained on
    `features` with DDP in its own dtype, saved by rank 0 with `save_pretrained` and read back.
    The kernel's copy moves to the CPU first (its GPU is rank 0's). Returns (the trained causal
    LM, the logged loss history)."""
    import torch
    from transformers import AutoModelForCausalLM

    dtype = next(model.parameters()).dtype
    model.to("cpu")
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    job_dir = fresh_dir(Path(output_dir) / "launch")
    features_file = job_dir / "features.json"
    features_file.write_text(json.dumps([dict(f) for f in features]))
    launch(p, {"task": "cpt", "label": Path(init_dir).parent.name, "init": str(init_dir), "features": str(features_file),
               "epochs": epochs, "lr": lr, "batch_size": batch_size, "seed": seed, "precision": precision,
               "llm": llm.model_dump() if llm is not None else None, "dtype": str(dtype), "output_dir": str(Path(output_dir))}, job_dir)
    lm = AutoModelForCausalLM.from_pretrained(str(job_dir / "model"), dtype=dtype)
    return lm, json.loads((job_dir / "result.json").read_text())["log"]


def score_task(job: dict, state: Any) -> None:
    """A launched process's share of `score_frames`: the saved ranker on its contiguous share of
    each frame's rows (`rankers.score_candidates`), written as its shard."""
    from distilrank.rankers import load_ranker, score_candidates

    model, tokenizer = load_ranker(job["model"])
    for name, path in job["frames"].items():
        df = pd.read_parquet(path)
        start, stop = shard_bounds(len(df), state.num_processes, state.process_index)
        scores = (score_candidates(model, tokenizer, df.iloc[start:stop], job["max_len"], job["batch_size"], launch_jobs.device_of(state),
                                   desc=name, precision=job["precision"]) if stop > start else [])
        launch_jobs.fail_here(job, state.process_index)
        write_shard(job["job_dir"], name, state.process_index, scores)

