"""Data preparation (notebook 01): query splits, CPT examples, ranking groups, eval candidates.

Every builder returns plain rows (dicts) that `save_prepared` writes as one `datasets.DatasetDict`
on disk; later stages read that, never in-memory state. Row fields:

- `cpt`: query_id, doc_id, query, title, summary, gain (the click-style CPT examples),
- `train_groups`: one row per (training query, document): query_id, doc_id, query, title, summary,
  gain, bm25_score, bm25_rank, source (`judged` or `bm25_negative`),
- `dev_candidates` / `test_candidates`: the same fields; the BM25 top-k and nothing else (a
  re-ranker sees what the first stage retrieved; unjudged documents have gain 0),
- `train_candidates`: the same for training queries, plus every judged document (training data
  may keep its positives),
- `qrels`: every judgment of every split (query_id, doc_id, gain, split): what NDCG's ideal
  ranking is computed from, so that a relevant document the first stage missed still counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from distilrank.bm25 import BM25Index
from distilrank.data import Collection
from distilrank.paths import atomic_dir

SPLITS = ("train", "dev", "test")


def split_queries(query_ids: Iterable[str], n_test: int, n_dev: int, seed: int, n_train: int | None = None) -> dict[str, list[str]]:
    """A seeded, deterministic train/dev/test split of query ids (order of input ignored).

    Test and dev come first from one seeded permutation; the rest train, cut to `n_train` if given.
    """
    ids = sorted(set(query_ids), key=lambda q: (len(q), q))
    if n_test + n_dev >= len(ids):
        raise ValueError(
            f"split: n_test ({n_test}) + n_dev ({n_dev}) leaves no training queries "
            f"out of {len(ids)} judged queries"
        )
    order = [ids[i] for i in np.random.default_rng(seed).permutation(len(ids))]
    test, dev, train = order[:n_test], order[n_test : n_test + n_dev], order[n_test + n_dev :]
    train = train if n_train is None else train[:n_train]
    return {s: sorted(part, key=lambda q: (len(q), q)) for s, part in zip(SPLITS, (train, dev, test), strict=True)}


def _row(col: Collection, qid: str, did: str, **extra: Any) -> dict[str, Any]:
    doc = col.docs[did]
    return {
        "query_id": qid,
        "doc_id": did,
        "query": col.queries[qid],
        "title": doc.title,
        "summary": doc.body,
        "gain": int(col.qrels.get(qid, {}).get(did, 0)),
        **extra,
    }


def cpt_examples(col: Collection, query_ids: Iterable[str], min_gain: int) -> list[dict[str, Any]]:
    """Click-style examples: each query with each of its judged docs of gain >= `min_gain`.

    Empty documents are left out: there is nothing to generate.
    """
    rows = []
    for qid in query_ids:
        for did, gain in sorted(col.qrels.get(qid, {}).items()):
            if gain >= min_gain and col.docs[did].text:
                rows.append(_row(col, qid, did))
    return rows


def _ranks(scores: np.ndarray) -> np.ndarray:
    """1-based BM25 rank of every document (0 where the score is 0: not retrieved)."""
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[order] = np.arange(1, len(scores) + 1)
    return np.where(scores > 0, ranks, 0)


def train_groups(
    col: Collection, index: BM25Index, query_ids: Iterable[str], n_negatives: int, depth: int,
    seed: int,
) -> list[dict[str, Any]]:
    """Per training query: every judged document, plus `n_negatives` BM25 hard negatives.

    Negatives are unjudged documents drawn (seeded, without replacement) from the BM25 top `depth`;
    they get gain 0. Rank-DistiLLM's point: negatives from the first stage are the hard ones a
    re-ranker must learn to push down.
    """
    rng = np.random.default_rng(seed)
    pos = {d: i for i, d in enumerate(index.doc_ids)}
    rows = []
    for qid in query_ids:
        scores = index.scores(col.queries[qid])
        ranks = _ranks(scores)
        judged = col.qrels.get(qid, {})
        pool = [d for d, _ in index.top_k(scores, depth) if d not in judged]
        take = min(n_negatives, len(pool))
        negatives = [pool[i] for i in sorted(rng.choice(len(pool), size=take, replace=False))]
        for did, source in [(d, "judged") for d in sorted(judged)] + [(d, "bm25_negative") for d in negatives]:
            i = pos[did]
            rows.append(_row(col, qid, did, bm25_score=float(scores[i]), bm25_rank=int(ranks[i]), source=source))
    return rows


def eval_candidates(
    col: Collection, index: BM25Index, query_ids: Iterable[str], depth: int, add_judged: bool = False,
) -> list[dict[str, Any]]:
    """Per query: the BM25 top `depth`, with BM25 scores (and, with `add_judged`, every judged
    document too).

    Dev and test lists are the first stage's top k and nothing else: adding the judged documents
    would add documents that are relevant by construction (every Cranfield judgment has gain > 0),
    and "was added" alone would then rank well. `add_judged` is for training lists only, where
    keeping the positives costs nothing in honesty. `source` says how a row got in (`bm25` or
    `judged`).
    """
    pos = {d: i for i, d in enumerate(index.doc_ids)}
    rows = []
    for qid in query_ids:
        scores = index.scores(col.queries[qid])
        ranks = _ranks(scores)
        retrieved = [d for d, _ in index.top_k(scores, depth)]
        judged = sorted(col.qrels.get(qid, {})) if add_judged else []
        for did in dict.fromkeys(retrieved + judged):
            i = pos[did]
            source = "bm25" if did in retrieved else "judged"
            rows.append(_row(col, qid, did, bm25_score=float(scores[i]), bm25_rank=int(ranks[i]), source=source))
    return rows


def qrels_rows(col: Collection, split: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Every judgment of the split's queries: query_id, doc_id, gain, split."""
    return [{"query_id": q, "doc_id": d, "gain": int(g), "split": name}
            for name, ids in split.items() for q in ids for d, g in sorted(col.qrels.get(q, {}).items())]


