import json
import re

import numpy as np
import pandas as pd
import pytest
import torch

from distilrank import fusion
from distilrank.stages import teacher_finetune
from distilrank.training import TrainedSystem


def _lists(queries=("q1", "q2", "q3"), n_docs=4, seed=0) -> pd.DataFrame:
    """Candidate lists: per query, documents with gains 1, 0, 2, 0 and noisy BM25 / dense scores."""
    rng = np.random.default_rng(seed)
    rows = []
    for q in queries:
        for i in range(n_docs):
            gain = (1, 0, 2, 0)[i % 4]
            rows.append({"query_id": q, "query": f"query {q}", "doc_id": f"{q}-d{i}", "title": f"t{i}", "summary": f"s{i}",
                         "gain": gain, "source": "bm25", "bm25_score": gain + rng.normal(0, 0.5),
                         "dense_score": gain + rng.normal(0, 1.0)})
    return pd.DataFrame(rows)


def _system(scores: dict[str, np.ndarray], history=()) -> TrainedSystem:
    return TrainedSystem(torch.nn.Linear(2, 1), None, scores, list(history), {"train minutes": 0.5, "total minutes": 1.0})


def test_teacher_groups_add_seeded_pseudo_queries():
    train = pd.DataFrame({"query_id": ["1", "1", "2"], "doc_id": ["a", "b", "c"]})
    pseudo = pd.DataFrame({"query_id": ["t1", "t1", "t2", "t3"], "doc_id": ["a", "b", "c", "d"]})
    assert teacher_finetune.teacher_groups({"train_groups": train}, 2, seed=0).equals(train)
    both = teacher_finetune.teacher_groups({"train_groups": train, "pseudo_groups": pseudo}, 2, seed=0)
    assert both.query_id.str.startswith("t").sum() in (2, 3) and both[both.query_id.str.startswith("t")].query_id.nunique() == 2
    assert both.equals(teacher_finetune.teacher_groups({"train_groups": train, "pseudo_groups": pseudo}, 2, seed=0))
    summary = teacher_finetune.group_summary(train, both)
    assert summary.loc["teacher", "queries"] == 4 and summary.loc["labels-only student", "of which title pseudo-queries"] == 0


def test_pick_teacher_prefers_the_better_dev_ranking():
    dev = _lists()
    good, bad = dev.gain.to_numpy(dtype=float), -dev.gain.to_numpy(dtype=float)
    best, values = teacher_finetune.pick_teacher({"teacher-cpt-a": _system({"dev": bad}), "teacher-cpt-b": _system({"dev": good})}, dev, dev)
    assert best == "teacher-cpt-b" and values["teacher-cpt-b"] == pytest.approx(1.0) and values["teacher-cpt-a"] < 1


def test_learning_curves_and_costs_skip_the_alias():
    s = _system({}, history=[{"step": 2, "dev ndcg@5": 0.3}, {"step": 4, "dev ndcg@5": 0.4}])
    curves = teacher_finetune.learning_curves({"teacher-cpt-a": s, "teacher-cpt": s, "teacher-no-cpt": s})
    assert list(curves.system.unique()) == ["teacher-cpt-a", "teacher-no-cpt"] and list(curves.step) == [2, 4, 2, 4]
    costs = teacher_finetune.cost_table({"teacher-no-cpt": s})
    assert costs.loc["teacher-no-cpt", "parameters"] == 3 and costs.loc["teacher-no-cpt", "total minutes"] == 1.0


