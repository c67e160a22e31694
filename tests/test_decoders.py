from types import SimpleNamespace

import pytest
from transformers import AutoTokenizer

from distilrank import decoders
from distilrank.rankers import LastTokenScorer, encode_pairs, score_pairs

TEXTS = ["wing flutter at high speed", "boundary layer heat transfer", "shock waves past a cone"] * 10


def test_scratch_variant_saves_and_reloads_as_a_scorer(tmp_path):
    cfg = SimpleNamespace(cpt=SimpleNamespace(scratch=SimpleNamespace(vocab_size=120, hidden=16, layers=1, heads=2, intermediate=32)))
    lm, tok = decoders.build_variant("scratch", cfg, TEXTS, seed=0)
    decoders.save_lm(lm, tok, tmp_path / "init")
    scorer = LastTokenScorer.from_decoder(tmp_path / "init")
    tok2 = AutoTokenizer.from_pretrained(str(tmp_path / "init"))
    assert tok2("wing flutter")["input_ids"] == tok("wing flutter")["input_ids"]
    seqs = encode_pairs(tok2, ["wing flutter"], ["flutter at high speed"], max_len=16, decoder=True)
    assert score_pairs(scorer, seqs, tok2.pad_token_id).shape == (1,)


def test_unknown_variant_and_missing_choice(tmp_path):
    with pytest.raises(ValueError, match="unknown CPT variant"):
        decoders.build_variant("gpt5", None, [], seed=0)
    with pytest.raises(FileNotFoundError, match="run notebook 02"):
        decoders.read_choice(tmp_path)
    decoders.write_json({"variant": "scratch"}, tmp_path / "choice.json")
    assert decoders.read_choice(tmp_path)["variant"] == "scratch"


def test_trained_tokenizer_is_deterministic():
    from distilrank.backbones import train_tokenizer

    texts = [f"{a} {b} flow at mach {i}" for i, (a, b) in enumerate(zip(TEXTS, reversed(TEXTS), strict=True))]
    first, second = train_tokenizer(texts, 150), train_tokenizer(texts, 150)
    assert first.get_vocab() == second.get_vocab()
    assert first("boundary layer flutter")["input_ids"] == second("boundary layer flutter")["input_ids"]
    assert first.convert_ids_to_tokens([0, 1, 2, 3]) == ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
    # most frequent words first, ties alphabetical; unknown words map to [UNK]
    small = train_tokenizer(["b a a", "c b a"], 6)
    assert small.convert_ids_to_tokens([4, 5]) == ["a", "b"]
    assert small("a zebra")["input_ids"] == [2, 4, 1, 3]
    assert small.decode(small("a b")["input_ids"], skip_special_tokens=True) == "a b"


def test_no_cpt_variant_is_a_pretrained_decoder_when_one_exists():
    assert decoders.no_cpt_variant(["minilm", "scratch"], "minilm") == ("minilm", "teacher-no-cpt")
    assert decoders.no_cpt_variant(["minilm", "scratch"], "scratch") == ("minilm", "teacher-no-cpt")
    assert decoders.no_cpt_variant(["hub"], "hub") == ("hub", "teacher-no-cpt")
    assert decoders.no_cpt_variant(["scratch"], "scratch") == ("scratch", "teacher-random-init")


def test_write_choice_keeps_the_best_likelihood_ranker(tmp_path):
    import json

    import pandas as pd

    table = pd.DataFrame({"variant": ["minilm", "scratch"], "dev ppl/word after": [900.0, 300.0],
                          "dev ndcg@5 (likelihood) after": [0.41234, 0.3]}).set_index("variant")
    choice = decoders.write_choice(table, tmp_path)
    assert choice == {"variant": "minilm", "criterion": "dev NDCG@5 of the likelihood ranker after CPT",
                      "values": {"minilm": 0.4123, "scratch": 0.3}}
    assert decoders.read_choice(tmp_path) == choice
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [r["variant"] for r in summary] == ["minilm", "scratch"] and summary[1]["dev ppl/word after"] == 300.0
