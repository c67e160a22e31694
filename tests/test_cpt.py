import pytest

from distilrank.backbones import train_tokenizer
from distilrank.cpt import IGNORE, cpt_features, cpt_prompt, cpt_target


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

    from distilrank.cpt import build_features, target_loglik, train_cpt

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
