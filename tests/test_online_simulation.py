"""Notebook 09's stage: what it records and shows of a simulated A/B test, interleaving and
side-by-side judgments, on hand-made tables."""

import pandas as pd
import pytest

from distilrank import paper
from distilrank.stages import online_simulation


def _tables():
    ab = pd.concat({("pbm", "b vs a"): pd.DataFrame(
        {"a": [0.5, 0.8, 60.0], "a_ci_low": [0.4, 0.7, 55.0], "a_ci_high": [0.6, 0.9, 65.0], "b": [0.55, 0.8, 62.0], "b_ci_low": [0.45, 0.7, 57.0],
         "b_ci_high": [0.65, 0.9, 67.0], "relative change": [0.1, 0.0, 62 / 60 - 1], "change_ci_low": [0.05, -0.01, 0.0],
         "change_ci_high": [0.15, 0.01, 0.07]}, index=pd.Index(["page_ctr", "user_ctr", "dwell_s"], name="metric"))})
    rates = pd.concat({"b vs a": pd.DataFrame({"rate": [0.3, 0.5, 0.2, 0.6], "ci_low": [0.2, 0.4, 0.1, 0.5], "ci_high": [0.4, 0.6, 0.3, 0.7]},
                                              index=["win", "tie", "loss", "win share of decided"])})
    sbs = pd.DataFrame({"good": [6], "same": [3], "bad": [1]}, index=["b vs a"])
    return ab, rates, sbs


def test_result_rows_record_changes_levels_interleaving_and_side_by_side():
    ab, rates, sbs = _tables()
    rows = {(r["system"], r["metric"]): r for r in online_simulation.result_rows(ab, rates, sbs, [("a", "b")], "pbm", n_queries=8)}
    assert rows[("b vs a", "sim_page_ctr_change")]["value"] == pytest.approx(0.1) and rows[("b vs a", "sim_page_ctr_change")]["ci_low"] == 0.05
    assert rows[("a", "sim_dwell")]["value"] == 60.0 and rows[("b", "sim_dwell")]["ci_high"] == 67.0  # each arm under its own name
    assert rows[("b vs a", "interleaving_loss_rate")]["value"] == 0.2 and rows[("b vs a", "interleaving_loss_rate")]["n_queries"] is None
    assert rows[("b vs a", "sbs_good")]["value"] == pytest.approx(0.6) and rows[("b vs a", "sbs_bad")]["n_queries"] == 10
    assert len(rows) == 3 * 3 + 3 + 3  # three metrics (change and both arms), three interleaving rates, three side-by-side shares
    per = {"a": pd.DataFrame({"query_id": ["1", "2"], "ndcg@5": [0.2, 0.4]}), "b": pd.DataFrame({"query_id": ["1", "2"], "ndcg@5": [0.5, 0.5]})}
    with_offline = {(r["system"], r["metric"]): r for r in online_simulation.result_rows(ab, rates, sbs, [("a", "b")], "pbm", n_queries=8, per=per)}
    assert with_offline[("b vs a", online_simulation.OFFLINE_CHANGE)]["value"] == pytest.approx(0.5 - 0.3)  # b - a, the rankings simulated


def test_summary_table_ends_with_the_papers_real_user_figures():
    ab, rates, sbs = _tables()
    table = online_simulation.summary_table(ab, rates, sbs, [("a", "b")], "pbm")
    assert table.loc["b vs a"].tolist() == ["+10.00%", "+0.00%", "+3.33%", "0.60", "6 : 3 : 1"]
    last = table.iloc[-1]
    assert last.name.startswith("paper") and last["PageCTR change"] == f"{paper.ONLINE_CHANGE['page_ctr']:+.2%}" == "+0.47%"
    assert last["Good : Same : Bad"] == "54 : 116 : 30"
