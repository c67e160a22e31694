"""Where a profile's run spends its time, and how close training and scoring come to this machine's limit.

    .venv/bin/python benchmarks/pipeline.py                         # default profile, its precision here
    .venv/bin/python benchmarks/pipeline.py --precision fp32 bf16   # both (bf16 is slow without native bf16)
    .venv/bin/python benchmarks/pipeline.py --profile smoke --no-micro

Prints three tables, figures only (nothing is asserted or written):
1. the wall time of each executed notebook of the profile's last run (papermill's record), with the
   machine that run recorded in hardware.json: compare times only within one machine;
2. each trained system's training rate in that run (steps and pairs per second, from the learning
   curve's record; it includes the learning-curve evaluations);
3. micro-measurements now, per precision: the matmul rate (the ceiling), then a training step and a
   scoring batch of the student (MiniLM-L6 cross-encoder) at the profile's shapes, as pairs/s and as
   a fraction of that matmul rate (FLOPs from `timing.forward_flops`). A regression shows as a
   falling fraction.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from distilrank import backbones, precision, rankers, timing
from distilrank.config import load_params, profile_path
from distilrank.paths import output_dir
from distilrank.training import CURVE_FILE


def stage_times(out: Path) -> list[tuple[str, float]]:
    """(notebook, minutes) of every executed notebook in `out`, from papermill's metadata."""
    rows = []
    for nb in sorted(out.glob("[0-9][0-9]_*.ipynb")):
        if ".partial" in nb.name:
            continue
        duration = json.loads(nb.read_text()).get("metadata", {}).get("papermill", {}).get("duration")
        rows.append((nb.stem, float(duration) / 60 if duration else float("nan")))
    return rows


def training_rates(out: Path, pairs_per_step: dict[str, int]) -> list[tuple[str, int, float, float]]:
    """(system, steps, steps/s, pairs/s) from each system's cached learning-curve record."""
    rows = []
    for path in sorted((out / "scores").glob(f"*/{CURVE_FILE}")):
        record = json.loads(path.read_text())
        seconds = record["timing"]["train minutes"] * 60
        name = path.parent.name
        per_step = pairs_per_step["teacher" if name.startswith("teacher") else "student"]
        rows.append((name, record["steps"], record["steps"] / seconds, record["steps"] * per_step / seconds))
    return rows


def timed(fn, repeats: int) -> float:
    """Median seconds of `repeats` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def micro(prec: str, n_train: int, train_len: int, n_score: int, score_len: int, repeats: int) -> dict[str, float]:
    """Matmul rate, a student training step and a scoring batch at `prec` on the CPU."""
    dtype = precision.torch_dtype(prec)
    peak = timing.matmul_gflops(1024, dtype)
    model = rankers.cross_encoder(backbones.model_path(backbones.MINILM))
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=True)
    batch = timing.random_batch(model.config.vocab_size, n_train, train_len, segments=True)

    def train_step() -> None:
        model.train()
        with precision.autocast(prec, "cpu"):
            loss = model(**batch).logits.float().pow(2).mean()
        loss.backward()
        optimiser.step()
        optimiser.zero_grad()

    train_s = timed(train_step, repeats)
    score = timing.torch_runner(model, timing.random_batch(model.config.vocab_size, n_score, score_len, segments=True), "cpu", prec)
    score_s = timed(score, repeats)
    train_flops = 3 * timing.forward_flops(model.config, train_len, n_train)
    score_flops = timing.forward_flops(model.config, score_len, n_score)
    return {"matmul GFLOP/s": peak, "train pairs/s": n_train / train_s, "train GFLOP/s": train_flops / train_s / 1e9,
            "train / matmul": train_flops / train_s / 1e9 / peak, "score pairs/s": n_score / score_s,
            "score GFLOP/s": score_flops / score_s / 1e9, "score / matmul": score_flops / score_s / 1e9 / peak}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="default")
    ap.add_argument("--precision", nargs="*", default=None, choices=["fp32", "bf16"],
                    help="precisions to micro-benchmark (default: the profile's, resolved on this CPU)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-micro", action="store_true", help="only read the last run's records")
    args = ap.parse_args()
    cfg = load_params(profile_path(args.profile))
    out = output_dir(args.profile)
    print(f"== profile {args.profile!r}: stage wall times of the last run in {out}")
    machine = out / "hardware.json"
    print("   recorded on:", json.loads(machine.read_text())["summary"] if machine.is_file() else "(no hardware.json)")
    stages = stage_times(out)
    for stem, minutes in stages:
        print(f"   {stem:<28} {minutes:6.1f} min")
    print(f"   {'total':<28} {sum(m for _, m in stages):6.1f} min" if stages else "   (no executed notebook: run make replicate)")
    per_step = {"teacher": cfg.teacher.group_size * cfg.teacher.groups_per_step,
                "student": cfg.distill.group_size * cfg.distill.groups_per_step}
    rates = training_rates(out, per_step) if (out / "scores").is_dir() else []
    if rates:
        print("== training in that run (learning-curve evaluations included)")
        print(f"   {'system':<24} {'steps':>6} {'steps/s':>8} {'pairs/s':>8}")
        for name, steps, sps, pps in rates:
            print(f"   {name:<24} {steps:>6} {sps:>8.2f} {pps:>8.1f}")
    if args.no_micro:
        return
    precisions = args.precision or [precision.resolve(cfg.precision, "cpu")]
    print(f"== micro-benchmark now on {precision.describe(cfg.precision, precisions[0], 'cpu')['summary']}; "
          f"native bf16: {precision.cpu_has_bf16()}; torch threads {torch.get_num_threads()}")
    n_train = cfg.distill.group_size * cfg.distill.groups_per_step
    for prec in precisions:
        m = micro(prec, n_train, cfg.distill.max_len, cfg.latency.batch_size, cfg.latency.seq_len, args.repeats)
        emulated = prec == "bf16" and not precision.cpu_has_bf16()  # a reference bf16 matmul is no ceiling for autocast's kernels

        def share(key: str, m=m, emulated=emulated) -> str:
            return "n/a (bf16 emulated)" if emulated else f"{m[key]:.0%} of matmul"

        print(f"   {prec}: matmul {m['matmul GFLOP/s']:.0f} GFLOP/s | train step ({n_train} x {cfg.distill.max_len}): "
              f"{m['train pairs/s']:.1f} pairs/s, {m['train GFLOP/s']:.0f} GFLOP/s = {share('train / matmul')} | "
              f"scoring ({cfg.latency.batch_size} x {cfg.latency.seq_len}): {m['score pairs/s']:.1f} pairs/s, "
              f"{m['score GFLOP/s']:.0f} GFLOP/s = {share('score / matmul')}")


if __name__ == "__main__":
    main()
