import numpy as np
import pandas as pd
import pytest

from distilrank import clicks

ATTRACT = (0.0, 0.25, 0.5, 0.75, 1.0)


def _model(kind, attract=ATTRACT, satisfy=(0.0, 0.0, 0.0, 0.0, 1.0), **kw):
    return clicks.ClickModel(kind, attract, satisfy, **kw)


def _click_rates(model, gains, n=4000, seed=0):
    rng = np.random.default_rng(seed)
    return np.mean([clicks.simulate_session(model, gains, rng)[0] for _ in range(n)], axis=0)


def test_cascade_with_one_relevant_document_clicks_it_and_nothing_else():
    # gain 0 is never attractive, gain 4 always: every session clicks rank 3, once
    rates = _click_rates(_model("cascade"), [0, 0, 4, 0, 4], n=200)
    np.testing.assert_array_equal(rates, [0, 0, 1, 0, 0])


def test_cascade_click_rates_match_the_closed_form():
    gains = [2, 1, 3, 0]
    exact = clicks.click_probabilities_cascade(np.asarray(ATTRACT)[gains])
    # by hand: 0.5; 0.5 * 0.25; 0.5 * 0.75 * 0.75; 0
    np.testing.assert_allclose(exact, [0.5, 0.125, 0.28125, 0.0])
    np.testing.assert_allclose(_click_rates(_model("cascade"), gains), exact, atol=0.03)


def test_pbm_examines_rank_r_with_probability_one_over_r():
    rates = _click_rates(_model("pbm"), [4, 4, 4, 4])
    np.testing.assert_allclose(rates, [1, 1 / 2, 1 / 3, 1 / 4], atol=0.03)
    np.testing.assert_allclose(clicks.examination_pbm(3, 2.0), [1, 1 / 4, 1 / 9])


def test_dbn_stops_when_satisfied_and_reads_on_with_gamma():
    # a perfect document satisfies for sure: nothing below it is clicked (gamma = 1: always read on)
    np.testing.assert_allclose(_click_rates(_model("dbn", dbn_gamma=1.0), [2, 4, 4, 4], n=1000), [0.5, 1, 0, 0], atol=0.05)
    # gamma = 0.9: rank 2 is examined after rank 1 in 90% of sessions
    np.testing.assert_allclose(_click_rates(_model("dbn"), [2, 4, 4, 4]), [0.5, 0.9, 0, 0], atol=0.03)
    # gamma = 0: only rank 1 is ever examined
    np.testing.assert_array_equal(_click_rates(_model("dbn", dbn_gamma=0.0), [4, 4], n=100), [1, 0])
    # nothing satisfies and gamma = 1: the user reads everything (clicks = attractiveness)
    no_sat = _model("dbn", satisfy=(0.0,) * 5, dbn_gamma=1.0)
    np.testing.assert_allclose(_click_rates(no_sat, [2, 1, 3]), [0.5, 0.25, 0.75], atol=0.03)


def test_sessions_are_seeded_and_models_validated():
    a = clicks.simulate_traffic(_model("dbn"), {"q1": np.array([4, 0]), "q2": np.array([0, 2])}, clicks.Traffic(5, 2, 0), 7,
                                dwell_satisfied_s=60, dwell_unsatisfied_s=5, dwell_sigma=0.5)
    b = clicks.simulate_traffic(_model("dbn"), {"q1": np.array([4, 0]), "q2": np.array([0, 2])}, clicks.Traffic(5, 2, 0), 7,
                                dwell_satisfied_s=60, dwell_unsatisfied_s=5, dwell_sigma=0.5)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 10 and set(a.query_id) <= {"q1", "q2"}
    assert (a.clicked_ranks.map(len) == a.clicks).all() and all(set(r) <= {1, 2} for r in a.clicked_ranks)
    with pytest.raises(ValueError, match="unknown click model"):
        _model("ubm")
    with pytest.raises(ValueError, match="probabilities"):
        clicks.ClickModel("pbm", (0.1, 1.5), (0.1, 0.2))
    with pytest.raises(ValueError, match="gains must lie"):
        _model("pbm").probabilities([5])


def test_dwell_is_long_when_satisfied():
    rng = np.random.default_rng(0)
    d = clicks.dwell_times(np.array([True, False]), rng, 60.0, 5.0, 0.0)
    np.testing.assert_allclose(d, [60.0, 5.0])


