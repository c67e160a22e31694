import json

import numpy as np
import pandas as pd
import pytest

from distilrank import fusion


def test_zscore_per_query_by_hand():
    df = pd.DataFrame({"query_id": ["a", "a", "b", "b", "c"], "x": [1.0, 3.0, 5.0, 5.0, 2.0]})
    np.testing.assert_allclose(fusion.zscore_per_query(df, "x"), [-1.0, 1.0, 0.0, 0.0, 0.0])


def test_pair_differences_by_hand():
    df = pd.DataFrame({"query_id": ["q"] * 3, "s": [3.0, 1.0, 2.0], "gain": [2, 0, 2]})
    x, y = fusion.pair_differences(df, ["s"])
    z = fusion.zscore_per_query(df, "s").to_numpy()
    # pairs with different gains: (0, 1) with label 1 and (1, 2) with label 0; (0, 2) ties in gain
    np.testing.assert_allclose(x[:, 0], [z[0] - z[1], z[1] - z[2]])
    assert y.tolist() == [1, 0]
    with pytest.raises(ValueError, match="no pair"):
        fusion.pair_differences(df.assign(gain=1), ["s"])


def test_fit_fusion_finds_the_informative_ranker_and_fuses():
    rng = np.random.default_rng(0)
    rows = []
    for q in range(60):
        gain = rng.integers(0, 3, size=12)
        rows.append(pd.DataFrame({"query_id": f"q{q}", "good": gain + rng.normal(0, 0.5, 12),
                                  "noise": rng.normal(0, 1, 12), "gain": gain}))
    df = pd.concat(rows, ignore_index=True)
    for method in fusion.METHODS:
        f = fusion.fit_fusion(df, ["good", "noise"], method=method)
        assert f.method == method and sum(abs(v) for v in f.weights.values()) == pytest.approx(1.0)
        assert f.weights["good"] > 0.8 and abs(f.weights["noise"]) < 0.2
    f = fusion.fit_fusion(df, ["good", "noise"])  # global: the statistics of df's rows
    assert f.stats == fusion.fit_standardiser(df, ["good", "noise"])
    (mg, sg), (mn, sn) = f.stats["good"], f.stats["noise"]
    expected = f.weights["good"] * (df.good - mg) / sg + f.weights["noise"] * (df.noise - mn) / sn
    np.testing.assert_allclose(fusion.fuse(df, f), expected)
    q = fusion.fit_fusion(df, ["good", "noise"], method="query")
    expected = q.weights["good"] * fusion.zscore_per_query(df, "good") + q.weights["noise"] * fusion.zscore_per_query(df, "noise")
    np.testing.assert_allclose(fusion.fuse(df, q), expected)
    with pytest.raises(ValueError, match="unknown fusion method"):
        fusion.fit_fusion(df, ["good"], method="list")
    with pytest.raises(TypeError, match="expected a Fusion"):
        fusion.fuse(df, {"good": 1.0})


def test_fit_standardiser_and_standardise_by_hand():
    df = pd.DataFrame({"query_id": ["a", "a", "b", "b"], "x": [1.0, 3.0, 3.0, 5.0], "y": [2.0, 2.0, 2.0, 2.0]})
    # x: mean 3, population variance (4 + 0 + 0 + 4) / 4 = 2; y is constant: std 1.0
    stats = fusion.fit_standardiser(df, ["x", "y"])
    assert stats["x"] == pytest.approx((3.0, np.sqrt(2.0))) and stats["y"] == (2.0, 1.0)
    np.testing.assert_allclose(fusion.standardise(df, ["x", "y"], stats), [[-np.sqrt(2), 0], [0, 0], [0, 0], [np.sqrt(2), 0]])
    # without statistics: z-scores within each query (a: 1, 3 -> -1, +1; b: 3, 5 -> -1, +1)
    np.testing.assert_allclose(fusion.standardise(df, ["x"], None)[:, 0], [-1.0, 1.0, -1.0, 1.0])
    with pytest.raises(ValueError, match="not finite"):
        fusion.fit_standardiser(df.assign(x=[1.0, np.nan, 2.0, 3.0]), ["x"])


def test_a_shared_document_gets_one_global_target_but_two_per_query_ones():
    # one query, two lists (say two first stages' top k) that share document a (s 3, t 14)
    short = pd.DataFrame({"query_id": "q", "doc_id": ["a", "b"], "s": [3.0, 1.0], "t": [14.0, 6.0]})
    long = pd.DataFrame({"query_id": "q", "doc_id": ["a", "c", "d"], "s": [3.0, 4.0, 5.0], "t": [14.0, 18.0, 10.0]})
    weights = {"s": 0.5, "t": 0.5}
    glob = fusion.Fusion(weights, {"s": (2.0, 0.5), "t": (10.0, 4.0)})
    # global: 0.5 * (3 - 2) / 0.5 + 0.5 * (14 - 10) / 4 = 1.5 in both lists
    assert fusion.fuse(short, glob)[0] == pytest.approx(1.5) and fusion.fuse(long, glob)[0] == pytest.approx(1.5)
    per_query = fusion.Fusion(weights)
    # short list: s 3, 1 -> +1; t 14, 6 -> +1: 1.0. Long list: s 3, 4, 5 -> -1 / sqrt(2/3); t 14, 18, 10 -> 0
    assert fusion.fuse(short, per_query)[0] == pytest.approx(1.0)
    assert fusion.fuse(long, per_query)[0] == pytest.approx(-0.5 / np.sqrt(2 / 3))


def test_fusion_round_trips_through_json():
    for f in (fusion.Fusion({"a": 0.7, "b": -0.3}, {"a": (1.5, 2.0), "b": (0.0, 1.0)}), fusion.Fusion({"a": 1.0})):
        d = json.loads(json.dumps(f.to_dict()))
        assert d["method"] == f.method and fusion.Fusion.from_dict(d) == f
    assert fusion.Fusion({"a": 1.0}).method == "query" and fusion.Fusion({"a": 1.0}, {"a": (0.0, 1.0)}).method == "global"
    with pytest.raises(ValueError, match="does not match"):
        fusion.Fusion.from_dict({"method": "global", "weights": {"a": 1.0}, "stats": None})
    with pytest.raises(ValueError, match="no standardisation statistics"):
        fusion.Fusion({"a": 1.0, "b": 1.0}, {"a": (0.0, 1.0)})


def test_fit_fusion_weighs_the_column_that_orders_the_gains():
    # `good` orders both queries' gains exactly; `noise` orders as many pairs right as wrong
    df = pd.DataFrame({"query_id": ["q1"] * 3 + ["q2"] * 3, "gain": [2, 1, 0, 0, 1, 2],
                       "good": [3.0, 2.0, 1.0, 5.0, 6.0, 7.0], "noise": [1.0, 3.0, 2.0, 2.0, 1.0, 3.0]})
    for method in fusion.METHODS:
        w = fusion.fit_fusion(df, ["good", "noise"], method=method).weights
        assert w["good"] > 0.9 > abs(w["noise"]) and abs(w["good"]) + abs(w["noise"]) == pytest.approx(1.0)
    # the global statistics are those of the six rows: good's mean 4, variance (1+4+9+1+4+9)/6
    assert fusion.fit_fusion(df, ["good", "noise"]).stats["good"] == pytest.approx((4.0, np.sqrt(28 / 6)))
