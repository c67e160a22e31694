import numpy as np
import pandas as pd
import pytest

from distilrank.distill import (
    distill_loss_kwargs,
    fit_normaliser,
    fusion_lists,
    normalise,
    pick_queries,
    transfer_frame,
)


def _transfer():
    train = pd.DataFrame({"query_id": ["1", "1", "2", "2"], "doc_id": list("abcd"), "teacher_score": [4.0, 2.0, 0.0, 2.0]})
    pseudo = pd.DataFrame({"query_id": ["t1", "t1", "t2", "t2", "t3"], "doc_id": list("efghi"), "teacher_score": [1.0] * 5})
    return {"train": train, "pseudo": pseudo}


def test_transfer_frame_adds_seeded_pseudo_groups():
    out = transfer_frame(_transfer(), pseudo_groups=2, seed=0)
    assert out.query_id.str.startswith("t").sum() in (3, 4) and out.query_id.nunique() == 4
    assert out.equals(transfer_frame(_transfer(), pseudo_groups=2, seed=0))
    assert len(transfer_frame(_transfer(), pseudo_groups=0, seed=0)) == 4


def test_transfer_frame_errors():
    with pytest.raises(ValueError, match="no pseudo-query split"):
        transfer_frame({"train": _transfer()["train"]}, pseudo_groups=3, seed=0)
    bad = _transfer()
    bad["train"].loc[0, "teacher_score"] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        transfer_frame(bad, 0, 0)
    with pytest.raises(KeyError, match="rerun notebook 03"):
        transfer_frame({}, 0, 0)


def test_pick_queries_is_seeded_and_keeps_order():
    ids = ["q5", "q5", "q1", "q9", "q2"]
    picked = pick_queries(ids, 2, seed=1)
    assert picked == pick_queries(ids, 2, seed=1) and len(picked) == 2
    order = ["q5", "q1", "q9", "q2"]
    assert [order.index(q) for q in picked] == sorted(order.index(q) for q in picked)


def test_global_normalisation_is_one_affine_map():
    df = _transfer()["train"]
    stats = fit_normaliser(df.teacher_score, "global")
    z = normalise(df, stats)
    assert z.mean() == pytest.approx(0.0) and z.std(ddof=0) == pytest.approx(1.0)
    # margins keep their ratios: (4-2)/(2-0) before and after
    assert (z[0] - z[1]) / (z[3] - z[2]) == pytest.approx(1.0)
    assert normalise(df, fit_normaliser(df.teacher_score, "none")).tolist() == df.teacher_score.tolist()


def test_query_normalisation_and_constant_groups():
    df = pd.DataFrame({"query_id": ["1", "1", "2", "2"], "teacher_score": [4.0, 2.0, 7.0, 7.0]})
    z = normalise(df, fit_normaliser(df.teacher_score, "query"))
    assert z.tolist() == [1.0, -1.0, 0.0, 0.0]


def test_unknown_names_raise():
    with pytest.raises(ValueError, match="unknown normalisation"):
        fit_normaliser(pd.Series([1.0]), "minmax")
    with pytest.raises(ValueError, match="unknown distillation loss"):
        distill_loss_kwargs("listwise", 1.0)
    assert distill_loss_kwargs("hybrid", 0.5) == {"margin_weight": 0.5}
    assert distill_loss_kwargs("point", 0.5) == {}


def test_teacher_of_and_the_column_read():
    from distilrank.distill import teacher_of

    assert teacher_of("llm") == ("teacher-cpt", "teacher_score")
    assert teacher_of("ensemble") == ("teacher-ensemble", "ensemble_score")
    with pytest.raises(ValueError, match="unknown distill.teacher"):
        teacher_of("bm25")
    t = _transfer()
    t = {k: v.assign(ensemble_score=v.teacher_score * 2) for k, v in t.items()}
    assert transfer_frame(t, 0, 0, column="ensemble_score").ensemble_score.tolist() == [8.0, 4.0, 0.0, 4.0]
    with pytest.raises(KeyError, match="no column"):
        transfer_frame(_transfer(), 0, 0, column="ensemble_score")


def test_fusion_lists_are_the_bm25_rows_of_a_seeded_subset_of_queries():
    train = pd.DataFrame({"query_id": ["a", "a", "b", "b", "c", "c"], "source": ["bm25", "judged", "bm25", "bm25", "bm25", "judged"]})
    assert fusion_lists(train, None, 0).index.tolist() == [0, 2, 3, 4]  # every query, judged additions left out
    two = fusion_lists(train, 2, 7)
    assert two["query_id"].nunique() == 2 and set(two["source"]) == {"bm25"}
    assert two.equals(fusion_lists(train, 2, 7))  # seeded


# Notebook 04's steps (distill.target_frame ... distill.curve_summary)

from types import SimpleNamespace  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402

from distilrank import distill  # noqa: E402


