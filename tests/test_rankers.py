import numpy as np
import pytest
import torch
from transformers import LlamaConfig, LlamaModel

from distilrank.rankers import (
    LastTokenScorer,
    encode_pairs,
    last_token_pool,
    pad_batch,
    pooling_example,
    remove_stale_seeds,
    score_pairs,
)


def test_last_token_pool_right_and_left_padding():
    hidden = torch.arange(2 * 4 * 1, dtype=torch.float).view(2, 4, 1)
    right = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    assert last_token_pool(hidden, right).squeeze(-1).tolist() == [1.0, 7.0]
    left = torch.tensor([[0, 0, 1, 1], [0, 1, 1, 1]])
    assert last_token_pool(hidden, left).squeeze(-1).tolist() == [3.0, 7.0]



def test_pooling_example_shows_the_pad_the_last_position_holds():
    right = pad_batch([[101, 7, 8, 9, 102], [101, 5, 102]], pad_id=0)
    left = {k: torch.stack([v[0], v[1].roll(2)]) for k, v in right.items()}
    table = pooling_example({"right": right, "left": left})
    assert table["input_ids"].tolist() == ["101 7 8 9 102", "101 5 102 0 0", "101 7 8 9 102", "0 0 101 5 102"]
    assert table["attention_mask"].tolist()[1] == "1 1 1 0 0"
    assert table["token at the last position"].tolist() == [102, 0, 102, 102]  # right padding: the short row ends in a pad
    assert table["token the head reads (through the mask)"].tolist() == [102] * 4  # the mask finds the end token either way


@pytest.fixture
def tiny_scorer():
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                      num_key_value_heads=2, intermediate_size=32, pad_token_id=0)
    return LastTokenScorer(LlamaModel(cfg))


def test_scorer_ignores_padding(tiny_scorer):
    tiny_scorer.eval()
    a = tiny_scorer(**pad_batch([[5, 6, 7]], 0)).logits
    b = tiny_scorer(**pad_batch([[5, 6, 7], [5, 6, 7, 8, 9, 10]], 0)).logits[:1]
    assert torch.allclose(a, b, atol=1e-5)


def test_scorer_save_and_load(tiny_scorer, tmp_path):
    tiny_scorer.save_pretrained(tmp_path / "t")
    again = LastTokenScorer.from_pretrained(tmp_path / "t")
    batch = pad_batch([[1, 2, 3], [4, 5]], 0)
    assert torch.allclose(tiny_scorer.eval()(**batch).logits, again.eval()(**batch).logits, atol=1e-6)
    with pytest.raises(FileNotFoundError, match="not a saved LastTokenScorer"):
        LastTokenScorer.from_pretrained(tmp_path)


def test_score_pairs_keeps_input_order(tiny_scorer):
    seqs = [[1, 2, 3, 4, 5], [6], [7, 8]]
    one_by_one = [tiny_scorer.eval()(**pad_batch([s], 0)).logits.item() for s in seqs]
    np.testing.assert_allclose(score_pairs(tiny_scorer, seqs, 0, batch_size=2), one_by_one, rtol=1e-5, atol=1e-5)


def test_encode_pairs_decoder_ends_with_the_end_token():
    from distilrank.backbones import train_tokenizer

    tok = train_tokenizer(["wing flutter at high speed", "boundary layer heat transfer"] * 20, 100)
    ids = encode_pairs(tok, ["wing"], ["boundary layer heat transfer " * 20], max_len=12, decoder=True)
    assert len(ids[0]) == 12 and ids[0][-1] == tok.sep_token_id
    short = encode_pairs(tok, ["wing"], ["flutter"], max_len=32, decoder=True)[0]
    assert short[-1] == tok.sep_token_id and short.count(tok.sep_token_id) == 1


