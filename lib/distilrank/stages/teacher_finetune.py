"""Notebook 03's set of systems: the ranking teachers, their references and the ensemble, trained,
fused, evaluated and cached for the students.

The notebook's loops live here, one call per cell: `teacher_groups` (what the teacher learns
from), `score_dense` (the zero-shot `dense-minilm` on every list), `train_variants` /
`pick_teacher` / `save_teacher` (a ranking head on every CPT'd decoder, the best one kept as
`teacher-cpt`), `train_ablation` (the teacher without CPT), `fit_ensembles` (`teacher-ensemble` and `bm25+dense-minilm`), `evaluate_systems`
/ `record_test_rows` / `claims` (every system on dev and test, the results rows, the tested
claims) and `save_transfer` (the transfer set notebook 04 distils from). The `plot_*` functions
draw its figures and return them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from transformers import AutoTokenizer

from distilrank import artifacts, backbones, decoders, dense, fusion, metrics, parallel, rankers, results, training, verdicts
from distilrank.formats import format_p
from distilrank.runtime import set_seed
from distilrank.sampling import pick_queries
from distilrank.training import TrainedSystem

SPLITS = ("dev", "test", "train")  # the lists every system and fusion has scores for


def teacher_groups(frames: Mapping[str, pd.DataFrame], n_pseudo: int, seed: int) -> pd.DataFrame:
    """The teacher's training groups: the training queries' groups plus those of `n_pseudo` seeded
    title pseudo-queries (`sampling.pick_queries`; none when notebook 01 made no pseudo-queries)."""
    pseudo = frames.get("pseudo_groups")
    picked = [] if pseudo is None else pick_queries(pseudo.query_id, n_pseudo, seed)
    return pd.concat([frames["train_groups"], pseudo[pseudo.query_id.isin(picked)] if picked else None], ignore_index=True)


def group_summary(label_groups: pd.DataFrame, teacher_groups: pd.DataFrame) -> pd.DataFrame:
    """Queries, (query, document) pairs and title pseudo-queries the labels-only student and the
    teacher learn from."""
    return pd.DataFrame({
        "queries": [label_groups.query_id.nunique(), teacher_groups.query_id.nunique()],
        "pairs (query, document)": [len(label_groups), len(teacher_groups)],
        "of which title pseudo-queries": [0, teacher_groups.query_id.str.startswith("t").sum()],
    }, index=["labels-only student", "teacher"])


def score_dense(frames: Mapping[str, pd.DataFrame], cfg: Any, out: Path, *, device: str, precision: str) -> dict[str, pd.DataFrame]:
    """`dense-minilm` on the dev, test and training lists and the pseudo-query groups: each list
    with a `dense_score` column (each distinct text embedded once, `dense.score_frames`). The
    document embeddings are kept for notebook 07's dense search (`dense/documents.arrow`), the dev,
    test and train scores under `scores/dense-minilm`."""
    lists = {"dev": frames["dev_candidates"], "test": frames["test_candidates"], "train": frames["train_candidates"]}
    if frames.get("pseudo_groups") is not None:
        lists["pseudo"] = frames["pseudo_groups"]
    encoder = dense.load_encoder(backbones.model_path(cfg.models.dense), device)
    dense_scores = dense.score_frames(encoder, lists, cfg.teacher.batch_size, precision, device,
                                      save_docs_to=out / "dense" / "documents.arrow")
    lists = {split: df.assign(dense_score=dense_scores[split]) for split, df in lists.items()}
    rankers.save_scores({s: lists[s].assign(score=lists[s].dense_score) for s in SPLITS}, out / "scores" / "dense-minilm",
                       precision=precision)
    return lists


def list_sizes(lists: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Queries and (query, document) pairs of each list."""
    return pd.DataFrame({split: {"queries": df.query_id.nunique(), "pairs": len(df)} for split, df in lists.items()}).T


