"""Timing one scoring batch (`distilrank.timing`): repetitions, summaries, costs, shapes, FLOPs."""

import time

import numpy as np
import pytest
import torch

from distilrank.timing import (
    SHAPES,
    cost_per_million,
    measure,
    random_batch,
    shape_model,
    summarise_times,
    time_calls,
    torch_runner,
)


def test_time_calls_counts_repetitions_and_excludes_warmup():
    calls = []

    def fn():
        calls.append(1)
        if len(calls) <= 2:  # the warm-up calls are slow: they must not be timed
            time.sleep(0.2)

    times = time_calls(fn, warmup=2, repeats=5)
    assert len(calls) == 7 and len(times) == 5
    assert times.max() < 100  # ms: none of the slow warm-up calls is in there
    with pytest.raises(ValueError):
        time_calls(fn, warmup=0, repeats=0)


def test_summary_statistics_and_cost():
    lat = summarise_times(np.array([10.0, 20.0, 30.0, 40.0, 1000.0]), batch_size=48, seq_len=64, warmup=1, price_per_hour=3.6)
    assert lat.median_ms == 30.0 and lat.repeats == 5
    assert lat.p90_ms == pytest.approx(np.percentile([10, 20, 30, 40, 1000], 90))
    assert lat.pairs_per_s == pytest.approx(48 / 0.03)
    # $3.60/h = $0.001/s; 1e6 pairs at 1600 pairs/s take 625 s
    assert lat.usd_per_million_pairs == pytest.approx(0.625)
    assert cost_per_million(1e6, 3600.0) == pytest.approx(1.0)


def test_a_tiny_model_runs_and_shapes_exist():
    from transformers import AutoModelForSequenceClassification, BertConfig

    model = AutoModelForSequenceClassification.from_config(BertConfig(vocab_size=100, hidden_size=16, num_hidden_layers=1,
                                                                       num_attention_heads=2, intermediate_size=32, num_labels=1))
    batch = random_batch(100, 3, 8, segments=True)
    assert batch["input_ids"].shape == (3, 8) and batch["token_type_ids"][0].tolist() == [0] * 4 + [1] * 4
    lat = measure(torch_runner(model, batch, "cpu"), 3, 8, warmup=1, repeats=3, price_per_hour=1.0)
    assert lat.repeats == 3 and lat.median_ms > 0
    assert {"bert-12", "bert-6", "llm-7b", "llm-0.5b"} <= set(SHAPES)
    with pytest.raises(ValueError, match="unknown shape"):
        shape_model("gpt-5")


def test_bert6_shape_is_six_layers_of_bert_base_width():
    cfg = SHAPES["bert-6"]()
    assert (cfg.num_hidden_layers, cfg.hidden_size) == (6, 768)
    model = shape_model("bert-12", dtype=torch.float32)
    assert 105e6 < sum(p.numel() for p in model.parameters()) < 115e6  # bert-base: ~110M


def test_forward_flops_hand_computed():
    from transformers import BertConfig, LlamaConfig

    from distilrank.timing import forward_flops

    bert = BertConfig(hidden_size=4, num_hidden_layers=2, num_attention_heads=2, intermediate_size=8)
    # per token per layer: Q,K,V,O 4 x 4*4 = 64 and FFN 2 x 4*8 = 64 multiply-adds -> 2 x 128 FLOPs
    per_token = 2 * 2 * (64 + 64)
    assert forward_flops(bert, seq_len=3) == 3 * per_token + 4 * 2 * 9 * 4
    assert forward_flops(bert, seq_len=3, n_sequences=5) == 5 * forward_flops(bert, seq_len=3)
    llama = LlamaConfig(hidden_size=4, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1, intermediate_size=8)
    # Q, O: 2 x 16; K, V with one KV head of width 2: 2 x 4*2; gated FFN: 3 x 32
    assert forward_flops(llama, seq_len=1) == 2 * (32 + 16 + 96) + 4 * 1 * 1 * 4


def test_matmul_rate_counts_two_n_cubed_flops_per_product(monkeypatch):
    from distilrank import timing

    ticks = iter([10.0, 12.5])  # the timed loop: 2.5 s by this clock
    monkeypatch.setattr(timing.time, "perf_counter", lambda: next(ticks))
    # 3 products of 64 x 64 matrices: 3 x 2 x 64^3 = 1,572,864 FLOPs in 2.5 s
    assert timing.matmul_gflops(size=64, repeats=3) == pytest.approx(3 * 2 * 64**3 / 2.5 / 1e9)
