"""Offline ranking metrics over candidate lists: PNR, NDCG@5, NDCG@10, MRR@10.

NDCG and MRR come from `ir-measures` (trec_eval's definitions through pytrec_eval: linear gains,
`RR@10` counts any gain > 0 as relevant). PNR is the paper's own metric and is written here:
over every pair of candidates of one query with different gains, concordant pairs (the higher-gain
document scored higher) over discordant pairs. A tied score counts half concordant and half
discordant. The aggregate PNR is the ratio of the summed counts over all queries; per query we keep
the counts and the pair accuracy `c / (c + d)` (always finite) for significance tests.

Candidate lists are a first stage's top k. NDCG's ideal ranking is computed from *every* judgment
of the query (`qrels`), so a relevant document the first stage missed lowers every system's NDCG
alike; PNR counts pairs within the list. Two reference systems bracket every table
(`reference_scores`): `random` (seeded scores: chance on these lists) and `oracle` (the list in
ideal order: the ceiling the first stage's recall leaves).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import ir_measures
import numpy as np
import pandas as pd
from ir_measures import RR, nDCG
from scipy import stats

IR_MEASURES = {"ndcg@5": nDCG @ 5, "ndcg@10": nDCG @ 10, "mrr@10": RR @ 10}
METRICS = ("pnr", *IR_MEASURES)


def pnr_counts(scores: np.ndarray, gains: np.ndarray) -> tuple[float, float]:
    """(concordant, discordant) pair counts for one query; score ties count 0.5 to each."""
    s = np.asarray(scores, dtype=np.float64)
    g = np.asarray(gains, dtype=np.float64)
    if s.shape != g.shape:
        raise ValueError(f"scores {s.shape} and gains {g.shape} differ in shape")
    i, j = np.triu_indices(len(s), k=1)
    dg = g[i] - g[j]
    ds = (s[i] - s[j])[dg != 0] * np.sign(dg[dg != 0])
    ties = float(np.sum(ds == 0))
    return float(np.sum(ds > 0)) + ties / 2, float(np.sum(ds < 0)) + ties / 2


def pnr(scores: np.ndarray, gains: np.ndarray) -> float:
    """PNR of one candidate list (inf when no pair is discordant, nan when no pair differs)."""
    c, d = pnr_counts(scores, gains)
    if d == 0:
        return float("inf") if c > 0 else float("nan")
    return c / d


def evaluate_candidates(df: pd.DataFrame, score: str = "score", qrels: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per-query metrics for a run over candidate lists.

    `df` has one row per (query_id, doc_id) with the candidate's `gain` (0 = not relevant or
    unjudged) and a `score` column (named by `score`). `qrels` (query_id, doc_id, gain; other
    columns ignored) holds every judgment: NDCG's ideal and MRR's relevant set come from it, so a
    relevant document missing from the list counts against the list. Without `qrels`, the list's
    own gains are the judgments (the ideal is then the best order of the list). PNR reads the
    list's gains either way. Returns one row per query: ndcg@5, ndcg@10, mrr@10, pair_accuracy,
    concordant, discordant, n_candidates.
    """
    need = {"query_id", "doc_id", "gain", score}
    if missing := need - set(df.columns):
        raise KeyError(f"evaluate_candidates: missing columns {sorted(missing)}")
    if df[score].isna().any():
        raise ValueError(f"evaluate_candidates: column '{score}' has missing scores")
    if df.duplicated(["query_id", "doc_id"]).any():
        raise ValueError("evaluate_candidates: a (query_id, doc_id) pair appears twice")
    judged = df[["query_id", "doc_id", "gain"]]
    if qrels is not None:
        asked = set(map(str, df.query_id.unique()))
        judged = qrels[qrels.query_id.astype(str).isin(asked)][["query_id", "doc_id", "gain"]]
        listed = df.set_index(["query_id", "doc_id"]).gain
        known = judged.set_index(["query_id", "doc_id"]).gain.reindex(listed.index).fillna(0)
        if (known != listed).any():
            raise ValueError("evaluate_candidates: the list's gains disagree with qrels")
    qrels_ = [ir_measures.Qrel(str(q), str(d), int(g)) for q, d, g in zip(judged.query_id, judged.doc_id, judged.gain, strict=True)]
    run = [ir_measures.ScoredDoc(str(q), str(d), float(s)) for q, d, s in zip(df.query_id, df.doc_id, df[score], strict=True)]
    per = {q: {name: 0.0 for name in IR_MEASURES} for q in map(str, df.query_id.unique())}
    names = {v: k for k, v in IR_MEASURES.items()}
    for m in ir_measures.iter_calc(list(IR_MEASURES.values()), qrels_, run):
        per[m.query_id][names[m.measure]] = float(m.value)
    rows = []
    for qid, group in df.groupby("query_id", sort=False):
        c, d = pnr_counts(group[score].to_numpy(), group["gain"].to_numpy())
        acc = c / (c + d) if c + d else float("nan")
        rows.append({"query_id": str(qid), **per[str(qid)], "pair_accuracy": acc, "concordant": c, "discordant": d, "n_candidates": len(group)})
    return pd.DataFrame(rows)


