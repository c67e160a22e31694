"""Notebook 09's stage: the test lists each system's clicks are simulated on, the click models of
the profile, and what the notebook records and shows of the simulated A/B test, interleaving and
side-by-side judgments (the concepts live in `clicks`, `interleaving` and `metrics.side_by_side`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from distilrank import clicks, metrics, paper, rankers
from distilrank.artifacts import load_prepared

AB_METRICS = {"page_ctr": "sim_page_ctr", "user_ctr": "sim_user_ctr", "dwell_s": "sim_dwell"}  # ab_compare's metric -> results.json's


def load_test(out: Path, systems: Sequence[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Notebook 01's test lists with one score column per system of `systems` (BM25's own score as
    `bm25`, every other system's cached test scores, `rankers.load_scores`), and the qrels."""
    prepared = load_prepared(out / "prepared")
    test, qrels = prepared["test_candidates"].to_pandas(), prepared["qrels"].to_pandas()
    cached = {name: rankers.load_scores(out / "scores" / name, "test", test) for name in systems if name != "bm25"}
    return test.assign(bm25=test.bm25_score, **cached), qrels


def click_models(online) -> dict[str, clicks.ClickModel]:
    """The profile's click models (`online.click_models`), each with its attractiveness and
    satisfaction per gain and its examination parameters."""
    return {kind: clicks.ClickModel(kind, tuple(online.attractiveness), tuple(online.satisfaction), online.pbm_power, online.dbn_gamma)
            for kind in online.click_models}


def _row(system: str, metric: str, value: float, lo: float | None, hi: float | None, n: int | None) -> dict:
    return {"system": system, "metric": metric, "value": float(value), "ci_low": None if lo is None else float(lo),
            "ci_high": None if hi is None else float(hi), "n_queries": n}


OFFLINE_CHANGE = "offline_ndcg@5_change"  # b - a, on the rankings the clicks were simulated on


def result_rows(ab: pd.DataFrame, rates: pd.DataFrame, sbs: pd.DataFrame, comparisons: Sequence[tuple[str, str]], primary: str,
                n_queries: int, per: Mapping[str, pd.DataFrame] | None = None) -> list[dict]:
    """The rows notebook 09 records for each comparison (a = baseline, b = under test, `b vs a`),
    under the `primary` click model: each A/B metric's relative change and both arms' levels with
    their intervals, the interleaving win / tie / loss rates, the side-by-side shares, and with
    `per` (system -> per-query metrics of the very rankings simulated: a student's first seed, not
    the seeds' mean) the offline NDCG@5 difference those clicks restate (`OFFLINE_CHANGE`)."""
    rows = []
    for a, b in comparisons:
        pair = f"{b} vs {a}"
        if per is not None:
            rows.append(_row(pair, OFFLINE_CHANGE, metrics.aggregate(per[b], "ndcg@5") - metrics.aggregate(per[a], "ndcg@5"), None, None, n_queries))
        r = ab.loc[(primary, pair)]
        for m, name in AB_METRICS.items():
            rows.append(_row(pair, f"{name}_change", r.loc[m, "relative change"], r.loc[m, "change_ci_low"], r.loc[m, "change_ci_high"], n_queries))
            rows += [_row(system, name, r.loc[m, side], r.loc[m, f"{side}_ci_low"], r.loc[m, f"{side}_ci_high"], n_queries)
                     for side, system in (("a", a), ("b", b))]
        rows += [_row(pair, f"interleaving_{o}_rate", rates.loc[(pair, o), "rate"], rates.loc[(pair, o), "ci_low"], rates.loc[(pair, o), "ci_high"], None)
                 for o in ("win", "tie", "loss")]
        judged = int(sbs.loc[pair].sum())
        rows += [_row(pair, f"sbs_{j}", sbs.loc[pair, j] / judged, None, None, judged) for j in metrics.SBS]
    return rows


def summary_table(ab: pd.DataFrame, rates: pd.DataFrame, sbs: pd.DataFrame, comparisons: Sequence[tuple[str, str]], primary: str) -> pd.DataFrame:
    """One row per comparison under the `primary` click model (the A/B changes, the interleaving
    win share of decided sessions, the side-by-side counts), and the paper's real-user figures last."""
    out = []
    for a, b in comparisons:
        pair = f"{b} vs {a}"
        r = ab.loc[(primary, pair)]
        out.append({"comparison": pair, **{f"{label} change": f"{r.loc[m, 'relative change']:+.2%}" for m, label in
                                           (("page_ctr", "PageCTR"), ("user_ctr", "UserCTR"), ("dwell_s", "dwell"))},
                    "interleaving win share": f"{rates.loc[(pair, 'win share of decided'), 'rate']:.2f}",
                    "Good : Same : Bad": " : ".join(str(int(sbs.loc[pair, j])) for j in metrics.SBS)})
    out.append({"comparison": "paper (real users: 7B teacher, Baidu traffic)",
                **{f"{label} change": f"{paper.ONLINE_CHANGE[m]:+.2%}" for m, label in (("page_ctr", "PageCTR"), ("user_ctr", "UserCTR"), ("dwell_s", "dwell"))},
                "interleaving win share": "", "Good : Same : Bad": " : ".join(str(paper.SIDE_BY_SIDE[j]) for j in metrics.SBS)})
    return pd.DataFrame(out).set_index("comparison")
