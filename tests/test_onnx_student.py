import numpy as np
import pandas as pd
import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, BertConfig

from distilrank.backbones import model_path
from distilrank.onnx_student import OnnxRanker, export_onnx, quantize_int8
from distilrank.rankers import score_candidates


@pytest.fixture(scope="module")
def tiny_student():
    tok = AutoTokenizer.from_pretrained(model_path("minilm-l6"))
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, num_labels=1)
    return AutoModelForSequenceClassification.from_config(cfg).eval(), tok


FRAME = pd.DataFrame({"query": ["wing flutter", "heat transfer in a boundary layer", "shock waves"],
                      "title": ["flutter of wings", "laminar heating", "oblique shock"],
                      "summary": ["a long summary about flutter " * 10, "", "interaction with a boundary layer"]})


def test_onnx_student_matches_eager_and_int8_stays_close(tiny_student, tmp_path):
    model, tok = tiny_student
    eager = score_candidates(model, tok, FRAME, 32, 2, "cpu")
    export_onnx(model, tok, tmp_path / "onnx", max_len=32)
    ranker = OnnxRanker(tmp_path / "onnx")
    assert ranker.tokenizer.model_max_length == 32
    np.testing.assert_allclose(score_candidates(ranker, ranker.tokenizer, FRAME, 32, 2, "cpu"), eager, atol=1e-4)
    quantize_int8(tmp_path / "onnx", tmp_path / "int8")
    int8 = score_candidates(OnnxRanker(tmp_path / "int8"), tok, FRAME, 32, 2, "cpu")
    assert np.abs(int8 - eager).max() < 0.05 * max(1.0, np.abs(eager).max())
    assert (tmp_path / "int8" / "model.onnx").stat().st_size < (tmp_path / "onnx" / "model.onnx").stat().st_size


def test_export_leaves_the_callers_model_as_it_was(tiny_student, tmp_path):
    # notebook 06 exports the saved fp32 student; a model the caller holds in bf16 must stay bf16
    model, tok = tiny_student
    held = AutoModelForSequenceClassification.from_config(model.config).to(torch.bfloat16)
    before = {k: v.clone() for k, v in held.state_dict().items()}
    export_onnx(held, tok, tmp_path / "onnx", max_len=32)
    assert all(v.dtype == torch.bfloat16 and torch.equal(v, before[k]) for k, v in held.state_dict().items())


def test_a_tokenizer_without_segments_still_exports(tiny_student, tmp_path):
    model, tok = tiny_student
    tok = AutoTokenizer.from_pretrained(model_path("minilm-l6"), model_input_names=["input_ids", "attention_mask"])
    export_onnx(model, tok, tmp_path / "onnx", max_len=32)
    assert {i.name for i in OnnxRanker(tmp_path / "onnx").session.get_inputs()} >= {"input_ids", "attention_mask"}


def test_missing_onnx_student_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no ONNX student"):
        OnnxRanker(tmp_path)
    with pytest.raises(ValueError, match="runs on the CPU"):
        OnnxRanker.to(object.__new__(OnnxRanker), "cuda")