def test_student_names_follow_the_training_order():
    assert distill.student_names({"bert6": "minilm-l6", "bert2": "x"}) == [
        "bert6-point", "bert6-margin", "bert6-hybrid", "bert2-point", "bert2-margin", "bert2-hybrid"]


def _scored_transfer():
    t = _transfer()
    return {k: v.assign(gain=[1, 0, 0, 2, 0][: len(v)], ensemble_score=v.teacher_score * 2) for k, v in t.items()}


def test_target_frame_normalises_the_chosen_teacher_and_labels_rows():
    params = SimpleNamespace(teacher="ensemble", pseudo_groups=2, normalise="global")
    df, norm = distill.target_frame(_scored_transfer(), params, seed=0)
    assert norm["teacher"] == "teacher-ensemble" and norm["column"] == "ensemble_score" and norm["method"] == "global"
    assert df.target.mean() == pytest.approx(0.0) and df.target.std(ddof=0) == pytest.approx(1.0)
    assert set(df.kind[df.query_id.isin(["1", "2"])]) == {"training query"}
    assert set(df.kind[df.query_id.str.startswith("t")]) == {"title pseudo-query"}
    assert (df.label == np.where(df.gain > 0, "judged relevant", "other")).all()
    summary = distill.target_summary(df, "ensemble_score")
    assert summary.loc["training query", "queries"] == 2 and summary.loc["training query", "pairs"] == 4
    assert summary.pairs.sum() == len(df)
    fig = distill.plot_targets(df, norm)
    assert len(fig.axes) == 2 and "teacher-ensemble" in fig.axes[0].get_title()
    plt.close(fig)


def _system(steps, minutes, history=None, scores=None):
    import torch

    return SimpleNamespace(history=history or [{"step": steps}], timing={"train minutes": minutes}, model=torch.nn.Linear(2, 1),
                           scores=scores or {})


def test_budget_table_reads_each_loss_from_the_name_and_adds_the_labels_student():
    systems = {"bert6-point": _system(3, 0.5), "bert6-hybrid": _system(3, 0.25)}
    labels = {"steps": 4, "timing": {"train minutes": 0.1}}
    table = distill.budget_table(systems, labels, "ranknet")
    assert table.index.tolist() == ["bert6-point", "bert6-hybrid", "bert6-labels"]
    assert table.loss.tolist() == ["point_mse", "hybrid", "ranknet"]
    assert table.steps.tolist() == [3, 3, 4] and (table.parameters == 3).all()  # Linear(2, 1): 2 weights + 1 bias


def _summary(ndcg5, pnr=1.5):
    return pd.DataFrame({"metric": ["pnr", "ndcg@5", "ndcg@10", "mrr@10"], "value": [pnr, ndcg5, ndcg5, ndcg5],
                         "ci_low": [pnr - 0.1, ndcg5 - 0.1, ndcg5 - 0.1, ndcg5 - 0.1],
                         "ci_high": [pnr + 0.1, ndcg5 + 0.1, ndcg5 + 0.1, ndcg5 + 0.1], "n_queries": 3}).set_index("metric")


def test_quality_table_formats_intervals_and_the_share_of_the_teacher():
    summary = {"random": _summary(0.2), "teacher-ensemble": _summary(0.8), "bert6-hybrid": _summary(0.4),
               "oracle": _summary(1.0, pnr=float("inf"))}
    table = distill.quality_table(summary, "teacher-ensemble")
    assert table.loc["bert6-hybrid", "ndcg@5"] == "0.400 [0.300, 0.500]"
    assert table.loc["oracle", "pnr"] == "inf"
    share = table["share of teacher-ensemble ndcg@5"]
    assert share["bert6-hybrid"] == pytest.approx(0.5) and share["teacher-ensemble"] == pytest.approx(1.0)
    assert share[["random", "oracle"]].isna().all()


def test_result_rows_cover_students_fusions_and_the_share():
    summary = {"teacher-ensemble": _summary(0.8), "bert6-hybrid": _summary(0.4), "bert6-hybrid+bm25": _summary(0.6)}
    per = {name: pd.DataFrame({"query_id": ["a", "b", "c"]}) for name in summary}
    evaluation = distill.TestEvaluation(per, summary, {"bert6-hybrid+bm25": {"student": 0.5, "bm25_score": 0.5}},
                                        distill.quality_table(summary, "teacher-ensemble"))
    rows = distill.result_rows(evaluation, ["bert6-hybrid"], "teacher-ensemble")
    assert [(r["system"], r["metric"]) for r in rows][:4] == [("bert6-hybrid", m) for m in ("pnr", "ndcg@5", "ndcg@10", "mrr@10")]
    assert {r["system"] for r in rows} == {"bert6-hybrid", "bert6-hybrid+bm25"}
    assert rows[-1] == {"system": "bert6-hybrid", "metric": "ndcg@5_share_of_teacher", "value": pytest.approx(0.5),
                        "ci_low": None, "ci_high": None, "n_queries": 3}
    assert distill.weights_table(evaluation.weights).columns.tolist() == ["student weight", "bm25 weight"]


