from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import LlamaConfig, LlamaModel

from distilrank.losses import RankNet
from distilrank.rankers import LastTokenScorer
from distilrank.stages import curriculum
from distilrank.stages.curriculum import (
    Curriculum,
    RoundBoundary,
    WeightedGroups,
    curriculum_weights,
    difficulty_pool,
    hard_half,
    hard_share_schedule,
    query_difficulty,
    rebalance_weights,
    task_clusters,
)
from distilrank.training import Group, train_groups


def test_difficulty_is_half_one_minus_kendall_tau():
    df = pd.DataFrame({"query_id": ["a"] * 3 + ["b"] * 3 + ["c"] * 3 + ["d"],
                       "teacher": [3, 2, 1, 3, 2, 1, 3, 2, 1, 5],
                       "student": [9, 5, 1, 1, 5, 9, 5, 9, 1, 0]})
    d = query_difficulty(df, "student", "teacher")
    assert d["a"] == pytest.approx(0.0)  # same order
    assert d["b"] == pytest.approx(1.0)  # reversed
    assert d["c"] == pytest.approx((1 - 1 / 3) / 2)  # one of three pairs swapped: tau = 1/3
    assert np.isnan(d["d"])  # a single candidate: no order to disagree on
    # restricted to the teacher's top 2 of query c: (3, 2) scored (5, 9) by the student: reversed
    assert query_difficulty(df, "student", "teacher", depth=2)["c"] == pytest.approx(1.0)


def test_task_clusters_separate_obvious_groups():
    emb = np.array([[0, 0], [0, 0.1], [10, 10], [10, 10.1]], dtype=float)
    km = task_clusters(emb, 2, seed=0)
    assert km.labels_[0] == km.labels_[1] != km.labels_[2] == km.labels_[3]
    assert km.predict(np.array([[9.0, 9.0]]))[0] == km.labels_[2]
    with pytest.raises(ValueError, match="k must be"):
        task_clusters(emb, 5, seed=0)


def test_rebalance_gives_each_category_its_share():
    np.testing.assert_allclose(rebalance_weights(np.array([0, 0, 0, 1])), [1 / 6, 1 / 6, 1 / 6, 1 / 2])
    np.testing.assert_allclose(rebalance_weights(np.array([0, 0, 0, 1]), strength=np.array([1.0, 3.0])), [1 / 12, 1 / 12, 1 / 12, 3 / 4])
    with pytest.raises(ValueError):
        rebalance_weights(np.array([0, 1]), strength=np.array([0.0, 0.0]))


def test_hard_share_schedule_rises_after_the_warm_up_round():
    assert hard_share_schedule(3, 0.5, 0.8) == pytest.approx([0.5, 0.8])
    assert hard_share_schedule(4, 0.6, 0.9) == pytest.approx([0.6, 0.75, 0.9])
    assert hard_share_schedule(1, 0.5, 0.8) == []
    with pytest.raises(ValueError):
        hard_share_schedule(2, 0.5, 1.5)


def test_curriculum_weights_give_hard_queries_their_share():
    w = curriculum_weights(np.array([0.1, 0.2, 0.8, 0.9]), np.ones(4), 0.8)
    np.testing.assert_allclose(w, [0.1, 0.1, 0.4, 0.4])
    # known difficulties 0.1, 0.8, 0.9: median 0.8, so only 0.9 is hard; unknown counts as not hard;
    # the easy half of the mass is split by the base weights 1 : 3 : 1
    w = curriculum_weights(np.array([0.1, np.nan, 0.8, 0.9]), np.array([1.0, 3.0, 1.0, 1.0]), 0.5)
    np.testing.assert_allclose(w, [0.1, 0.3, 0.1, 0.5])
    # ties are split by a seeded shuffle: one of two equally hard queries is the hard half
    tied = curriculum_weights(np.array([0.3, 0.3]), np.array([1.0, 1.0]), 0.9, seed=1)
    np.testing.assert_allclose(sorted(tied), [0.1, 0.9])
    np.testing.assert_array_equal(tied, curriculum_weights(np.array([0.3, 0.3]), np.array([1.0, 1.0]), 0.9, seed=1))
    np.testing.assert_allclose(curriculum_weights(np.array([np.nan, 0.3]), np.array([1.0, 3.0]), 0.9), [0.25, 0.75])  # one known: no half