def test_cross_encoder_saved_loads_in_both_loaders_with_the_same_scores(tmp_path):
    from pathlib import Path

    import pandas as pd
    from safetensors.torch import load_file
    from sentence_transformers import CrossEncoder
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from distilrank.backbones import model_path
    from distilrank.rankers import cross_encoder, load_ranker, save_ranker, score_candidates
    from distilrank.student_head import MeanPoolCrossEncoder

    start = model_path("minilm-l6")
    torch.manual_seed(0)
    model, tok = cross_encoder(start), AutoTokenizer.from_pretrained(start)
    # the mean-pooled student holds every encoder weight of the checkpoint (keys without `bert.`);
    # only the fresh score layer is new, and the pooler (CLS + tanh) is not used
    assert type(model) is MeanPoolCrossEncoder
    checkpoint = {k: v for k, v in load_file(str(Path(start) / "model.safetensors")).items() if not k.startswith("pooler.")}
    params = dict(model.named_parameters())
    assert set(params) - {f"bert.{k}" for k in checkpoint} == {"score.weight", "score.bias"}
    assert all(torch.equal(p, checkpoint[k.removeprefix("bert.")]) for k, p in params.items() if k.startswith("bert."))
    df = pd.DataFrame({"query": ["wing flutter", "heat transfer in a boundary layer"] * 2,
                       "title": ["flutter of wings", "slip flow", "heat", "shock"],
                       "summary": ["a long summary about flutter " * 20, "", "laminar boundary layer", "waves"]})
    expected = score_candidates(model, tok, df, 24, 2, "cpu")
    save_ranker(model, tok, tmp_path / "s", max_len=24)
    again, tok2 = load_ranker(tmp_path / "s")
    np.testing.assert_allclose(score_candidates(again, tok2, df, 24, 2, "cpu"), expected, atol=1e-5)
    auto = AutoModelForSequenceClassification.from_pretrained(str(tmp_path / "s"))
    assert type(auto) is MeanPoolCrossEncoder
    np.testing.assert_allclose(score_candidates(auto, tok2, df, 24, 2, "cpu"), expected, atol=1e-5)
    ce = CrossEncoder(str(tmp_path / "s"), device="cpu")
    pairs = [(q, f"{t} {s}".strip()) for q, t, s in zip(df["query"], df.title, df.summary, strict=True)]
    np.testing.assert_allclose(ce.predict(pairs), expected, atol=1e-5)


def test_head_parameter_names_of_each_ranker_kind(tiny_scorer):
    from transformers import BertConfig, BertForSequenceClassification

    from distilrank.rankers import head_parameter_names
    from distilrank.student_head import MeanPoolConfig, MeanPoolCrossEncoder

    tiny = dict(vocab_size=30, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, num_labels=1)
    assert head_parameter_names(tiny_scorer) == {"head.weight", "head.bias"}
    assert head_parameter_names(MeanPoolCrossEncoder(MeanPoolConfig(**tiny))) == {"score.weight", "score.bias"}
    assert head_parameter_names(BertForSequenceClassification(BertConfig(**tiny))) == {
        "classifier.weight", "classifier.bias", "bert.pooler.dense.weight", "bert.pooler.dense.bias"}
    with pytest.raises(ValueError, match="no known head"):
        head_parameter_names(torch.nn.Linear(2, 1))


def test_pad_batch_segments_follow_the_first_sep():
    batch = pad_batch([[101, 7, 102, 8, 9, 102], [101, 7, 102, 8]], 0, segment_after=102)
    assert batch["token_type_ids"].tolist() == [[0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 0, 0]]
    assert "token_type_ids" not in pad_batch([[1, 2]], 0)


def test_load_scores_aligns_by_query_and_document(tmp_path):
    import pandas as pd

    from distilrank.rankers import load_scores, save_scores

    df = pd.DataFrame({"query_id": ["1", "1", "2"], "doc_id": ["a", "b", "a"], "gain": [1, 0, 2], "score": [0.5, 0.1, 0.9]})
    save_scores({"test": df}, tmp_path / "s")
    np.testing.assert_allclose(load_scores(tmp_path / "s", "test", df.iloc[::-1]), [0.9, 0.1, 0.5])
    with pytest.raises(ValueError, match="lacks scores for 1"):
        load_scores(tmp_path / "s", "test", pd.DataFrame({"query_id": ["3"], "doc_id": ["a"]}))
    with pytest.raises(KeyError, match="no split 'dev'"):
        load_scores(tmp_path / "s", "dev", df)
    with pytest.raises(FileNotFoundError, match="run the notebook"):
        load_scores(tmp_path / "nothing", "test", df)