def train_variants(cfg: Any, groups: pd.DataFrame, eval_frames: dict[str, pd.DataFrame], out: Path, *,
                   qrels: pd.DataFrame, device: str, precision: str) -> dict[str, TrainedSystem]:
    """`teacher-cpt-<variant>` for every CPT variant: the ranking head on the decoder notebook 02
    saved after CPT (`cpt/<variant>/cpt`), seeded, trained on `groups` at the variant's learning
    rate, scoring `eval_frames`; scores and learning curves go under `scores/teacher-cpt-<variant>`.
    With `parallel.processes` above 1, each trains and scores on that many processes (`parallel.train_system`)."""
    systems = {}
    launch = parallel.plan(cfg.parallel, device, role="teacher")
    for variant in cfg.cpt.variants:
        set_seed(cfg.seed)
        start = out / "cpt" / variant / "cpt"
        if launch is not None:
            systems[f"teacher-cpt-{variant}"] = training.launched_system(
                launch, parallel.ModelSpec("scorer", str(start), cfg.seed, llm=cfg.llm.model_dump()), start, groups,
                cfg.teacher.for_variant(variant), eval_frames, seed=cfg.seed, work_dir=str(out / "trainer"),
                scores_to=out / "scores" / f"teacher-cpt-{variant}", qrels=qrels, precision=precision)
            continue
        systems[f"teacher-cpt-{variant}"] = training.train_system(
            decoders.load_scorer(start, cfg.llm), AutoTokenizer.from_pretrained(str(start)), groups,
            cfg.teacher.for_variant(variant), eval_frames, seed=cfg.seed, device=device, work_dir=str(out / "trainer"),
            scores_to=out / "scores" / f"teacher-cpt-{variant}", qrels=qrels, precision=precision)
    return systems


def dev_ndcg5(systems: Mapping[str, TrainedSystem], dev: pd.DataFrame, qrels: pd.DataFrame) -> dict[str, float]:
    """Each system's dev NDCG@5, from the dev scores it already computed."""
    return {name: metrics.aggregate(metrics.evaluate_candidates(dev.assign(score=s.scores["dev"]), qrels=qrels), "ndcg@5")
            for name, s in systems.items()}


def pick_teacher(systems: Mapping[str, TrainedSystem], dev: pd.DataFrame, qrels: pd.DataFrame) -> tuple[str, dict[str, float]]:
    """The system with the higher dev NDCG@5 (the first on a tie), and every system's value."""
    values = dev_ndcg5(systems, dev, qrels)
    return max(values, key=values.get), values


def save_teacher(system: TrainedSystem, frames: dict[str, pd.DataFrame], cfg: Any, out: Path, *, device: str,
                 precision: str) -> TrainedSystem:
    """`teacher-cpt`: `system` with its scores on the training queries' lists (`frames["train"]`,
    for the ensemble fit) added, saved under `teachers/teacher-cpt` with its scores on every frame
    under `scores/teacher-cpt`. With `parallel.processes` above 1 the training lists are scored on
    that many processes, from the saved teacher (`parallel.score_frames`)."""
    launch = parallel.plan(cfg.parallel, device, role="teacher")
    if launch is not None:
        rankers.save_ranker(system.model, system.tokenizer, out / "teachers" / "teacher-cpt")
        train = parallel.score_frames(launch, out / "teachers" / "teacher-cpt", {"train": frames["train"]}, out / "trainer" / "launch" / "train lists",
                                      max_len=cfg.teacher.max_len, batch_size=cfg.teacher.batch_size, precision=precision)["train"]
        crowned = dataclasses.replace(system, scores={**system.scores, "train": train})
    else:
        train = rankers.score_candidates(system.model, system.tokenizer, frames["train"], cfg.teacher.max_len,
                                         cfg.teacher.batch_size, device, desc="train lists", precision=precision)
        crowned = dataclasses.replace(system, scores={**system.scores, "train": train})
        rankers.save_ranker(crowned.model, crowned.tokenizer, out / "teachers" / "teacher-cpt")
    rankers.save_scores({k: df.assign(score=crowned.scores[k]) for k, df in frames.items()}, out / "scores" / "teacher-cpt",
                       precision=precision)
    return crowned


