"""Print the latency of one scoring batch for paper-size ranker shapes (random weights).

    .venv/bin/python benchmarks/latency.py                       # bert-6, bert-12 at 48 x 64 on this machine
    .venv/bin/python benchmarks/latency.py --shapes bert-6 llm-0.5b --seq-len 128 --repeats 20
    .venv/bin/python benchmarks/latency.py --onnx outputs/default/students/bert6-hybrid-onnx-int8

Figures only: nothing is asserted and nothing is written. Notebook 06 runs the same measurement
(`distilrank.stages.latency`) on this project's trained teacher and students and records the rows.
"""

from __future__ import annotations

import argparse

import torch

from distilrank import timing
from distilrank.runtime import hardware, pick_device


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shapes", nargs="*", default=["bert-6", "bert-12"], choices=sorted(timing.SHAPES))
    ap.add_argument("--onnx", nargs="*", default=[], help="saved ONNX students (folders with model.onnx) to time too")
    ap.add_argument("--batch", type=int, default=48)
    ap.add_argument("--seq-len", type=int, default=64)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    ap.add_argument("--price-per-hour", type=float, default=0.10, help="USD per hour of this machine")
    args = ap.parse_args()
    device = pick_device(args.device)
    print(f"{hardware()['summary']}; device {device}; batch {args.batch} x {args.seq_len} tokens; {args.dtype}")
    print(f"{'model':>28} {'median ms':>10} {'p90 ms':>9} {'p99 ms':>9} {'pairs/s':>9} {'USD/1M':>8}")
    rows = []
    for shape in args.shapes:
        model = timing.shape_model(shape, device, getattr(torch, args.dtype))
        batch = timing.random_batch(30522 if shape.startswith("bert") else 151936, args.batch, args.seq_len,
                                     segments=shape.startswith("bert"))
        rows.append((shape, timing.measure(timing.torch_runner(model, batch, device), args.batch, args.seq_len,
                                            args.warmup, args.repeats, args.price_per_hour)))
        del model
    for path in args.onnx:
        from distilrank.onnx_student import OnnxRanker

        ranker = OnnxRanker(path)
        batch = timing.random_batch(ranker.tokenizer.vocab_size, args.batch, args.seq_len, segments=True)
        rows.append((path.rstrip("/").rsplit("/", 1)[-1], timing.measure(timing.onnx_runner(ranker.session, batch), args.batch,
                                                                           args.seq_len, args.warmup, args.repeats, args.price_per_hour)))
    for name, r in rows:
        print(f"{name:>28} {r.median_ms:10.1f} {r.p90_ms:9.1f} {r.p99_ms:9.1f} {r.pairs_per_s:9.1f} {r.usd_per_million_pairs:8.3f}")


if __name__ == "__main__":
    main()
