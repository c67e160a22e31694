"""What a longer budget buys the hybrid student: its dev curve, the steps and minutes to reach BM25.

    .venv/bin/python benchmarks/student_budget.py                            # 1000 steps, 1 seed
    .venv/bin/python benchmarks/student_budget.py --steps 1000 --seeds 3     # and the seed-averaged test verdict
    .venv/bin/python benchmarks/student_budget.py --max-len 128               # the recipe at another input length

Needs the profile's run up to notebook 04 (the transfer set and `students/recipe.json`, the recipe
chosen on dev). Each seed trains the hybrid student at that recipe, from the same start and on the
same targets as notebook 04's `bert6-hybrid`, but for `--steps` steps (the warmup and the schedule
stretch with the steps), scoring every dev query every `--every` steps. Printed: the dev NDCG@5
curve (the seeds' mean) beside BM25's, the teacher's and random's on the same queries, with the minutes each point cost (the
measured training time, pro rata); the first step at which the curve reaches BM25; then, at the
end, test NDCG@5 of the seed mean against BM25 and the teacher (a paired t-test over queries, as
notebook 04's claims). Choose a budget on the dev curve; the test line measures the budget you
ran, and reading it for several budgets to pick one would be choosing on test. Figures only:
nothing is asserted, and the profile's outputs are not touched (everything is written to a
temporary folder).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from distilrank import artifacts, backbones, distill, metrics, precision, recipes, training
from distilrank.config import load_params, profile_path
from distilrank.paths import output_dir
from distilrank.runtime import hardware, pick_device
from distilrank.stages import distillation


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="default")
    ap.add_argument("--steps", type=int, default=1000, help="training steps per seed")
    ap.add_argument("--every", type=int, default=100, help="dev NDCG@5 every so many steps")
    ap.add_argument("--seeds", type=int, default=1, help="seeds, from the profile's seed + 100 (none of notebook 04's)")
    ap.add_argument("--max-len", type=int, default=None, help="input tokens (default: the chosen recipe's)")
    args = ap.parse_args()
    if min(args.steps, args.every, args.seeds, args.max_len or 1) < 1:
        ap.error("--steps, --every, --seeds and --max-len must be at least 1")
    cfg = load_params(profile_path(args.profile))
    out = output_dir(args.profile)
    transfer = {split: ds.to_pandas() for split, ds in artifacts.load_prepared(out / "transfer").items()}
    qrels = artifacts.load_prepared(out / "prepared")["qrels"].to_pandas()
    params = recipes.chosen_params(cfg.distill, out).model_copy(update={"eval_every": args.every, "curve_queries": None})
    if args.max_len is not None:
        params = recipes.recipe_params(params, {"max_len": args.max_len})
    teacher_name, teacher_col = distill.teacher_of(cfg.distill.teacher)
    train_all, _ = distill.target_frame(transfer, params, cfg.seed)
    frame = distillation.student_frame(train_all, params.pseudo_groups, cfg.seed)
    dev, test = transfer["dev"], transfer["test"]
    start = backbones.model_path(next(iter(cfg.models.students.values())))
    device = pick_device(cfg.device)
    prec = precision.resolve(precision.requested(cfg.precision)[0], device)  # DISTILRANK_PRECISION overrides the profile
    print(f"{hardware()['summary']}; {device}, precision {prec}")
    print(f"profile {args.profile!r}: the hybrid student at recipe {recipes.recipe_name(params)}, {args.steps} steps of "
          f"{params.groups_per_step} x {params.group_size} pairs ({frame.query_id.nunique()} groups a pass); {args.seeds} seed(s)")
    curves, tests, minutes = [], [], []
    with tempfile.TemporaryDirectory() as work:
        for k in range(args.seeds):
            seed = cfg.seed + 100 + k
            s = distillation.train_one(f"budget-{seed}", "hybrid", frame, "target", params, {"dev": dev, "test": test}, start=start,
                                       seed=seed, first=True, steps=args.steps, out=Path(work), qrels=qrels, device=device, precision=prec)
            curves.append(pd.DataFrame(s.history).set_index("step")["dev ndcg@5"].rename(f"seed {seed}"))
            tests.append(metrics.evaluate_candidates(test.assign(score=s.scores["test"]), qrels=qrels))
            minutes.append(s.timing["train minutes"])
    curve = pd.concat(curves, axis=1)
    refs = training.dev_references(dev, qrels, teacher_name, teacher_col, params.curve_queries, cfg.seed)  # the curve's own queries
    bm25_dev = refs["bm25 (dev)"]
    curve.insert(0, "train minutes (pro rata)", np.array(curve.index) / args.steps * float(np.mean(minutes)))
    curve["dev ndcg@5 (seed mean)"] = curve[[c for c in curve if c.startswith("seed ")]].mean(axis=1)
    curve = curve.assign(**refs)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(curve.round(3).to_string())
    reached = curve.index[curve["dev ndcg@5 (seed mean)"] >= bm25_dev]
    print(f"reaches BM25 on dev ({bm25_dev:.3f}) at step {reached[0]}, about {curve.loc[reached[0], 'train minutes (pro rata)']:.1f} "
          f"training minutes a seed" if len(reached) else f"does not reach BM25 on dev ({bm25_dev:.3f}) in {args.steps} steps")
    student = metrics.seed_mean(tests)
    rows = []
    for ref, col in (("bm25", "bm25_score"), (teacher_name, teacher_col)):
        other = metrics.evaluate_candidates(test.assign(score=test[col]), qrels=qrels)
        diff = metrics.paired_test(student, other, "ndcg@5")
        rows.append({"against": ref, "student test ndcg@5": metrics.aggregate(student, "ndcg@5"), "its test ndcg@5": metrics.aggregate(other, "ndcg@5"),
                     "Δ": diff["diff"], "p": diff["p"], "share": metrics.aggregate(student, "ndcg@5") / metrics.aggregate(other, "ndcg@5")})
    print(f"test, {test.query_id.nunique()} queries, the seed mean of {args.seeds} seed(s) at step {args.steps} "
          "(a measurement of the budget run; choose steps on the dev curve above, never on this):")
    print(pd.DataFrame(rows).set_index("against").round(4).to_string())


if __name__ == "__main__":
    main()