def train_ablation(variant: str, name: str, cfg: Any, groups: pd.DataFrame, eval_frames: dict[str, pd.DataFrame], out: Path, *,
                   qrels: pd.DataFrame, device: str, precision: str) -> TrainedSystem:
    """The CPT ablation `name` (`decoders.no_cpt_variant`): the same head, groups, seed and learning
    rate on the `variant` decoder before CPT (`cpt/<variant>/init`), saved under `teachers/<name>`
    (on `parallel.processes` processes when above 1)."""
    set_seed(cfg.seed)
    start = out / "cpt" / variant / "init"
    launch = parallel.plan(cfg.parallel, device, role="teacher")
    if launch is not None:
        return training.launched_system(
            launch, parallel.ModelSpec("scorer", str(start), cfg.seed, llm=cfg.llm.model_dump()), start, groups,
            cfg.teacher.for_variant(variant), eval_frames, seed=cfg.seed, work_dir=str(out / "trainer"),
            save_to=out / "teachers" / name, scores_to=out / "scores" / name, qrels=qrels, precision=precision)
    return training.train_system(
        decoders.load_scorer(start, cfg.llm), AutoTokenizer.from_pretrained(str(start)), groups,
        cfg.teacher.for_variant(variant), eval_frames, seed=cfg.seed, device=device, work_dir=str(out / "trainer"),
        save_to=out / "teachers" / name, scores_to=out / "scores" / name, qrels=qrels, precision=precision)


def learning_curves(systems: Mapping[str, TrainedSystem], skip: tuple[str, ...] = ("teacher-cpt",)) -> pd.DataFrame:
    """Every system's learning curve as tidy rows (system, step, dev metrics), without `skip`
    (`teacher-cpt` is one of the `teacher-cpt-<variant>` curves under a second name)."""
    return pd.DataFrame([{"system": name, **h} for name, s in systems.items() if name not in skip for h in s.history])


def cost_table(systems: Mapping[str, TrainedSystem]) -> pd.DataFrame:
    """Parameters and training / total minutes of each system."""
    return pd.DataFrame({name: {"parameters": backbones.n_parameters(s.model), **s.timing} for name, s in systems.items()}).T


@dataclass
class Ensembles:
    """The fusions of notebook 03: every list with `teacher_score`, `ensemble_score` and
    `no_llm_score` columns, the fitted weights of `teacher-ensemble` and `bm25+dense-minilm`, their
    scores per split (`scores[name][split]`), and both fitted `fusion.Fusion`s by system name
    (weights and the training-set statistics they standardise with)."""

    lists: dict[str, pd.DataFrame]
    weights: dict[str, float]
    weights_no_llm: dict[str, float]
    scores: dict[str, dict[str, np.ndarray]]
    fusions: dict[str, fusion.Fusion] = dataclasses.field(default_factory=dict)


FUSIONS = (("teacher-ensemble", "ensemble_score"), ("bm25+dense-minilm", "no_llm_score"))