def _groups(n=4):
    return [Group([[i + 1], [i + 2], [i + 3]], [2.0, 1.0, 0.0], f"q{i}") for i in range(n)]


def test_weighted_groups_are_seeded_follow_the_weights_and_can_change():
    wg = WeightedGroups(_groups(), n=200, group_size=2, seed=3, weights=np.array([0, 1, 0, 1.0]))
    drawn = [wg[i] for i in range(len(wg))]
    assert len(wg) == 200 and {g.query_id for g in drawn} == {"q1", "q3"}
    assert all(len(g.sequences) == 2 and max(g.targets) > min(g.targets) for g in drawn)
    assert [g.sequences for g in drawn] == [wg[i].sequences for i in range(200)]  # seeded by index
    wg.set_weights(np.array([1.0, 0, 0, 0]))
    assert {wg[i].query_id for i in range(50)} == {"q0"}
    with pytest.raises(IndexError):
        wg[200]
    with pytest.raises(ValueError, match="weights"):
        wg.set_weights(np.zeros(4))
    with pytest.raises(ValueError, match="two candidates"):
        WeightedGroups([Group([[1]], [1.0], "x")], 1, 2, 0)


def test_round_boundary_fires_between_rounds_only():
    seen = []
    cb = RoundBoundary(every=3, rounds=3, on_round=lambda m, r: seen.append(r))
    model = torch.nn.Linear(1, 1)
    for step in range(1, 10):
        cb.on_step_end(None, SimpleNamespace(global_step=step), None, model=model)
    assert seen == [1, 2]  # after steps 3 and 6; not after 9, the end of the last round


def test_difficulty_pool_keeps_the_teachers_top_candidates_in_order():
    df = pd.DataFrame({"query_id": ["a", "a", "a", "b", "b"], "doc_id": list("xyzuv"), "t": [1.0, 3.0, 2.0, 0.0, 5.0]})
    assert difficulty_pool(df, "t", 2).doc_id.tolist() == ["y", "z", "u", "v"]


def test_a_curriculum_reweights_between_rounds_inside_the_unchanged_loop(tmp_path):
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                      num_key_value_heads=2, intermediate_size=32, pad_token_id=0)
    model = LastTokenScorer(LlamaModel(cfg))
    groups = _groups(4)
    pool = pd.DataFrame({"query_id": [g.query_id for g in groups for _ in g.targets],
                         "target": [t for g in groups for t in g.targets]})
    # the "student" reverses the teacher on q2 and q3 only: those are the hard queries
    scores = np.concatenate([[2.0, 1.0, 0.0], [2.0, 1.0, 0.0], [0.0, 1.0, 2.0], [0.0, 1.0, 2.0]])
    plan = Curriculum(base=pd.Series(0.25, index=[f"q{i}" for i in range(4)]), rounds=2, hard_shares=[0.9], pool=pool)
    steps = 6
    sampled = plan.sampler(steps, group_size=3, groups_per_step=1, seed=0)(groups)
    train_groups(model, sampled, RankNet(), 0, output_dir=str(tmp_path), lr=1e-2, groups_per_step=1, seed=0,
                 device="cpu", callbacks=plan.callbacks(steps, 1, lambda m: scores))
    assert [h["round"] for h in plan.history] == [1, 2] and plan.history[1]["step"] == 3
    np.testing.assert_allclose(plan.groups.weights, [0.05, 0.05, 0.45, 0.45])
    assert plan.difficulty[1]["q2"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="pool"):
        Curriculum(base=plan.base, rounds=2, hard_shares=[0.9])


def test_four_plans_and_the_cluster_table():
    from distilrank.stages.curriculum import cluster_table, four_plans

    cats = pd.Series([0, 0, 0, 1], index=["q0", "q1", "q2", "t3"])
    pool = pd.DataFrame({"query_id": ["q0", "q0"], "target": [1.0, 0.0]})
    plans = four_plans(cats, pool, rounds=3, hard_shares=[0.6, 0.8])
    assert list(plans) == ["uniform", "rebalanced", "curriculum", "curriculum-rebalanced"]
    np.testing.assert_allclose(plans["uniform"].base, 0.25)
    np.testing.assert_allclose(plans["rebalanced"].base, [1 / 6, 1 / 6, 1 / 6, 1 / 2])
    assert plans["uniform"].rounds == 1 and plans["curriculum"].rounds == 3
    assert plans["curriculum-rebalanced"].categories is cats
    table = cluster_table(pd.DataFrame({"query_id": cats.index, "query": ["a", "b", "c", "d"], "category": cats.values}), 2, 0)
    assert table.loc[0, "training queries"] == 3 and table.loc[1, "pseudo-queries"] == 1
    assert len(table.loc[0, "examples"].split(" | ")) == 2


