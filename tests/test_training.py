import numpy as np
import pandas as pd
import pytest
import torch
from transformers import LlamaConfig, LlamaModel, TrainerCallback

from distilrank import metrics
from distilrank.losses import RankNet
from distilrank.rankers import LastTokenScorer, score_pairs
from distilrank.sampling import pick_queries
from distilrank.training import (
    Group,
    GroupCollator,
    budget_groups,
    curve_rows,
    dev_references,
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


def _groups():
    rng = np.random.default_rng(0)
    return [Group([list(rng.integers(1, 40, 6)) for _ in range(4)], [2.0, 1.0, 0.0, 0.0]) for _ in range(6)]


def _train_and_score(tmp_path, seed):
    groups = _groups()
    model = _tiny_model(seed)
    train_groups(model, sample_groups(groups, 4, 2, seed), RankNet(), 0, output_dir=str(tmp_path / str(seed)),
                 lr=1e-2, groups_per_step=2, seed=seed, device="cpu")
    return score_pairs(model, [g for grp in groups for g in grp.sequences], 0), groups


def _pair_accuracy(scores: np.ndarray, groups) -> float:
    """The share of each group's pairs of differing target that `scores` order as the targets do."""
    s, right, total = scores.reshape(len(groups), -1), 0, 0
    for row, g in zip(s, groups, strict=True):
        for i in range(len(g.targets)):
            for j in range(len(g.targets)):
                if g.targets[i] > g.targets[j]:
                    right, total = right + (row[i] > row[j]), total + 1
    return right / total


def test_same_seed_same_scores_and_training_learns(tmp_path):
    a, groups = _train_and_score(tmp_path, seed=3)
    b, _ = _train_and_score(tmp_path, seed=3)
    np.testing.assert_array_equal(a, b)
    # training learns: the same model before training (same seed, same initialisation) orders far fewer pairs right
    before = score_pairs(_tiny_model(3), [x for grp in groups for x in grp.sequences], 0)
    assert _pair_accuracy(a, groups) >= _pair_accuracy(before, groups) + 0.2 and _pair_accuracy(a, groups) >= 0.8


def test_steps_to_reach_extrapolates_a_log_linear_curve():
    from distilrank.training import steps_to_reach

    # dev ndcg@5 = 0.1 * log(step): reaches 0.5 at exp(5) steps
    curve = [{"step": s, "dev ndcg@5": 0.1 * np.log(s)} for s in (10, 50, 100)]
    assert steps_to_reach(curve, 0.5) == pytest.approx(np.exp(5), rel=1e-6)
    assert steps_to_reach(curve, 0.4) == 100  # already reached (0.1 * log(100) = 0.46): the first such step
    flat = [{"step": s, "dev ndcg@5": 0.3 - 0.01 * s} for s in (10, 20)]
    assert steps_to_reach(flat, 0.5) is None
    assert steps_to_reach(curve[:1], 0.5) is None
    # a steep start then a plateau below 0.495: the line crosses it at about 197 steps, inside the
    # measured 250, though no point reached it: no estimate, not "197 steps"
    pts = ((50, 0.10), (100, 0.45), (150, 0.47), (200, 0.48), (250, 0.49))
    slope, intercept = np.polyfit(np.log([s for s, _ in pts]), [v for _, v in pts], 1)
    assert 150 < np.exp((0.495 - intercept) / slope) < 250
    assert steps_to_reach([{"step": s, "dev ndcg@5": v} for s, v in pts], 0.495) is None


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
        assert _pair_accuracy(out[prec], groups) >= 0.8  # an untrained scorer orders about half the pairs right
    assert np.corrcoef(out["fp32"], out["bf16"])[0, 1] > 0.9


def test_curve_rows_pick_a_fixed_seeded_subset_of_dev_queries():
    from distilrank.training import curve_rows

    dev = pd.DataFrame({"query_id": list("aabbccdd"), "doc_id": list("xyxyxyxy")})
    assert curve_rows(dev, None, 0).all() and curve_rows(dev, 4, 0).all() and curve_rows(dev, 9, 0).all()
    rows = curve_rows(dev, 2, seed=1)
    assert rows.sum() == 4 and dev[rows].query_id.nunique() == 2  # whole lists, two queries
    np.testing.assert_array_equal(rows, curve_rows(dev, 2, seed=1))


def test_bf16_cached_scores_are_reproduced_at_their_precision_and_agree_in_rank_with_fp32(tmp_path):
    """A tiny cross-encoder trained and scored in bf16 (emulated where the CPU lacks it: a few seconds)
    caches its scores with their precision; the saved model, reloaded, reproduces them at that
    precision to 1e-4, and rescored in fp32 it orders each query's candidates alike (mean per-query
    Kendall tau >= 0.9; raw fp32 and bf16 scores differ by more than 1e-4)."""
    from types import SimpleNamespace

    from transformers import AutoModelForSequenceClassification, AutoTokenizer, BertConfig

    from distilrank.backbones import model_path
    from distilrank.metrics import rank_agreement
    from distilrank.rankers import load_ranker, load_scores, score_candidates, scores_precision
    from distilrank.training import train_system

    tok = AutoTokenizer.from_pretrained(model_path("minilm-l6"))
    words = ["wing", "flutter", "shock", "wave", "boundary", "layer", "heat", "transfer", "supersonic", "flow", "cone", "plate",
             "buckling", "shell", "pressure", "laminar", "turbulent", "jet", "nozzle"]
    rng = np.random.default_rng(0)
    rows = []
    for q in range(6):
        query = rng.choice(words, 3, replace=False)
        for d in range(8):
            doc = rng.choice(words, 6, replace=False)
            rows.append({"query_id": f"q{q}", "doc_id": f"d{q}-{d}", "query": " ".join(query), "title": " ".join(doc[:2]),
                         "summary": " ".join(doc[2:]), "gain": len(set(query) & set(doc))})
    df = pd.DataFrame(rows)
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_config(BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2,
                                                                      num_attention_heads=2, intermediate_size=64, num_labels=1))
    params = SimpleNamespace(max_len=32, batch_size=8, groups_per_step=2, group_size=4, epochs=1, curve_queries=None, loss="ranknet",
                             lr=1e-2, eval_every=0)
    train_system(model, tok, df, params, {"test": df}, seed=0, device="cpu", work_dir=str(tmp_path / "work"), save_to=tmp_path / "model",
                 scores_to=tmp_path / "scores", steps=16, precision="bf16")
    assert scores_precision(tmp_path / "scores") == "bf16"
    cached = load_scores(tmp_path / "scores", "test", df)
    reloaded, reloaded_tok = load_ranker(tmp_path / "model")
    at_cache = score_candidates(reloaded, reloaded_tok, df, params.max_len, params.batch_size, "cpu", precision=scores_precision(tmp_path / "scores"))
    np.testing.assert_allclose(at_cache, cached, atol=1e-4)
    fp32 = score_candidates(reloaded, reloaded_tok, df, params.max_len, params.batch_size, "cpu", precision="fp32")
    gap = np.abs(fp32 - cached).max()
    assert cached.std() > 10 * gap, "the scores must separate candidates well beyond bf16's rounding for rank agreement to mean anything"
    assert rank_agreement(df.assign(fp32=fp32, bf16=cached), "fp32", "bf16") >= 0.9


