import math

import numpy as np
import pandas as pd
import pytest

from distilrank import metrics


def test_pnr_counts_by_hand():
    # gains 2 > 1 > 0 and scores in the same order: 3 concordant pairs
    assert metrics.pnr_counts([3.0, 2.0, 1.0], [2, 1, 0]) == (3.0, 0.0)
    # reversed scores: 3 discordant
    assert metrics.pnr_counts([1.0, 2.0, 3.0], [2, 1, 0]) == (0.0, 3.0)
    # pairs with equal gains are not counted; a score tie counts half to each side
    assert metrics.pnr_counts([1.0, 1.0, 0.5], [1, 0, 0]) == (1.5, 0.5)
    # d1>d3 concordant, d2>d3 concordant, d1 vs d2 (gain 2 vs 1) discordant
    assert metrics.pnr_counts([0.5, 0.9, 0.1], [2, 1, 0]) == (2.0, 1.0)


def test_pnr_edge_cases():
    assert metrics.pnr([0.5, 0.9, 0.1], [2, 1, 0]) == 2.0
    assert metrics.pnr([2.0, 1.0], [1, 0]) == math.inf
    assert math.isnan(metrics.pnr([2.0, 1.0], [1, 1]))
    with pytest.raises(ValueError, match="differ in shape"):
        metrics.pnr_counts([1.0], [1, 0])


def _run(rows):
    return pd.DataFrame(rows, columns=["query_id", "doc_id", "gain", "score"])


def test_evaluate_candidates_by_hand():
    df = _run([
        ("q1", "a", 3, 0.9), ("q1", "b", 0, 0.8), ("q1", "c", 2, 0.7),
        ("q2", "x", 0, 1.0), ("q2", "y", 1, 0.5),
    ])
    per = metrics.evaluate_candidates(df).set_index("query_id")
    # q1: DCG = 3/log2(2) + 0 + 2/log2(4) = 4; IDCG = 3 + 2/log2(3)
    assert per.loc["q1", "ndcg@5"] == pytest.approx(4 / (3 + 2 / math.log2(3)))
    # q2: the only relevant doc at rank 2
    assert per.loc["q2", "ndcg@5"] == pytest.approx(1 / math.log2(3))
    assert per.loc["q2", "mrr@10"] == pytest.approx(0.5)
    assert per.loc["q1", "mrr@10"] == 1.0
    # q1 pairs: a>b c, a>c c, c>b (gain 2>0, score .7<.8) d -> 2 c, 1 d; q2: 1 d
    assert (per.loc["q1", "concordant"], per.loc["q1", "discordant"]) == (2.0, 1.0)
    assert metrics.aggregate(per, "pnr") == pytest.approx(2 / 2)
    assert metrics.aggregate(per, "ndcg@5") == pytest.approx(per["ndcg@5"].mean())


def test_ndcg10_sees_ranks_6_to_10():
    rows = [("q", f"d{i}", 0, 10.0 - i) for i in range(10)]
    rows[7] = ("q", "d7", 2, 3.0)  # the relevant doc at rank 8
    per = metrics.evaluate_candidates(_run(rows))
    assert per.loc[0, "ndcg@5"] == 0.0
    assert per.loc[0, "ndcg@10"] == pytest.approx(1 / math.log2(9))
    assert per.loc[0, "mrr@10"] == pytest.approx(1 / 8)


def test_evaluate_candidates_rejects_bad_input():
    with pytest.raises(KeyError, match="missing columns"):
        metrics.evaluate_candidates(_run([("q", "a", 1, 0.1)]).drop(columns="gain"))
    with pytest.raises(ValueError, match="appears twice"):
        metrics.evaluate_candidates(_run([("q", "a", 1, 0.1), ("q", "a", 1, 0.2)]))
    with pytest.raises(ValueError, match="missing scores"):
        metrics.evaluate_candidates(_run([("q", "a", 1, None)]))


def test_bootstrap_ci_brackets_the_value_and_is_seeded():
    rng = np.random.default_rng(0)
    per = pd.DataFrame({"ndcg@5": rng.uniform(size=60), "concordant": rng.integers(1, 20, 60).astype(float),
                        "discordant": rng.integers(1, 20, 60).astype(float)})
    for m in ("ndcg@5", "pnr"):
        lo, hi = metrics.bootstrap_ci(per, m, seed=1)
        assert lo < metrics.aggregate(per, m) < hi
        assert (lo, hi) == metrics.bootstrap_ci(per, m, seed=1)


