import numpy as np
import pandas as pd
import pytest

from distilrank import fusion, grid_cells, losses
from distilrank.bm25 import BM25Index
from distilrank.config import LOSS_NAMES, RankDistillmParams
from distilrank.data import Doc
from distilrank.grid_cells import Cell, parse_cell
from distilrank.stages import rank_distillm
from distilrank.stages.rank_distillm import (
    cell_frame,
    effect_pairs,
    first_stage_runs,
    needed_pairs,
    teacher_pool,
)


def params(**over) -> RankDistillmParams:
    base = {"losses": ["ranknet", "adrmse"], "targets": ["ranks", "scores"], "first_stages": ["bm25", "dense", "fused"],
            "depths": [2, 3], "run": "all", "steps": 2, "lr": 1e-4, "max_len": 32, "group_size": 2}
    return RankDistillmParams.model_validate({**base, **over})


def test_the_profile_names_every_loss_the_library_has():
    assert set(LOSS_NAMES.__args__) == set(losses.LOSSES)


def test_cells_round_trip_and_bad_names_say_what_is_expected():
    cell = parse_cell("adrmse-ranks-dense-d20")
    assert cell == Cell("adrmse", "ranks", "dense", 20) and cell.name == "adrmse-ranks-dense-d20"
    for bad in ("ranknet-ranks-bm25", "ranknet-ranks-bm25-20", "hinge-ranks-bm25-d5", "ranknet-labels-bm25-d5", "ranknet-ranks-colbert-d5"):
        with pytest.raises(ValueError, match="cell"):
            parse_cell(bad)


def test_the_grid_and_its_selection():
    p = params()
    assert len(p.cells()) == 2 * 2 * 3 * 2  # both losses read only order: run all trains them on ranks alone
    assert [c.name for c in grid_cells.selected_cells(p)] == [n for n in p.cells() if "-ranks-" in n]
    picked = params(run=["adrmse-scores-fused-d3", "ranknet-ranks-bm25-d2"])
    assert [c.name for c in grid_cells.selected_cells(picked)] == ["adrmse-scores-fused-d3", "ranknet-ranks-bm25-d2"]
    assert grid_cells.stage_depths(grid_cells.selected_cells(picked)) == {"fused": 3, "bm25": 2}
    with pytest.raises(ValueError, match="outside the grid"):
        params(run=["ranknet-ranks-bm25-d50"])
    with pytest.raises(ValueError, match="twice"):
        params(run=["ranknet-ranks-bm25-d2", "ranknet-ranks-bm25-d2"])
    with pytest.raises(ValueError, match="at least group_size"):
        params(depths=[1, 3])


@pytest.fixture
def corpus():
    docs = [Doc("d1", "cone flow", "cone flow cone"), Doc("d2", "wing", "flow over a wing"), Doc("d3", "heat", "heat transfer"),
            Doc("d4", "shock", "shock wave"), Doc("d5", "cone", "a cone")]
    index = BM25Index(docs, stemmer=None)
    doc_ids = [d.doc_id for d in docs]
    rng = np.random.default_rng(0)
    doc_emb = rng.normal(size=(5, 4))
    doc_emb /= np.linalg.norm(doc_emb, axis=1, keepdims=True)
    query_emb = doc_emb[[2]] + 0.01  # the query's embedding sits next to d3's: dense ranks d3 first
    query_emb /= np.linalg.norm(query_emb, axis=1, keepdims=True)
    return index, doc_ids, doc_emb, query_emb.astype(np.float32), doc_emb.astype(np.float32)


