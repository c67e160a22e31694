"""The mean-pooled student (`distilrank.student_head`): the head's arithmetic and scale on a toy
batch, and a saved student read back by every loader (in-process, and without distilrank)."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, BertConfig, BertForSequenceClassification

from distilrank.backbones import model_path
from distilrank.rankers import load_ranker, pad_batch, save_ranker, score_candidates, segment_token
from distilrank.student_head import MODEL_TYPE, MeanPoolConfig, MeanPoolCrossEncoder

TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)


def _tiny(vocab_size: int = 50, seed: int = 0) -> MeanPoolCrossEncoder:
    torch.manual_seed(seed)
    return MeanPoolCrossEncoder(MeanPoolConfig(vocab_size=vocab_size, num_labels=1, **TINY)).eval()


def test_logits_are_the_score_of_the_masked_mean_and_ignore_padding():
    model = _tiny()
    batch = pad_batch([[2, 5, 6, 3, 7, 3], [2, 8, 3, 9, 3]], 0, segment_after=3)  # the second row is padded
    with torch.no_grad():
        out = model(**batch).logits
        hidden = model.bert(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    by_hand = model.score((hidden * mask).sum(1) / mask.sum(1))
    assert out.shape == (2, 1) and out.dtype == torch.float32
    torch.testing.assert_close(out, by_hand, atol=1e-6, rtol=1e-6)
    # the padded row alone (no padding) scores the same
    alone = pad_batch([[2, 8, 3, 9, 3]], 0, segment_after=3)
    with torch.no_grad():
        torch.testing.assert_close(model(**alone).logits[0], out[1], atol=1e-5, rtol=1e-5)
    assert not hasattr(model.bert, "pooler") or model.bert.pooler is None  # no CLS pooler, no tanh


def test_scores_are_not_bounded_by_a_tanh_and_fp32_under_bf16():
    model = _tiny()
    with torch.no_grad():
        model.score.weight.normal_(0.0, 5.0, generator=torch.Generator().manual_seed(0))  # large weights
        model.score.bias.zero_()
    batch = pad_batch([[2, 5, 6, 3, 7, 3], [2, 8, 3, 9, 3], [2, 4, 3, 4, 4, 4, 3]], 0, segment_after=3)
    with torch.no_grad():
        fp32 = model(**batch).logits
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = model(**batch).logits
        cast = model.to(torch.bfloat16)(**batch).logits  # a copy cast to bf16 (GPU latency variants) still scores in fp32
    assert fp32.abs().max() > 1.0  # the hidden states' mean can sum past 1: nothing squashes it
    assert mixed.dtype == torch.float32 and cast.dtype == torch.float32
    torch.testing.assert_close(mixed, fp32, atol=0.05 * fp32.abs().max().item(), rtol=0)


def test_backward_reaches_the_encoder_and_the_head_in_fp32_under_bf16():
    model = _tiny().train()
    batch = pad_batch([[2, 5, 6, 3, 7, 3], [2, 8, 3, 9, 3]], 0, segment_after=3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(**batch).logits
    logits.sum().backward()
    assert model.score.weight.grad.dtype == torch.float32 and model.score.weight.grad.abs().sum() > 0
    assert model.bert.embeddings.word_embeddings.weight.grad.abs().sum() > 0


def test_segment_token_and_labels():
    model = _tiny()
    tok = AutoTokenizer.from_pretrained(model_path("minilm-l6"))
    assert model.config.type_vocab_size == 2 and segment_token(model, tok) == tok.sep_token_id
    batch = pad_batch([[2, 5, 3], [2, 6, 3]], 0)
    out = model(**batch, labels=torch.tensor([1.0, 0.0]))
    assert out.loss is not None and out.loss.ndim == 0


FRAME = pd.DataFrame({"query": ["wing flutter", "heat transfer in a boundary layer", "shock waves"],
                      "title": ["flutter of wings", "laminar heating", "oblique shock"],
                      "summary": ["a long summary about flutter " * 10, "", "interaction with a boundary layer"]})
PAIRS = [(q, f"{t} {s}".strip()) for q, t, s in zip(FRAME["query"], FRAME.title, FRAME.summary, strict=True)]

# Loads the saved student in a fresh interpreter that cannot import distilrank, with the code saved beside it.
ISOLATED = """
import json, sys
sys.path[:] = [p for p in sys.path if not __import__("os").path.isdir(__import__("os").path.join(p, "distilrank"))]
sys.modules["distilrank"] = None  # any import of distilrank fails
from transformers import AutoModelForSequenceClassification, AutoTokenizer
from sentence_transformers import CrossEncoder
path, pairs = sys.argv[1], json.loads(sys.argv[2])
model = AutoModelForSequenceClassification.from_pretrained(path, trust_remote_code=True).eval()
tok = AutoTokenizer.from_pretrained(path, trust_remote_code=True)
batch = tok([q for q, _ in pairs], [d for _, d in pairs], truncation=True, padding=True, return_tensors="pt")
import torch
with torch.no_grad():
    scores = model(**batch).logits.squeeze(-1).tolist()
ce = CrossEncoder(path, trust_remote_code=True, device="cpu")
print(json.dumps({"class": type(model).__module__ + "." + type(model).__name__, "scores": scores,
                  "cross_encoder": ce.predict(pairs).tolist(), "distilrank": sys.modules.get("distilrank") is not None}))