def test_summarise_has_every_metric():
    df = _run([("q1", "a", 1, 0.9), ("q1", "b", 0, 0.1), ("q2", "a", 0, 0.9), ("q2", "b", 1, 0.1)])
    s = metrics.summarise(metrics.evaluate_candidates(df), n_resamples=200)
    assert list(s.metric) == ["pnr", "ndcg@5", "ndcg@10", "mrr@10"]
    assert s.set_index("metric").loc["pnr", "value"] == 1.0
    assert (s.n_queries == 2).all()


def test_adjust_pvalues_is_benjamini_hochberg_and_keeps_nan():
    from distilrank.metrics import adjust_pvalues

    adj = adjust_pvalues([0.01, 0.04, float("nan"), 0.03])
    # BH over the three real p-values: sorted 0.01, 0.03, 0.04 -> 0.03, 0.04, 0.04
    np.testing.assert_allclose(adj[[0, 3, 1]], [0.03, 0.04, 0.04])
    assert np.isnan(adj[2])
    assert np.isnan(adjust_pvalues([float("nan")])).all()


def test_kendall_per_query_and_pair_margins():
    from distilrank.metrics import kendall_per_query, pair_margins

    df = pd.DataFrame({"query_id": ["a"] * 3 + ["b"] * 2, "t": [3.0, 2.0, 1.0, 1.0, 2.0], "s": [30.0, 10.0, 20.0, 5.0, 5.0]})
    tau = kendall_per_query(df, "t", "s")
    assert tau["a"] == pytest.approx(1 / 3) and np.isnan(tau["b"])
    m = pair_margins(df, ["t", "s"])
    assert len(m) == 3 + 1
    assert m.iloc[:3][["t", "s"]].values.tolist() == [[1.0, 20.0], [2.0, 10.0], [1.0, -10.0]]


def test_rank_agreement_is_the_mean_per_query_kendall_tau():
    from distilrank.metrics import rank_agreement

    # q1: of three pairs, (x, y) and (x, z) keep their order and (y, z) flips: tau = (2 - 1) / 3;
    # q2: its one pair flips: tau = -1; q3: b is constant (tau undefined) and q4 has one candidate: both left out
    df = pd.DataFrame({"query_id": ["q1"] * 3 + ["q2"] * 2 + ["q3"] * 2 + ["q4"],
                       "a": [1.0, 2.0, 3.0, 1.0, 2.0, 1.0, 2.0, 5.0], "b": [1.0, 3.0, 2.0, 2.0, 1.0, 7.0, 7.0, 5.0]})
    assert rank_agreement(df, "a", "b") == pytest.approx((1 / 3 - 1) / 2)
    assert rank_agreement(df, "a", "a") == pytest.approx(1.0)
    assert rank_agreement(df.assign(b=-df.a), "a", "b") == pytest.approx(-1.0)
    assert np.isnan(rank_agreement(df[df.query_id == "q4"], "a", "b"))


def test_ndcg_ideal_counts_relevant_documents_the_list_missed():
    # the list holds a (gain 3) and b (0); qrels also know c (gain 2), which the first stage missed
    df = _run([("q", "a", 3, 0.9), ("q", "b", 0, 0.1)])
    qrels = pd.DataFrame({"query_id": ["q", "q"], "doc_id": ["a", "c"], "gain": [3, 2]})
    within = metrics.evaluate_candidates(df).loc[0]
    full = metrics.evaluate_candidates(df, qrels=qrels).loc[0]
    assert within["ndcg@5"] == 1.0  # ideal of the list alone: a perfect order
    # DCG = 3; IDCG over every judgment = 3 + 2 / log2(3)
    assert full["ndcg@5"] == pytest.approx(3 / (3 + 2 / math.log2(3)))
    assert (full["concordant"], full["discordant"]) == (1.0, 0.0)  # PNR reads the list's pairs either way
    bad = qrels.assign(gain=[1, 2])
    with pytest.raises(ValueError, match="disagree with qrels"):
        metrics.evaluate_candidates(df, qrels=bad)


