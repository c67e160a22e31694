"""Rank-DistiLLM's practices (Schlatt et al., arXiv 2405.07920) for the BERT student: notebook 07.

Rank-DistiLLM distils listwise LLM rankers (which output permutations, not scores) into
cross-encoders and finds that supervised cross-encoder practice carries over: candidates from a
strong first stage, sampled deep enough, and ranking losses. Here each practice is one axis of a
grid (`config.RankDistillmParams`):

- **first stage** of the training lists: `bm25`, `dense` (the zero-shot bi-encoder `dense-minilm`,
  exact cosine search over the whole collection with sentence-transformers' `semantic_search`) or
  `fused` (`bm25+dense-minilm`: both scores z-scored over the union of the two stages' lists at the
  grid's deepest depth, per query, and summed with notebook 03's fitted weights; one fused ranking
  serves every depth);
- **depth** k: a training list is the first stage's top k and nothing else (no judged document is
  added), and every step samples `group_size` of them, so every depth trains on the same number of
  pairs;
- **targets**: the teacher's `scores`, or only its permutation, `ranks` (inverted ranks, what a
  listwise LLM ranker gives);
- **loss**: any of `distilrank.losses.LOSSES`.

The teacher's per-pair evidence (the LLM teacher's score, BM25's, `dense-minilm`'s) is computed
once per run for every pair any selected cell needs (`teacher_pool`: the pairs notebook 03 scored
are read from its transfer set) and saved beside the results (`save_pool`); `teacher-ensemble`'s
score is notebook 03's `global` fusion (`fusion.Fusion`: each score standardised with the training
rows' mean and sd), a function of the (query, document) pair alone, so a document has one target in
every cell's list it is in (`cell_frame`). The training loop is notebook 04's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from sentence_transformers.util import semantic_search

from distilrank import dense, distill, fusion, losses, metrics, rankers, training
from distilrank.artifacts import load_prepared, save_prepared
from distilrank.bm25 import BM25Index
from distilrank.config import RankDistillmParams
from distilrank.data import Doc
from distilrank.grid_cells import STAGES, Cell, distinct_cells
from distilrank.precision import autocast
from distilrank.rankers import document_text
from distilrank.runtime import set_seed
from distilrank.verdicts import HOLDS, NOT_TESTABLE, kind, premised

TEMPERATURE_LOSSES = frozenset({"listnet", "kl", "adrmse", "approxndcg", "infonce"})


def loss_for(cell: Cell, params: RankDistillmParams, margin_weight: float):
    """The cell's loss with its arguments (temperature for listwise / approximate-rank losses,
    `distill.margin_weight` for the hybrid)."""
    kwargs: dict[str, float] = {}
    if cell.loss in TEMPERATURE_LOSSES:
        kwargs["temperature"] = params.temperature
    if cell.loss == "hybrid":
        kwargs["margin_weight"] = margin_weight
    return losses.make_loss(cell.loss, **kwargs)


def dense_search(query_emb: np.ndarray, doc_emb: np.ndarray, doc_ids: Sequence[str], k: int) -> list[list[tuple[str, float]]]:
    """Exact cosine top-k over normalised embeddings (sentence-transformers' `semantic_search`):
    per query, (doc_id, score) best first."""
    hits = semantic_search(query_emb, doc_emb, top_k=min(k, len(doc_ids)), query_chunk_size=256, corpus_chunk_size=100_000)
    return [[(doc_ids[h["corpus_id"]], float(h["score"])) for h in per] for per in hits]


def rank_within(df: pd.DataFrame, column: str) -> pd.Series:
    """1-based rank of each row by `column` (highest first) within its query; ties by row order."""
    return df.groupby("query_id", sort=False)[column].rank(method="first", ascending=False).astype(int)


def first_stage_runs(queries: dict[str, str], index: BM25Index, depth: int,
                     dense: tuple[np.ndarray, np.ndarray, Sequence[str]] | None = None,
                     fused_weights: dict[str, float] | None = None) -> pd.DataFrame:
    """Every training query's candidates from each first stage, down to `depth`.

    One row per (query, document) in the union of BM25's top `depth` and, with `dense` (query
    embeddings aligned with `queries`, the corpus's embeddings, its doc ids), `dense-minilm`'s top
    `depth` by exact search; with both scores (BM25's exact score, `BM25Index.score_docs`, for a
    document only the dense search found; the cosine for one only BM25 found) and the rank of the
    document in each stage's list (`rank_bm25`, `rank_dense`, `rank_fused`; 0 outside its top
    `depth`). With `fused_weights`, `fused` z-scores the two scores over that union per query and
    sums them with those weights (`fusion.fuse` with the `query` method; notebook 03 fitted them on
    globally standardised scores). Per query is enough here: `fused_score` only orders each query's
    retrieval, and no target reads it (the ensemble's targets use the global fusion, `cell_frame`).
    """
    if fused_weights is not None and dense is None:
        raise ValueError("first_stage_runs: the fused first stage needs the dense one")
    query_emb, doc_emb, doc_ids = dense if dense is not None else (None, None, ())
    position = {d: i for i, d in enumerate(doc_ids)}
    dense_hits = dense_search(query_emb, doc_emb, doc_ids, depth) if dense is not None else [[] for _ in queries]
    parts = []
    for i, ((qid, text), hits) in enumerate(zip(queries.items(), dense_hits, strict=True)):
        bm25_top = index.search(text, depth)
        ids = list(dict.fromkeys([d for d, _ in bm25_top] + [d for d, _ in hits]))
        part = pd.DataFrame({"query_id": qid, "doc_id": ids})
        part["bm25_score"] = index.score_docs(text, ids).astype(np.float64)
        rank_b = {d: r for r, (d, _) in enumerate(bm25_top, start=1)}
        part["rank_bm25"] = [rank_b.get(d, 0) for d in ids]
        if dense is not None:
            part["dense_score"] = (doc_emb[[position[d] for d in ids]] @ query_emb[i]).astype(np.float64)
            rank_d = {d: r for r, (d, _) in enumerate(hits, start=1)}
            part["rank_dense"] = [rank_d.get(d, 0) for d in ids]
        parts.append(part)
    runs = pd.concat(parts, ignore_index=True)
    if fused_weights is not None:
        runs["fused_score"] = fusion.fuse(runs, fusion.Fusion(dict(fused_weights)))  # stats None: per-query z-scores
        ranked = rank_within(runs, "fused_score")
        runs["rank_fused"] = ranked.where(ranked <= depth, 0)
    return runs


def needed_pairs(runs: pd.DataFrame, depths: dict[str, int]) -> pd.DataFrame:
    """The rows of `runs` within the top `depths[stage]` of some stage: what the teacher must score."""
    keep = np.zeros(len(runs), dtype=bool)
    for stage, k in depths.items():
        r = runs[f"rank_{stage}"].to_numpy()
        keep |= (r >= 1) & (r <= k)
    return runs[keep].reset_index(drop=True)


def teacher_pool(pairs: pd.DataFrame, texts: pd.DataFrame, cached: pd.DataFrame, score_missing) -> tuple[pd.DataFrame, int]:
    """The pairs with their texts, gains and the LLM teacher's score (`teacher_score`).

    `texts` has query_id, doc_id, query, title, summary and gain for every pair; `cached` has
    (query_id, doc_id, teacher_score) rows notebook 03 scored already; `score_missing(frame)` scores
    the rest. Returns the pool and how many pairs were newly scored.
    """
    pool = pairs.merge(texts, on=["query_id", "doc_id"], how="left", validate="one_to_one")
    if pool["query"].isna().any():
        raise ValueError("teacher_pool: pairs without text (a document missing from the corpus table?)")
    known = cached[["query_id", "doc_id", "teacher_score"]].drop_duplicates(["query_id", "doc_id"])
    pool = pool.merge(known, on=["query_id", "doc_id"], how="left", validate="one_to_one")
    missing = pool["teacher_score"].isna().to_numpy()
    if missing.any():
        pool.loc[missing, "teacher_score"] = np.asarray(score_missing(pool[missing].reset_index(drop=True)), dtype=np.float64)
    return pool, int(missing.sum())


def cell_frame(pool: pd.DataFrame, cell: Cell, teacher_column: str, ensemble: fusion.Fusion | None,
               normalise: str) -> pd.DataFrame:
    """A cell's training lists: each training query's first-stage top `cell.depth` (nothing added),
    with `target`: the teacher's score of each pair (`teacher-ensemble`'s fusion `ensemble` when
    given, notebook 03's `global` one: a function of the pair alone, the same in every list; else
    `teacher_column` as cached), or, for `ranks`, only the teacher's permutation of the list as
    inverted ranks (n for its top document, 1 for its last); then normalised (`distill.normalise`:
    `global` z-scores over the cell's pairs, one affine map for all of them)."""
    r = pool[f"rank_{cell.stage}"]
    df = pool[(r >= 1) & (r <= cell.depth)].sort_values(["query_id", f"rank_{cell.stage}"], kind="stable").reset_index(drop=True)
    if df.empty:
        raise ValueError(f"cell {cell.name}: no training pairs")
    teacher = fusion.fuse(df, ensemble) if ensemble is not None else df[teacher_column].to_numpy()
    df = df.assign(teacher=teacher)
    if cell.targets == "ranks":
        n = df.groupby("query_id", sort=False)["teacher"].transform("size")
        df["teacher"] = (n - rank_within(df, "teacher") + 1).astype(np.float64)
    stats = distill.fit_normaliser(df["teacher"], normalise)
    return df.assign(target=distill.normalise(df, stats, column="teacher"))


def pool_summary(pool: pd.DataFrame, lists: Sequence[tuple[str, int]], qrels: pd.DataFrame) -> pd.DataFrame:
    """Per (first stage, depth) training list: pairs, judged-relevant documents per query, recall of
    the training queries' judged documents, and the share of the list BM25's list of the same depth
    holds too."""
    judged = qrels[qrels["gain"] > 0].groupby("query_id").size()
    rows = {}
    for stage, k in lists:
        r = pool[f"rank_{stage}"]
        top = pool[(r >= 1) & (r <= k)]
        bm = pool[(pool["rank_bm25"] >= 1) & (pool["rank_bm25"] <= k)]
        shared = top.merge(bm[["query_id", "doc_id"]], on=["query_id", "doc_id"]).groupby("query_id").size()
        rel = top[top["gain"] > 0].groupby("query_id").size()
        qids = top["query_id"].unique()
        rows[f"{stage} top {k}"] = {
            "queries": len(qids), "pairs": len(top), "relevant per query": rel.reindex(qids, fill_value=0).mean(),
            "recall of judged": (rel.reindex(qids, fill_value=0) / judged.reindex(qids)).mean(),
            "shared with bm25 top k": (shared.reindex(qids, fill_value=0) / k).mean(),
        }
    return pd.DataFrame(rows).T


@dataclass
class GridRun:
    """What `train_grid` returns: each student's test scores and a tidy table of the budget."""

    scores: dict[str, np.ndarray]
    budget: pd.DataFrame


def train_grid(cells: Sequence[Cell], pool: pd.DataFrame, test: pd.DataFrame, params: RankDistillmParams, *, student: str,
               start: str | Path, teacher_column: str, ensemble: fusion.Fusion | None, normalise: str,
               margin_weight: float, seed: int, device: str, out: Path, qrels: pd.DataFrame, precision: str,
               tokenizer_factory, model_factory) -> GridRun:
    """Train one student per cell (same start, seed, steps and pairs per step; only the cell
    differs), score the test lists, cache scores under `out/scores/<student>-<cell>/`.
    `model_factory(start)` and `tokenizer_factory(start)` build a fresh student."""
    scores, rows = {}, []
    for cell in cells:
        name = f"{student}-{cell.name}"
        frame = cell_frame(pool, cell, teacher_column, ensemble, normalise)
        tick = time.perf_counter()
        set_seed(seed)
        trained = training.train_system(
            model_factory(start), tokenizer_factory(start), frame, params, {"test": test}, seed=seed, device=device,
            work_dir=str(out / "trainer"), scores_to=out / "scores" / name, target="target",
            loss_fn=loss_for(cell, params, margin_weight), steps=params.steps, qrels=qrels, precision=precision)
        scores[name] = trained.scores["test"]
        rows.append({"system": name, "loss": cell.loss, "targets": cell.targets, "first stage": cell.stage, "depth": cell.depth,
                     "training queries": frame["query_id"].nunique(), "candidates per list": frame.groupby("query_id").size().mean(),
                     "steps": params.steps, "passes over the queries": params.steps * params.groups_per_step / frame["query_id"].nunique(),
                     "(query, document) pairs trained": params.steps * params.groups_per_step * params.group_size,
                     "minutes": (time.perf_counter() - tick) / 60})
    return GridRun(scores, pd.DataFrame(rows).set_index("system"))


# The three effects Rank-DistiLLM reports (and two this project adds), each as a claim "the first cell
# beats the second" between cells that differ in one axis only: (axis, first value, second value,
# the claim and what the paper found, the verdict the paper's numbers predict; None: not in the paper).
EFFECTS = (
    ("stage", "dense", "bm25", "first stage: dense candidates beat BM25's (paper: ColBERTv2 0.769 vs BM25 0.715)", "holds"),
    ("stage", "fused", "bm25", "first stage: fused (bm25+dense-minilm) candidates beat BM25's", None),
    ("depth", 20, 10, "depth: the top 20 beats the top 10 (paper: 0.766 vs 0.733)", "holds"),
    ("depth", 50, 20, "depth: the top 50 beats the top 20 (paper: a small gain, 0.772 vs 0.766)", "no significant difference"),
    ("depth", 100, 50, "depth: the top 100 beats the top 50 (paper: flat past 50, 0.769 vs 0.772)", "no significant difference"),
    ("loss", "adrmse", "ranknet", "loss: ADR-MSE beats RankNet (paper: within 0.005 of each other)", "no significant difference"),
    ("targets", "ranks", "scores", "targets: the teacher's permutation alone beats its scores", None),
)


def effect_pairs(cells: Sequence[Cell]) -> list[tuple[str, str | None, Cell, Cell]]:
    """For each effect, every pair of run cells that differ only on the effect's axis, with the
    two values it names: (what is tested, the agreeing verdict, better cell, other cell)."""
    by_name = {c.name: c for c in cells}
    out = []
    for axis, better, other, text, expected in EFFECTS:
        for c in cells:
            if getattr(c, axis) != better or (axis == "targets" and c.loss in losses.ORDER_ONLY):
                continue  # an order-only loss trains the same student on either kind of target
            twin = Cell(**{**c.__dict__, axis: other})
            if twin.name in by_name:
                out.append((text, expected, c, twin))
    return out


def paired_differences(per_a: pd.DataFrame, per_b: pd.DataFrame, metric: str = "ndcg@5") -> pd.DataFrame:
    """Per query of both, `metric` of a minus b (a frame `metrics.bootstrap_ci` reads)."""
    joined = per_a.set_index("query_id")[[metric]].join(per_b.set_index("query_id")[[metric]], rsuffix="_b", how="inner")
    return pd.DataFrame({"query_id": joined.index, metric: (joined[metric] - joined[f"{metric}_b"]).to_numpy()})


def beats_random(per_student: pd.DataFrame, per_random: pd.DataFrame, alpha: float = 0.05) -> bool:
    """Whether a student's NDCG@5 is above `random`'s on the same lists, by a paired t-test: a
    comparison between students that do not is a comparison of noise."""
    t = metrics.paired_test(per_student, per_random, "ndcg@5")
    return metrics.verdict(t["diff"], t["p"], alpha) == "holds"


# each first stage as a ranker of the test lists: its system name and its score column there
STAGE_RANKERS = {"bm25": ("bm25", "bm25_score"), "dense": ("dense-minilm", "dense_score"), "fused": ("bm25+dense-minilm", "no_llm_score")}


def stage_rankers(test: pd.DataFrame, qrels: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per-query metrics of each first stage (`STAGE_RANKERS`) re-ranking the test lists, for the
    stages whose score column the lists carry: the premise of each first-stage effect."""
    return {name: metrics.evaluate_candidates(test.assign(score=test[col]), qrels=qrels)
            for name, col in STAGE_RANKERS.values() if col in test.columns}


def stage_premise(better: str, other: str, per: dict[str, pd.DataFrame]) -> tuple[bool, str] | None:
    """Whether first stage `better` ranks the test lists better than `other` (a paired t-test on
    NDCG@5 that holds), the premise of "`better`'s candidates beat `other`'s", with the reason
    when it does not; None when `per` lacks either ranker."""
    a, b = STAGE_RANKERS[better][0], STAGE_RANKERS[other][0]
    if a not in per or b not in per:
        return None
    t = metrics.paired_test(per[a], per[b], "ndcg@5")
    ok = metrics.verdict(t["diff"], t["p"]) == HOLDS
    return ok, f"{a} does not rank the test lists better than {b} (Δ ndcg@5 {t['diff']:+.3f}, p {t['p']:.3g}), the premise of the effect"


def verdicts(pairs: Sequence[tuple[str, str | None, Cell, Cell]], per: dict[str, pd.DataFrame], student: str,
                   n_resamples: int = 1000, seed: int = 0) -> pd.DataFrame:
    """One row per tested effect: the two students, Δ NDCG@5 (better - other) with a 95% bootstrap
    interval over test queries (unadjusted) and its paired t-test, Benjamini-Hochberg adjusted over
    the effects tested, the verdict (on the adjusted p), how it reads against what Rank-DistiLLM
    reported, and whether both students beat `random` (`per["random"]`) at all. A first-stage
    effect whose premise fails (`stage_premise`: the better stage does not rank the test lists
    better than the other, read from `per`'s first-stage rankers, `stage_rankers`) is not testable."""
    rows = []
    for text, expected, a, b in pairs:
        pa, pb = per[f"{student}-{a.name}"], per[f"{student}-{b.name}"]
        t = metrics.paired_test(pa, pb, "ndcg@5")
        lo, hi = metrics.bootstrap_ci(paired_differences(pa, pb), "ndcg@5", n_resamples=n_resamples, seed=seed)
        premise = stage_premise(a.stage, b.stage, per) if a.stage != b.stage else None
        rows.append({"effect": text, "compared": f"{a.name} vs {b.name}", "Δ ndcg@5": t["diff"], "Δ 95% CI (unadjusted)": f"[{lo:+.3f}, {hi:+.3f}]",
                     "p": t["p"], "queries": t["n_queries"], "paper": expected or "not reported",
                     "both beat random": "yes" if beats_random(pa, per["random"]) and beats_random(pb, per["random"]) else "no",
                     "system": f"{student}-{a.name}", "against": f"{student}-{b.name}", "premise": premise})
    table = pd.DataFrame(rows, columns=["effect", "compared", "Δ ndcg@5", "Δ 95% CI (unadjusted)", "p", "queries", "paper", "both beat random",
                                        "system", "against", "premise"])
    table["p (BH)"] = metrics.adjust_pvalues(table["p"].to_numpy()) if len(table) else []
    table["verdict"] = [metrics.verdict(d, p) if pr is None else premised(metrics.verdict(d, p), *pr)
                        for d, p, pr in zip(table["Δ ndcg@5"], table["p (BH)"], table["premise"], strict=True)]
    table["against the paper"] = [against_paper(v, e) for v, e in zip(table["verdict"], table["paper"], strict=True)]
    return table.drop(columns="premise")


def against_paper(verdict: str, predicted: str) -> str:
    """How a verdict reads against the one the paper's numbers predict: `consistent` (the same),
    `contradicts` (a significant difference the paper did not find, or one in the other
    direction; said with its limit, `CONTRADICTS`: each cell trains one seed), `inconclusive` (the paper found a gain this run cannot tell from zero); empty
    where the paper did not test it. Directions only: the paper's magnitudes are nDCG@10 on TREC
    DL, not comparable with NDCG@5 here."""
    if predicted == "not reported" or kind(verdict) == NOT_TESTABLE:
        return ""
    if verdict == predicted:
        return "consistent"
    return "inconclusive" if verdict == "no significant difference" else CONTRADICTS


CONTRADICTS = ("contradicts, on one training seed per cell (the test covers which queries were drawn, not training noise: "
               "a seed can move a short-budget student by as much)")


REFERENCE_STYLES = (("--", "grey"), ("-.", "grey"), (":", "k"), ((0, (4, 2, 1, 2)), "firebrick"))


def has_depth_curve(cells: Sequence[Cell]) -> bool:
    """Whether some loss, target kind and first stage was run at two depths or more: only then
    does NDCG@5 against depth draw a curve rather than one point per panel."""
    seen = pd.Series([(c.loss, c.targets, c.stage) for c in cells]).value_counts()
    return bool(len(seen)) and int(seen.max()) > 1


def plot_grid(summary: dict[str, pd.DataFrame], cells: Sequence[Cell], student: str, references: dict[str, str],
              depths: Sequence[int]) -> plt.Figure:
    """The grid's students on test NDCG@5 with 95% intervals (`summary`: metric-indexed
    `metrics.summarise` frames by system), beside the `references` (system -> label: the teacher,
    BM25, notebook 04's hybrid, `random`) as lines. When some (loss, targets, first stage) was run
    at several depths (`has_depth_curve`), one panel per loss and target kind, NDCG@5 against the
    sampling depth, one line per first stage; otherwise one panel, one row per student (a panel
    per single point would say nothing a row does not)."""
    plot = pd.DataFrame([{"system": f"{student}-{c.name}", "loss / targets": f"{c.loss} / {c.targets}", "first stage": c.stage,
                          "depth": c.depth, **{k: summary[f"{student}-{c.name}"].loc["ndcg@5", k] for k in ("value", "ci_low", "ci_high")}}
                         for c in cells])
    refs = {name: (label, *style) for (name, label), style in zip(references.items(), REFERENCE_STYLES, strict=False)}
    oracle = f"oracle: {summary['oracle'].loc['ndcg@5', 'value']:.2f}; " if "oracle" in summary else ""
    if has_depth_curve(cells):
        groups = list(dict.fromkeys(plot["loss / targets"]))
        palette = dict(zip(STAGES, sns.color_palette(n_colors=len(STAGES)), strict=True))
        fig, axes = plt.subplots(1, len(groups), figsize=(5.5 * len(groups), 4), squeeze=False, sharey=True, sharex=True)
        for ax, group in zip(axes[0], groups, strict=True):
            g = plot[plot["loss / targets"] == group]
            for i, (stage, st) in enumerate(g.groupby("first stage", sort=False)):
                st = st.sort_values("depth")
                x = st.depth * (1 + 0.04 * i)  # side by side where two first stages share a depth
                ax.errorbar(x, st.value, yerr=[st.value - st.ci_low, st.ci_high - st.value], marker="o", capsize=4,
                            label=f"first stage: {stage}", c=palette[stage])
            for name, (label, style, colour) in refs.items():
                ax.axhline(summary[name].loc["ndcg@5", "value"], c=colour, ls=style, lw=1.2, label=label)
            ax.set(xscale="log", xticks=list(depths), xticklabels=list(depths), xlim=(min(depths) / 1.3, max(depths) * 1.3),
                   xlabel="sampling depth k (first stage's top k)", title=group)
            ax.minorticks_off()
        axes[0][0].set_ylabel("test NDCG@5 (95% CI)")
        title = f"test NDCG@5 against sampling depth, per first stage ({oracle}intervals per system)"
    else:
        fig, ax = plt.subplots(figsize=(8, 0.5 * len(plot) + 1.8))
        axes = np.array([[ax]])
        y = np.arange(len(plot))
        ax.errorbar(plot.value, y, xerr=[plot.value - plot.ci_low, plot.ci_high - plot.value], fmt="o", capsize=4, c="C0",
                    label="grid student (95% CI)")
        for name, (label, style, colour) in refs.items():
            ax.axvline(summary[name].loc["ndcg@5", "value"], c=colour, ls=style, lw=1.2, label=label)
        ax.set(yticks=y, yticklabels=plot.system, ylim=(len(plot) - 0.5, -0.5), xlabel="test NDCG@5 (95% CI)")
        title = f"the grid's students on test NDCG@5 ({oracle}one depth per first stage in this run: no depth curve)"
    handles = {label: h for a in axes[0] for h, label in zip(*a.get_legend_handles_labels(), strict=True)}
    fig.legend(handles.values(), handles.keys(), fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def embed_for_search(encoder, corpus: pd.DataFrame, queries: dict[str, str], batch_size: int, precision: str, device: str,
                     cached: dict[str, np.ndarray] | None = None) -> tuple[tuple[np.ndarray, np.ndarray, list[str]], int]:
    """`dense-minilm`'s embeddings of the queries and of every corpus document (title + summary, as
    `dense.score_frames` embeds them), under `precision`'s autocast: `first_stage_runs`' `dense`,
    and how many documents were embedded now. Documents found in `cached` (text -> embedding:
    `dense.load_doc_embeddings` of notebook 03's) are not embedded again."""
    texts = [document_text(t, s) for t, s in zip(corpus["title"], corpus["summary"], strict=True)]
    cached = cached or {}
    missing = list(dict.fromkeys(t for t in texts if t not in cached))
    with autocast(precision, device):
        fresh = dict(zip(missing, dense.embed(encoder, missing, batch_size), strict=True)) if missing else {}
        query_emb = dense.embed(encoder, list(queries.values()), batch_size)
    doc_emb = np.stack([fresh[t] if t in fresh else cached[t] for t in texts]).astype(np.float32)
    return (query_emb, doc_emb, list(corpus["doc_id"])), len(missing)


def pair_texts(runs: pd.DataFrame, corpus: pd.DataFrame, queries: dict[str, str], qrels: pd.DataFrame) -> pd.DataFrame:
    """query, title, summary and gain (0 when unjudged) of every (query, document) row of `runs`."""
    out = runs[["query_id", "doc_id"]].merge(corpus[["doc_id", "title", "summary"]], on="doc_id", how="left")
    out = out.merge(qrels[["query_id", "doc_id", "gain"]], on=["query_id", "doc_id"], how="left")
    return out.assign(query=out["query_id"].map(queries), gain=out["gain"].fillna(0).astype(int))


def save_pool(pool: pd.DataFrame, path: Path) -> None:
    """Cache the scored pool (Arrow, atomically): the teacher's evidence for every cell's lists."""
    save_prepared({"pool": pool.to_dict(orient="records")}, path)


def score_with(model, tokenizer, max_len: int, batch_size: int, device: str, precision: str):
    """A `score_missing` for `teacher_pool`: the ranker's scores of a candidates frame."""
    def score(frame: pd.DataFrame) -> np.ndarray:
        return rankers.score_candidates(model, tokenizer, frame, max_len, batch_size, device, desc="teacher on new pairs", precision=precision)
    return score


# Notebook 07's inputs, first stages and test table.

def load_inputs(out: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, pd.DataFrame], dict]:
    """What notebook 07 reads from the run's folder `out`: notebook 01's collection and qrels,
    notebook 03's transfer lists by split (their `test` split: the BM25 top-k lists every notebook
    re-ranks) and its fitted fusions (`teachers/ensemble.json`)."""
    prepared = load_prepared(out / "prepared")
    transfer = {split: ds.to_pandas() for split, ds in load_prepared(out / "transfer").items()}
    fitted = json.loads((out / "teachers" / "ensemble.json").read_text())
    return prepared["corpus"].to_pandas(), prepared["qrels"].to_pandas(), transfer, fitted


def teacher_fusion(fitted: dict, teacher: str) -> fusion.Fusion | None:
    """The students' teacher as a fusion (`teacher-ensemble`, when `distill.teacher` is `ensemble`),
    else None (the LLM teacher alone)."""
    return fusion.Fusion.from_dict(fitted["teacher-ensemble"]) if teacher == "ensemble" else None


def training_queries(transfer: dict[str, pd.DataFrame]) -> dict[str, str]:
    """The training queries (id -> text) of the transfer lists: the only queries the grid draws on."""
    return transfer["train"].drop_duplicates("query_id").set_index("query_id")["query"].to_dict()


def grid_sentence(params: RankDistillmParams, cells: Sequence[Cell], n_queries: int) -> str:
    """What the grid run trains: how many of its cells, on how many queries, at which budget."""
    return (f"{len(cells)} of the grid's {len(distinct_cells(params))} distinct cells ({len(params.cells())} named); "
            f"{n_queries} training queries; {params.steps} steps x {params.groups_per_step} x {params.group_size} candidates per student")


def cell_table(cells: Sequence[Cell], student: str) -> pd.DataFrame:
    """One row per grid student: its loss, targets, first stage and depth."""
    return pd.DataFrame([{"student": f"{student}-{c.name}", "loss": c.loss, "targets": c.targets, "first stage": c.stage, "depth": c.depth}
                         for c in cells]).set_index("student")


def bm25_index(corpus: pd.DataFrame, bm25_params) -> BM25Index:
    """BM25 over the whole collection (title + summary), with the profile's `bm25` settings."""
    return BM25Index([Doc(d, t, s) for d, t, s in zip(corpus.doc_id, corpus.title, corpus.summary, strict=True)], **bm25_params.model_dump())


def fused_weights(fitted: dict) -> dict[str, float]:
    """The weights of notebook 03's BM25 + dense-minilm fusion: the `fused` first stage's."""
    return fusion.Fusion.from_dict(fitted["bm25+dense-minilm"]).weights


def as_rankers_sentence(test: pd.DataFrame, qrels: pd.DataFrame) -> str:
    """BM25 and dense-minilm as rankers of the test lists (NDCG@5): where each first stage stands."""
    nd = {n: metrics.aggregate(metrics.evaluate_candidates(test, score=col, qrels=qrels), "ndcg@5")
          for n, col in (("bm25", "bm25_score"), ("dense-minilm", "dense_score"))}
    return "as rankers of the test lists, NDCG@5: " + ", ".join(f"{n} {v:.3f}" for n, v in nd.items())


@dataclass
class GridEvaluation:
    """Notebook 07's test evaluation: per-query metrics (with `random` and `oracle`), their
    summaries, and the table (intervals, rank agreement with the teacher, whether each beats
    random, the change against the reference student and its Benjamini-Hochberg adjusted p)."""

    per: dict[str, pd.DataFrame]
    summary: dict[str, pd.DataFrame]
    table: pd.DataFrame


def evaluate_grid(test: pd.DataFrame, qrels: pd.DataFrame, scores: dict[str, np.ndarray], grid: Sequence[str], *, teacher: str,
                  teacher_column: str, reference: str, n_resamples: int, seed: int) -> GridEvaluation:
    """Every system of `scores` (test scores by name; `grid`: the grid's students among them) between
    `random` and `oracle`: PNR, NDCG@5 and NDCG@10 with 95% bootstrap intervals over queries, the
    mean per-query Kendall tau with the teacher (`teacher_column` of `test`), whether it beats
    random (`beats_random`), and for the grid's students the NDCG@5 change against `reference`
    with the paired t-test's p adjusted over the grid (Benjamini-Hochberg)."""
    refs = metrics.evaluate_references(test, qrels, seed=seed)
    per = {"random": refs["random"], **{n: metrics.evaluate_candidates(test.assign(score=s), qrels=qrels) for n, s in scores.items()},
           "oracle": refs["oracle"]}
    summary = {n: metrics.summarise(pq, n_resamples=n_resamples, seed=seed).set_index("metric") for n, pq in per.items()}
    vs = pd.DataFrame([{"system": n, **metrics.paired_test(per[n], per[reference], "ndcg@5")} for n in grid]).set_index("system")
    table = pd.DataFrame({n: {m: metrics.format_interval(s.loc[m, "value"], s.loc[m, "ci_low"], s.loc[m, "ci_high"])
                              for m in ("pnr", "ndcg@5", "ndcg@10")} for n, s in summary.items()}).T
    table[f"τ with {teacher}"] = pd.Series({n: metrics.kendall_per_query(test.assign(score=s), "score", teacher_column).mean()
                                           for n, s in scores.items() if n != teacher})
    table["beats random"] = pd.Series({n: beats_random(per[n], per["random"]) for n in scores})
    table[f"Δ ndcg@5 vs {reference}"] = vs["diff"]
    table["p (BH)"] = pd.Series(metrics.adjust_pvalues(vs["p"].to_numpy()), index=vs.index) if len(vs) else pd.Series(dtype=float)
    return GridEvaluation(per, summary, table)