"""


def test_saved_student_reloads_in_every_loader_with_its_scores(tmp_path):
    tok = AutoTokenizer.from_pretrained(model_path("minilm-l6"))
    model = _tiny(vocab_size=tok.vocab_size, seed=1)
    with torch.no_grad():
        model.score.weight.mul_(50)  # scores on a scale well past the unit interval
    expected = score_candidates(model, tok, FRAME, 32, 2, "cpu")
    assert np.abs(expected).max() > 1.0
    save_ranker(model, tok, tmp_path / "s", max_len=32)
    config = json.loads((tmp_path / "s" / "config.json").read_text())
    assert config["model_type"] == MODEL_TYPE and (tmp_path / "s" / "student_head.py").is_file()
    assert config["auto_map"]["AutoModelForSequenceClassification"] == "student_head.MeanPoolCrossEncoder"

    auto = AutoModelForSequenceClassification.from_pretrained(str(tmp_path / "s"))
    assert type(auto) is MeanPoolCrossEncoder
    np.testing.assert_allclose(score_candidates(auto, tok, FRAME, 32, 2, "cpu"), expected, atol=1e-5)
    again, tok2 = load_ranker(tmp_path / "s")
    assert type(again) is MeanPoolCrossEncoder
    np.testing.assert_allclose(score_candidates(again, tok2, FRAME, 32, 2, "cpu"), expected, atol=1e-5)

    from sentence_transformers import CrossEncoder

    ce = CrossEncoder(str(tmp_path / "s"), device="cpu")  # identity activation, the tokenizer's 32-token truncation
    assert type(ce.model) is MeanPoolCrossEncoder
    np.testing.assert_allclose(ce.predict(PAIRS), expected, atol=1e-5)

    # a fresh interpreter without distilrank: the code saved beside the weights (trust_remote_code)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["HF_MODULES_CACHE"] = str(tmp_path / "hf_modules")
    run = subprocess.run([sys.executable, "-I", "-c", ISOLATED, str(tmp_path / "s"), json.dumps(PAIRS)],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert not got["distilrank"] and got["class"].startswith("transformers_modules.") and got["class"].endswith(".MeanPoolCrossEncoder")
    np.testing.assert_allclose(got["scores"], expected, atol=1e-5)
    np.testing.assert_allclose(got["cross_encoder"], expected, atol=1e-5)


def test_a_saved_cls_student_still_loads_as_itself(tmp_path):
    tok = AutoTokenizer.from_pretrained(model_path("minilm-l6"))
    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(vocab_size=tok.vocab_size, num_labels=1, **TINY)).eval()
    expected = score_candidates(model, tok, FRAME, 32, 2, "cpu")
    save_ranker(model, tok, tmp_path / "cls", max_len=32)
    assert not (tmp_path / "cls" / "student_head.py").exists()
    again, tok2 = load_ranker(tmp_path / "cls")
    assert type(again) is BertForSequenceClassification
    np.testing.assert_allclose(score_candidates(again, tok2, FRAME, 32, 2, "cpu"), expected, atol=1e-5)


def test_cross_encoder_pooling_on_an_encoder_checkpoint(tmp_path):
    from support.tiny import save_tiny_bert

    from distilrank.rankers import cross_encoder, head_parameter_names

    path = save_tiny_bert(tmp_path / "enc", ["wing flutter at high speed", "boundary layer heat transfer"] * 10, vocab_size=40)
    mean = cross_encoder(path)
    assert type(mean) is MeanPoolCrossEncoder and mean.config.num_labels == 1
    assert head_parameter_names(mean) == {"score.weight", "score.bias"}
    cls = cross_encoder(path, pooling="cls")
    assert type(cls) is BertForSequenceClassification
    assert head_parameter_names(cls) == {"classifier.weight", "classifier.bias", "bert.pooler.dense.weight", "bert.pooler.dense.bias"}
    with pytest.raises(ValueError, match="pooling"):
        cross_encoder(path, pooling="max")
    # the encoder's weights, every one of them, under the `bert.` prefix
    enc = {k: v for k, v in AutoModelForSequenceClassification.from_pretrained(str(path), num_labels=1).state_dict().items()
           if k.startswith("bert.") and "pooler" not in k}
    mine = mean.state_dict()
    assert set(enc) <= set(mine) and all(torch.equal(mine[k], v) for k, v in enc.items())


def test_a_mean_pooled_student_exports_to_onnx_and_int8(tmp_path):
    from distilrank.onnx_student import OnnxRanker, export_onnx, quantize_int8

    tok = AutoTokenizer.from_pretrained(model_path("minilm-l6"))
    model = _tiny(vocab_size=tok.vocab_size, seed=2)
    eager = score_candidates(model, tok, FRAME, 32, 2, "cpu")
    ranker = OnnxRanker(export_onnx(model, tok, tmp_path / "onnx", max_len=32))
    assert ranker.config.model_type == MODEL_TYPE
    np.testing.assert_allclose(score_candidates(ranker, ranker.tokenizer, FRAME, 32, 2, "cpu"), eager, atol=1e-4)
    int8 = score_candidates(OnnxRanker(quantize_int8(tmp_path / "onnx", tmp_path / "int8")), tok, FRAME, 32, 2, "cpu")
    assert np.abs(int8 - eager).max() < 0.05 * max(1.0, np.abs(eager).max())