def test_first_stage_runs_by_hand(corpus):
    index, doc_ids, _, query_emb, doc_emb = corpus
    runs = first_stage_runs({"q1": "cone flow"}, index, 2, (query_emb, doc_emb, doc_ids), {"bm25_score": 0.5, "dense_score": 0.5})
    bm25_top = [d for d, _ in index.search("cone flow", 2)]
    dense_top = list(np.array(doc_ids)[np.argsort(-(doc_emb @ query_emb[0]))[:2]])
    assert dense_top[0] == "d3"
    # the union of both top-2 lists, each document's rank in each (0 outside), exact scores for all
    assert set(runs.doc_id) == set(bm25_top) | set(dense_top)
    assert runs.set_index("doc_id").loc[bm25_top, "rank_bm25"].tolist() == [1, 2]
    assert runs.set_index("doc_id").loc[dense_top, "rank_dense"].tolist() == [1, 2]
    assert (runs.rank_bm25 > 0).sum() == 2 and (runs.rank_dense > 0).sum() == 2
    full = index.scores("cone flow")
    assert np.allclose(runs.bm25_score, [full[doc_ids.index(d)] for d in runs.doc_id])
    assert np.allclose(runs.dense_score, [doc_emb[doc_ids.index(d)] @ query_emb[0] for d in runs.doc_id], atol=1e-6)
    # fused: equal weights on per-query z-scores, its top 2 ranked 1 and 2
    z = lambda x: (x - x.mean()) / x.std()  # noqa: E731
    fused = 0.5 * z(runs.bm25_score) + 0.5 * z(runs.dense_score)
    assert runs.rank_fused[fused.sort_values(ascending=False).index[:2]].tolist() == [1, 2]
    assert sorted(runs.rank_fused.tolist()) == [0] * (len(runs) - 2) + [1, 2]
    only_bm25 = first_stage_runs({"q1": "cone flow"}, index, 2)
    assert only_bm25.doc_id.tolist() == bm25_top and "dense_score" not in only_bm25
    with pytest.raises(ValueError, match="needs the dense"):
        first_stage_runs({"q1": "cone flow"}, index, 2, None, {"bm25_score": 1.0})


def pool_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "query_id": ["q1"] * 4 + ["q2"] * 3,
        "doc_id": ["a", "b", "c", "d", "a", "e", "f"],
        "rank_bm25": [1, 2, 3, 0, 2, 1, 0],
        "rank_dense": [0, 1, 3, 2, 1, 0, 2],
        "bm25_score": [3.0, 2.0, 1.0, 0.5, 2.0, 4.0, 0.1],
        "dense_score": [0.1, 0.9, 0.3, 0.8, 0.7, 0.2, 0.6],
        "teacher_score": [0.2, 0.1, 0.9, 0.5, 0.4, 0.8, 0.3],
        "gain": [0, 2, 0, 1, 3, 0, 0],  # q1's d is judged but outside BM25's top k: it must stay out of BM25 lists
    })


def test_run_all_trains_an_order_only_loss_on_ranks_alone():
    cells = grid_cells.selected_cells(params(losses=["ranknet", "kl"], first_stages=["bm25"], depths=[2]))
    assert [c.name for c in cells] == ["ranknet-ranks-bm25-d2", "kl-ranks-bm25-d2", "kl-scores-bm25-d2"]
    named = grid_cells.selected_cells(params(run=["ranknet-scores-bm25-d2"]))  # asked for by name: kept
    assert [c.name for c in named] == ["ranknet-scores-bm25-d2"]


def test_needed_pairs_are_the_union_of_each_stage_top_k():
    pool = pool_frame()
    got = needed_pairs(pool, {"bm25": 1, "dense": 1})
    assert sorted(zip(got.query_id, got.doc_id, strict=True)) == [("q1", "a"), ("q1", "b"), ("q2", "a"), ("q2", "e")]