def fit_ensembles(lists: Mapping[str, pd.DataFrame], llm: TrainedSystem, cfg: Any, out: Path, *, device: str,
                  precision: str) -> Ensembles:
    """The LLM teacher `llm` scores the pseudo-query groups (seeded); with its dev, test and train
    scores, `fusion.fit_fusion` fits `teacher-ensemble` (BM25, dense-minilm, the LLM) and
    `bm25+dense-minilm` on the training queries' BM25 rows only (`global` method: each score
    standardised with those rows' mean and sd, so a pair's fused score depends on that pair alone),
    and both fuse every list. Their scores go under `scores/<name>`, each fusion (`Fusion.to_dict`:
    weights and statistics) to `teachers/ensemble.json` under its system name."""
    lists = dict(lists)
    set_seed(cfg.seed)
    launch = parallel.plan(cfg.parallel, device, role="teacher") if "pseudo" in lists else None
    if launch is not None:  # the pseudo-query groups, by the saved teacher-cpt (save_teacher) on that many processes
        lists["pseudo"] = lists["pseudo"].assign(teacher_score=parallel.score_frames(
            launch, out / "teachers" / "teacher-cpt", {"pseudo": lists["pseudo"]}, out / "trainer" / "launch" / "transfer pseudo",
            max_len=cfg.teacher.max_len, batch_size=cfg.teacher.batch_size, precision=precision)["pseudo"])
    elif "pseudo" in lists:
        lists["pseudo"] = lists["pseudo"].assign(teacher_score=rankers.score_candidates(
            llm.model, llm.tokenizer, lists["pseudo"], cfg.teacher.max_len,
            cfg.teacher.batch_size, device, desc="transfer pseudo", precision=precision))
    for split in SPLITS:
        lists[split] = lists[split].assign(teacher_score=llm.scores[split])
    fit_rows = lists["train"][lists["train"].source == "bm25"]
    fusions = {"teacher-ensemble": fusion.fit_fusion(fit_rows, ["bm25_score", "dense_score", "teacher_score"], method="global"),
               "bm25+dense-minilm": fusion.fit_fusion(fit_rows, ["bm25_score", "dense_score"], method="global")}
    lists = {split: df.assign(**{col: fusion.fuse(df, fusions[name]) for name, col in FUSIONS}) for split, df in lists.items()}
    scores = {}
    for name, col in FUSIONS:
        scores[name] = {split: lists[split][col].to_numpy() for split in SPLITS}
        rankers.save_scores({s: lists[s].assign(score=lists[s][col]) for s in SPLITS}, out / "scores" / name,
                            precision=precision)  # fused from scores made at the run's precision
    decoders.write_json({**{name: f.to_dict() for name, f in fusions.items()}, "fitted on": "training queries, BM25 top-k rows",
                        "fit": "pairwise logistic regression on scores standardised with the training rows' mean and sd (global)"},
                       out / "teachers" / "ensemble.json")
    return Ensembles(lists, fusions["teacher-ensemble"].weights, fusions["bm25+dense-minilm"].weights, scores, fusions)


def weight_table(ensembles: Ensembles) -> pd.DataFrame:
    """The fitted weight of each ranker in both fusions (0 where a fusion leaves it out)."""
    return pd.DataFrame({"teacher-ensemble": ensembles.weights, "bm25+dense-minilm": ensembles.weights_no_llm}).rename(
        index={"bm25_score": "bm25", "dense_score": "dense-minilm", "teacher_score": "LLM teacher (teacher-cpt)"}).fillna(0)


@dataclass
class Evaluation:
    """Every system on dev and test: per-query metrics keyed by (system, split), the systems in
    table order, and the table (PNR, NDCG@5, NDCG@10, and on test the paired p-values against BM25)."""

    per: dict[tuple[str, str], pd.DataFrame]
    order: list[str]
    table: pd.DataFrame
    aliases: dict[str, str] = field(default_factory=dict)  # a name whose scores repeat another's: neither shown nor recorded


def system_order(scores: Mapping[str, Any]) -> list[str]:
    """The table's order: random, BM25, dense-minilm, the fusion without the LLM, the LLM teachers
    (`teacher-cpt`, the chosen one, first; then as trained), the ensemble, oracle."""
    llms = sorted((n for n in scores if n.startswith("teacher-") and n != "teacher-ensemble"), key=lambda n: n != "teacher-cpt")
    return ["random", "bm25", "dense-minilm", "bm25+dense-minilm", *llms, "teacher-ensemble", "oracle"]


