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


def test_fit_weights_finds_the_informative_ranker_and_fuses():
    rng = np.random.default_rng(0)
    rows = []
    for q in range(60):
        gain = rng.integers(0, 3, size=12)
        rows.append(pd.DataFrame({"query_id": f"q{q}", "good": gain + rng.normal(0, 0.5, 12),
                                  "noise": rng.normal(0, 1, 12), "gain": gain}))
    df = pd.concat(rows, ignore_index=True)
    w = fusion.fit_weights(df, ["good", "noise"])
    assert sum(abs(v) for v in w.values()) == pytest.approx(1.0)
    assert w["good"] > 0.8 and abs(w["noise"]) < 0.2
    fused = fusion.fuse(df, w)
    expected = w["good"] * fusion.zscore_per_query(df, "good") + w["noise"] * fusion.zscore_per_query(df, "noise")
    np.testing.assert_allclose(fused, expected)
