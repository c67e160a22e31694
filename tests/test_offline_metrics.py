import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from distilrank.distill import fit_normaliser
from distilrank.rankers import save_scores
from distilrank.stages import offline_metrics


def _lists():
    """Two test queries of three candidates each, with BM25 scores and titles."""
    return pd.DataFrame({"query_id": list("aaabbb"), "doc_id": ["d1", "d2", "d3", "d4", "d5", "d6"], "gain": [2, 0, 1, 0, 0, 3],
                         "bm25_score": [3.0, 2.0, 1.0, 3.0, 2.0, 1.0], "query": ["wing flutter"] * 3 + ["shock waves"] * 3,
                         "title": [f"title {i}" for i in range(6)]})


def test_cached_systems_name_the_ablation_present_and_keep_the_report_order(tmp_path):
    with pytest.raises(FileNotFoundError, match="run notebook 03"):
        offline_metrics.cached_systems(tmp_path, ["bert6-hybrid"], ["minilm"])
    (tmp_path / "teacher-random-init").mkdir()
    names = offline_metrics.cached_systems(tmp_path, ["bert6-point", "bert6-hybrid"], ["minilm", "scratch"])
    assert names[:6] == ["dense-minilm", "bm25+dense-minilm", "teacher-random-init", "teacher-cpt", "teacher-cpt-minilm", "teacher-cpt-scratch"]
    assert names[-3:] == ["bert6-labels+bm25", "bert6-point+bm25", "bert6-hybrid+bm25"]
    (tmp_path / "teacher-no-cpt").mkdir()
    assert offline_metrics.cached_systems(tmp_path, [], [])[2] == "teacher-no-cpt"
    # the hybrid distilled without the LLM joins the core students (and their fusions) once it is cached
    (tmp_path / "bert6-hybrid-no-llm").mkdir()
    names = offline_metrics.cached_systems(tmp_path, ["bert6-point", "bert6-hybrid"], [])
    assert names[names.index("bert6-labels"):] == ["bert6-labels", "bert6-point", "bert6-hybrid", "bert6-hybrid-no-llm", "bert6-labels+bm25",
                                                   "bert6-point+bm25", "bert6-hybrid+bm25", "bert6-hybrid-no-llm+bm25"]
    assert "bert6-point-no-llm" not in offline_metrics.cached_systems(tmp_path, ["bert6-point"], [])  # only a hybrid has one