def test_cell_frame_takes_the_top_k_and_nothing_else_with_rank_or_score_targets():
    pool = pool_frame()
    ranks = cell_frame(pool, Cell("ranknet", "ranks", "bm25", 2), "teacher_score", None, "none")
    # q1: BM25's top 2 are a, b (the judged d, outside BM25's lists, stays out); the teacher puts a (0.2) above b (0.1)
    assert ranks[ranks.query_id == "q1"].doc_id.tolist() == ["a", "b"]
    assert ranks[ranks.query_id == "q1"].target.tolist() == [2.0, 1.0]
    assert ranks[ranks.query_id == "q2"].set_index("doc_id").target.to_dict() == {"e": 2.0, "a": 1.0}
    scores = cell_frame(pool, Cell("ranknet", "scores", "dense", 3), "teacher_score", None, "global")
    assert scores.groupby("query_id").size().to_dict() == {"q1": 3, "q2": 2}
    assert scores.target.mean() == pytest.approx(0.0) and scores.target.std(ddof=0) == pytest.approx(1.0)
    # the ensemble teacher, global: each score standardised with fixed statistics, so a pair's target is
    # the same in every cell's list; b of q1 is in BM25's top 2 and dense's top 3, a of q2 too
    glob = fusion.Fusion({"bm25_score": 0.5, "teacher_score": 0.5}, {"bm25_score": (2.0, 1.0), "teacher_score": (0.5, 0.2)})
    bm25_cell = cell_frame(pool, Cell("ranknet", "scores", "bm25", 2), "teacher_score", glob, "none").set_index(["query_id", "doc_id"])
    dense_cell = cell_frame(pool, Cell("ranknet", "scores", "dense", 3), "teacher_score", glob, "none").set_index(["query_id", "doc_id"])
    # b: 0.5 * (2 - 2) / 1 + 0.5 * (0.1 - 0.5) / 0.2 = -1; a of q2: 0.5 * 0 + 0.5 * (0.4 - 0.5) / 0.2 = -0.25
    for cell in (bm25_cell, dense_cell):
        assert cell.target[("q1", "b")] == pytest.approx(-1.0) and cell.target[("q2", "a")] == pytest.approx(-0.25)
    # the per-query ablation: z-scores within the cell's own list, so b's target moves with its list
    per_query = fusion.Fusion({"bm25_score": 1.0, "teacher_score": 1.0})
    ens = cell_frame(pool, Cell("ranknet", "scores", "bm25", 2), "teacher_score", per_query, "none")
    q1 = ens[ens.query_id == "q1"]  # bm25 3, 2 -> z +1, -1; teacher 0.2, 0.1 -> +1, -1
    assert q1.target.tolist() == pytest.approx([2.0, -2.0])
    deep = cell_frame(pool, Cell("ranknet", "scores", "dense", 3), "teacher_score", per_query, "none").set_index(["query_id", "doc_id"])
    # dense's q1 list b, d, c: bm25 2, 0.5, 1 and teacher 0.1, 0.5, 0.9, z-scored there
    bm, te = np.array([2.0, 0.5, 1.0]), np.array([0.1, 0.5, 0.9])
    assert deep.target[("q1", "b")] == pytest.approx((bm[0] - bm.mean()) / bm.std() + (te[0] - te.mean()) / te.std())
    assert deep.target[("q1", "b")] != pytest.approx(-2.0)
    with pytest.raises(ValueError, match="no training pairs"):
        cell_frame(pool.assign(rank_bm25=0), Cell("ranknet", "ranks", "bm25", 2), "teacher_score", None, "none")


def test_teacher_pool_scores_only_what_is_not_cached():
    pairs = pool_frame()[["query_id", "doc_id", "rank_bm25"]]
    texts = pool_frame()[["query_id", "doc_id", "gain"]].assign(query="q", title="t", summary="s")
    cached = pool_frame()[["query_id", "doc_id", "teacher_score"]].iloc[:3]
    calls = []

    def score(frame):
        calls.append(len(frame))
        return np.full(len(frame), -1.0)

    pool, new = teacher_pool(pairs, texts, cached, score)
    assert new == 4 and calls == [4]
    assert pool.teacher_score.tolist() == [0.2, 0.1, 0.9, -1.0, -1.0, -1.0, -1.0]
    with pytest.raises(ValueError, match="without text"):
        teacher_pool(pairs, texts.iloc[:2], cached, score)


def test_effect_pairs_compare_cells_that_differ_in_one_axis_and_verdicts_follow_the_tests():
    cells = [parse_cell(n) for n in ("ranknet-ranks-bm25-d20", "ranknet-ranks-dense-d20", "ranknet-ranks-bm25-d10",
                                     "ranknet-ranks-bm25-d50", "adrmse-ranks-bm25-d20", "adrmse-ranks-dense-d10")]
    pairs = effect_pairs(cells)
    compared = [(a.name, b.name) for _, _, a, b in pairs]
    assert compared == [("ranknet-ranks-dense-d20", "ranknet-ranks-bm25-d20"), ("ranknet-ranks-bm25-d20", "ranknet-ranks-bm25-d10"),
                        ("ranknet-ranks-bm25-d50", "ranknet-ranks-bm25-d20"), ("adrmse-ranks-bm25-d20", "ranknet-ranks-bm25-d20")]
    rng = np.random.default_rng(1)
    base = rng.uniform(0.2, 0.6, 40)
    per = {f"s-{c.name}": pd.DataFrame({"query_id": [f"q{i}" for i in range(40)], "ndcg@5": base + rng.normal(0, 0.01, 40)}) for c in cells}
    per["s-ranknet-ranks-dense-d20"]["ndcg@5"] += 0.2  # a clear gain for the dense first stage
    per["s-ranknet-ranks-bm25-d50"]["ndcg@5"] -= 0.2  # a clear loss from depth 20 to 50
    per["random"] = per["s-ranknet-ranks-bm25-d50"].assign(**{"ndcg@5": base - 0.1 + rng.normal(0, 0.01, 40)})
    per["s-adrmse-ranks-bm25-d20"] = per["s-ranknet-ranks-bm25-d20"].copy()  # the same rankings: no difference at all
    table = rank_distillm.verdicts(pairs, per, "s").set_index("compared")
    row = table.loc["ranknet-ranks-dense-d20 vs ranknet-ranks-bm25-d20"]
    assert row["verdict"] == "holds" and row["against the paper"] == "consistent" and row["p (BH)"] >= row["p"]
    deeper = table.loc["ranknet-ranks-bm25-d50 vs ranknet-ranks-bm25-d20"]
    assert deeper["verdict"] == "fails" and deeper["Δ ndcg@5"] < 0 and deeper["against the paper"] == rank_distillm.CONTRADICTS
    assert deeper["both beat random"] == "no" and row["both beat random"] == "yes"  # d50 sits below random here
    same = table.loc["adrmse-ranks-bm25-d20 vs ranknet-ranks-bm25-d20"]
    assert np.isnan(same["p"]) and same["verdict"] == "no significant difference" and same["against the paper"] == "consistent"
    assert len(table) == 4


