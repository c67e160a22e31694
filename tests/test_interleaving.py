import numpy as np
import pandas as pd
import pytest

from distilrank import interleaving


def test_team_draft_takes_turns_and_shows_each_document_once():
    rng = np.random.default_rng(0)
    for _ in range(50):
        shown, teams = interleaving.team_draft(["a1", "x", "a2", "a3"], ["x", "b1", "b2"], 5, rng)
        assert len(shown) == len(set(shown)) == 5
        counts = [teams[: i + 1].count("a") - teams[: i + 1].count("b") for i in range(len(teams))]
        assert all(abs(c) <= 1 for c in counts[:4])  # turns alternate while both lists have documents


def test_team_draft_by_hand():
    # a = [x, y], b = [y, x]: whoever picks first takes its top document, the other its remaining one
    for seed in range(10):
        shown, teams = interleaving.team_draft(["x", "y"], ["y", "x"], 2, np.random.default_rng(seed))
        assert sorted(shown) == ["x", "y"]
        assert dict(zip(shown, teams, strict=True)) in ({"x": "a", "y": "b"}, {"y": "b", "x": "a"})
    # one list exhausted: the other fills the rest
    shown, teams = interleaving.team_draft(["x"], ["x", "y", "z"], 3, np.random.default_rng(0))
    assert shown[0] == "x" and sorted(shown) == ["x", "y", "z"] and teams[1:] == ["b", "b"]


def test_credit_by_hand():
    assert interleaving.credit([True, False, True], ["a", "b", "b"]) == "tie"
    assert interleaving.credit([False, True, True], ["a", "b", "b"]) == "win"
    assert interleaving.credit([True, False, False], ["a", "b", "b"]) == "loss"
    assert interleaving.credit([False, False, False], ["a", "b", "b"]) == "tie"


def test_identical_rankers_split_evenly_and_a_better_one_wins():
    gains = {"q": {"good": 4, "bad": 0}}
    def click(g, rng):
        return np.asarray(g) > 0  # a user who clicks exactly the relevant documents
    same = interleaving.interleave_sessions({"q": ["good", "bad"]}, {"q": ["good", "bad"]}, gains, click, 400, 2, 0)
    share = (same.outcome == "win").mean()
    assert 0.4 < share < 0.6 and (same.outcome != "tie").all()
    better = interleaving.interleave_sessions({"q": ["bad", "good"]}, {"q": ["good", "bad"]}, gains, click, 100, 1, 0)
    assert (better.outcome == "win").mean() > 0.4 and (better.outcome == "loss").sum() == 0


def test_sessions_to_significance_by_hand():
    wins = pd.Series(["win"] * 10)
    table, n = interleaving.sessions_to_significance(wins, range(1, 11))
    # all wins: p = 2 * 0.5**n, below 0.05 from n = 6 (0.03125) on; n = 5 gives 0.0625
    assert table.set_index("sessions").p[5] == 0.0625 and table.set_index("sessions").p[6] == 0.03125
    assert n == 6
    eight_of_ten = interleaving.sessions_to_significance(pd.Series(["win"] * 8 + ["loss"] * 2 + ["tie"]), [11])[0].iloc[0]
    # 8 wins of 10 decided: share 0.8, Clopper-Pearson 95% interval [0.444, 0.975]
    assert eight_of_ten["win share"] == 0.8 and eight_of_ten.ci_low == pytest.approx(0.4439, abs=1e-4)
    assert eight_of_ten.ci_high == pytest.approx(0.9748, abs=1e-4)
    _, never = interleaving.sessions_to_significance(pd.Series(["win", "loss"] * 10), range(2, 21, 2))
    assert never is None


def test_outcome_rates():
    rates = interleaving.outcome_rates(pd.Series(["win"] * 6 + ["loss"] * 2 + ["tie"] * 2), n_resamples=200)
    assert rates.loc["win", "rate"] == 0.6 and rates.loc["tie", "rate"] == 0.2
    assert rates.loc["win share of decided", "rate"] == 0.75
    assert rates.loc["win", "ci_low"] <= 0.6 <= rates.loc["win", "ci_high"]


def test_per_query_preference_is_a_sign_test_over_queries():
    s = pd.DataFrame({"query_id": ["q1"] * 3 + ["q2"] * 2 + ["q3"] * 2,
                      "outcome": ["win", "win", "loss", "loss", "loss", "win", "loss"]})
    pref = interleaving.per_query_preference(s)
    assert (pref["queries preferring b"], pref["queries preferring a"], pref["undecided queries"]) == (1, 1, 1)
    assert pref["sign test p"] == 1.0
    many = pd.DataFrame({"query_id": [f"q{i}" for i in range(8)], "outcome": ["win"] * 8})
    assert interleaving.per_query_preference(many)["sign test p"] == pytest.approx(2 * 0.5**8)


def test_plot_win_share_marks_no_preference():
    import matplotlib

    matplotlib.use("Agg")
    table, _ = interleaving.sessions_to_significance(pd.Series(["win", "loss", "win"] * 10), [5, 10, 30])
    fig = interleaving.plot_win_share(table.assign(comparison="b vs a"), "dbn")
    ax = fig.axes[0]
    assert ax.get_yscale() == "linear" and ax.get_ylim() == (0, 1) and "dbn" in ax.get_title()
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {"b vs a", "no preference"}
