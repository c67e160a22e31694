"""Latency of one scoring batch: warm-up, timed repetitions, median / p90 / p99, throughput, cost.

DisRanker's efficiency claim (Sec. 4.4) is a latency per batch of 48 query-document pairs on one
GPU. Latency depends on the architecture and the sequence length, not on the weights, so the
paper-size shapes are built from configs with random weights (`shape_model`); this project's own
teacher and students are timed with their trained weights. Timing follows the usual rules: warm-up
calls are run and discarded, every repetition is timed on its own with `time.perf_counter`, torch
runs under `inference_mode`, and on CUDA each call is synchronised before the clock stops.

Notebook 06's loops (`distilrank.stages.latency`), the time estimates (`estimate`, from
`forward_flops`) and `benchmarks/` use these.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch
from transformers import (
    AutoModel,
    AutoModelForSequenceClassification,
    BertConfig,
    PretrainedConfig,
    Qwen2Config,
)

from distilrank.precision import autocast
from distilrank.rankers import LastTokenScorer

# Paper-size architectures (random weights: latency does not depend on them).
SHAPES: dict[str, Callable[[], PretrainedConfig]] = {
    # bert-base-uncased: the paper's BERT-12
    "bert-12": lambda: BertConfig(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
    # six layers of the same width: the paper's BERT-6
    "bert-6": lambda: BertConfig(hidden_size=768, num_hidden_layers=6, num_attention_heads=12, intermediate_size=3072),
    # a 7B-class decoder (Qwen2.5-7B's shape): the paper's LLM, on a GPU
    "llm-7b": lambda: Qwen2Config(vocab_size=152064, hidden_size=3584, num_hidden_layers=28, num_attention_heads=28,
                                  num_key_value_heads=4, intermediate_size=18944, tie_word_embeddings=False),
    # a 0.5B-class decoder (Qwen2.5-0.5B's shape): the stand-in on a CPU, where 7B does not fit the budget
    "llm-0.5b": lambda: Qwen2Config(vocab_size=151936, hidden_size=896, num_hidden_layers=24, num_attention_heads=14,
                                    num_key_value_heads=2, intermediate_size=4864, tie_word_embeddings=True),
}


def shape_model(shape: str, device: str = "cpu", dtype: torch.dtype = torch.float32, seed: int = 0) -> torch.nn.Module:
    """A ranker of a named architecture with random weights, built directly on `device`: a BERT
    cross-encoder for `bert-*`, a last-token scorer on a decoder for `llm-*`."""
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; choose from {sorted(SHAPES)}")
    torch.manual_seed(seed)
    config = SHAPES[shape]()
    with torch.device(device):
        if shape.startswith("bert"):
            config.num_labels = 1
            model = AutoModelForSequenceClassification.from_config(config, dtype=dtype)
        else:
            model = LastTokenScorer(AutoModel.from_config(config, dtype=dtype)).to(dtype)
    return model.eval()


def random_batch(vocab_size: int, batch_size: int, seq_len: int, seed: int = 0, segments: bool = False) -> dict[str, torch.Tensor]:
    """`batch_size` pairs of exactly `seq_len` random tokens (no padding: every pair costs the same)."""
    g = torch.Generator().manual_seed(seed)
    batch = {"input_ids": torch.randint(1, vocab_size, (batch_size, seq_len), generator=g),
             "attention_mask": torch.ones(batch_size, seq_len, dtype=torch.long)}
    if segments:
        batch["token_type_ids"] = (torch.arange(seq_len) >= seq_len // 2).long().expand(batch_size, -1).clone()
    return batch


def torch_runner(model: torch.nn.Module, batch: dict[str, torch.Tensor], device: str,
                 precision: str = "fp32") -> Callable[[], object]:
    """One forward pass of `model` on `batch` under `inference_mode` and `precision`'s autocast,
    synchronised on CUDA."""
    model.eval()
    inputs = {k: v.to(device) for k, v in batch.items()}

    def run() -> object:
        with torch.inference_mode(), autocast(precision, device):
            out = model(**inputs).logits
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return out

    return run


def onnx_runner(session, batch: dict[str, torch.Tensor]) -> Callable[[], object]:
    """One `onnxruntime` run of `session` on `batch` (the inputs the graph declares)."""
    names = {i.name for i in session.get_inputs()}
    feeds = {k: v.numpy() for k, v in batch.items() if k in names}
    return lambda: session.run(None, feeds)


def time_calls(fn: Callable[[], object], warmup: int, repeats: int) -> np.ndarray:
    """Milliseconds of each of `repeats` timed calls of `fn`, after `warmup` untimed calls."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"time_calls: need repeats >= 1 and warmup >= 0 (got {repeats}, {warmup})")
    for _ in range(warmup):
        fn()
    times = np.empty(repeats)
    for r in range(repeats):
        start = time.perf_counter()
        fn()
        times[r] = (time.perf_counter() - start) * 1e3
    return times