def test_a_first_stage_effect_whose_premise_fails_is_not_testable():
    cells = [parse_cell(n) for n in ("ranknet-ranks-bm25-d20", "ranknet-ranks-dense-d20")]
    pairs = effect_pairs(cells)
    rng = np.random.default_rng(2)
    q = [f"q{i}" for i in range(40)]
    base = rng.uniform(0.2, 0.6, 40)
    per = {"s-ranknet-ranks-bm25-d20": pd.DataFrame({"query_id": q, "ndcg@5": base}),
           "s-ranknet-ranks-dense-d20": pd.DataFrame({"query_id": q, "ndcg@5": base + 0.2 + rng.normal(0, 0.01, 40)}),
           "random": pd.DataFrame({"query_id": q, "ndcg@5": base - 0.15})}
    # the students' difference is clear, but dense-minilm ranks the test lists no better than bm25 (a +-0.01 wobble)
    firsts = {"bm25": pd.DataFrame({"query_id": q, "ndcg@5": base}),
              "dense-minilm": pd.DataFrame({"query_id": q, "ndcg@5": base + np.tile([0.01, -0.01], 20)})}
    row = rank_distillm.verdicts(pairs, {**firsts, **per}, "s").iloc[0]
    assert row["verdict"].startswith("not testable: dense-minilm does not rank the test lists better than bm25 (Δ ndcg@5 +0.000, p 1")
    assert row["against the paper"] == "" and row["Δ ndcg@5"] == pytest.approx(0.2, abs=0.01)
    assert (row["system"], row["against"]) == ("s-ranknet-ranks-dense-d20", "s-ranknet-ranks-bm25-d20")
    firsts["dense-minilm"] = firsts["dense-minilm"].assign(**{"ndcg@5": base + 0.1 + rng.normal(0, 0.01, 40)})  # the premise holds
    assert rank_distillm.verdicts(pairs, {**firsts, **per}, "s").iloc[0]["verdict"] == "holds"
    assert rank_distillm.verdicts(pairs, per, "s").iloc[0]["verdict"] == "holds"  # no first-stage rankers given: no premise read


def test_stage_rankers_score_the_lists_each_first_stage_column_orders():
    lists = pd.DataFrame({"query_id": ["q"] * 3, "doc_id": ["a", "b", "c"], "gain": [0, 3, 1],
                          "bm25_score": [3.0, 2.0, 1.0], "dense_score": [0.1, 0.9, 0.5]})
    per = rank_distillm.stage_rankers(lists, lists[["query_id", "doc_id", "gain"]])
    assert set(per) == {"bm25", "dense-minilm"}  # no no_llm_score column: no fused ranker
    assert per["dense-minilm"]["ndcg@5"].iloc[0] == pytest.approx(1.0) and per["bm25"]["ndcg@5"].iloc[0] < 1.0


def test_targets_are_compared_only_for_losses_that_read_their_values():
    cells = [parse_cell(n) for n in ("ranknet-ranks-bm25-d20", "ranknet-scores-bm25-d20", "kl-ranks-bm25-d20", "kl-scores-bm25-d20")]
    assert [(a.name, b.name) for _, _, a, b in effect_pairs(cells)] == [("kl-ranks-bm25-d20", "kl-scores-bm25-d20")]