def _tiny_student(seed):
    from distilrank.student_head import MeanPoolConfig, MeanPoolCrossEncoder

    torch.manual_seed(seed)
    return MeanPoolCrossEncoder(MeanPoolConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                               intermediate_size=32, num_labels=1))


def _toy_groups(n):
    rng = np.random.default_rng(0)
    return [Group([list(rng.integers(1, 40, 6)) for _ in range(4)], [2.0, 1.0, 0.0, 0.0]) for _ in range(n)]


class _LrLog(TrainerCallback):
    """Each step's learning rate per parameter group (read before the step), and the last one."""

    def __init__(self):
        self.steps, self.end = [], None

    def on_step_begin(self, args, state, control, optimizer=None, **kwargs):
        self.steps.append([g["lr"] for g in optimizer.param_groups])

    def on_train_end(self, args, state, control, lr_scheduler=None, **kwargs):
        self.end = lr_scheduler.get_last_lr()


def test_head_lr_alone_moves_only_the_head(tmp_path):
    model = _tiny_student(0)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    _, steps = train_groups(model, _toy_groups(2), RankNet(), 0, output_dir=str(tmp_path), lr=0.0, head_lr=1e-2,
                            schedule="constant", warmup=0.0, groups_per_step=2, seed=0, device="cpu")
    assert steps == 1
    assert {n for n, p in model.named_parameters() if not torch.equal(p, before[n])} == {"score.weight", "score.bias"}


