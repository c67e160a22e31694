"""Notebook 04's students: a recipe chosen on dev, the core students with several seeds, every
system on test with seed-averaged per-query metrics, the fit diagnostic and the paper's claims.

The core students are one network (the pretrained MiniLM-L6 with a mean-pooled linear head,
`rankers.cross_encoder`) trained at one recipe and one budget:

- `bert6-labels`: human labels alone, on the training queries' first-stage lists (BM25's top k,
  unjudged = 0, nothing added), RankNet;
- `bert6-point`, `bert6-margin`, `bert6-hybrid`: the teacher's scores (`distill.target_frame`) with
  Point-MSE, Margin-MSE and their sum;
- `bert6-hybrid-no-llm`: the hybrid distilled from `bm25+dense-minilm`, the fusion without the
  LLM: what the LLM teacher adds to a student, not only to a teacher.

Each trains with `distill.seeds` seeds (`seed`, `seed + 1`, ...): the seed moves the head's
initialisation, the data order and dropout; the split stays fixed. The first seed's model is saved
(`students/<name>`) and deployed; every seed's scores are cached (`scores/<name>` for the first,
`scores/<name>@seed<k>` for the others, `rankers.seed_dirs`). Claims read the seed average of each
query's metric (`metrics.seed_mean`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from transformers import AutoTokenizer

from distilrank import backbones, distill, fusion, losses, metrics, parallel, progress, rankers, results, verdicts
from distilrank.formats import format_p
from distilrank.metrics import quality_table
from distilrank.paths import write_json
from distilrank.rankers import remove_stale_seeds
from distilrank.recipes import RECIPE_FILE, RECIPE_KEYS, recipe_name, recipe_params
from distilrank.runtime import set_seed
from distilrank.sampling import pick_queries
from distilrank.training import TrainedSystem, launched_systems, seed_settings, steps_to_reach, train_system

LABELS_LOSS = "ranknet"  # the labels-only student: RankNet on the judged gains of its lists
NO_LLM = "no-llm"  # suffix of the student distilled from bm25+dense-minilm (`bert6-hybrid-no-llm`)


# Section 2: the recipe, chosen on dev (`recipes`: its settings, name and the chosen file).

def student_frame(train_all: pd.DataFrame, pseudo_groups: int, seed: int) -> pd.DataFrame:
    """The distilled students' training frame at a recipe: every training query's list and
    `pseudo_groups` seeded title pseudo-query groups of `distill.target_frame`'s frame (`kind`)."""
    queries = train_all[train_all.kind == "training query"]
    pseudo = train_all[train_all.kind == "title pseudo-query"]
    if pseudo_groups > pseudo.query_id.nunique():
        raise ValueError(f"distill.pseudo_groups = {pseudo_groups}, but the transfer set has {pseudo.query_id.nunique()} pseudo-queries")
    picked = pick_queries(pseudo.query_id, pseudo_groups, seed) if pseudo_groups else []
    return pd.concat([queries, pseudo[pseudo.query_id.isin(picked)]], ignore_index=True)


