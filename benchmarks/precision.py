"""The same distilled student trained in fp32 and in bf16 autocast: speed-up and quality difference.

    .venv/bin/python benchmarks/precision.py                    # default profile, the students' budget (distillation.budget_steps)
    .venv/bin/python benchmarks/precision.py --steps 60         # shorter: a CPU without native bf16 emulates it slowly

Needs the profile's transfer set (notebook 03 of `make replicate`). Each precision trains the
profile's first student with the hybrid loss from the same start, the same seed and the same
sampled groups in the same order, then scores the test lists at that precision. Printed: training
and scoring time and their ratio to fp32, test NDCG@5 and PNR with the paired difference to fp32
(a paired t-test over queries), and the agreement of the two students' test scores (Pearson r and
Kendall's tau within queries). Figures only: nothing is asserted or written.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import pandas as pd
from scipy.stats import kendalltau
from transformers import AutoTokenizer

from distilrank import artifacts, backbones, distill, losses, metrics, precision, rankers, training
from distilrank.config import load_params, profile_path
from distilrank.paths import output_dir
from distilrank.runtime import hardware, set_seed
from distilrank.stages import distillation


def within_query_tau(df: pd.DataFrame, a: np.ndarray, b: np.ndarray) -> float:
    """Mean Kendall's tau between two score columns over the queries of `df`."""
    taus = [kendalltau(a[idx], b[idx]).statistic for idx in df.groupby("query_id").indices.values() if len(idx) > 1]
    return float(np.nanmean(taus))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="default")
    ap.add_argument("--steps", type=int, default=None, help="training steps (default: distill.epochs over the training groups, distillation.budget_steps)")
    ap.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    args = ap.parse_args()
    cfg = load_params(profile_path(args.profile))
    out = output_dir(args.profile)
    transfer = {split: ds.to_pandas() for split, ds in artifacts.load_prepared(out / "transfer").items()}
    qrels = artifacts.load_prepared(out / "prepared")["qrels"].to_pandas()
    _, column = distill.teacher_of(cfg.distill.teacher)
    train_df = distill.transfer_frame(transfer, cfg.distill.pseudo_groups, cfg.seed, column=column)
    norm = distill.fit_normaliser(train_df[column], cfg.distill.normalise)
    train_df = train_df.assign(target=distill.normalise(train_df, norm, column=column))
    steps = args.steps or distillation.budget_steps(train_df, cfg.distill)
    test = transfer["test"]
    start = backbones.model_path(next(iter(cfg.models.students.values())))
    print(f"{hardware()['summary']}; native bf16 on this CPU: {precision.cpu_has_bf16()}")
    print(f"profile {args.profile!r}: hybrid student, {steps} steps of {cfg.distill.groups_per_step} x {cfg.distill.group_size} "
          f"pairs at {cfg.distill.max_len} tokens; test {test.query_id.nunique()} queries, {len(test)} pairs")
    runs = {}
    for prec in args.precisions:
        set_seed(cfg.seed)
        model, tok = rankers.cross_encoder(start), AutoTokenizer.from_pretrained(start)
        loss = losses.make_loss("hybrid", **distill.distill_loss_kwargs("hybrid", cfg.distill.margin_weight))
        with tempfile.TemporaryDirectory() as work:
            t0 = time.perf_counter()
            training.fit_ranker(model, tok, train_df, cfg.distill, seed=cfg.seed, device="cpu", output_dir=work,
                                target="target", loss_fn=loss, steps=steps, precision=prec)
            t1 = time.perf_counter()
        scores = rankers.score_candidates(model, tok, test, cfg.distill.max_len, cfg.distill.batch_size, "cpu",
                                          desc=f"test {prec}", precision=prec)
        t2 = time.perf_counter()
        runs[prec] = {"train s": t1 - t0, "score s": t2 - t1, "scores": scores,
                      "per": metrics.evaluate_candidates(test.assign(score=scores), qrels=qrels)}
    base = runs[args.precisions[0]]
    rows = []
    for prec, r in runs.items():
        row = {"precision": prec, "train s": r["train s"], "train speed-up": base["train s"] / r["train s"],
               "score s": r["score s"], "score speed-up": base["score s"] / r["score s"],
               "test ndcg@5": metrics.aggregate(r["per"], "ndcg@5"), "test pnr": metrics.aggregate(r["per"], "pnr")}
        if r is not base:
            diff = metrics.paired_test(r["per"], base["per"], "ndcg@5")
            row.update({"Δ ndcg@5": diff["diff"], "p (Δ ndcg@5)": diff["p"],
                        "score r": float(np.corrcoef(r["scores"], base["scores"])[0, 1]),
                        "within-query tau": within_query_tau(test, r["scores"], base["scores"])})
        rows.append(row)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(pd.DataFrame(rows).set_index("precision").round(4).to_string())


if __name__ == "__main__":
    main()