def test_curriculum_rebalanced_rounds_favour_the_hardest_category(tmp_path):
    groups = _groups(4)
    pool = pd.DataFrame({"query_id": [g.query_id for g in groups for _ in g.targets],
                         "target": [t for g in groups for t in g.targets]})
    scores = np.concatenate([[2.0, 1.0, 0.0], [2.0, 1.0, 0.0], [0.0, 1.0, 2.0], [2.0, 1.0, 0.0]])  # only q2 is hard
    cats = pd.Series([0, 0, 1, 1], index=[f"q{i}" for i in range(4)])
    plan = Curriculum(base=pd.Series(rebalance_weights(cats.to_numpy()), index=cats.index), rounds=2, hard_shares=[0.5],
                      pool=pool, categories=cats)
    plan.sampler(4, 3, 1, seed=0)(groups)
    (boundary,) = plan.callbacks(4, 1, lambda m: scores)
    boundary.on_step_end(None, SimpleNamespace(global_step=2), None, model=torch.nn.Linear(1, 1))
    # category difficulty 0 for {q0, q1}, 0.5 for {q2, q3}: shares half equal (0.5, 0.5), half by
    # difficulty (0, 1): 0.25 and 0.75, split evenly inside each category
    base = np.array([0.125, 0.125, 0.375, 0.375])
    difficulty = np.array([0.0, 0.0, 1.0, 0.0])
    hard = hard_half(difficulty, seed=1)  # q2 and one of the three tied at 0 (seeded)
    assert hard.sum() == 2 and hard[2]
    expected = np.where(hard, 0.5 * base / base[hard].sum(), 0.5 * base / base[~hard].sum())
    np.testing.assert_allclose(plan.groups.weights, expected)
    assert plan.history[1]["draws in category 1"] == pytest.approx(expected[2:].sum())


def test_train_plans_trains_every_plan_with_every_seed_and_fresh_plans(tmp_path, monkeypatch):
    import transformers

    import distilrank.rankers as rankers_mod
    import distilrank.stages.curriculum as cur_mod
    import distilrank.training as training_mod

    calls = []

    def fake_train_system(model, tok, df, params, frames, *, seed, scores_to, sampler, callbacks, steps, **_):
        groups = sampler([Group([[1], [2]], [1.0, 0.0], "a"), Group([[3], [4]], [0.0, 1.0], "b")])
        calls.append({"seed": seed, "cache": scores_to.name, "frames": sorted(frames), "eval_every": params.eval_every,
                      "draws": len(groups), "rounds": len(callbacks)})
        return SimpleNamespace(scores={k: np.zeros(len(v)) for k, v in frames.items()}, history=[{"step": steps}] if "dev" in frames else [])

    monkeypatch.setattr(training_mod, "train_system", fake_train_system)
    monkeypatch.setattr(rankers_mod, "cross_encoder", lambda start, pooling: None)
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", staticmethod(lambda start: None))
    made = []

    def make():
        base = pd.Series([0.5, 0.5], index=["a", "b"])
        plans = {"uniform": Curriculum(base), "curriculum": Curriculum(base, 2, [0.7], pool=pd.DataFrame({"query_id": ["a"], "target": [1.0]}))}
        made.append(plans)
        return plans

    params = SimpleNamespace(eval_every=2, pooling="mean", group_size=2, groups_per_step=1, max_len=8, batch_size=4,
                             model_copy=lambda update: SimpleNamespace(**{**vars(params), **update}))
    frame = pd.DataFrame({"query_id": ["a"], "doc_id": ["x"]})
    runs, plans = cur_mod.train_plans(make, frame, params, {"dev": frame, "test": frame}, start="unused", loss_fn=None, steps=4,
                                      seeds=[13, 14], pool=frame, scores_dir=tmp_path, work_dir=str(tmp_path), qrels=frame,
                                      device="cpu", precision="fp32")
    assert list(runs) == ["bert6-uniform", "bert6-curriculum"] and all(len(r) == 2 for r in runs.values())
    # first seed: the plain cache, dev scored (the curve); a further seed: `@seed<k>`, no dev, no curve
    assert [(c["seed"], c["cache"], c["frames"], c["eval_every"]) for c in calls] == [
        (13, "bert6-uniform", ["dev", "test"], 2), (13, "bert6-curriculum", ["dev", "test"], 2),
        (14, "bert6-uniform@seed14", ["test"], 0), (14, "bert6-curriculum@seed14", ["test"], 0)]
    assert [c["draws"] for c in calls] == [4] * 4 and [c["rounds"] for c in calls] == [0, 1, 0, 1]
    assert len(made) == 2 and made[0] is not made[1] and plans is made[0]  # fresh plans per seed; the first seed's come back