def test_load_test_scores_aligns_each_cache_to_the_lists(tmp_path):
    test = _lists()
    save_scores({"test": test.assign(score=np.arange(6.0)).iloc[::-1]}, tmp_path / "s")  # cached in another order
    scores = offline_metrics.load_test_scores(test, tmp_path, ["s"])
    assert list(scores) == ["bm25", "s"] and scores["s"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


def test_evaluate_systems_brackets_with_the_references_and_formats_intervals():
    test = _lists()
    per, summary = offline_metrics.evaluate_systems(test, test, {"bm25": test.bm25_score.to_numpy()}, ["random", "bm25", "oracle"],
                                            n_resamples=100, seed=0)
    assert list(per) == ["random", "bm25", "oracle"] and list(summary) == ["random", "bm25", "oracle"]
    assert per["oracle"]["ndcg@5"].tolist() == [1.0, 1.0]
    table = offline_metrics.interval_table(summary)
    assert table.loc["oracle", "pnr"] == "inf" and table.columns.tolist() == ["pnr", "ndcg@5", "ndcg@10", "mrr@10"]
    assert table.loc["oracle", "ndcg@5"] == "1.000 [1.000, 1.000]"
    fig = offline_metrics.plot_intervals(summary)
    assert len(fig.axes) == 4 and [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["random", "bm25", "oracle"]
    plt.close(fig)


def test_evaluate_systems_reads_the_seed_mean_when_several_seeds_are_cached(tmp_path):
    test = _lists()  # query a: gains 2, 0, 1; query b: gains 0, 0, 3
    good, bad = np.array([3.0, 1.0, 2.0, 1.0, 2.0, 3.0]), np.array([1.0, 3.0, 2.0, 3.0, 2.0, 1.0])
    save_scores({"test": test.assign(score=good)}, tmp_path / "s", precision="fp32")  # the first seed: the ideal order
    save_scores({"test": test.assign(score=bad)}, tmp_path / "s@seed14", precision="fp32")  # a second seed: reversed
    save_scores({"test": test.assign(score=good)}, tmp_path / "one", precision="fp32")  # one seed only
    scores = offline_metrics.load_test_scores(test, tmp_path, ["s", "one"])
    alone, _ = offline_metrics.evaluate_systems(test, test, scores, ["s"], n_resamples=50, seed=0)
    per, summary = offline_metrics.evaluate_systems(test, test, scores, ["s", "one"], n_resamples=50, seed=0, scores_dir=tmp_path)
    assert alone["s"]["ndcg@5"].tolist() == [1.0, 1.0]  # without scores_dir: the first seed's own metrics
    # reversed (linear gains): a ranks d2 (0), d3 (1), d1 (2): (1/log2(3) + 2/log2(4)) / (2 + 1/log2(3)); b ranks d6 (3) last:
    # (3/log2(4)) / 3 = 0.5; each query's seed mean averages that with the first seed's 1.0
    reversed_ndcg = {"a": (1 / np.log2(3) + 1.0) / (2 + 1 / np.log2(3)), "b": 0.5}
    assert per["s"].query_id.tolist() == ["a", "b"]
    assert per["s"]["ndcg@5"].tolist() == pytest.approx([(1.0 + reversed_ndcg[q]) / 2 for q in "ab"])
    # a has 3 pairs of different gains, b 2: the first seed orders all of them right, the second all wrong
    assert per["s"].concordant.tolist() == [1.5, 1.0] and per["s"].discordant.tolist() == [1.5, 1.0]
    assert summary["s"].set_index("metric").loc["ndcg@5", "value"] == pytest.approx(per["s"]["ndcg@5"].mean())
    assert summary["s"].set_index("metric").loc["pnr", "value"] == pytest.approx(1.0)
    assert per["one"]["ndcg@5"].tolist() == [1.0, 1.0] and per["bm25"].equals(alone["bm25"])  # one cache: its own metrics


def _per(values):
    return pd.DataFrame({"query_id": [f"q{i}" for i in range(len(values))], **{m: values for m in offline_metrics.MEASURES}})


def test_significance_family_leaves_references_out_and_adjusts_over_the_family():
    base = np.array([0.1, 0.3, 0.2, 0.5, 0.4])
    per = {"random": _per(base * 0), "a": _per(base), "b": _per(base + [0.2, 0.25, 0.15, 0.2, 0.22]), "c": _per(base + 0.01 * np.arange(5)),
           "oracle": _per(base * 0 + 1)}
    sig = offline_metrics.significance_family(per, per, ["a", "b"], ["ndcg@5", "mrr@10"])
    assert len(sig) == 2 * 2 * 2  # (b, c) vs a and (a, c) vs b, on two measures
    assert not sig.system.isin(["random", "oracle"]).any() and not (sig.system == sig.reference).any()
    assert (sig["p (BH-adjusted)"] >= sig.p).all()
    assert sig.set_index(["reference", "system", "measure"]).loc[("a", "b", "ndcg@5"), "significant"]
    table = offline_metrics.significance_table(sig, "ndcg@5")
    assert list(table.columns) == ["Δ vs a", "p (BH) vs a", "Δ vs b", "p (BH) vs b"] and list(table.index) == ["b", "c", "a"]
    assert table.loc["b", "Δ vs a"] == pytest.approx(0.204) and pd.isna(table.loc["a", "Δ vs a"])
    fig = offline_metrics.plot_differences(per, sig, ["a", "b", "c"], ["a", "b"], "ndcg@5")
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["b", "c"]  # the reference itself is not compared with itself
    assert [t.get_text() for t in fig.axes[1].get_yticklabels()] == ["a", "c"]
    plt.close(fig)


def test_paired_intervals_are_the_t_test_interval():
    per = {"a": _per(np.array([0.5, 0.7, 0.9])), "ref": _per(np.array([0.4, 0.5, 0.6]))}  # differences 0.1, 0.2, 0.3
    row = offline_metrics.paired_intervals(per, ["a"], "ref").loc["a"]
    # mean 0.2, sd 0.1, t(0.975, 2 df) = 4.303: half-width 4.303 * 0.1 / sqrt(3) = 0.2484
    assert row["Δ"] == pytest.approx(0.2) and row.ci_low == pytest.approx(0.2 - 0.2484, abs=1e-4) and row.ci_high == pytest.approx(0.4484, abs=1e-4)


def test_drop_aliases_keeps_the_first_name_of_a_ranker():
    scores = {"bm25": np.array([1.0, 2.0]), "teacher-cpt": np.array([0.5, 0.1]), "teacher-cpt-minilm": np.array([0.5, 0.1]),
              "other": np.array([0.5, 0.2])}
    kept, aliases = offline_metrics.drop_aliases(scores, ["random", "bm25", "teacher-cpt", "teacher-cpt-minilm", "other", "oracle"])
    assert kept == ["random", "bm25", "teacher-cpt", "other", "oracle"] and aliases == {"teacher-cpt-minilm": "teacher-cpt"}


def _on_scale():
    test = _lists()
    teacher = np.array([2.0, 0.0, 1.0, 0.0, 1.0, 2.0])
    norm = fit_normaliser(pd.Series(teacher), "global")
    students = {"copy": (teacher - teacher.mean()) / teacher.std(), "flat": 0.5 * (teacher - teacher.mean()) / teacher.std() + 1.0}
    return offline_metrics.on_teacher_scale(test, {"t": teacher, **students}, "t", list(students), norm), list(students)


def test_on_teacher_scale_and_fidelity():
    from distilrank.metrics import pair_margins

    test, students = _on_scale()
    assert test.teacher.mean() == pytest.approx(0.0) and test.teacher.std(ddof=0) == pytest.approx(1.0)
    margins = pair_margins(test, ["teacher", *students])
    fid = offline_metrics.fidelity_table(test, margins, students)
    assert fid.loc["copy", "Kendall tau per query (mean)"] == pytest.approx(1.0) and fid.loc["copy", "point MSE"] == pytest.approx(0.0)
    assert fid.loc["flat", "offset (mean s - t)"] == pytest.approx(1.0) and fid.loc["flat", "spread ratio (sd s / sd t)"] == pytest.approx(0.5)
    assert fid.loc["flat", "Pearson r"] == pytest.approx(1.0) and fid.loc["flat", "margin MSE"] > 0
    for fig in (offline_metrics.plot_score_distributions(test, margins, ["flat"], "global"), offline_metrics.plot_teacher_vs_student(test, fid, students)):
        assert len(fig.axes) >= 2
        plt.close(fig)


def test_failure_cases_show_the_largest_drops_first():
    test = _lists().assign(teacher=[3.0, 1.0, 2.0, 1.0, 2.0, 3.0], hybrid=[1.0, 3.0, 2.0, 1.0, 2.0, 3.0])
    per_t = pd.DataFrame({"query_id": ["a", "b"], "ndcg@5": [1.0, 1.0]})
    per_h = pd.DataFrame({"query_id": ["a", "b"], "ndcg@5": [0.4, 0.9]})
    gap = offline_metrics.ndcg_gap(per_t, per_h)
    assert gap.to_dict() == {"a": pytest.approx(0.6), "b": pytest.approx(0.1)}
    cases = offline_metrics.failure_cases(test, per_t, per_h, "hybrid", n=1, top_docs=2)
    assert len(cases) == 1 and cases[0].header.startswith("**Query a**: *wing flutter*") and "(drop 0.600;" in cases[0].header
    # the ranking shown (gains 0, 1, 2: d2, d3, d1) against the list's ideal (2, 1, 0), linear gains as trec_eval: its own NDCG@5
    dcg, ideal = 1 / np.log2(3) + 2 / np.log2(4), 2 + 1 / np.log2(3)
    assert f"its first seed's, NDCG@5 {dcg / ideal:.3f})" in cases[0].header
    table = cases[0].table
    assert table[("teacher", "document")].tolist() == ["d1 · title 0", "d3 · title 2"]
    assert table[("hybrid", "gain")].tolist() == [0, 1] and table.index.tolist() == [1, 2]
