import json

import pytest
from pydantic import ValidationError

from distilrank import results

KEYS = {"system", "metric", "value", "ci_low", "ci_high", "n_queries", "profile", "commit"}


def test_record_writes_the_schema_and_replaces_same_key(tmp_path):
    path = tmp_path / "results.json"
    results.record("p", [{"system": "bm25", "metric": "pnr", "value": 1.5, "n_queries": 3}], path)
    results.record("p", [{"system": "bm25", "metric": "ndcg@5", "value": 0.4}], path)
    results.record("p", [{"system": "bm25", "metric": "pnr", "value": 2.0, "ci_low": 1.0, "ci_high": 3.0}], path)
    raw = json.loads(path.read_text())
    assert [set(r) for r in raw] == [KEYS, KEYS]
    by_metric = {r["metric"]: r for r in raw}
    assert by_metric["pnr"]["value"] == 2.0 and by_metric["pnr"]["ci_low"] == 1.0
    assert all(r["profile"] == "p" and r["commit"] for r in raw)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".results.json.lock", "results.json"]


def test_undefined_ci_is_stored_as_null_and_values_must_be_finite(tmp_path):
    path = tmp_path / "r.json"
    results.record("p", [{"system": "s", "metric": "pnr", "value": 1.0, "ci_low": float("nan"), "ci_high": float("inf")}], path)
    row = json.loads(path.read_text())[0]
    assert row["ci_low"] is None and row["ci_high"] is None
    with pytest.raises(ValidationError):
        results.record("p", [{"system": "s", "metric": "pnr", "value": float("inf")}], path)


@pytest.mark.parametrize("bad", [{"system": "", "metric": "pnr", "value": 1.0},
                                 {"system": "s", "metric": "pnr", "value": "high"},
                                 {"system": "s", "metric": "pnr", "value": 1.0, "colour": "red"}])
def test_invalid_rows_are_rejected_and_nothing_is_written(tmp_path, bad):
    path = tmp_path / "r.json"
    with pytest.raises(ValidationError):
        results.record("p", [bad], path)
    assert not path.exists()


def test_load_results_validates(tmp_path):
    path = tmp_path / "r.json"
    path.write_text('{"not": "a list"}')
    with pytest.raises(ValueError, match="expected a JSON list"):
        results.load_results(path)
    assert results.load_results(tmp_path / "absent.json") == []


def test_results_table_pivots(tmp_path):
    path = tmp_path / "r.json"
    rows = results.record("p", [{"system": "a", "metric": "pnr", "value": 1.0}, {"system": "b", "metric": "pnr", "value": 2.0}], path)
    assert results.results_table(rows).loc["b", "pnr"] == 2.0


def test_record_claims_reads_a_claims_table_and_replaces_its_section(tmp_path):
    import pandas as pd

    path = tmp_path / "claims.json"
    table = pd.DataFrame({"Δ ndcg@5": [0.05, -0.02], "Δ 95% CI (unadjusted)": ["[+0.010, +0.090]", "[-0.050, +0.010]"],
                          "p": [0.01, 0.2], "queries": [75, 75], "p (BH)": [0.02, 0.2], "verdict": ["holds", "no significant difference"],
                          "against the paper": ["consistent", "inconclusive"]}, index=pd.Index(["a beats b", "c beats d"], name="effect"))
    rows = results.record_claims("p", table, "07_x", "5. The effects", path=path)
    assert [(r.claim, r.delta, r.ci_low, r.ci_high, r.p_adjusted, r.n_queries, r.detail) for r in rows] == [
        ("a beats b", 0.05, 0.01, 0.09, 0.02, 75, "consistent"), ("c beats d", -0.02, -0.05, 0.01, 0.2, 75, "inconclusive")]
    other = pd.DataFrame({"Δ": [0.1], "p": [float("nan")], "verdict": ["no significant difference"], "metric": ["pair_accuracy"]},
                         index=["e beats f"])
    results.record_claims("p", other, "08_y", "3. Tests", path=path)
    results.record_claims("p", table.iloc[:1], "07_x", "5. The effects", path=path)  # a re-run replaces its section's rows
    stored = results.load_claims(path)
    assert [(c.notebook, c.claim, c.metric) for c in stored] == [("08_y", "e beats f", "pair_accuracy"), ("07_x", "a beats b", "ndcg@5")]
    assert stored[0].p is None and stored[0].ci_low is None  # nan p (no difference at all) is null


def test_record_claims_needs_a_verdict(tmp_path):
    import pandas as pd

    with pytest.raises(KeyError):
        results.record_claims("p", pd.DataFrame({"Δ": [0.1], "p": [0.5]}, index=["x"]), "01", "s", path=tmp_path / "c.json")
    assert not (tmp_path / "c.json").exists()