def test_dense_first_stage_with_the_real_encoder_finds_the_matching_document():
    from distilrank import backbones, dense

    encoder = dense.load_encoder(backbones.model_path(backbones.MINILM))
    corpus = pd.DataFrame({"doc_id": ["d1", "d2", "d3"], "title": ["supersonic flow past a cone", "heat transfer in pipes", "wing flutter"],
                           "summary": ["pressure on a cone at mach 3", "laminar heat transfer", "aeroelastic flutter of wings"]})
    queries = {"q1": "heat transfer", "q2": "flow over a cone"}
    embedded, fresh = rank_distillm.embed_for_search(encoder, corpus, queries, 8, "fp32", "cpu")
    assert fresh == 3
    # a cached document is not embedded again (a planted vector proves it is the one used)
    planted = np.ones(embedded[1].shape[1], dtype=np.float32)
    again, fresh = rank_distillm.embed_for_search(encoder, corpus, queries, 8, "fp32", "cpu", {rank_distillm.document_text("wing flutter", "aeroelastic flutter of wings"): planted})
    assert fresh == 2 and np.array_equal(again[1][2], planted) and np.allclose(again[1][:2], embedded[1][:2], atol=1e-6)
    index = BM25Index([Doc(d, t, s) for d, t, s in zip(corpus.doc_id, corpus.title, corpus.summary, strict=True)], stemmer=None)
    runs = first_stage_runs(queries, index, 2, embedded, {"bm25_score": 0.5, "dense_score": 0.5})
    top = runs[runs.rank_dense == 1].set_index("query_id").doc_id.to_dict()
    assert top == {"q1": "d2", "q2": "d1"}
    # the cosine of each row is the one dense.score_frame gives the same pair
    texts = rank_distillm.pair_texts(runs, corpus, queries, pd.DataFrame(columns=["query_id", "doc_id", "gain"]))
    assert np.allclose(runs.dense_score, dense.score_frame(encoder, texts), atol=1e-5)
    assert (texts.gain == 0).all()


def test_pool_summary_by_hand():
    pool = pool_frame()
    qrels = pd.DataFrame({"query_id": ["q1", "q1", "q2"], "doc_id": ["b", "z", "a"], "gain": [2, 1, 3]})
    table = rank_distillm.pool_summary(pool, [("bm25", 2), ("dense", 2)], qrels)
    # bm25 top 2: q1 {a, b} holds b (1 of q1's 2 judged), q2 {e, a} holds a (1 of 1)
    assert table.loc["bm25 top 2", "relevant per query"] == 1.0
    assert table.loc["bm25 top 2", "recall of judged"] == pytest.approx((0.5 + 1.0) / 2)
    # dense top 2: q1 {b, d} shares b with bm25's {a, b}; q2 {a, f} shares a with {e, a}
    assert table.loc["dense top 2", "shared with bm25 top k"] == pytest.approx(0.5)
    assert table.loc["dense top 2", "pairs"] == 4


def test_a_verdict_reads_against_the_paper_by_direction():
    assert rank_distillm.against_paper("holds", "holds") == "consistent"
    assert rank_distillm.against_paper("no significant difference", "holds") == "inconclusive"
    assert rank_distillm.against_paper("fails", "holds") == rank_distillm.CONTRADICTS
    assert rank_distillm.against_paper("holds", "no significant difference").startswith("contradicts, on one training seed")
    assert rank_distillm.against_paper("no significant difference", "no significant difference") == "consistent"
    assert rank_distillm.against_paper("holds", "not reported") == ""


def _summary(value: float) -> pd.DataFrame:
    return pd.DataFrame({"value": [value], "ci_low": [value - 0.05], "ci_high": [value + 0.05]}, index=pd.Index(["ndcg@5"], name="metric"))


