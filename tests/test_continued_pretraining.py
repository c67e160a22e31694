import numpy as np
import pytest

from distilrank.backbones import train_tokenizer
from distilrank.stages.continued_pretraining import IGNORE, cpt_features, cpt_prompt, cpt_target, likelihood_reading, plot_comparison


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer(["query clicked document wing flutter at high speed", "boundary layer heat transfer"] * 20, 120)


def test_prompt_labels_are_masked_and_target_ends_with_eos(tok):
    f = cpt_features(tok, cpt_prompt("wing flutter"), cpt_target("flutter", "at high speed"), max_len=64)
    n_prompt = len(tok(cpt_prompt("wing flutter"))["input_ids"])
    assert f["labels"][:n_prompt] == [IGNORE] * n_prompt
    assert f["labels"][n_prompt:] == f["input_ids"][n_prompt:]
    assert f["input_ids"][-1] == tok.sep_token_id and len(f["input_ids"]) == len(f["attention_mask"])


def test_long_targets_are_cut_to_max_len(tok):
    f = cpt_features(tok, cpt_prompt("wing"), "boundary layer heat transfer " * 50, max_len=20)
    assert len(f["input_ids"]) == 20 and f["input_ids"][-1] == tok.sep_token_id
    long = cpt_features(tok, cpt_prompt("wing flutter at high speed " * 10), "flutter", max_len=24)
    full = tok(cpt_prompt("wing flutter at high speed " * 10))["input_ids"]
    n_prompt = long["labels"].count(IGNORE)
    assert n_prompt == 12 and long["input_ids"][:6] == full[:6] and long["input_ids"][6:12] == full[-6:]
    with pytest.raises(ValueError, match="no room for a prompt"):
        cpt_features(tok, "x", "y", max_len=12)


def test_target_loglik_prefers_the_target_the_model_learned(tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    from distilrank.stages.continued_pretraining import build_features, target_loglik, train_cpt

    tok = train_tokenizer(["query clicked document wing flutter boundary layer heat transfer"] * 5, 40)
    torch.manual_seed(0)
    lm = AutoModelForCausalLM.from_config(LlamaConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1,
                                                      num_attention_heads=2, num_key_value_heads=2, intermediate_size=64,
                                                      pad_token_id=0))
    rows = [{"prompt": cpt_prompt("wing"), "target": "wing flutter"}] * 32
    train_cpt(lm, tok, build_features(tok, rows, 32), output_dir=str(tmp_path), epochs=3, lr=1e-2,
              batch_size=8, seed=0, device="cpu")
    f = build_features(tok, [{"prompt": cpt_prompt("wing"), "target": "wing flutter"},
                             {"prompt": cpt_prompt("wing"), "target": "heat transfer"}], 32)
    learned, other = target_loglik(lm, tok, f)
    assert learned > other


def _prepared():
    """A tiny notebook-01-shaped DatasetDict: a collection, click examples and dev lists."""
    import pandas as pd
    from datasets import Dataset, DatasetDict

    docs = {"d1": ("wing flutter", "flutter of a wing at high speed"), "d2": ("heat transfer", "boundary layer heat transfer"),
            "d3": ("shock waves", "shock waves past a cone")}
    corpus = pd.DataFrame([{"doc_id": d, "title": t, "summary": s} for d, (t, s) in docs.items()])
    clicks = pd.DataFrame([{"query": "wing flutter", "title": docs["d1"][0], "summary": docs["d1"][1]},
                           {"query": "heat transfer in a boundary layer", "title": docs["d2"][0], "summary": docs["d2"][1]}])
    gains = {("q1", "d1"): 2, ("q2", "d3"): 1}
    queries = {"q1": "flutter of wings", "q2": "shock past a cone"}
    dev = pd.DataFrame([{"query_id": q, "query": text, "doc_id": d, "title": docs[d][0], "summary": docs[d][1],
                         "gain": gains.get((q, d), 0), "bm25_score": float(i)} for q, text in queries.items() for i, d in enumerate(docs)])
    qrels = pd.DataFrame([{"query_id": q, "doc_id": d, "gain": g} for (q, d), g in gains.items()])
    return DatasetDict({name: Dataset.from_pandas(df, preserve_index=False) for name, df in
                        {"corpus": corpus, "cpt_train": clicks, "dev_candidates": dev, "qrels": qrels}.items()})


def test_tokenizer_texts_only_for_a_scratch_decoder_and_candidate_rows():
    from distilrank.stages.continued_pretraining import candidate_rows, tokenizer_texts

    prepared = _prepared()
    assert tokenizer_texts(prepared, ["minilm"]) == []
    texts = tokenizer_texts(prepared, ["minilm", "scratch"])
    assert texts[0] == "wing flutter flutter of a wing at high speed" and texts[-2:] == ["wing flutter", "heat transfer in a boundary layer"]
    assert not any("cone" in t and "shock past" in t for t in texts)  # dev queries never feed the tokenizer
    rows = candidate_rows(prepared["dev_candidates"].to_pandas())
    assert len(rows) == 6 and rows[0] == {"prompt": cpt_prompt("flutter of wings"), "target": cpt_target("wing flutter", "flutter of a wing at high speed")}