@pytest.mark.parametrize("schedule", ["linear", "cosine", "constant"])
def test_schedule_after_warmup_scales_body_and_head_rates(tmp_path, schedule):
    n, warm, lr, head_lr = 10, 2, 1e-3, 1e-2  # warmup=0.2 of 10 steps

    def factor(k):
        if k < warm:
            return k / warm
        return {"linear": (n - k) / (n - warm), "cosine": 0.5 * (1 + np.cos(np.pi * (k - warm) / (n - warm))),
                "constant": 1.0}[schedule]

    log = _LrLog()
    _, steps = train_groups(_tiny_student(0), _toy_groups(n), RankNet(), 0, output_dir=str(tmp_path), lr=lr, head_lr=head_lr,
                            schedule=schedule, warmup=0.2, groups_per_step=1, seed=0, device="cpu", callbacks=[log])
    assert steps == n and len(log.steps) == n
    # param groups: encoder (decayed, not decayed), then the head (score.weight decayed, score.bias not)
    for k, rates in enumerate(log.steps):
        np.testing.assert_allclose(rates, [lr * factor(k)] * 2 + [head_lr * factor(k)] * 2, rtol=1e-9, atol=1e-15)
    assert log.steps[0][0] == 0.0 and log.steps[warm][0] == pytest.approx(lr)
    np.testing.assert_allclose(log.end, [lr * factor(n)] * 2 + [head_lr * factor(n)] * 2, atol=1e-15)
    assert log.end[0] == (pytest.approx(lr) if schedule == "constant" else pytest.approx(0.0, abs=1e-15))


def test_one_learning_rate_without_head_lr_and_bad_settings_refused(tmp_path):
    log = _LrLog()
    train_groups(_tiny_student(0), _toy_groups(4), RankNet(), 0, output_dir=str(tmp_path), lr=1e-3, schedule="constant",
                 warmup=0.0, groups_per_step=1, seed=0, device="cpu", callbacks=[log])
    assert all(rate == 1e-3 for step in log.steps for rate in step)  # Trainer's own two groups (decay / no decay)
    common = dict(output_dir=str(tmp_path), lr=1e-3, groups_per_step=1, seed=0, device="cpu")
    with pytest.raises(ValueError, match="schedule"):
        train_groups(_tiny_student(0), _toy_groups(2), RankNet(), 0, schedule="step", **common)
    with pytest.raises(ValueError, match="warmup"):
        train_groups(_tiny_student(0), _toy_groups(2), RankNet(), 0, warmup=5, **common)
    with pytest.raises(ValueError, match="head_lr"):
        train_groups(_tiny_student(0), _toy_groups(2), RankNet(), 0, head_lr=0.0, **common)


def test_seed_settings_give_a_further_seed_no_curve_and_no_dev():
    from types import SimpleNamespace

    from distilrank.rankers import seed_cache
    from distilrank.training import seed_settings

    params = SimpleNamespace(eval_every=50, model_copy=lambda update: SimpleNamespace(eval_every=update["eval_every"]))
    frames = {"dev": "d", "test": "t", "train": "r"}
    assert seed_settings(params, frames, first=True) == (params, frames)
    further, kept = seed_settings(params, frames, first=False)
    assert further.eval_every == 0 and params.eval_every == 50 and kept == {"test": "t", "train": "r"}
    assert seed_settings(params, frames, first=False, keep_dev=True)[1] == frames  # notebook 04's seeds: dev for the +bm25 fit
    assert (seed_cache("bert6-hybrid", 14, first=True), seed_cache("bert6-hybrid", 14, first=False)) == ("bert6-hybrid", "bert6-hybrid@seed14")


def test_dev_references_read_only_the_curves_queries():
    ids = ["a", "b", "c", "d"]
    picked = pick_queries(ids, 2, 3)
    rows = []
    for q in ids:
        right = q in picked  # BM25 orders the curve's queries right and the others wrong
        rows += [{"query_id": q, "doc_id": f"{q}1", "gain": 1, "bm25_score": 1.0 if right else 0.0, "ensemble_score": 1.0},
                 {"query_id": q, "doc_id": f"{q}2", "gain": 0, "bm25_score": 0.0 if right else 1.0, "ensemble_score": 0.0}]
    dev = pd.DataFrame(rows)
    assert set(dev[curve_rows(dev, 2, 3)].query_id) == set(picked)
    qrels = dev[["query_id", "doc_id", "gain"]]
    ref = dev_references(dev, qrels, "teacher-ensemble", "ensemble_score", curve_queries=2, seed=3)
    assert list(ref) == ["teacher-ensemble (dev)", "bm25 (dev)", "random (dev)"]
    assert ref["teacher-ensemble (dev)"] == pytest.approx(1.0) and ref["bm25 (dev)"] == pytest.approx(1.0)
    d = dev[dev.query_id.isin(picked)]
    assert ref["random (dev)"] == pytest.approx(metrics.aggregate(metrics.evaluate_references(d, qrels, seed=3)["random"], "ndcg@5"))
    every = dev_references(dev, qrels, "teacher-ensemble", "ensemble_score", curve_queries=None, seed=3)
    assert every["bm25 (dev)"] == pytest.approx((1.0 + 1 / np.log2(3)) / 2)  # half the queries put the relevant document second