def test_reference_scores_bracket_a_list():
    df = _run([("q", "a", 0, 0.0), ("q", "b", 2, 0.0), ("q", "c", 1, 0.0), ("q", "d", 0, 0.0)])
    qrels = pd.DataFrame({"query_id": ["q", "q", "q"], "doc_id": ["b", "c", "e"], "gain": [2, 1, 4]})
    refs = metrics.evaluate_references(df, qrels, seed=0)
    oracle = refs["oracle"].loc[0]
    # the oracle orders b, c first: DCG = 2 + 1/log2(3); IDCG = 4 + 2/log2(3) + 1/log2(4) (e is missing)
    assert oracle["ndcg@5"] == pytest.approx((2 + 1 / math.log2(3)) / (4 + 2 / math.log2(3) + 0.5))
    assert oracle["discordant"] == 0 and metrics.aggregate(refs["oracle"], "pnr") == math.inf
    np.testing.assert_array_equal(metrics.reference_scores(df, "random", 3), metrics.reference_scores(df, "random", 3))
    assert not np.array_equal(metrics.reference_scores(df, "random", 3), metrics.reference_scores(df, "random", 4))
    with pytest.raises(ValueError, match="unknown reference"):
        metrics.reference_scores(df, "best", 0)
    lo, hi = metrics.bootstrap_ci(refs["oracle"], "pnr", n_resamples=100)
    assert math.isnan(lo) and math.isnan(hi)  # an infinite value has no interval


def test_random_reference_is_at_chance_on_average():
    rng = np.random.default_rng(0)
    rows = [(f"q{q}", f"d{i}", int(rng.integers(0, 3)), 0.0) for q in range(200) for i in range(10)]
    per = metrics.evaluate_candidates(_run(rows).assign(score=lambda d: metrics.reference_scores(d, "random", 1)))
    assert metrics.aggregate(per, "pnr") == pytest.approx(1.0, abs=0.08)


def test_verdicts_and_claims():
    assert metrics.verdict(0.1, 0.01) == "holds"
    assert metrics.verdict(-0.1, 0.01) == "fails"
    assert metrics.verdict(0.1, 0.2) == "no significant difference"
    assert metrics.verdict(0.0, float("nan")) == "no significant difference"
    a = pd.DataFrame({"query_id": list("abcdef"), "ndcg@5": [0.9, 0.8, 0.9, 0.7, 0.8, 0.9]})
    b = a.assign(**{"ndcg@5": a["ndcg@5"] - [0.3, 0.2, 0.25, 0.3, 0.2, 0.35]})
    row = metrics.claim("a beats b", a, b)
    assert row["verdict"] == "holds" and row["Δ"] == pytest.approx(0.2667, abs=1e-3) and row["queries"] == 6
    assert metrics.claim("b beats a", b, a)["verdict"] == "fails"


def test_side_by_side_by_hand():
    a = pd.DataFrame({"query_id": ["1", "2", "3"], "ndcg@5": [0.5, 0.5, 0.5]})
    b = pd.DataFrame({"query_id": ["1", "2", "3"], "ndcg@5": [0.8, 0.55, 0.2]})
    assert metrics.side_by_side(b, a, 0.1).tolist() == ["good", "same", "bad"]
    with pytest.raises(ValueError, match="different queries"):
        metrics.side_by_side(b, a.iloc[:2], 0.1)


def _seed_frame(order, ndcg, conc, disc, acc):
    return pd.DataFrame({"query_id": order, "ndcg@5": ndcg, "ndcg@10": ndcg, "mrr@10": ndcg, "pair_accuracy": acc,
                         "concordant": conc, "discordant": disc, "n_candidates": [3] * len(order)})


def test_seed_mean_averages_each_query_over_seeds_in_the_first_frames_order():
    # two seeds of one system on queries qb, qa (the second seed's frame lists them the other way round)
    one = _seed_frame(["qb", "qa"], [0.2, 1.0], [1.0, 3.0], [2.0, 0.0], [1 / 3, 1.0])
    two = _seed_frame(["qa", "qb"], [0.5, 0.6], [2.0, 3.0], [1.0, 0.0], [2 / 3, 1.0])
    mean = metrics.seed_mean([one, two])
    assert mean.query_id.tolist() == ["qb", "qa"]
    assert mean["ndcg@5"].tolist() == pytest.approx([0.4, 0.75])  # qb (0.2 + 0.6) / 2, qa (1.0 + 0.5) / 2
    assert mean.concordant.tolist() == pytest.approx([2.0, 2.5]) and mean.discordant.tolist() == pytest.approx([1.0, 0.5])
    assert mean.pair_accuracy.tolist() == pytest.approx([2 / 3, 5 / 6])
    # the corpus PNR is the ratio of the mean counts: (2 + 2.5) / (1 + 0.5)
    assert metrics.aggregate(mean, "pnr") == pytest.approx(3.0)
    assert metrics.seed_mean([one]) is one  # one seed: as it is
    with pytest.raises(ValueError, match="different queries"):
        metrics.seed_mean([one, _seed_frame(["qa", "qc"], [0.5, 0.6], [2.0, 3.0], [1.0, 0.0], [2 / 3, 1.0])])
    with pytest.raises(ValueError, match="no per-query frames"):
        metrics.seed_mean([])