def budget_steps(frame: pd.DataFrame, params) -> int:
    """Optimiser steps of `params.epochs` passes over `frame`'s groups, `groups_per_step` a step:
    every training query (and picked pseudo-query) is seen once in every pass."""
    return -(-params.epochs * frame.query_id.nunique() // params.groups_per_step)


def train_one(name: str, loss_name: str, frame: pd.DataFrame, target: str, params, eval_frames: dict[str, pd.DataFrame], *, start: str,
              seed: int, first: bool, steps: int, out: Path, qrels: pd.DataFrame, device: str, precision: str,
              launch: parallel.Plan | None = None) -> TrainedSystem:
    """One student: a fresh cross-encoder (`params.pooling`) on the encoder at `start`, seeded, trained on `frame`'s `target`
    with `loss_name` for `steps` steps. The first seed saves its model under `students/<name>` and
    its scores under `scores/<name>`, with a learning curve on dev; a further seed only its
    dev, test and training-list scores, under `scores/<name>@seed<seed>`. With a `launch` plan
    (`parallel.plan`), it trains and scores on that many processes (`training.launched_systems`)."""
    if launch is not None:
        return launched_systems(launch, [launch_request(name, loss_name, frame, target, params, eval_frames, start=start, seed=seed,
                                                        first=first, steps=steps, out=out, qrels=qrels, precision=precision)],
                                out / "trainer")[0]
    set_seed(seed)
    kwargs = distill.distill_loss_kwargs("hybrid", params.margin_weight) if loss_name == "hybrid" else {}
    run_params, frames = seed_settings(params, eval_frames, first, keep_dev=True)  # every seed scores dev: its +bm25 fusion's fit
    cache = rankers.seed_cache(name, seed, first)
    return train_system(rankers.cross_encoder(start, pooling=params.pooling), AutoTokenizer.from_pretrained(start), frame, run_params,
                        frames, seed=seed, device=device, work_dir=str(out / "trainer"),
                        save_to=out / "students" / name if first else None, scores_to=out / "scores" / cache, target=target,
                        loss_fn=losses.make_loss(loss_name, **kwargs), steps=steps, qrels=qrels, precision=precision)


def launch_request(name: str, loss_name: str, frame: pd.DataFrame, target: str, params, eval_frames: dict[str, pd.DataFrame], *,
                   start: str, seed: int, first: bool, steps: int, out: Path, qrels: pd.DataFrame, precision: str) -> dict:
    """`train_one`'s student as a request to `training.launched_systems`: the same fresh
    cross-encoder (built in the launched processes after `set_seed(seed)`), frames, loss, budget
    and destinations."""
    kwargs = distill.distill_loss_kwargs("hybrid", params.margin_weight) if loss_name == "hybrid" else {}
    run_params, frames = seed_settings(params, eval_frames, first, keep_dev=True)
    return {"spec": parallel.ModelSpec("cross_encoder", str(start), seed, pooling=params.pooling), "tokenizer_path": start,
            "groups_df": frame, "params": run_params, "eval_frames": frames, "seed": seed,
            "save_to": out / "students" / name if first else None, "scores_to": out / "scores" / rankers.seed_cache(name, seed, first),
            "target": target, "loss": parallel.LossSpec(loss_name, kwargs), "steps": steps, "qrels": qrels, "precision": precision}


@dataclass
class RecipeSweep:
    """The recipes tried on dev (`try_recipes`): a table (recipe, steps, minutes, dev NDCG@5), the
    chosen `distill` params, and the hybrid student each recipe trained (at the sweep's own seed)."""

    table: pd.DataFrame
    chosen: object
    systems: dict[str, TrainedSystem]


def try_recipes(params, recipes: Sequence, train_all: pd.DataFrame, eval_frames: dict[str, pd.DataFrame], *, student: str, start: str, seed: int,
                out: Path, qrels: pd.DataFrame, device: str, precision: str, launch: parallel.Plan | None = None) -> RecipeSweep:
    """The hybrid student at `params` and at each of `recipes`, trained with `seed` (a seed none of
    the core students uses: a run picked for its dev score is not one of the runs the claims
    compare); the best on dev NDCG@5 (all dev queries; the first on a tie) becomes the recipe of
    every student, written to `students/recipe.json` for the notebooks that train more students
    (08). Saved under `recipes/<recipe>/`; only dev is scored (test is neither scored nor read).
    `launch` (`parallel.plan`) trains each on that many processes."""
    candidates = {}
    for recipe in [{}, *recipes]:
        p = recipe_params(params, recipe)
        candidates.setdefault(recipe_name(p), p)
    rows, systems = [], {}
    for rname, p in candidates.items():
        frame = student_frame(train_all, p.pseudo_groups, seed)
        steps = budget_steps(frame, p)
        with progress.task(f"recipe {rname}"):  # the live progress lines in the terminal
            systems[rname] = s = train_one(f"{student}-hybrid", "hybrid", frame, "target", p, {"dev": eval_frames["dev"]}, start=start, seed=seed,
                                           first=True, steps=steps, out=out / "recipes" / rname, qrels=qrels, device=device, precision=precision,
                                           launch=launch)
        dev_ndcg = metrics.aggregate(metrics.evaluate_candidates(eval_frames["dev"].assign(score=s.scores["dev"]), qrels=qrels), "ndcg@5")
        rows.append({"recipe": rname, **{k: getattr(p, k) for k in RECIPE_KEYS}, "steps": steps,
                     "train minutes": s.timing["train minutes"], "total minutes": s.timing["total minutes"], "dev ndcg@5": dev_ndcg})
    table = pd.DataFrame(rows).set_index("recipe")
    best = table["dev ndcg@5"].idxmax()
    table["chosen"] = np.where(table.index == best, "yes", "")
    chosen = candidates[best]
    write_json({"recipe": best, **{k: getattr(chosen, k) for k in RECIPE_KEYS},
                "criterion": f"dev NDCG@5 of the hybrid student (seed {seed}, none of the core students'), all dev queries"},
               out / "students" / RECIPE_FILE)
    return RecipeSweep(table, chosen, systems)


# Section 3: the core students, several seeds each.

def core_students(student: str, no_llm: bool) -> dict[str, tuple[str, str]]:
    """Each core student of one network (`models.students` key `student`) with its (loss, target
    source): `<student>-labels` (gains), the three distilled losses (the teacher), and the hybrid
    from `bm25+dense-minilm` when `no_llm`."""
    names = {f"{student}-labels": (LABELS_LOSS, "labels"),
             **{f"{student}-{suffix}": (loss, "teacher") for suffix, loss in distill.DISTILL_LOSSES.items()}}
    if no_llm:
        names[f"{student}-hybrid-{NO_LLM}"] = ("hybrid", "no_llm")
    return names


def train_core(params, frames: Mapping[str, tuple[pd.DataFrame, str]], eval_frames: dict[str, pd.DataFrame], *,
               starts: Mapping[str, str], seeds: Sequence[int], no_llm: bool, out: Path, qrels: pd.DataFrame, device: str,
               precision: str, launch: parallel.Plan | None = None) -> dict[str, list[TrainedSystem]]:
    """Every core student (`core_students`) of every network of `starts` (`models.students` key ->
    encoder path) with every seed of `seeds`, at the chosen recipe and
    one budget: the distilled students' steps (`budget_steps`), which the labels-only student takes
    too. `frames` maps each target source to (frame, target column): `teacher` and `no_llm`
    (`student_frame`s) and `labels` (the first-stage lists, `gain`). Score caches of seeds no longer
    in `seeds` (a profile that lowered `distill.seeds`) are removed first, so that no reader
    averages a stale seed. `launch` (`parallel.plan`) trains them all in one launch on that many
    processes (`training.launched_systems`, under `trainer/launch/students/`).
    Returns each student's runs, by seed order."""
    steps = budget_steps(frames["teacher"][0], params)
    names = [n for student in starts for n in core_students(student, no_llm)]
    remove_stale_seeds(out / "scores", [*names, *[f"{n}+bm25" for n in names]], seeds[1:])
    runs: dict[str, list[TrainedSystem]] = {}
    requests = []  # with a launch plan: every student in one launch (the processes start once)
    for i, seed in enumerate(seeds):
        for student, start in starts.items():
            for name, (loss, source) in core_students(student, no_llm).items():
                frame, target = frames[source]
                if launch is not None:
                    requests.append((name, launch_request(name, loss, frame, target, params, eval_frames, start=start, seed=seed,
                                                          first=i == 0, steps=steps, out=out, qrels=qrels, precision=precision)))
                    continue
                runs.setdefault(name, []).append(train_one(name, loss, frame, target, params, eval_frames, start=start, seed=seed,
                                                           first=i == 0, steps=steps, out=out, qrels=qrels, device=device, precision=precision))
    if requests:
        for (name, _), system in zip(requests, launched_systems(launch, [r for _, r in requests], out / "trainer", "students"), strict=True):
            runs.setdefault(name, []).append(system)
    return runs


def budget_table(runs: Mapping[str, list[TrainedSystem]], frames: Mapping[str, tuple[pd.DataFrame, str]], students: Sequence[str],
                 no_llm: bool) -> pd.DataFrame:
    """What each core student was given: loss, what it learns from, groups, steps, seeds, the
    training queries it saw, minutes per seed and parameters."""
    rows = {}
    for name, (loss, source) in {n: v for st in students for n, v in core_students(st, no_llm).items()}.items():
        first = runs[name][0]
        frame = frames[source][0]
        ids = pd.Series(frame.query_id.unique()).astype(str)
        rows[name] = {"loss": loss, "learns from": {"labels": "judged gains", "teacher": "the teacher's scores",
                                                    "no_llm": "bm25+dense-minilm's scores"}[source],
                      "groups per pass": frame.query_id.nunique(),
                      "training queries": int((~ids.str.startswith("t")).sum()),
                      "steps": first.history[-1]["step"] if first.history else None, "seeds": len(runs[name]),
                      "train minutes per seed": float(np.mean([r.timing["train minutes"] for r in runs[name]])),
                      "parameters": backbones.n_parameters(first.model)}
    return pd.DataFrame(rows).T.infer_objects()


# Section 4: every system on test, seed-averaged.

@dataclass
class TestEvaluation:
    """Notebook 04's test evaluation: per-query metrics by system (seed means for the core
    students and their fusions), each seed's own per-query metrics, summaries, and the table."""

    per: dict[str, pd.DataFrame]
    per_seed: dict[str, list[pd.DataFrame]]
    summary: dict[str, pd.DataFrame]
    weights: dict[str, dict[str, float]]
    table: pd.DataFrame


def fuse_seed(dev_scores: np.ndarray, test_scores: np.ndarray, dev: pd.DataFrame, test: pd.DataFrame) -> tuple[dict, np.ndarray]:
    """One student seed fused with BM25: both standardised with statistics of the dev lists
    (`fusion.fit_fusion`, global) and weighted, the weights fitted there; returns (the fusion as a
    dict, the fused test scores). Dev, not the training queries: the student trained on those, so
    its scores there are in sample and a fit on them over-weighs it against BM25."""
    fitted = fusion.fit_fusion(dev.assign(student=dev_scores), ["student", "bm25_score"])
    return fitted.to_dict(), fusion.fuse(test.assign(student=test_scores), fitted)


def evaluate_on_test(runs: Mapping[str, list[TrainedSystem]], test: pd.DataFrame, dev: pd.DataFrame, qrels: pd.DataFrame, *,
                     out: Path, seed: int, seeds: Sequence[int], teacher: str, precision: str) -> TestEvaluation:
    """`random`, BM25, `dense-minilm`, the teachers, every core student and each fused with BM25
    (`<name>+bm25`, fitted per seed on its scores of the `dev` lists; `seeds` are the training
    seeds, in the order of each student's runs), `oracle`: per-query metrics (the seed mean for
    seeded systems), bootstrap summaries over queries (`seed`), and `quality_table`."""
    refs = metrics.evaluate_references(test, qrels, seed=seed)
    single = {"bm25": test.bm25_score.to_numpy(), "dense-minilm": test.dense_score.to_numpy(),
              "bm25+dense-minilm": test.no_llm_score.to_numpy(), "teacher-cpt": test.teacher_score.to_numpy(),
              "teacher-ensemble": test.ensemble_score.to_numpy()}
    per_seed = {name: [metrics.evaluate_candidates(test.assign(score=sc), qrels=qrels)] for name, sc in single.items()}
    weights = {}
    for name, seed_runs in runs.items():
        per_seed[name] = [metrics.evaluate_candidates(test.assign(score=r.scores["test"]), qrels=qrels) for r in seed_runs]
        fused = []
        for k, r in enumerate(seed_runs):
            w, sc = fuse_seed(r.scores["dev"], r.scores["test"], dev, test)
            weights.setdefault(f"{name}+bm25", w)
            cache = rankers.seed_cache(f"{name}+bm25", seeds[k], k == 0)
            rankers.save_scores({"test": test.assign(score=sc)}, out / "scores" / cache, precision=precision)
            fused.append(metrics.evaluate_candidates(test.assign(score=sc), qrels=qrels))
        per_seed[f"{name}+bm25"] = fused
    per = {"random": refs["random"], **{n: metrics.seed_mean(f) for n, f in per_seed.items()}, "oracle": refs["oracle"]}
    summary = {n: metrics.summarise(pq, seed=seed).set_index("metric") for n, pq in per.items()}
    return TestEvaluation(per, per_seed, summary, weights, quality_table(summary, per_seed, teacher))


def fusion_table(evaluation: TestEvaluation) -> pd.DataFrame:
    """Each `<student>+bm25` fusion's weights (the first seed's, fitted on dev): the student's and
    BM25's, on standardised scores, their absolute values summing to 1."""
    return pd.DataFrame({name: {"student weight": w["weights"]["student"], "bm25 weight": w["weights"]["bm25_score"]}
                         for name, w in evaluation.weights.items()}).T.rename_axis("fusion (first seed, fitted on dev)")


def result_rows(evaluation: TestEvaluation, names: Sequence[str], teacher: str) -> list[dict]:
    """The rows notebook 04 records: every metric of the core students and of their fusions (seed
    means, `results.summary_rows`), then each student's NDCG@5 spread across seeds (with two seeds
    or more: one seed has none, and a results row holds a finite value) and share of the teacher's
    NDCG@5."""
    systems = [*names, *[f"{n}+bm25" for n in names]]
    rows = [row for name in systems for row in results.summary_rows(name, evaluation.summary[name].reset_index())]
    teacher_ndcg = evaluation.summary[teacher].loc["ndcg@5", "value"]
    for name in systems:
        n = len(evaluation.per[name])
        if len(evaluation.per_seed[name]) > 1:
            rows.append({"system": name, "metric": "ndcg@5_seed_sd", "value": metrics.seed_spread(evaluation.per_seed[name], "ndcg@5"),
                         "ci_low": None, "ci_high": None, "n_queries": n})
        rows.append({"system": name, "metric": "ndcg@5_share_of_teacher", "value": float(evaluation.summary[name].loc["ndcg@5", "value"] / teacher_ndcg),
                     "ci_low": None, "ci_high": None, "n_queries": n})
    return rows


def plot_seeds(evaluation: TestEvaluation, names: Sequence[str], teacher: str) -> plt.Figure:
    """Test NDCG@5 of each core student and its BM25 fusion: one point per seed, the seed mean as
    a bar with its query-bootstrap interval, against BM25, the teacher and random."""
    shown = [*names, *[f"{n}+bm25" for n in names]]
    points = pd.DataFrame([{"system": n, "seed": k, "ndcg@5": metrics.aggregate(f, "ndcg@5")}
                           for n in shown for k, f in enumerate(evaluation.per_seed[n])])
    s = {n: evaluation.summary[n].loc["ndcg@5"] for n in shown}
    fig, ax = plt.subplots(figsize=(11, 4))
    x = np.arange(len(shown))
    ax.bar(x, [s[n]["value"] for n in shown], color="lightsteelblue", label="seed mean")
    ax.errorbar(x, [s[n]["value"] for n in shown], yerr=[[s[n]["value"] - s[n]["ci_low"] for n in shown], [s[n]["ci_high"] - s[n]["value"] for n in shown]],
                fmt="none", c="k", capsize=3, label="95% bootstrap CI over queries")
    sns.stripplot(points, x="system", y="ndcg@5", order=shown, color="C3", size=5, jitter=0.12, ax=ax, label="one seed")
    for ref, style in ((teacher, "-."), ("bm25", "--"), ("random", ":")):
        ax.axhline(evaluation.summary[ref].loc["ndcg@5", "value"], ls=style, c="grey", lw=1, label=ref)
    ax.set_xticks(x, shown, rotation=30, ha="right")
    handles, labels = ax.get_legend_handles_labels()
    keep = dict(zip(labels, handles, strict=True))
    ax.legend(keep.values(), keep.keys(), fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.set(title="test NDCG@5 of the core students: seed mean (bar) and each seed (points)", xlabel="", ylabel="test ndcg@5")
    return fig


# The fit diagnostic: under-fitting and failing to generalise look different.

def fit_diagnostic(runs: Mapping[str, list[TrainedSystem]], eval_frames: Mapping[str, pd.DataFrame], targets: Mapping[str, str]) -> pd.DataFrame:
    """Per core student: Kendall tau between its scores and what it learned from (`targets`: student
    name -> column of the lists: the teacher's scores, `bm25+dense-minilm`'s, or the judged gains
    for the labels-only student) on training queries' lists it trained on (`eval_frames["train"]`)
    and on the test lists, each the mean over queries and seeds. Low on both: the student
    under-fits (it did not learn the order where it saw it); high on training, low on test: it
    does not generalise."""
    rows = {}
    for name, seeds in runs.items():
        col = targets[name]
        taus = {split: float(np.nanmean([metrics.kendall_per_query(eval_frames[split].assign(score=r.scores[split]), "score", col).mean()
                                         for r in seeds])) for split in ("train", "test")}
        rows[name] = {"learned from": col, "τ with its targets, training lists": taus["train"], "τ with its targets, test lists": taus["test"],
                      "gap (train - test)": taus["train"] - taus["test"]}
    return pd.DataFrame(rows).T.infer_objects()


def target_columns(runs: Mapping[str, list[TrainedSystem]], teacher_col: str, no_llm_col: str = "no_llm_score") -> dict[str, str]:
    """What each core student learned from, as a column of the lists: the judged gains for
    `<student>-labels`, `bm25+dense-minilm` for the no-LLM hybrid, the teacher's for the rest."""
    return {name: "gain" if name.endswith("-labels") else no_llm_col if name.endswith(f"-{NO_LLM}") else teacher_col for name in runs}


def fit_reading(diagnostic: pd.DataFrame, low: float = 0.5, gap: float = 0.15) -> list[str]:
    """One sentence per student saying what `fit_diagnostic` shows: it does not generalise (τ on its
    training lists exceeds τ on test by `gap` or more), it under-fits (τ below `low` on its own
    training lists), or it copies its teacher about as well on test as where it trained."""
    lines = []
    for name, r in diagnostic.iterrows():
        tr, te = r["τ with its targets, training lists"], r["τ with its targets, test lists"]
        if tr - te >= gap:
            what = f"does not generalise all it fitted: τ {tr:.2f} on its training lists, {te:.2f} on test"
        elif round(tr, 2) < low:  # the rule reads the τ the sentence prints
            what = f"under-fits: τ {tr:.2f} with its targets even on the lists it trained on ({te:.2f} on test)"
        else:
            what = f"orders as its targets do about as well on test ({te:.2f}) as where it trained ({tr:.2f})"
        lines.append(f"{name} {what}")
    return lines


# Section 5: the claims, on seed averages.

def dev_per_query(runs: Mapping[str, list[TrainedSystem]], dev: pd.DataFrame, qrels: pd.DataFrame,
                  columns: Mapping[str, str]) -> dict[str, pd.DataFrame]:
    """Per-query metrics on every dev query: each core student's seed mean (over the seeds scored
    on dev) and each system of `columns` (name -> score column of `dev`, e.g. bm25 and the teacher).
    `claims_table` reads the dev order of each claim's two systems from them."""
    per = {name: metrics.evaluate_candidates(dev.assign(score=dev[col]), qrels=qrels) for name, col in columns.items()}
    per |= {name: metrics.seed_mean([metrics.evaluate_candidates(dev.assign(score=r.scores["dev"]), qrels=qrels)
                                     for r in seeds if "dev" in r.scores])
            for name, seeds in runs.items() if "dev" in seeds[0].scores}
    return per


def claims_table(evaluation: TestEvaluation, student: str, teacher: str, no_llm: bool, keep: float = 0.9,
                 dev: Mapping[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """The paper's claims, each a paired t-test over test queries on the seed-averaged per-query
    NDCG@5 (`verdicts.claim`, filed under the paper's claim it tests): the hybrid beats each
    single loss; every distilled student beats the labels-only student; the hybrid (alone and
    fused) beats BM25; the LLM teacher adds to the student (`no_llm`); and the hybrid keeps `keep`
    of the teacher's NDCG@5 (the verdict reads the share against the threshold; the paired test
    against the teacher stands beside it). With `dev` (`dev_per_query`), a verdict whose two
    systems are in the other order on dev is marked fragile."""
    per, h, labels = evaluation.per, f"{student}-hybrid", f"{student}-labels"

    def c(a: str, b: str, text: str | None = None, **kwargs) -> dict:
        on_dev = (dev[a], dev[b]) if dev is not None and a in dev and b in dev else None
        return verdicts.claim(text or f"{a} beats {b}", per[a], per[b], a, b, dev=on_dev, **kwargs)

    claims = [c(h, f"{student}-point", paper_claim="hybrid", headline=True), c(h, f"{student}-margin", paper_claim="hybrid", headline=True)]
    claims += [c(f"{student}-{suffix}", labels, paper_claim="distillation", headline=suffix == "hybrid") for suffix in distill.DISTILL_LOSSES]
    claims += [c(h, "bm25", paper_claim="first-stage"), c(f"{h}+bm25", "bm25", paper_claim="first-stage")]
    if no_llm:
        claims.append(c(h, f"{h}-{NO_LLM}", f"the LLM teacher adds to the student ({h} beats {h}-{NO_LLM})", paper_claim="llm-adds"))
    kept = c(h, teacher, f"{h} keeps >= {keep:.0%} of {teacher}'s NDCG@5", paper_claim="keeps", headline=True)
    share = evaluation.summary[h].loc["ndcg@5", "value"] / evaluation.summary[teacher].loc["ndcg@5", "value"]
    kept["note"] = f"share {share:.2f} of {teacher}'s NDCG@5 (threshold {keep:.2f}); the paired test against {teacher}: {kept['verdict']}"
    kept["verdict"] = verdicts.HOLDS if share >= keep else verdicts.FAILS
    claims.append(kept)
    return pd.DataFrame(claims).set_index("claim")


PAPER_SAYS = (  # (a claim's ending, what the paper reports), for notebook 04's claims
    (r"beats \S+-point$", "DisRanker's ablation has the hybrid beat Point-MSE"),
    (r"beats \S+-margin$", "DisRanker's ablation has the hybrid beat Margin-MSE"),
    (r"beats \S+-labels$", "the paper's case for a teacher is that distillation beats training on labels"),
    (r"\+bm25 beats bm25$", "a deployed re-ranker must improve the list it re-ranks"),
    (r"beats bm25$", "a re-ranker must improve the list it re-ranks (the paper's student improves on the production ranker)"),
    (r"adds to the student", "the paper's premise is that the student learns what the LLM knows"),
    (r"keeps", "the paper's student keeps most of its teacher's quality"),
)


def against_paper(claims: pd.DataFrame) -> list[str]:
    """A sentence for every claim of `claims_table` that does not hold (its verdict does not start
    with `holds`), with its difference and p-value and what the paper reports; one sentence saying
    so when every claim holds."""
    lines = []
    for claim, r in claims.iterrows():
        if str(r["verdict"]).startswith("holds"):
            continue
        paper = next((said for pattern, said in PAPER_SAYS if re.search(pattern, claim)), "the paper reports it holds")
        lines.append(f"Against the paper: {claim}: {r['verdict']} (Δ NDCG@5 {r['Δ']:+.3f}, p {format_p(r['p'])}), while {paper}.")
    return lines or ["Every claim above holds, as the paper reports."]


# Learning curves (first seed).

def learning_curves(runs: Mapping[str, list[TrainedSystem]]) -> pd.DataFrame:
    """One row per learning-curve point (`system`, `step`, dev metrics) of each core student's
    first seed."""
    return pd.DataFrame([{"system": name, **h} for name, seeds in runs.items() for h in seeds[0].history])


def plot_learning_curves(curve: pd.DataFrame, dev_ref: Mapping[str, float], budget: int) -> plt.Figure:
    """Dev NDCG@5 against the step, one line per student (first seed), with the `training.dev_references`
    lines and the budget's end marked; the legend outside the data."""
    fig, ax = plt.subplots(figsize=(9, 3.8))
    sns.lineplot(curve, x="step", y="dev ndcg@5", hue="system", marker="o", ax=ax)
    for (name, value), style in zip(dev_ref.items(), ["-.", "--", ":"], strict=True):
        ax.axhline(value, ls=style, c="grey", label=name)
    ax.axvline(budget, c="k", lw=0.8, label="budget (steps)")
    ax.set(title="dev NDCG@5 during training (first seed; the curve's dev queries)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    return fig


def curve_summary(curve: pd.DataFrame, target: float) -> pd.DataFrame:
    """Per student: dev NDCG@5 at its curve's last step and the steps it would need to reach
    `target` (BM25 on the curve's dev queries), extrapolated by `training.steps_to_reach` (a
    log-linear fit: an order of magnitude, not a promise)."""
    need = {name: steps_to_reach(g.to_dict("records"), target) for name, g in curve.groupby("system")}
    best = curve.groupby("system")["dev ndcg@5"].max()
    how = {name: "reached (first step at or above)" if best[name] >= target else "no estimate (one point, not rising, or a fit that crosses inside the measured steps)" if need[name] is None
           else "extrapolated (log-linear)" for name in need}
    return pd.DataFrame({"dev ndcg@5 at the end": curve.sort_values("step").groupby("system")["dev ndcg@5"].last(),
                         "bm25 on these dev queries": target,
                         "steps to reach bm25 on dev": pd.Series({n: v if how[n].startswith("reached") or v is None else round(v, -1)
                                                                  for n, v in need.items()}, dtype=float),
                         "how": pd.Series(how)})