def evaluate_systems(splits: Mapping[str, pd.DataFrame], scores: Mapping[str, Mapping[str, np.ndarray]], qrels: pd.DataFrame,
                     seed: int) -> Evaluation:
    """Per-query metrics of the references (`random`, `oracle`), BM25, dense-minilm and every
    system of `scores` on each split, and their table, with a paired t-test against BM25 over test
    queries (NDCG@5; pair accuracy for PNR) for every test row but BM25's and the oracle's. The chosen
    teacher's second name (`teacher-cpt-<variant>` whose scores on the last split are `teacher-cpt`'s) keeps its per-query metrics (its claims read them) but has no table row:
    `aliases` names it."""
    per = {}
    for split, df in splits.items():
        refs = metrics.evaluate_references(df, qrels, seed=seed)
        per[("random", split)], per[("oracle", split)] = refs["random"], refs["oracle"]
        per[("bm25", split)] = metrics.evaluate_candidates(df, score="bm25_score", qrels=qrels)
        per[("dense-minilm", split)] = metrics.evaluate_candidates(df, score="dense_score", qrels=qrels)
        for name, sc in scores.items():
            per[(name, split)] = metrics.evaluate_candidates(df.assign(score=sc[split]), qrels=qrels)
    rows = []
    for (name, split), pq in per.items():
        row = {"system": name, "split": split, **{m: metrics.aggregate(pq, m) for m in ("pnr", "ndcg@5", "ndcg@10")}}
        if split == "test" and name not in ("bm25", "oracle"):
            row["p vs bm25 (ndcg@5)"] = metrics.paired_test(pq, per[("bm25", "test")], "ndcg@5")["p"]
            row["p vs bm25 (pnr)"] = metrics.paired_test(pq, per[("bm25", "test")], "pair_accuracy")["p"]
        rows.append(row)
    last = list(splits)[-1]
    aliases = {n: "teacher-cpt" for n in scores if n.startswith("teacher-cpt-") and "teacher-cpt" in scores
               and np.array_equal(scores[n][last], scores["teacher-cpt"][last])}
    order = [n for n in system_order(scores) if n not in aliases]
    table = pd.DataFrame(rows).set_index(["split", "system"]).reindex([(s, n) for s in splits for n in order])
    return Evaluation(per, order, table, aliases)


def record_test_rows(evaluation: Evaluation, profile: str, seed: int) -> None:
    """Every system's test metrics with 95% bootstrap intervals to `results.json`, in table order
    (BM25's rows belong to notebook 01)."""
    for name in evaluation.order:
        if name != "bm25":
            results.record(profile, results.summary_rows(name, metrics.summarise(evaluation.per[(name, "test")], seed=seed)))


def plot_systems(evaluation: Evaluation, seed: int) -> plt.Figure:
    """Test NDCG@5 and PNR of every system of the table (`evaluation.order`: one name per system),
    with 95% bootstrap intervals; the oracle's infinite PNR has no bar."""
    shown = list(evaluation.order)
    plot = pd.concat([metrics.summarise(evaluation.per[(n, "test")], seed=seed).assign(system=n) for n in shown])
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for ax, metric in zip(axes, ["ndcg@5", "pnr"], strict=True):
        d = plot[(plot.metric == metric) & np.isfinite(plot.value)].reset_index(drop=True)
        ax.bar(d.system, d.value, color=sns.color_palette(n_colors=len(d)))
        ax.errorbar(d.system, d.value, yerr=[d.value - d.ci_low, d.ci_high - d.value], fmt="none", c="k", capsize=4)
        ax.set(title=f"test {metric} (95% bootstrap CI)" + ("; oracle: infinite" if metric == "pnr" else ""), ylabel=f"test {metric}")
        ax.tick_params(axis="x", rotation=35)
        plt.setp(ax.get_xticklabels(), ha="right")
    return fig


def curve_references(dev: pd.DataFrame, qrels: pd.DataFrame, curve_queries: int | None, seed: int) -> dict[str, float]:
    """Dev NDCG@5 of BM25 and `random` on the dev queries the teachers' learning curves read
    (`training.curve_rows` with the training seed): the curves' reference lines, on the same
    queries as the curves."""
    d = dev[training.curve_rows(dev, curve_queries, seed)]
    return {"bm25 (dev)": metrics.aggregate(metrics.evaluate_candidates(d, score="bm25_score", qrels=qrels), "ndcg@5"),
            "random (dev)": metrics.aggregate(metrics.evaluate_references(d, qrels, seed=seed)["random"], "ndcg@5")}


