import numpy as np
import pandas as pd
import pytest
import torch
from transformers import LlamaConfig, LlamaModel

from distilrank.losses import RankNet
from distilrank.rankers import LastTokenScorer, score_pairs
from distilrank.training import (
    Group,
    GroupCollator,
    budget_groups,
    groups_from_frame,
    sample_groups,
    train_groups,
)


def test_groups_from_frame_groups_rows_by_query():
    df = pd.DataFrame({"query_id": ["a", "a", "b", "a"], "gain": [1, 0, 2, 3]})
    groups = groups_from_frame(df, [[1], [2], [3], [4]])
    assert [(g.sequences, g.targets) for g in groups] == [([[1], [2], [4]], [1.0, 0.0, 3.0]), ([[3]], [2.0])]


def test_sample_groups_keeps_an_ordered_pair_and_is_seeded():
    g = Group([[i] for i in range(10)], [1.0] + [0.0] * 9)
    sampled = sample_groups([g, Group([[0]], [1.0])], group_size=3, epochs=4, seed=0)
    assert len(sampled) == 4  # the single-candidate group is dropped
    assert all(len(s.sequences) == 3 and max(s.targets) == 1.0 for s in sampled)
    again = sample_groups([g, Group([[0]], [1.0])], group_size=3, epochs=4, seed=0)
    assert [s.sequences for s in sampled] == [s.sequences for s in again]


def test_budget_groups_by_steps_repeats_passes_and_cuts():
    groups = [Group([[i], [i + 1]], [1.0, 0.0]) for i in range(3)] + [Group([[9]], [1.0])]
    out = budget_groups(groups, 2, seed=0, steps=4, groups_per_step=2)
    assert len(out) == 8  # 3 usable groups: three passes, cut at 8
    assert [g.sequences for g in out] == [g.sequences for g in budget_groups(groups, 2, seed=0, steps=4, groups_per_step=2)]
    assert len(budget_groups(groups, 2, seed=0, epochs=2)) == 6
    with pytest.raises(ValueError, match="exactly one"):
        budget_groups(groups, 2, seed=0, epochs=1, steps=1)
    with pytest.raises(ValueError, match="no group"):
        budget_groups(groups[3:], 2, seed=0, steps=1)


def test_collator_pads_groups_and_marks_padding():
    batch = GroupCollator(pad_id=0)([Group([[5, 6], [7]], [1.0, 0.0]), Group([[8]], [2.0])])
    assert batch["input_ids"].shape == (4, 2)
    assert batch["mask"].tolist() == [[True, True], [True, False]]
    assert batch["targets"].tolist() == [[1.0, 0.0], [2.0, 0.0]]


def _tiny_model(seed):
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                      num_key_value_heads=2, intermediate_size=32, pad_token_id=0)
    return LastTokenScorer(LlamaModel(cfg))


def _train_and_score(tmp_path, seed):
    rng = np.random.default_rng(0)
    groups = [Group([list(rng.integers(1, 40, 6)) for _ in range(4)], [2.0, 1.0, 0.0, 0.0]) for _ in range(6)]
    model = _tiny_model(seed)
    train_groups(model, sample_groups(groups, 4, 2, seed), RankNet(), 0, output_dir=str(tmp_path / str(seed)),
                 lr=1e-2, groups_per_step=2, seed=seed, device="cpu")
    return score_pairs(model, [g for grp in groups for g in grp.sequences], 0), groups


def test_same_seed_same_scores_and_training_learns(tmp_path):
    a, groups = _train_and_score(tmp_path, seed=3)
    b, _ = _train_and_score(tmp_path, seed=3)
    np.testing.assert_array_equal(a, b)
    # the trained model orders the first (gain 2) candidate above the gain-0 ones more often than not
    s = a.reshape(len(groups), 4)
    assert (s[:, 0] > s[:, 2:].max(axis=1)).mean() >= 0.5


def test_steps_to_reach_extrapolates_a_log_linear_curve():
    from distilrank.training import steps_to_reach

    # dev ndcg@5 = 0.1 * log(step): reaches 0.5 at exp(5) steps
    curve = [{"step": s, "dev ndcg@5": 0.1 * np.log(s)} for s in (10, 50, 100)]
    assert steps_to_reach(curve, 0.5) == pytest.approx(np.exp(5), rel=1e-6)
    assert steps_to_reach(curve, 0.4) == 100  # already reached (0.1 * log(100) = 0.46): the first such step
    flat = [{"step": s, "dev ndcg@5": 0.3 - 0.01 * s} for s in (10, 20)]
    assert steps_to_reach(flat, 0.5) is None
    assert steps_to_reach(curve[:1], 0.5) is None


def test_training_runs_in_fp32_and_bf16_and_both_learn(tmp_path):
    """A profile forced to fp32 (a CPU without bf16) and one in bf16 autocast train the same model;
    both learn, and their scores agree closely (bf16 keeps fp32 master weights)."""
    rng = np.random.default_rng(0)
    groups = [Group([list(rng.integers(1, 40, 6)) for _ in range(4)], [2.0, 1.0, 0.0, 0.0]) for _ in range(6)]
    seqs = [g for grp in groups for g in grp.sequences]
    out = {}
    for prec in ("fp32", "bf16"):
        model = _tiny_model(5)
        train_groups(model, sample_groups(groups, 4, 2, 5), RankNet(), 0, output_dir=str(tmp_path / prec),
                     lr=1e-2, groups_per_step=2, seed=5, device="cpu", precision=prec)
        out[prec] = score_pairs(model, seqs, 0, precision=prec)
        assert out[prec].dtype == np.float32 and np.isfinite(out[prec]).all()
        s = out[prec].reshape(len(groups), 4)
        assert (s[:, 0] > s[:, 2:].max(axis=1)).mean() >= 0.5
    assert np.corrcoef(out["fp32"], out["bf16"])[0, 1] > 0.9


def test_curve_rows_pick_a_fixed_seeded_subset_of_dev_queries():
    from distilrank.training import curve_rows

    dev = pd.DataFrame({"query_id": list("aabbccdd"), "doc_id": list("xyxyxyxy")})
    assert curve_rows(dev, None, 0).all() and curve_rows(dev, 4, 0).all() and curve_rows(dev, 9, 0).all()
    rows = curve_rows(dev, 2, seed=1)
    assert rows.sum() == 4 and dev[rows].query_id.nunique() == 2  # whole lists, two queries
    np.testing.assert_array_equal(rows, curve_rows(dev, 2, seed=1))
