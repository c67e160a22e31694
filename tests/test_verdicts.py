"""The verdict rules: fragile, premised, saturated, a claim's record fields, aliases; by hand."""

import numpy as np
import pandas as pd
import pytest

from distilrank import results, verdicts


def _pq(values):
    return pd.DataFrame({"query_id": [f"q{i}" for i in range(len(values))], "ndcg@5": np.asarray(values, dtype=float)})


def test_kind_reads_the_verdict_word_a_text_starts_with():
    assert verdicts.kind("holds") == "holds" and verdicts.kind("fails (share 0.81)") == "fails"
    assert verdicts.kind("not testable: x") == "not testable" and verdicts.kind("fragile: holds on test") == "fragile"
    assert verdicts.kind("consistent") == "other"


@pytest.mark.parametrize(("verdict", "delta", "dev", "expected"), [
    ("holds", 0.10, -0.02, "fragile: holds on test, the other order on dev (dev Δ -0.020)"),
    ("fails", -0.10, 0.03, "fragile: fails on test, the other order on dev (dev Δ +0.030)"),
    ("holds", 0.10, 0.02, "holds"),  # the same order on dev
    ("holds", 0.10, 0.0, "holds"),  # a tie on dev reverses nothing
    ("no significant difference", 0.01, -0.2, "no significant difference"),  # nothing to be fragile about
    ("holds", 0.10, None, "holds"), ("holds", 0.10, float("nan"), "holds"),
])
def test_fragile_marks_a_significant_verdict_the_dev_order_reverses(verdict, delta, dev, expected):
    assert verdicts.fragile(verdict, delta, dev) == expected


def test_premised_and_saturated():
    assert verdicts.premised("fails", True, "x") == "fails"
    assert verdicts.premised("fails", False, "dense-minilm is not better than bm25") == "not testable: dense-minilm is not better than bm25"
    assert verdicts.saturated([0.99, 1.0]) and verdicts.saturated([0.01, 0.04])
    assert not verdicts.saturated([0.94, 1.0]) and not verdicts.saturated([0.01, 0.99]) and not verdicts.saturated([])


def test_claim_names_its_systems_and_reads_the_dev_order():
    a, b = _pq([0.5, 0.6, 0.7, 0.8]), _pq([0.3, 0.41, 0.52, 0.6])  # a ahead by 0.2, 0.19, 0.18, 0.2: holds
    row = verdicts.claim("a beats b", a, b, "a", "b", paper_claim="hybrid", headline=True, dev=(_pq([0.2, 0.2]), _pq([0.3, 0.2])))
    assert row["Δ"] == pytest.approx(0.1925) and row["dev Δ"] == pytest.approx(-0.05)
    assert row["verdict"] == "fragile: holds on test, the other order on dev (dev Δ -0.050)"
    assert (row["system"], row["against"], row["paper claim"], row["headline"]) == ("a", "b", "hybrid", True)
    assert "dev Δ" not in verdicts.claim("a beats b", a, b, "a", "b")
    with pytest.raises(ValueError, match="unknown group 'nope'"):
        verdicts.claim("a beats b", a, b, "a", "b", paper_claim="nope")


def test_the_record_keeps_the_claims_fields(tmp_path):
    a, b = _pq([0.5, 0.6, 0.7, 0.8]), _pq([0.3, 0.41, 0.52, 0.6])
    table = pd.DataFrame([verdicts.claim("a beats b", a, b, "a", "b", paper_claim="distillation", headline=True, dev=(_pq([0.3]), _pq([0.2]))),
                          verdicts.claim("b beats a", b, a, "b", "a")]).set_index("claim")
    first, second = results.record_claims("p", table, "04_x", "6. Claims", path=tmp_path / "c.json")
    assert (first.system, first.against, first.paper_claim, first.headline, first.verdict) == ("a", "b", "distillation", True, "holds")
    assert first.dev_delta == pytest.approx(0.1) and second.dev_delta is None and second.paper_claim is None and not second.headline
    assert list(results.shown_claims(table).columns) == ["Δ", "p", "queries", "verdict", "dev Δ"]


def test_distinct_systems_keeps_the_first_name_of_identical_scores():
    scores = {"teacher-cpt": np.array([0.3, 0.1, 0.2]), "teacher-cpt-minilm": np.array([0.3, 0.1, 0.2]),
              "teacher-no-cpt": np.array([0.3, 0.1, 0.25]), "short": np.array([0.3, 0.1])}
    kept, aliases = verdicts.distinct_systems(["random", "teacher-cpt", "teacher-cpt-minilm", "teacher-no-cpt", "short", "oracle"], scores)
    assert kept == ["random", "teacher-cpt", "teacher-no-cpt", "short", "oracle"]  # names without scores (the references) stay
    assert aliases == {"teacher-cpt-minilm": "teacher-cpt"}