REFERENCES = ("random", "oracle")


def reference_scores(df: pd.DataFrame, kind: str, seed: int = 0) -> np.ndarray:
    """Scores of a reference system over a candidates frame: `random` (seeded uniform scores:
    what chance reaches on these lists) or `oracle` (the gain: the list in ideal order, the
    ceiling a re-ranker of this first stage can reach; its PNR is infinite)."""
    if kind == "random":
        return np.random.default_rng(seed).random(len(df))
    if kind == "oracle":
        return df["gain"].to_numpy(dtype=np.float64)
    raise ValueError(f"unknown reference {kind!r}; choose from {REFERENCES}")


def evaluate_references(df: pd.DataFrame, qrels: pd.DataFrame | None = None, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Per-query metrics of `random` and `oracle` on a candidates frame (`reference_scores`)."""
    return {kind: evaluate_candidates(df.assign(score=reference_scores(df, kind, seed)), qrels=qrels) for kind in REFERENCES}


def _pnr_stat(c: np.ndarray, d: np.ndarray, axis: int = -1) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):  # no discordant pair: PNR is inf
        return np.sum(c, axis=axis) / np.sum(d, axis=axis)


def aggregate(per_query: pd.DataFrame, metric: str) -> float:
    """The corpus-level value of one metric from per-query rows (PNR: ratio of summed counts)."""
    if metric == "pnr":
        return float(_pnr_stat(per_query.concordant.to_numpy(), per_query.discordant.to_numpy()))
    return float(per_query[metric].mean())


def bootstrap_ci(per_query: pd.DataFrame, metric: str, n_resamples: int = 1000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI over queries (scipy.stats.bootstrap; queries resampled in pairs)."""
    if len(per_query) < 2 or not np.isfinite(aggregate(per_query, metric)):
        return float("nan"), float("nan")  # e.g. the oracle's PNR: no discordant pair at all
    if metric == "pnr":
        data: tuple[np.ndarray, ...] = (per_query.concordant.to_numpy(), per_query.discordant.to_numpy())
        stat: Callable = _pnr_stat
    else:
        data = (per_query[metric].to_numpy(),)
        stat = np.mean
    res = stats.bootstrap(data, stat, paired=True, vectorized=True, n_resamples=n_resamples,
                          confidence_level=level, method="percentile", rng=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def summarise(per_query: pd.DataFrame, n_resamples: int = 1000, seed: int = 0) -> pd.DataFrame:
    """One row per metric: value, 95% bootstrap CI, number of queries."""
    rows = []
    for metric in METRICS:
        lo, hi = bootstrap_ci(per_query, metric, n_resamples=n_resamples, seed=seed)
        rows.append({"metric": metric, "value": aggregate(per_query, metric), "ci_low": lo, "ci_high": hi, "n_queries": len(per_query)})
    return pd.DataFrame(rows)


def paired_test(per_a: pd.DataFrame, per_b: pd.DataFrame, metric: str) -> dict[str, float]:
    """Paired t-test (scipy) of system a vs b over the queries both evaluated.

    `metric` is a per-query column; for PNR use `pair_accuracy`. Returns the mean difference
    (a - b), the t statistic and the two-sided p-value (nan when every difference is 0).
    """
    joined = per_a.set_index("query_id")[[metric]].join(per_b.set_index("query_id")[[metric]], lsuffix="_a", rsuffix="_b", how="inner").dropna()
    if len(joined) < 2:
        raise ValueError(f"paired_test: {len(joined)} common queries; need at least 2")
    a, b = joined[f"{metric}_a"].to_numpy(), joined[f"{metric}_b"].to_numpy()
    if np.allclose(a, b):
        return {"diff": 0.0, "t": float("nan"), "p": float("nan"), "n_queries": len(joined)}
    res = stats.ttest_rel(a, b)
    return {"diff": float(np.mean(a - b)), "t": float(res.statistic), "p": float(res.pvalue), "n_queries": len(joined)}


def adjust_pvalues(pvalues: Sequence[float]) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (scipy's `false_discovery_control`) for a family of
    tests; a nan p-value (no difference at all) stays nan and does not count toward the family."""
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = stats.false_discovery_control(p[ok], method="bh")
    return out


def seed_spread(per_seed: Sequence[pd.DataFrame], metric: str) -> float:
    """The standard deviation across seeds of a system's corpus `metric` (nan for one seed)."""
    values = [aggregate(f, metric) for f in per_seed]
    return float(np.std(values, ddof=1)) if len(values) > 1 else np.nan


def seed_mean(per_seed: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Per-query metrics averaged over training seeds (`evaluate_candidates` frames of one system
    trained with several seeds, on the same lists): each query's NDCG, MRR and pair accuracy are
    the seeds' mean, its concordant / discordant counts too (so the corpus PNR is the ratio of
    the seeds' mean counts). Claims about a system trained with several seeds are tested on
    these: one seed is an anecdote. One frame comes back as it is."""
    if not per_seed:
        raise ValueError("seed_mean: no per-query frames")
    if len(per_seed) == 1:
        return per_seed[0]
    queries = [set(f.query_id) for f in per_seed]
    if any(q != queries[0] for q in queries[1:]):
        raise ValueError("seed_mean: the seeds were evaluated on different queries")
    order = per_seed[0].query_id
    mean = pd.concat(per_seed).groupby("query_id", sort=False).mean(numeric_only=True)
    return mean.reindex(order).reset_index()


def kendall_per_query(df: pd.DataFrame, a: str, b: str) -> pd.Series:
    """Kendall's tau-b between score columns `a` and `b` within each query (nan where either is
    constant): how faithfully one ranker orders a query's candidates like another."""
    taus = {qid: stats.kendalltau(g[a], g[b]).statistic if len(g) > 1 else np.nan
            for qid, g in df.groupby("query_id", sort=False)}
    return pd.Series(taus, name=f"kendall {a} vs {b}", dtype=np.float64)


def rank_agreement(df: pd.DataFrame, a: str, b: str) -> float:
    """Mean over queries of Kendall's tau-b between score columns `a` and `b` (`kendall_per_query`;
    queries where either is constant are left out, nan when every query is): whether two ways of
    scoring, e.g. the same model in fp32 and in bf16, order each query's candidates alike. 1 is
    the same order everywhere."""
    return float(kendall_per_query(df, a, b).mean())


def pair_margins(df: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Every pair (i < j) of one query's candidates with the margin `x_i - x_j` of each score column."""
    parts = []
    for qid, g in df.groupby("query_id", sort=False):
        i, j = np.triu_indices(len(g), k=1)
        part = {"query_id": np.full(len(i), qid, dtype=object)}
        for col in columns:
            v = g[col].to_numpy(dtype=np.float64)
            part[col] = v[i] - v[j]
        parts.append(pd.DataFrame(part))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["query_id", *columns])


def format_interval(value: float, low: float, high: float) -> str:
    """`value [low, high]` to three decimals; `inf` for an infinite value (the oracle's PNR)."""
    return f"{value:.3f} [{low:.3f}, {high:.3f}]" if np.isfinite(value) else "inf"


def verdict(diff: float, p: float, alpha: float = 0.05) -> str:
    """A claim's verdict from a paired test of (claimed better) - (other): `holds` when the
    difference is positive and significant, `fails` when it is negative and significant, `no
    significant difference` otherwise (including p = nan: no difference at all)."""
    if not np.isfinite(p) or p >= alpha:
        return "no significant difference"
    return "holds" if diff > 0 else "fails"


def claim(text: str, per_a: pd.DataFrame, per_b: pd.DataFrame, metric: str = "ndcg@5", alpha: float = 0.05) -> dict:
    """One row of a claims table: "a beats b on `metric`", the paired test over queries, its verdict."""
    t = paired_test(per_a, per_b, metric)
    return {"claim": text, "Δ": t["diff"], "p": t["p"], "queries": t["n_queries"], "verdict": verdict(t["diff"], t["p"], alpha)}


SBS = ("good", "same", "bad")


def side_by_side(per_system: pd.DataFrame, per_baseline: pd.DataFrame, threshold: float, metric: str = "ndcg@5") -> pd.Series:
    """A side-by-side judgment per query, as the paper's experts gave one: `good` where the system
    beats the baseline on `metric` by more than `threshold`, `bad` where it loses by more, `same`
    otherwise. Returns the label per query (index: query_id)."""
    joined = per_system.set_index("query_id")[metric] - per_baseline.set_index("query_id")[metric]
    if joined.isna().any():
        raise ValueError("side_by_side: the two systems were evaluated on different queries")
    return pd.Series(np.select([joined > threshold, joined < -threshold], ["good", "bad"], "same"), index=joined.index, name="judgment")


def quality_table(summary: Mapping[str, pd.DataFrame], per_seed: Mapping[str, list[pd.DataFrame]], teacher: str) -> pd.DataFrame:
    """PNR, NDCG@5 and NDCG@10 with 95% query-bootstrap intervals (of the seed mean), the seeds,
    the spread of NDCG@5 across seeds, and the share of the teacher's NDCG@5."""
    teacher_ndcg = summary[teacher].loc["ndcg@5", "value"]
    rows = []
    for name, s in summary.items():
        row = {"system": name}
        for m in ("pnr", "ndcg@5", "ndcg@10"):
            row[m] = format_interval(s.loc[m, "value"], s.loc[m, "ci_low"], s.loc[m, "ci_high"])
        seeds = per_seed.get(name, [])
        row["seeds"] = len(seeds) if len(seeds) > 1 else ""
        row["ndcg@5 sd across seeds"] = f"{seed_spread(seeds, 'ndcg@5'):.3f}" if len(seeds) > 1 else ""
        share = s.loc["ndcg@5", "value"] / teacher_ndcg if teacher_ndcg > 0 and name not in REFERENCES else np.nan
        row[f"share of {teacher} ndcg@5"] = "" if np.isnan(share) else f"{share:.2f}"
        rows.append(row)
    return pd.DataFrame(rows).set_index("system")