def test_fit_ensembles_fuses_every_list_and_saves_weights(tmp_path):
    lists = {"dev": _lists(("d1", "d2"), seed=1), "test": _lists(("e1", "e2"), seed=2), "train": _lists(seed=3)}
    llm = _system({split: df.gain.to_numpy(dtype=float) for split, df in lists.items()})
    cfg = type("Cfg", (), {"seed": 0})()
    ens = teacher_finetune.fit_ensembles(lists, llm, cfg, tmp_path, device="cpu", precision="fp32")
    assert set(ens.weights) == {"bm25_score", "dense_score", "teacher_score"} and set(ens.weights_no_llm) == {"bm25_score", "dense_score"}
    assert ens.weights["teacher_score"] > ens.weights["dense_score"]  # the perfect ranker weighs most
    assert list(ens.scores) == ["teacher-ensemble", "bm25+dense-minilm"] and set(ens.scores["teacher-ensemble"]) == set(teacher_finetune.SPLITS)
    assert {"teacher_score", "ensemble_score", "no_llm_score"} <= set(ens.lists["test"].columns)
    assert "teacher_score" not in lists["test"]  # the input lists are left as they were
    assert (tmp_path / "teachers" / "ensemble.json").is_file() and (tmp_path / "scores" / "teacher-ensemble").is_dir()
    # both fusions are global, standardised with the training split's BM25 rows, and saved whole
    saved = json.loads((tmp_path / "teachers" / "ensemble.json").read_text())
    for name, col in teacher_finetune.FUSIONS:
        f = ens.fusions[name]
        assert f.method == "global" and fusion.Fusion.from_dict(saved[name]) == f
        assert f.stats["bm25_score"] == pytest.approx((lists["train"].bm25_score.mean(), lists["train"].bm25_score.std(ddof=0)))
        np.testing.assert_allclose(ens.lists["test"][col], fusion.fuse(ens.lists["test"], f))
    assert ens.weights == ens.fusions["teacher-ensemble"].weights
    table = teacher_finetune.weight_table(ens)
    assert table.loc["dense-minilm", "bm25+dense-minilm"] == pytest.approx(ens.weights_no_llm["dense_score"])
    assert table.loc["LLM teacher (teacher-cpt)", "bm25+dense-minilm"] == 0
    transfer = teacher_finetune.save_transfer(ens.lists, tmp_path)
    # the fusion without the LLM stays in the transfer set: notebook 04 distils it too (bert6-hybrid-no-llm)
    assert (tmp_path / "transfer" / "dataset_dict.json").is_file()
    from distilrank.artifacts import load_prepared

    saved = load_prepared(tmp_path / "transfer")
    assert set(saved) == set(lists)
    for split in lists:
        assert {"teacher_score", "ensemble_score", "no_llm_score"} <= set(transfer[split].columns) <= set(saved[split].column_names)
        np.testing.assert_allclose(saved[split].to_pandas().no_llm_score, ens.lists[split].no_llm_score)
    counts = teacher_finetune.transfer_counts(transfer)
    assert counts.loc["train", "pairs scored"] == 12 and counts.loc["train", "judged pairs"] == 6