def plot_learning_curves(curves: pd.DataFrame, dev_ref: Mapping[str, float]) -> plt.Figure:
    """Dev NDCG@5 by training step of every trained system, against the `curve_references` (BM25
    dashed, random dotted), the legend outside the data."""
    fig, ax = plt.subplots(figsize=(8, 3.5))
    sns.lineplot(curves, x="step", y="dev ndcg@5", hue="system", marker="o", ax=ax)
    for (name, value), style in zip(dev_ref.items(), ["--", ":"], strict=True):
        ax.axhline(value, ls=style, c="grey", label=name)
    ax.set(title="dev NDCG@5 during training (the curve's dev queries)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    return fig


def claims(per: Mapping[tuple[str, str], pd.DataFrame], ablation_variant: str, ablation: str, chosen: str | None = None) -> pd.DataFrame:
    """The claims notebook 03 tests (paired t-tests over test queries on NDCG@5, `verdicts.claim`,
    each filed under the paper's claim it tests or the check beyond it): the ensemble against BM25
    and the fusion without the LLM; the LLM teacher against random and BM25; CPT
    (`teacher-cpt-<ablation_variant>` against `ablation`, named `teacher-cpt` when that variant is
    the `chosen` one: one system, one name; not testable when neither ranks above random);
    dense-minilm against BM25."""
    tq = {name: per[(name, "test")] for name, split in per if split == "test"}
    cpt = "teacher-cpt" if ablation_variant == chosen else f"teacher-cpt-{ablation_variant}"
    c = verdicts.claim
    cpt_claim = c(f"CPT helps the teacher ({cpt} beats {ablation})", tq[f"teacher-cpt-{ablation_variant}"], tq[ablation], cpt, ablation,
                  paper_claim="cpt", headline=True)
    learned = [metrics.claim("", tq[n], tq["random"])["verdict"] == verdicts.HOLDS for n in (f"teacher-cpt-{ablation_variant}", ablation)]
    cpt_claim["verdict"] = verdicts.premised(cpt_claim["verdict"], any(learned), f"neither {cpt} nor {ablation} ranks above random: "
                                             "a comparison of two chance rankers")
    llm_claim = c("teacher-cpt beats bm25", tq["teacher-cpt"], tq["bm25"], "teacher-cpt", "bm25", paper_claim="llm-teacher", headline=True)
    llm_claim["verdict"] = verdicts.premised(llm_claim["verdict"], metrics.claim("", tq["teacher-cpt"], tq["random"])["verdict"] == verdicts.HOLDS,
                                             "teacher-cpt ranks no better than random: a decoder at chance stands in for no LLM")
    return pd.DataFrame([
        c("teacher-ensemble beats bm25", tq["teacher-ensemble"], tq["bm25"], "teacher-ensemble", "bm25", paper_claim="first-stage"),
        c("the LLM adds to the fusion (teacher-ensemble beats bm25+dense-minilm)", tq["teacher-ensemble"], tq["bm25+dense-minilm"],
          "teacher-ensemble", "bm25+dense-minilm", paper_claim="llm-adds"),
        c("teacher-cpt (the LLM teacher) beats random", tq["teacher-cpt"], tq["random"], "teacher-cpt", "random", paper_claim="llm-teacher"),
        llm_claim,
        cpt_claim,
        c("dense-minilm (zero-shot) beats bm25", tq["dense-minilm"], tq["bm25"], "dense-minilm", "bm25", paper_claim="first-stage"),
    ]).set_index("claim")


def reading(per: Mapping[tuple[str, str], pd.DataFrame], ablation_variant: str, ablation: str, weights: Mapping[str, float],
            decoder_params: int) -> list[str]:
    """Notebook 03's results in sentences, each set against what the paper reports (test NDCG@5,
    paired t-tests): what CPT did to the trained ranker, where the LLM teacher sits between
    `random` and BM25, and what share of `teacher-ensemble` it carries (`weights`, keyed by score
    column). Computed from the numbers, so they stay true whichever way the numbers go."""
    tq = {name: frame for (name, split), frame in per.items() if split == "test"}
    nd = {name: metrics.aggregate(frame, "ndcg@5") for name, frame in tq.items()}
    cpt = f"teacher-cpt-{ablation_variant}"
    c = metrics.claim("", tq[cpt], tq[ablation])
    size = f"a decoder of {decoder_params / 1e6:.0f}M parameters"
    line = (f"CPT: with it the teacher reaches test NDCG@5 {nd[cpt]:.3f}, without it ({ablation}) {nd[ablation]:.3f} "
            f"(Δ {c['Δ']:+.3f}, p {format_p(c['p'])}, {c['queries']} queries). ")
    line += {"holds": "CPT helps the trained ranker, as the paper reports.",
             "fails": (f"CPT made the ranker worse, against the paper, which reports CPT helping. Here CPT is a short run of "
                       f"next-token training on {size}; the same steps moved the decoder's weights away from the "
                       "pretrained state the ranking head does better with."),
             "no significant difference": "No significant difference: the paper's gain from CPT does not show here."}[c["verdict"]]
    b, r = metrics.claim("", tq["teacher-cpt"], tq["bm25"]), metrics.claim("", tq["teacher-cpt"], tq["random"])
    llm = (f"The LLM teacher (teacher-cpt, {size}) reaches {nd['teacher-cpt']:.3f}, BM25 {nd['bm25']:.3f}, "
           f"random scores {nd['random']:.3f}: ")
    if b["verdict"] == "fails":
        llm += (("no better than chance, " if r["verdict"] != "holds" else "above chance but ")
                + "below BM25, the list it re-ranks. That goes against the paper, where the LLM teacher is the strongest ranker. "
                "A student distilled from it alone could only learn to re-rank its list worse than BM25 ordered it.")
    else:
        llm += "not below BM25" + (", and significantly above it, as the paper's teacher is." if b["verdict"] == "holds" else " (no significant difference).")
    w = dict(weights)
    share = abs(w.get("teacher_score", 0.0)) / max(sum(abs(v) for v in w.values()), 1e-12)
    fused = (f"Its weight in teacher-ensemble is {w.get('teacher_score', 0.0):.3f} (BM25 {w.get('bm25_score', 0.0):.3f}, "
             f"dense-minilm {w.get('dense_score', 0.0):.3f}): ")
    fused += ("a student of teacher-ensemble learns mostly from a BM25 + MiniLM fusion, not from the LLM." if share < 0.2
              else "the LLM carries a real share of what a student of teacher-ensemble learns.")
    return [line, llm, fused]


def save_transfer(lists: Mapping[str, pd.DataFrame], out: Path) -> dict[str, pd.DataFrame]:
    """The transfer set: every list with its teacher, dense, BM25, ensemble and `bm25+dense-minilm`
    (`no_llm_score`) scores, saved as one `DatasetDict` under `transfer/`; returns it."""
    transfer = dict(lists)
    artifacts.save_prepared({k: v.to_dict(orient="records") for k, v in transfer.items()}, out / "transfer")
    return transfer


def transfer_counts(transfer: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Queries, pairs scored and judged pairs of each transfer split."""
    return pd.DataFrame({split: {"queries": df.query_id.nunique(), "pairs scored": len(df), "judged pairs": int((df.gain > 0).sum())}
                         for split, df in transfer.items()}).T


def plot_transfer_scores(train: pd.DataFrame) -> plt.Figure:
    """Histograms of the LLM teacher's and the ensemble's scores on the training queries' lists,
    judged relevant against unjudged pairs."""
    tr = train.assign(label=lambda d: np.where(d.gain > 0, "judged relevant", "unjudged"))
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.5))
    for ax, col, title in zip(axes, ["teacher_score", "ensemble_score"], ["teacher-cpt (the LLM teacher)", "teacher-ensemble"], strict=True):
        sns.histplot(tr, x=col, hue="label", bins=40, element="step", stat="density", common_norm=False, ax=ax)
        ax.set(title=f"{title} on the training queries' lists")
    return fig