def test_top_gains_ranks_by_score_with_doc_id_ties():
    df = pd.DataFrame({"query_id": ["q"] * 3, "doc_id": ["b", "a", "c"], "gain": [1, 2, 0], "s": [0.5, 0.5, 0.9]})
    assert clicks.top_gains(df, "s", 2)["q"].tolist() == [0, 2]


def _sessions(rows):
    return pd.DataFrame(rows, columns=["user", "session", "query_id", "clicks", "satisfied", "dwell_s"])


def test_ab_metrics_and_relative_change_by_hand():
    # user 0: two sessions (q1 with 2 clicks, 30 s; q2 no click); user 1: two sessions without a click
    a = _sessions([(0, 0, "q1", 2, 1, 30.0), (0, 1, "q2", 0, 0, 0.0), (1, 0, "q1", 0, 0, 0.0), (1, 1, "q2", 0, 0, 0.0)])
    m = clicks.ab_metrics(a)
    # q1: 1 of 2 sessions clicked (ctr 0.5), q2: 0 of 2; each user has one session on each query:
    # P(a user clicks at least once) = 1 - (1 - 0.5) * (1 - 0) = 0.5
    assert m == {"page_ctr": 0.25, "user_ctr": 0.5, "dwell_s": 15.0}
    b = a.assign(clicks=[2, 1, 0, 1], dwell_s=[30.0, 10.0, 0.0, 20.0])
    out = clicks.ab_compare(a, b, n_resamples=200, seed=0)
    assert out.loc["page_ctr", "b"] == 0.75 and out.loc["page_ctr", "relative change"] == pytest.approx(2.0)
    # b: q1 ctr 0.5, q2 ctr 1.0 -> every user clicks for sure: 1.0 against 0.5
    assert out.loc["user_ctr", "b"] == 1.0 and out.loc["user_ctr", "relative change"] == pytest.approx(1.0)
    assert out.loc["dwell_s", "relative change"] == pytest.approx(15 / 15 - 1)
    # a query every session clicks, which one user never saw: no nan
    c = _sessions([(0, 0, "q1", 1, 0, 5.0), (1, 0, "q2", 0, 0, 0.0)])
    assert clicks.ab_metrics(c) == {"page_ctr": 0.5, "user_ctr": 0.5, "dwell_s": 5.0}
    same = clicks.ab_compare(a, a, n_resamples=200)
    assert (same["relative change"] == 0).all() and (same.change_ci_low == 0).all()
    with pytest.raises(ValueError, match="same users"):
        clicks.ab_compare(a, a.iloc[:2])


def test_ab_intervals_resample_queries_not_sessions():
    # b beats a by much on one query and loses by as much on another: with many sessions per query
    # a session bootstrap would call any difference certain; a query bootstrap spans zero
    rows_a, rows_b = [], []
    queries = [f"q{i}" for i in range(6)]
    for user in range(200):
        for session, q in enumerate(queries):
            good_for_a = q in ("q0", "q1", "q2")
            rows_a.append((user, session, q, 1 if good_for_a else user % 2, 0, 5.0))
            rows_b.append((user, session, q, user % 2 if good_for_a else 1, 0, 5.0))
    out = clicks.ab_compare(_sessions(rows_a), _sessions(rows_b), n_resamples=300, seed=0)
    assert out.loc["page_ctr", "relative change"] == 0
    assert out.loc["page_ctr", "change_ci_low"] < 0 < out.loc["page_ctr", "change_ci_high"]
    for m in clicks.METRICS:  # every interval holds its point estimate
        for side in ("a", "b"):
            assert out.loc[m, f"{side}_ci_low"] <= out.loc[m, side] <= out.loc[m, f"{side}_ci_high"], (m, side)


def test_ctr_by_rank_matches_the_cascade_closed_form():
    model = _model("cascade")
    rates = clicks.ctr_by_rank(model, {"q1": np.array([2, 1, 3, 0]), "q2": np.array([2, 1, 3, 0])}, 2000, 0)
    np.testing.assert_allclose(rates, [0.5, 0.125, 0.28125, 0.0], atol=0.03)


def test_session_ctr_by_rank_counts_the_clicked_ranks():
    sessions = pd.DataFrame({"clicked_ranks": [(1,), (1, 3), ()], "clicks": [1, 2, 0]})
    np.testing.assert_allclose(clicks.session_ctr_by_rank(sessions, 3), [2 / 3, 0, 1 / 3])
    np.testing.assert_allclose(clicks.session_ctr_by_rank(sessions, 2), [2 / 3, 0])  # ranks past k are not shown
