import numpy as np
import pandas as pd
import pytest

from distilrank.distill import (
    distill_loss_kwargs,
    fit_normaliser,
    normalise,
    training_lists,
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


def test_training_lists_are_the_bm25_rows_of_a_seeded_subset_of_queries():
    train = pd.DataFrame({"query_id": ["a", "a", "b", "b", "c", "c"], "source": ["bm25", "judged", "bm25", "bm25", "bm25", "judged"]})
    assert training_lists(train, None, 0).index.tolist() == [0, 2, 3, 4]  # every query, judged additions left out
    two = training_lists(train, 2, 7)
    assert two["query_id"].nunique() == 2 and set(two["source"]) == {"bm25"}
    assert two.equals(training_lists(train, 2, 7))  # seeded


# Notebook 04's first step: the targets (the students are tests/test_students.py's)

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
    # every pseudo-query, whatever pseudo_groups says (a recipe picks its share later): t1, t2, t3
    assert sorted(df.query_id.unique()) == ["1", "2", "t1", "t2", "t3"] and len(df) == 9
    assert "target_no_llm" not in df  # the transfer set has no bm25+dense-minilm scores
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


def test_target_frame_adds_the_no_llm_target_with_its_own_normaliser():
    t = {k: v.assign(no_llm_score=np.arange(len(v), dtype=float) * 3 + 10) for k, v in _scored_transfer().items()}
    params = SimpleNamespace(teacher="ensemble", pseudo_groups=0, normalise="global")
    df, norm = distill.target_frame(t, params, seed=0)
    no_llm = np.concatenate([np.arange(4.0), np.arange(5.0)]) * 3 + 10  # train rows, then every pseudo row
    np.testing.assert_allclose(df.target_no_llm, (no_llm - no_llm.mean()) / no_llm.std())
    # the teacher's normaliser is the teacher's, not bm25+dense-minilm's
    assert norm["column"] == "ensemble_score" and norm["mean"] == pytest.approx(df.ensemble_score.mean())
    np.testing.assert_allclose(df.target, (df.ensemble_score - df.ensemble_score.mean()) / df.ensemble_score.std(ddof=0))
    none, _ = distill.target_frame(t, SimpleNamespace(teacher="llm", pseudo_groups=0, normalise="none"), seed=0)
    assert none.target_no_llm.tolist() == no_llm.tolist() and none.target.tolist() == none.teacher_score.tolist()


def test_teacher_sentence_names_what_the_students_learn_from(tmp_path):
    import json

    weights = {"bm25_score": 0.355, "dense_score": 0.574, "teacher_score": 0.071}
    assert distill.fitted_weights(tmp_path, "teacher-ensemble") is None
    (tmp_path / "teachers").mkdir()
    (tmp_path / "teachers" / "ensemble.json").write_text(json.dumps({"teacher-ensemble": {"weights": weights, "method": "global"}}))
    assert distill.fitted_weights(tmp_path, "teacher-ensemble") == weights and distill.fitted_weights(tmp_path, "teacher-cpt") is None
    assert distill.teacher_sentence("teacher-ensemble", weights) == (
        "the students learn from teacher-ensemble = 0.355 x BM25 + 0.574 x dense-minilm + 0.071 x the LLM teacher (teacher-cpt) "
        "(standardised scores, weights fitted on training queries): mostly a BM25 + MiniLM fusion, the LLM carrying 7% of the weight")
    assert distill.teacher_sentence("teacher-ensemble", {**weights, "teacher_score": -0.5}).endswith("the LLM carries 35% of the weight")
    assert distill.teacher_sentence("teacher-cpt") == "the students learn from teacher-cpt, the fine-tuned decoder LLM alone, as in the paper"


def test_worked_example_of_the_three_losses_by_hand():
    terms, totals = distill.worked_example([1.0, 0.5, -1.5], [2.0, 0.0, -1.0])
    # Point-MSE terms (s - t)^2: 1, 0.25, 0.25 -> mean 0.5; Margin-MSE terms over the pairs 12, 13, 23:
    # (0.5 - 2)^2 = 2.25, (2.5 - 3)^2 = 0.25, (2 - 1)^2 = 1 -> mean 1.1667; hybrid (margin weight 1): 1.6667
    assert terms["squared error"].tolist() == pytest.approx([1.0, 0.25, 0.25, 2.25, 0.25, 1.0])
    assert list(terms.index) == ["point d1", "point d2", "point d3", "margin d1-d2", "margin d1-d3", "margin d2-d3"]
    assert totals["student s"].tolist() == pytest.approx([0.5, 7 / 6, 5 / 3], abs=1e-6)
    # shifted by 5: (4, 5.5, 4.5)^2 = 16 + 30.25 + 20.25 -> 22.1667; the margins do not move
    assert totals.iloc[:, 1].tolist() == pytest.approx([66.5 / 3, 7 / 6, 66.5 / 3 + 7 / 6], abs=1e-5)