@dataclass
class Latency:
    """Summary of one model's timed batches."""

    batch_size: int
    seq_len: int
    warmup: int
    repeats: int
    median_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    pairs_per_s: float
    usd_per_million_pairs: float

    def as_dict(self) -> dict:
        return asdict(self)


def summarise_times(times_ms: np.ndarray, batch_size: int, seq_len: int, warmup: int, price_per_hour: float) -> Latency:
    """Median / p90 / p99 of per-batch times, throughput at the median, and the cost of scoring a
    million pairs at `price_per_hour` (the machine's hourly price, fully used)."""
    median = float(np.median(times_ms))
    pairs_per_s = batch_size / (median / 1e3)
    return Latency(batch_size=batch_size, seq_len=seq_len, warmup=warmup, repeats=len(times_ms), median_ms=median,
                   p90_ms=float(np.percentile(times_ms, 90)), p99_ms=float(np.percentile(times_ms, 99)),
                   mean_ms=float(np.mean(times_ms)), pairs_per_s=pairs_per_s,
                   usd_per_million_pairs=cost_per_million(pairs_per_s, price_per_hour))


def cost_per_million(pairs_per_s: float, price_per_hour: float) -> float:
    """Dollars to score one million pairs at `pairs_per_s` on a machine costing `price_per_hour`."""
    if pairs_per_s <= 0:
        raise ValueError("pairs_per_s must be positive")
    return price_per_hour / 3600 * (1e6 / pairs_per_s)


def measure(fn: Callable[[], object], batch_size: int, seq_len: int, warmup: int, repeats: int,
            price_per_hour: float) -> Latency:
    """`time_calls` then `summarise_times`."""
    return summarise_times(time_calls(fn, warmup, repeats), batch_size, seq_len, warmup, price_per_hour)


def forward_flops(config: PretrainedConfig, seq_len: int, n_sequences: int = 1) -> float:
    """Floating-point operations of one forward pass of a transformer encoder or decoder body over
    `n_sequences` of `seq_len` tokens: 2 per multiply-add of the per-token weight matmuls
    (attention projections and the feed-forward; embeddings are look-ups and cost none) plus the
    attention scores and their weighted sum (QK^T and AV, 2 x 2 x seq_len^2 x hidden per layer).
    A training step costs about 3 times this (forward, and backward twice its size)."""
    h, layers, ffn = config.hidden_size, config.num_hidden_layers, config.intermediate_size
    heads = config.num_attention_heads
    kv = getattr(config, "num_key_value_heads", None) or heads
    attn_proj = h * h * 2 + h * (h // heads) * kv * 2  # Q and O, K and V (grouped-query: fewer KV heads)
    gated = getattr(config, "hidden_act", "") == "silu"  # Llama/Qwen feed-forwards have a gate matrix
    ffn_mats = (3 if gated else 2) * h * ffn
    per_token = 2 * layers * (attn_proj + ffn_mats)
    attention = 4 * layers * seq_len * seq_len * h
    return float(n_sequences * (seq_len * per_token + attention))


def matmul_gflops(size: int = 1024, dtype: torch.dtype = torch.float32, repeats: int = 10) -> float:
    """This machine's measured dense matmul rate (GFLOP/s) for square `size` matrices of `dtype`
    on the CPU with torch's threads: the ceiling the training and scoring rates are read against."""
    a = torch.randn(size, size).to(dtype)
    a @ a  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        a @ a
    return 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9