def test_evaluate_systems_orders_tests_and_claims():
    dev, test = _lists(("d1", "d2")), _lists(("e1", "e2", "e3", "e4"))
    perfect = {"dev": dev.gain.to_numpy(dtype=float), "test": test.gain.to_numpy(dtype=float)}
    worst = {k: -v for k, v in perfect.items()}
    scores = {"teacher-cpt-a": perfect, "teacher-cpt": perfect, "teacher-no-cpt": worst,
              "teacher-ensemble": perfect, "bm25+dense-minilm": worst}
    ev = teacher_finetune.evaluate_systems({"dev": dev, "test": test}, scores, pd.concat([dev, test]), seed=0)
    assert ev.order == ["random", "bm25", "dense-minilm", "bm25+dense-minilm", "teacher-cpt", "teacher-no-cpt",
                        "teacher-ensemble", "oracle"]  # notebook 03 trains no student: bert6-labels is notebook 04's
    assert ev.aliases == {"teacher-cpt-a": "teacher-cpt"}  # the chosen variant under its second name: one row, its metrics kept
    fig = teacher_finetune.plot_systems(ev, seed=0)  # every system of the table has its bar, the LLM teacher too
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ev.order
    assert list(ev.table.index[:2]) == [("dev", "random"), ("dev", "bm25")] and len(ev.table) == 16 and ("teacher-cpt-a", "test") in ev.per
    assert ev.table.loc[("test", "teacher-cpt"), "ndcg@5"] == pytest.approx(1.0)
    assert pd.isna(ev.table.loc[("test", "bm25"), "p vs bm25 (ndcg@5)"]) and pd.isna(ev.table.loc[("dev", "teacher-cpt"), "p vs bm25 (ndcg@5)"])
    from distilrank.notebook import show

    shown = show(ev.table)  # how notebook 03 prints it
    assert shown.loc[("test", "bm25"), "p vs bm25 (ndcg@5)"] == "" and re.fullmatch(r"\d\.\de-\d\d|<1e-300", shown.loc[("test", "teacher-no-cpt"), "p vs bm25 (pnr)"])
    claims = teacher_finetune.claims(ev.per, "a", "teacher-no-cpt")
    assert claims.loc["CPT helps the teacher (teacher-cpt-a beats teacher-no-cpt)", "verdict"] == "holds"
    assert claims.loc["the LLM adds to the fusion (teacher-ensemble beats bm25+dense-minilm)", "verdict"] == "holds"
    assert not claims.index.str.contains("bert6-labels").any() and len(claims) == 6
    assert claims.loc["teacher-cpt beats bm25", ["system", "against", "paper claim", "headline"]].tolist() == ["teacher-cpt", "bm25", "llm-teacher", True]
    assert claims.headline.sum() == 2 and set(claims["paper claim"]) == {"first-stage", "llm-adds", "llm-teacher", "cpt"}
    # the ablation's variant is the chosen teacher: one system, one name (teacher-cpt, not its alias teacher-cpt-a)
    chosen = teacher_finetune.claims(ev.per, "a", "teacher-no-cpt", chosen="a")
    assert "CPT helps the teacher (teacher-cpt beats teacher-no-cpt)" in chosen.index and not chosen.index.str.contains("teacher-cpt-a").any()
    assert chosen.loc["CPT helps the teacher (teacher-cpt beats teacher-no-cpt)", "system"] == "teacher-cpt"


def test_cpt_is_not_testable_between_two_chance_rankers():
    q = [f"q{i}" for i in range(8)]
    frame = lambda v: pd.DataFrame({"query_id": q, "ndcg@5": np.asarray(v, dtype=float)})  # noqa: E731
    chance = [0.1, 0.12, 0.09, 0.11, 0.1, 0.1, 0.12, 0.08]
    per = {(n, "test"): frame(chance) for n in ("random", "bm25", "dense-minilm", "bm25+dense-minilm", "teacher-ensemble", "teacher-cpt")}
    per[("teacher-cpt-a", "test")] = frame(np.add(chance, [0.01, -0.01] * 4))  # at chance, wobbling around random
    per[("teacher-no-cpt", "test")] = frame(np.add(chance, 0.3))  # a clear gain over chance for one ...
    claims = teacher_finetune.claims(per, "a", "teacher-no-cpt", chosen="a")
    assert claims.loc["CPT helps the teacher (teacher-cpt beats teacher-no-cpt)", "verdict"] == "fails"  # ... makes the comparison a test
    # the LLM teacher at chance stands in for no LLM: "the LLM teacher beats bm25" is not testable (it would read "fails")
    assert claims.loc["teacher-cpt beats bm25", "verdict"].startswith("not testable: teacher-cpt ranks no better than random")
    per[("teacher-no-cpt", "test")] = frame(np.add(chance, [-0.01, 0.01] * 4))  # both at chance: noise against noise
    claims = teacher_finetune.claims(per, "a", "teacher-no-cpt", chosen="a")
    assert claims.loc["CPT helps the teacher (teacher-cpt beats teacher-no-cpt)", "verdict"] == (
        "not testable: neither teacher-cpt nor teacher-no-cpt ranks above random: a comparison of two chance rankers")


