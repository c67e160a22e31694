import numpy as np
import pytest
import torch
from transformers import LlamaConfig, LlamaModel

from distilrank.rankers import (
    LastTokenScorer,
    encode_pairs,
    last_token_pool,
    pad_batch,
    score_pairs,
)


def test_last_token_pool_right_and_left_padding():
    hidden = torch.arange(2 * 4 * 1, dtype=torch.float).view(2, 4, 1)
    right = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    assert last_token_pool(hidden, right).squeeze(-1).tolist() == [1.0, 7.0]
    left = torch.tensor([[0, 0, 1, 1], [0, 1, 1, 1]])
    assert last_token_pool(hidden, left).squeeze(-1).tolist() == [3.0, 7.0]


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