def test_category_names_pick_the_words_particular_to_each_category():
    queries = pd.DataFrame({"query": ["heat transfer in slabs of flow", "heat conduction slabs", "shock waves on cones", "shock waves in nozzles flow"],
                            "category": [0, 0, 1, 1]})
    # heat and slabs: twice in category 0 and nowhere else (score 2); flow: once in each (1 x 1/2, below every word of one category)
    assert curriculum.category_names(queries) == {0: "0 · heat, slabs, conduction", 1: "1 · shock, waves, cones"}
    assert curriculum.category_names(queries, n_terms=1) == {0: "0 · heat", 1: "1 · shock"}
    forms = pd.DataFrame({"query": ["flows in pipes", "flow in pipes", "flow past wings", "shock waves"], "category": [0, 0, 0, 1]})
    # flow and flows are one word (3 in category 0, named by its commoner form); pipes 2
    assert curriculum.category_names(forms, n_terms=2)[0] == "0 · flow, pipes"


def test_plot_categories_names_the_categories_and_keeps_the_legend_outside():
    import matplotlib

    matplotlib.use("Agg")
    by_cat = pd.DataFrame({"bm25": [0.5, 0.4], "bert6-uniform": [0.3, 0.2]}, index=["0 · heat, slabs", "1 · shock, waves"])
    curve = pd.DataFrame({"system": ["bert6-uniform"] * 2, "step": [1, 2], "dev ndcg@5": [0.2, 0.3]})
    fig = curriculum.plot_categories(by_cat, curve, [1])
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["1 · shock, waves", "0 · heat, slabs"]  # the first category on top
    assert fig.axes[0].get_legend() is None and fig.axes[1].get_legend() is None
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["bm25", "bert6-uniform"]
    fig = curriculum.plot_categories(by_cat.assign(random=[0.1, 0.12]), curve, [1], dev_random=0.08)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["bm25", "bert6-uniform", "random (test, per category)",
                                                                  "random (dev, the curve's queries)"]
    assert len(fig.axes[0].patches) == 4  # random is a tick, not a bar


def test_training_frame_uses_notebook_04s_normaliser(tmp_path):
    import json

    (tmp_path / "students").mkdir()
    (tmp_path / "students" / "teacher_normaliser.json").write_text(json.dumps({"method": "global", "mean": 1.0, "std": 2.0}))
    lists = pd.DataFrame({"query_id": ["q", "q"], "doc_id": ["a", "b"], "teacher_score": [3.0, 1.0], "source": ["bm25", "bm25"]})
    df = curriculum.training_frame({"train": lists}, 0, tmp_path, seed=0, column="teacher_score")
    assert df.sort_values("doc_id")["target"].tolist() == [1.0, 0.0]  # (3 - 1) / 2 and (1 - 1) / 2: the saved statistics, not refitted
    cur = SimpleNamespace(steps=90, rounds=3, seeds=2, max_len=None)
    text = curriculum.budget_sentence(df, SimpleNamespace(groups_per_step=1, group_size=8), cur, "len64")
    assert text == "1 training groups (2 pairs); 90 steps x 1 x 8 pairs per student and seed at len64; 3 rounds; 2 seeds"