def test_compare_variants_trains_saves_and_tabulates_a_scratch_decoder(tmp_path):
    from types import SimpleNamespace

    import matplotlib

    matplotlib.use("Agg")
    from distilrank import decoders
    from distilrank.stages.continued_pretraining import candidate_rows, compare_variants, continuations, plot_comparison

    prepared = _prepared()
    from distilrank.config import ParallelParams

    cfg = SimpleNamespace(seed=0, llm=None, parallel=ParallelParams(), cpt=SimpleNamespace(
        variants=["scratch"], max_len=32, epochs=2.0, lr={"scratch": 1e-3}, batch_size=2,
        scratch=SimpleNamespace(vocab_size=80, hidden=16, layers=1, heads=2, intermediate=32)))
    rows = candidate_rows(prepared["cpt_train"].to_pandas())
    run = compare_variants(prepared, rows, rows, cfg, tmp_path, device="cpu", precision="fp32")
    assert list(run.table.index) == ["scratch"] and run.table.loc["scratch", "train examples"] == 2
    assert run.table.loc["scratch", "dev ppl/token after"] < run.table.loc["scratch", "dev ppl/token before"]
    assert (tmp_path / "scratch" / "init" / "config.json").is_file() and (tmp_path / "scratch" / "cpt" / "config.json").is_file()
    assert set(run.curves.columns) == {"variant", "step", "loss"} and len(run.curves) > 0
    # BM25 puts q1's one relevant document (gain 2) third of three (NDCG@5 1 / log2(4) = 0.5) and q2's first (1.0)
    assert run.bm25_dev == pytest.approx(0.75) and set(run.models) == {"scratch"}
    # random scores put each query's one relevant document at rank 1, 2 or 3: NDCG@5 1, 1 / log2(3) or 0.5 per query
    ranks = [1.0, 1 / np.log2(3), 0.5]
    assert any(run.random_dev == pytest.approx((a + b) / 2) for a in ranks for b in ranks)
    assert len(plot_comparison(run).axes) == 3
    gens = continuations(run.models, prepared["dev_candidates"].to_pandas(), 1, seed=0, device="cpu", max_new_tokens=3)
    assert len(gens) == 1 and list(gens.columns) == ["test query", "its best-judged document", "scratch"]
    assert gens.loc[0, "its best-judged document"] in {cpt_target("wing flutter", "flutter of a wing at high speed"),
                                                       cpt_target("shock waves", "shock waves past a cone")}
    choice = decoders.write_choice(run.table, tmp_path)
    assert choice["variant"] == "scratch" and decoders.read_choice(tmp_path) == choice


def _comparison(before: float, after: float, random_dev: float = 0.082):
    import pandas as pd

    from distilrank.stages.continued_pretraining import VariantComparison

    table = pd.DataFrame([{"variant": "minilm", "dev ppl/word before": 478695.0, "dev ppl/word after": 847.3,
                           "dev ndcg@5 (likelihood) before": before, "dev ndcg@5 (likelihood) after": after}]).set_index("variant")
    curves = pd.DataFrame({"variant": ["minilm"] * 2, "step": [1, 2], "loss": [9.0, 6.0]})
    return VariantComparison(table, curves, {}, bm25_dev=0.55, random_dev=random_dev)


def test_likelihood_reading_says_when_cpt_leaves_the_ranker_at_chance():
    (below,) = likelihood_reading(_comparison(0.14, 0.08))  # the default profile's last run: 0.14 -> 0.08, random 0.082
    assert below.startswith("minilm: the likelihood ranker's dev NDCG@5 went from 0.140 before CPT to 0.080 after (random scores 0.082")
    assert "no better than random scores" in below and "per-word perplexity 847" in below and "does not show here" in below
    (lower,) = likelihood_reading(_comparison(0.30, 0.20))
    assert "CPT lowered it" in lower and "no better than random" not in lower and "does not show here" in lower
    (raised,) = likelihood_reading(_comparison(0.10, 0.30))
    assert "CPT raised it" in raised and "does not show here" not in raised


def test_plot_comparison_draws_random_and_bm25_on_the_ndcg_panel():
    import matplotlib

    matplotlib.use("Agg")
    fig = plot_comparison(_comparison(0.14, 0.08))
    ndcg = fig.axes[2]
    assert {0.55, 0.082} <= {round(line.get_ydata()[0], 3) for line in ndcg.get_lines()}
    labels = [t.get_text() for t in ndcg.get_legend().get_texts()]
    assert {"before CPT", "after CPT", "bm25", "random scores"} <= set(labels)
    assert fig.axes[1].get_legend() is None  # one legend for the shared before/after colours