def test_curve_references_read_the_curves_dev_queries():
    import matplotlib

    matplotlib.use("Agg")
    from distilrank.training import curve_rows

    dev = _lists(("d1", "d2", "d3"))
    dev.loc[dev.query_id == "d1", "bm25_score"] = [0.0, 3.0, 2.0, 1.0]  # d1: BM25 puts its gain-2 document 2nd, its gain-1 one last
    dev.loc[dev.query_id != "d1", "bm25_score"] = dev.loc[dev.query_id != "d1", "gain"]  # d2, d3: ideal order
    picked = dev[curve_rows(dev, 1, seed=0)].query_id.unique()
    refs = teacher_finetune.curve_references(dev, dev, curve_queries=1, seed=0)
    # NDCG@5 by hand: ideal DCG 2/log2(2) + 1/log2(3) = 2.631; d1 ranks gains (0, 2, 0, 1): 2/log2(3) + 1/log2(5) = 1.693
    assert refs["bm25 (dev)"] == pytest.approx(1.0 if picked[0] != "d1" else 1.693 / 2.631, abs=1e-3)
    assert teacher_finetune.curve_references(dev, dev, curve_queries=None, seed=0)["bm25 (dev)"] == pytest.approx((1.693 / 2.631 + 2) / 3, abs=1e-3)
    curves = pd.DataFrame({"system": ["t"] * 2, "step": [1, 2], "dev ndcg@5": [0.2, 0.4]})
    fig = teacher_finetune.plot_learning_curves(curves, refs)
    legend = fig.axes[0].get_legend()
    assert legend.get_bbox_to_anchor().x0 > fig.axes[0].get_window_extent().x1 - 1  # outside the data, to the right
    assert {t.get_text() for t in legend.get_texts()} == {"t", "bm25 (dev)", "random (dev)"}


def test_reading_sets_each_result_against_the_paper():
    dev, test = _lists(("d1", "d2")), _lists(("e1", "e2", "e3", "e4"))
    perfect = {"dev": dev.gain.to_numpy(dtype=float), "test": test.gain.to_numpy(dtype=float)}
    worst = {k: -v for k, v in perfect.items()}
    weights = {"bm25_score": 0.355, "dense_score": 0.574, "teacher_score": 0.071}
    qrels = pd.concat([dev, test])
    ev = teacher_finetune.evaluate_systems({"dev": dev, "test": test}, {"teacher-cpt-a": worst, "teacher-cpt": worst, "teacher-no-cpt": perfect,
                                                                "teacher-ensemble": perfect, "bm25+dense-minilm": perfect}, qrels, seed=0)
    cpt, llm, fused = teacher_finetune.reading(ev.per, "a", "teacher-no-cpt", weights, 22_713_601)
    assert cpt.startswith("CPT: with it the teacher reaches test NDCG@5 ") and "without it (teacher-no-cpt) 1.000" in cpt
    assert "CPT made the ranker worse, against the paper" in cpt and "a decoder of 23M parameters" in cpt
    assert "below BM25, the list it re-ranks. That goes against the paper" in llm
    assert "weight in teacher-ensemble is 0.071 (BM25 0.355, dense-minilm 0.574)" in fused and "mostly from a BM25 + MiniLM fusion" in fused
    ev = teacher_finetune.evaluate_systems({"dev": dev, "test": test}, {"teacher-cpt-a": perfect, "teacher-cpt": perfect, "teacher-no-cpt": worst,
                                                                "teacher-ensemble": perfect, "bm25+dense-minilm": perfect}, qrels, seed=0)
    cpt, llm, fused = teacher_finetune.reading(ev.per, "a", "teacher-no-cpt", {**weights, "teacher_score": 0.5}, 7_000_000_000)
    assert "CPT helps the trained ranker, as the paper reports." in cpt and "against the paper" not in llm
    assert "real share" in fused