def test_plot_grid_draws_a_depth_curve_only_when_there_are_depths_to_compare():
    import matplotlib

    matplotlib.use("Agg")
    one_depth = [parse_cell("ranknet-ranks-bm25-d20"), parse_cell("adrmse-ranks-bm25-d20")]
    two_depths = [*one_depth, parse_cell("ranknet-ranks-bm25-d50")]
    assert not rank_distillm.has_depth_curve(one_depth) and rank_distillm.has_depth_curve(two_depths)
    summary = {"oracle": _summary(0.82), "bm25": _summary(0.51), "random": _summary(0.11),
               **{f"bert6-{c.name}": _summary(0.35) for c in two_depths}}
    refs = {"bm25": "bm25", "random": "random"}
    fig = rank_distillm.plot_grid(summary, one_depth, "bert6", refs, [10, 20, 50])
    assert len(fig.axes) == 1 and [t.get_text() for t in fig.axes[0].get_yticklabels()] == [
        "bert6-ranknet-ranks-bm25-d20", "bert6-adrmse-ranks-bm25-d20"]  # one row per student, not a panel per point
    assert "no depth curve" in fig._suptitle.get_text()
    assert {t.get_text() for t in fig.legends[0].get_texts()} == {"grid student (95% CI)", "bm25", "random"}
    fig = rank_distillm.plot_grid(summary, two_depths, "bert6", refs, [10, 20, 50])
    assert [ax.get_title() for ax in fig.axes] == ["ranknet / ranks", "adrmse / ranks"] and fig.axes[0].get_xscale() == "log"


def test_notebook_07s_tables_and_sentences():
    p = params(run=["adrmse-scores-fused-d3", "ranknet-ranks-bm25-d2"])
    cells = grid_cells.selected_cells(p)
    table = rank_distillm.cell_table(cells, "bert6")
    assert table.index.tolist() == ["bert6-adrmse-scores-fused-d3", "bert6-ranknet-ranks-bm25-d2"]
    assert table.loc["bert6-adrmse-scores-fused-d3"].tolist() == ["adrmse", "scores", "fused", 3]
    assert rank_distillm.grid_sentence(p, cells, 7).startswith("2 of the grid's ") and "7 training queries; 2 steps x " in rank_distillm.grid_sentence(p, cells, 7)
    transfer = {"train": pd.DataFrame({"query_id": ["q1", "q1", "q2"], "query": ["a", "a", "b"]})}
    assert rank_distillm.training_queries(transfer) == {"q1": "a", "q2": "b"}
    fitted = {"teacher-ensemble": fusion.Fusion({"bm25_score": 1.0}).to_dict(),
              "bm25+dense-minilm": fusion.Fusion({"bm25_score": 0.3, "dense_score": 0.7}).to_dict()}
    assert rank_distillm.teacher_fusion(fitted, "llm") is None and rank_distillm.teacher_fusion(fitted, "ensemble").weights == {"bm25_score": 1.0}
    assert rank_distillm.fused_weights(fitted) == {"bm25_score": 0.3, "dense_score": 0.7}


def test_evaluate_grid_brackets_the_students_and_tests_them_against_the_reference():
    rng = np.random.default_rng(0)
    test = pd.DataFrame({"query_id": np.repeat([f"q{i}" for i in range(8)], 4), "doc_id": [f"d{i}" for i in range(32)],
                         "gain": np.tile([2, 1, 0, 0], 8)})
    perfect, reversed_ = -(np.arange(32) % 4) * 1.0, np.arange(32) % 4 * 1.0  # the list's own order, and its reverse
    test = test.assign(teacher=perfect)
    scores = {"teacher": perfect, "ref": perfect + rng.normal(0, 0.01, 32), "good": perfect, "bad": reversed_}
    ev = rank_distillm.evaluate_grid(test, test[["query_id", "doc_id", "gain"]], scores, ["good", "bad"], teacher="teacher",
                                     teacher_column="teacher", reference="ref", n_resamples=50, seed=0)
    assert list(ev.table.index) == ["random", "teacher", "ref", "good", "bad", "oracle"]
    assert ev.table.loc["good", "ndcg@5"].startswith("1.000") and ev.table.loc["good", "τ with teacher"] == pytest.approx(1.0)
    assert ev.table.loc["bad", "τ with teacher"] == pytest.approx(-1.0) and not ev.table.loc["bad", "beats random"]
    assert ev.table.loc["good", "Δ ndcg@5 vs ref"] == pytest.approx(0.0) and ev.table.loc["bad", "Δ ndcg@5 vs ref"] == pytest.approx(
        (1 / np.log2(4) + 2 / np.log2(5)) / (2 + 1 / np.log2(3)) - 1)  # reversed: gain 1 third, gain 2 fourth; ref is perfect
    assert ev.table.loc["bad", "p (BH)"] < 0.05 and np.isnan(ev.table.loc["teacher", "p (BH)"])  # only the grid is tested