def test_fuse_with_bm25_fits_on_training_lists_and_caches_the_test_scores(tmp_path):
    from distilrank.rankers import load_scores

    lists = pd.DataFrame({"query_id": list("aaabbb"), "doc_id": list("xyzuvw"), "gain": [2, 0, 1, 0, 1, 2],
                          "bm25_score": [3.0, 1.0, 2.0, 1.0, 2.0, 3.0]})
    test = lists.assign(query_id=list("cccddd"))
    weights, fused = distill.fuse_with_bm25({"s": -lists.bm25_score.to_numpy()}, {"s": np.zeros(6)}, lists, test, tmp_path)
    assert list(weights) == ["s+bm25"] and sum(abs(w) for w in weights["s+bm25"].values()) == pytest.approx(1.0)
    assert weights["s+bm25"]["bm25_score"] > 0 > weights["s+bm25"]["student"]  # BM25 orders the training lists, the student (-BM25) reverses them
    np.testing.assert_allclose(load_scores(tmp_path / "scores" / "s+bm25", "test", test), fused["s+bm25"])


def _per(values, measure="ndcg@5"):
    return pd.DataFrame({"query_id": [f"q{i}" for i in range(len(values))], measure: values, "pair_accuracy": values})


def test_comparisons_paired_tests_and_claims():
    assert distill.comparisons(["bert6"], "teacher-cpt", with_labels=False) == [
        ("bert6-hybrid", "bert6-point"), ("bert6-hybrid", "bert6-margin"), ("bert6-hybrid", "teacher-cpt")]
    base = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    per = {"bert6-point": _per(base), "bert6-margin": _per(base - [0.05, 0.04, 0.06, 0.05, 0.03]), "bert6-hybrid": _per(base + [0.1, 0.12, 0.09, 0.11, 0.1]),
           "bert6-labels": _per(base), "teacher-cpt": _per(base + 0.3), "bm25": _per(base), "bert6-hybrid+bm25": _per(base)}
    tests = distill.paired_tests(per, ["bert6"], "teacher-cpt")
    assert len(tests) == 6 and "bert6-margin vs bert6-labels" in tests.index
    assert tests.loc["bert6-hybrid vs bert6-point", "Δ ndcg@5"] == pytest.approx(0.104)
    summary = {name: pd.DataFrame({"value": [p["ndcg@5"].mean()]}, index=pd.Index(["ndcg@5"], name="metric")) for name, p in per.items()}
    claims = distill.claims_table(per, summary, ["bert6"], "teacher-cpt")
    assert claims.loc["bert6-hybrid beats bert6-point", "verdict"] == "holds"
    keep = claims.loc["bert6-hybrid keeps >= 90% of teacher-cpt's NDCG@5", "verdict"]
    assert keep.startswith("fails (share 0.67;") and keep.endswith("vs teacher: fails)")


def test_learning_curves_and_their_summary():
    systems = {"bert6-point": _system(4, 0.1, history=[{"step": 2, "dev ndcg@5": 0.2}, {"step": 4, "dev ndcg@5": 0.3}])}
    curve = distill.learning_curves(systems, [{"step": 4, "dev ndcg@5": 0.25}])
    assert curve.system.tolist() == ["bert6-point", "bert6-point", "bert6-labels"]
    table = distill.curve_summary(curve, target=0.5)
    assert table.loc["bert6-point", "dev ndcg@5 at the end"] == 0.3
    # 0.2 + (0.1 / ln 2) ln(s / 2) reaches 0.5 at s = 2 * 2**3 = 16 steps
    assert table.loc["bert6-point", "steps to reach bm25 on dev (extrapolated)"] == 20.0
    assert np.isnan(table.loc["bert6-labels", "steps to reach bm25 on dev (extrapolated)"])  # one point: no line
    fig = distill.plot_learning_curves(curve, {"a (dev)": 0.1, "b (dev)": 0.2, "c (dev)": 0.3}, budget=4)
    assert len(fig.axes[0].lines) >= 4
    plt.close(fig)


def test_dev_references_read_the_teacher_column_bm25_and_random():
    dev = pd.DataFrame({"query_id": ["a", "a", "b", "b"], "doc_id": list("wxyz"), "gain": [0, 1, 1, 0],
                        "bm25_score": [1.0, 0.0, 1.0, 0.0], "ensemble_score": [0.0, 1.0, 1.0, 0.0]})
    ref = distill.dev_references(dev, dev[["query_id", "doc_id", "gain"]], "teacher-ensemble", "ensemble_score", seed=0)
    assert list(ref) == ["teacher-ensemble (dev)", "bm25 (dev)", "random (dev)"]
    assert ref["teacher-ensemble (dev)"] == pytest.approx(1.0) and ref["bm25 (dev)"] < 1.0
