"""Data preparation at scale: a synthetic MS MARCO-sized corpus through notebook 01's steps.

    .venv/bin/python benchmarks/prep_scale.py                 # 1,000,000 passages, 1,000 queries
    .venv/bin/python benchmarks/prep_scale.py --passages 200000 --queries 500

Writes a synthetic collection as TREC-style files (passages of ~55 words drawn from a Zipfian
vocabulary, as MS MARCO's passages are about that long; each query is five words of one passage,
which is its one judged document), then times what notebook 01 does with it: reading it into
Arrow (`data.read_trec`), indexing with bm25s (`bm25.BM25Index`), and building training groups
and evaluation lists with top-k retrieval (`data_prep.first_stage_groups`, `data_prep.eval_candidates`). Prints
each step's seconds, the per-query retrieval rate with what it implies for 20,000 queries (the
paper profile), and the peak resident memory. Figures are for this machine only.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from distilrank.bm25 import BM25Index
from distilrank.data import read_trec
from distilrank.stages import data_prep


def peak_rss_gb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def synthetic_collection(folder: Path, passages: int, queries: int, seed: int, vocab: int = 50_000,
                         words: int = 55) -> dict[str, Path]:
    """TREC-style files of a random corpus with Zipf-distributed words; query i is five words of
    passage `targets[i]`, judged relevant to it."""
    rng = np.random.default_rng(seed)
    ranks = np.arange(1, vocab + 1)
    p = 1 / ranks**1.1
    lexicon = np.array([f"w{i}" for i in range(vocab)])
    docs = folder / "docs.jsonl"
    targets = set(rng.choice(passages, size=queries, replace=False).tolist())
    picked: dict[int, str] = {}
    with docs.open("w") as f:
        for start in range(0, passages, 50_000):
            n = min(50_000, passages - start)
            lengths = rng.integers(words // 2, words * 3 // 2, size=n)
            ids = rng.choice(vocab, size=int(lengths.sum()), p=p / p.sum())
            cuts = np.cumsum(lengths)[:-1]
            for i, chunk in enumerate(np.split(lexicon[ids], cuts)):
                text = " ".join(chunk)
                if start + i in targets:
                    picked[start + i] = " ".join(rng.choice(chunk, size=5, replace=False))
                f.write(json.dumps({"doc_id": f"p{start + i}", "title": "", "text": text}) + "\n")
    (folder / "queries.tsv").write_text("".join(f"q{d}\t{q}\n" for d, q in picked.items()))
    (folder / "qrels.txt").write_text("".join(f"q{d} 0 p{d} 1\n" for d in picked))
    return {"docs": docs, "queries": folder / "queries.tsv", "qrels": folder / "qrels.txt"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--passages", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--depth", type=int, default=100, help="candidates per query (the paper profile's train_depth)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        files = synthetic_collection(Path(tmp), args.passages, args.queries, args.seed)
        timings["write synthetic TREC files"] = time.perf_counter() - start
        size_mb = files["docs"].stat().st_size / 1e6

        start = time.perf_counter()
        col = read_trec(files["docs"], files["queries"], files["qrels"])
        timings["read_trec (Arrow)"] = time.perf_counter() - start
        rss_read = peak_rss_gb()

        start = time.perf_counter()
        index = BM25Index(col.docs.values())
        timings["BM25Index (bm25s, chunked)"] = time.perf_counter() - start
        rss_index = peak_rss_gb()

        qids = sorted(col.qrels)
        half = len(qids) // 2
        start = time.perf_counter()
        groups = data_prep.first_stage_groups(data_prep.eval_candidates(col, index, qids[:half], depth=args.depth))
        timings[f"first_stage_groups ({half} training queries, BM25 top {args.depth})"] = time.perf_counter() - start
        start = time.perf_counter()
        lists = data_prep.eval_candidates(col, index, qids[half:], depth=args.depth)
        timings[f"eval_candidates ({len(qids) - half} queries, BM25 top {args.depth})"] = time.perf_counter() - start
        hit = np.mean([r["bm25_rank"] == 1 for r in lists if r["gain"] > 0])

    per_query = (list(timings.values())[-2] + list(timings.values())[-1]) / len(qids)
    print(f"synthetic corpus: {args.passages:,} passages ({size_mb:,.0f} MB of JSONL), {len(qids):,} judged queries")
    for step, seconds in timings.items():
        print(f"  {step:<60} {seconds:8.1f} s")
    print(f"retrieval + rows: {per_query * 1000:.0f} ms per query -> {per_query * 20000 / 60:.0f} min for 20,000 queries "
          f"(each query is retrieved once per table)")
    print(f"peak resident memory: {rss_read:.2f} GB after reading, {rss_index:.2f} GB after indexing, {peak_rss_gb():.2f} GB in all")
    print(f"sanity: {len(groups):,} group rows, {len(lists):,} list rows; BM25 ranks the query's own passage first for {hit:.0%}")


if __name__ == "__main__":
    main()