def save_prepared(tables: dict[str, list[dict[str, Any]]], path: str | Path) -> None:
    """Write the prepared tables as one `DatasetDict` (Arrow), atomically."""
    import datasets
    from datasets import Dataset, DatasetDict

    empty = [name for name, rows in tables.items() if not rows]
    if empty:
        raise ValueError(f"refusing to save empty tables: {empty}")
    dd = DatasetDict({name: Dataset.from_pandas(pd.DataFrame(rows), preserve_index=False) for name, rows in tables.items()})
    datasets.disable_progress_bars()  # a bar per small table is noise in an executed notebook
    try:
        with atomic_dir(path) as tmp:
            dd.save_to_disk(str(tmp))
    finally:
        datasets.enable_progress_bars()


def load_prepared(path: str | Path):
    """Read what `save_prepared` wrote (a `datasets.DatasetDict`), with a clear error if absent."""
    from datasets import load_from_disk

    path = Path(path)
    if not (path / "dataset_dict.json").is_file():
        raise FileNotFoundError(f"no prepared data at {path}: run notebook 01 (make replicate) first")
    return load_from_disk(str(path))


def judged_ranks(col: Collection, index: BM25Index, query_ids: Iterable[str]) -> pd.DataFrame:
    """BM25 rank (0 = not retrieved) of every relevant judged document of the given queries."""
    pos = {d: i for i, d in enumerate(index.doc_ids)}
    rows = []
    for qid in query_ids:
        ranks = _ranks(index.scores(col.queries[qid]))
        rows += [{"query_id": qid, "doc_id": d, "gain": g, "bm25_rank": int(ranks[pos[d]])}
                 for d, g in col.qrels.get(qid, {}).items() if g > 0]
    return pd.DataFrame(rows)


def recall_at(ranks: pd.DataFrame, ks: Iterable[int]) -> pd.DataFrame:
    """Macro-averaged recall of relevant judged documents within the BM25 top k, for each k."""
    hit = lambda k: ((ranks.bm25_rank > 0) & (ranks.bm25_rank <= k)).groupby(ranks.query_id).mean().mean()  # noqa: E731
    return pd.DataFrame({"k": list(ks)}).assign(recall=lambda d: [float(hit(k)) for k in d.k])


def corpus_rows(col: Collection) -> list[dict[str, Any]]:
    """Every document (doc_id, title, summary), for stages that need the whole collection."""
    return [{"doc_id": d.doc_id, "title": d.title, "summary": d.body} for d in col.docs.values()]


def pseudo_query_groups(col: Collection, index: BM25Index, n_queries: int, depth: int, seed: int) -> list[dict[str, Any]]:
    """Unlabeled click-style data from the collection itself: a document's title as a query.

    For `n_queries` documents (seeded sample of those with a title and a summary), the title is
    the query, the document is its one "clicked" result (gain 1) and the BM25 top `depth` other
    documents for that title are its candidates (gain 0). Candidates are shown by their summary
    only (`title` is empty): with the title present, the match would be a trivial copy.
    Query ids are `t<doc_id>`; no test query is involved.
    """
    eligible = [d for d in col.docs.values() if d.title and d.body]
    rng = np.random.default_rng(seed)
    picked = [eligible[i] for i in sorted(rng.choice(len(eligible), size=min(n_queries, len(eligible)), replace=False))]
    pos = {d: i for i, d in enumerate(index.doc_ids)}
    rows = []
    for src in picked:
        scores = index.scores(src.title)
        ranks = _ranks(scores)
        others = [d for d, _ in index.top_k(scores, depth + 1) if d != src.doc_id][:depth]
        for did in [src.doc_id, *others]:
            i = pos[did]
            rows.append({"query_id": f"t{src.doc_id}", "doc_id": did, "query": src.title, "title": "",
                         "summary": col.docs[did].body, "gain": int(did == src.doc_id),
                         "bm25_score": float(scores[i]), "bm25_rank": int(ranks[i]),
                         "source": "title_source" if did == src.doc_id else "bm25"})
    return rows