def test_cached_scores_say_which_precision_made_them(tmp_path, monkeypatch):
    import json

    import pandas as pd

    from distilrank import rankers
    from distilrank.rankers import load_scores, save_scores, scores_precision

    df = pd.DataFrame({"query_id": ["1", "2"], "doc_id": ["a", "a"], "gain": [1, 0], "score": [0.5, 0.25]})
    save_scores({"test": df}, tmp_path / "s", precision="bf16")
    assert scores_precision(tmp_path / "s") == "bf16"
    assert json.loads((tmp_path / "s" / rankers.SCORES_META).read_text()) == {"precision": "bf16"}
    np.testing.assert_allclose(load_scores(tmp_path / "s", "test", df), [0.5, 0.25])
    save_scores({"test": df}, tmp_path / "s")  # fp32 unless told: a rewrite replaces data and precision together
    assert scores_precision(tmp_path / "s") == "fp32"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"], "no temporary directory left beside the cache"
    with pytest.raises(ValueError, match="precision must be one of"):
        save_scores({"test": df}, tmp_path / "t", precision="auto")  # a resolved precision, never auto
    with pytest.raises(FileNotFoundError, match="no cached scores"):
        scores_precision(tmp_path / "nothing")
    (tmp_path / "s" / rankers.SCORES_META).unlink()
    with pytest.raises(FileNotFoundError, match="re-run the notebook"):
        scores_precision(tmp_path / "s")

    # a run that dies after the new scores are written but before their precision: the old cache stays whole
    save_scores({"test": df}, tmp_path / "u", precision="bf16")
    monkeypatch.setattr(rankers, "SCORES_META", "missing-folder/scores_meta.json")  # writing it fails
    with pytest.raises(FileNotFoundError):
        save_scores({"test": df.assign(score=[9.0, 9.0])}, tmp_path / "u", precision="fp32")
    monkeypatch.undo()
    assert scores_precision(tmp_path / "u") == "bf16"
    np.testing.assert_allclose(load_scores(tmp_path / "u", "test", df), [0.5, 0.25])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s", "u"]


def test_encode_frame_tokenises_a_frame_once_per_tokenizer(monkeypatch):
    import pandas as pd

    from distilrank import rankers

    calls = []
    real = rankers.encode_pairs
    monkeypatch.setattr(rankers, "encode_pairs", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr(rankers, "_ENCODED", rankers.OrderedDict())  # a cold cache, whatever ran before in this process
    from transformers import AutoTokenizer

    from distilrank.backbones import model_path

    tok = AutoTokenizer.from_pretrained(model_path("minilm-l6"))
    df = pd.DataFrame({"query": ["wing flutter", "heat"], "title": ["flutter", "heat transfer"], "summary": ["of wings", "in flow"]})
    first = rankers.encode_frame(tok, df, 32, decoder=False)
    assert rankers.encode_frame(tok, df.copy(), 32, decoder=False) == first and len(calls) == 1  # same text: cached
    rankers.encode_frame(tok, df, 16, decoder=False)  # another length
    rankers.encode_frame(tok, df.assign(query=["wing", "heat"]), 32, decoder=False)  # other text
    assert len(calls) == 3


def test_encode_frame_cache_is_bounded_in_pairs(monkeypatch):
    import pandas as pd
    from transformers import AutoTokenizer

    from distilrank import rankers
    from distilrank.backbones import model_path

    monkeypatch.setattr(rankers, "ENCODED_CACHE_PAIRS", 3)
    monkeypatch.setattr(rankers, "_ENCODED", rankers.OrderedDict())
    tok = AutoTokenizer.from_pretrained(model_path("minilm-l6"))
    df = pd.DataFrame({"query": ["a", "b"], "title": ["x", "y"], "summary": ["", ""]})
    rankers.encode_frame(tok, df, 16, decoder=False)
    rankers.encode_frame(tok, df.assign(query=["c", "d"]), 16, decoder=False)  # 4 pairs > 3: the first goes
    assert len(rankers._ENCODED) == 1


def test_seed_dirs_list_the_first_seed_then_the_others_by_number(tmp_path):
    from distilrank.rankers import SEED_MARK, seed_dirs

    assert SEED_MARK == "@seed"
    for name in ("s", "s@seed14", "s@seed10", "s@seed9", "s+bm25", "s+bm25@seed9", "s-no-llm@seed9", "other@seed3"):
        (tmp_path / name).mkdir()
    # numerically: @seed9 before @seed10 (a string sort would put 10 first); neither s+bm25 nor s-no-llm is a seed of s
    assert seed_dirs(tmp_path, "s") == [tmp_path / "s", tmp_path / "s@seed9", tmp_path / "s@seed10", tmp_path / "s@seed14"]
    assert seed_dirs(tmp_path, "s+bm25") == [tmp_path / "s+bm25", tmp_path / "s+bm25@seed9"]
    assert seed_dirs(tmp_path, "alone") == [tmp_path / "alone"]  # one seed: the name's own cache, whether or not it exists


def test_remove_stale_seeds_keeps_the_first_and_the_seeds_still_asked_for(tmp_path):
    for name in ("s", "s@seed14", "s@seed15", "s+bm25", "s+bm25@seed15", "t@seed15"):
        (tmp_path / name).mkdir()
    removed = remove_stale_seeds(tmp_path, ["s", "s+bm25"], [14])  # distill.seeds lowered from 3 to 2
    assert sorted(p.name for p in removed) == ["s+bm25@seed15", "s@seed15"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s", "s+bm25", "s@seed14", "t@seed15"]  # other systems untouched
