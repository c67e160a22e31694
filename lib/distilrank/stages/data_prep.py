"""Notebook 01, data preparation: query splits, CPT examples, ranking groups, eval candidates.

Every builder returns plain rows (dicts) that `artifacts.save_prepared` writes as one `datasets.DatasetDict`
on disk; later stages read that, never in-memory state. Row fields:

- `cpt`: query_id, doc_id, query, title, summary, gain (the click-style CPT examples),
- `train_groups`: the training queries' first-stage lists that hold a relevant document
  (`first_stage_groups`), the same fields as the candidate lists,
- `dev_candidates` / `test_candidates`: the same fields; the BM25 top-k and nothing else (a
  re-ranker sees what the first stage retrieved; unjudged documents have gain 0),
- `train_candidates`: the same for training queries (the BM25 top `train_depth`, nothing added):
  training lists look like test lists,
- `qrels`: every judgment of every split (query_id, doc_id, gain, split): what NDCG's ideal
  ranking is computed from, so that a relevant document the first stage missed still counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from distilrank.bm25 import BM25Index
from distilrank.data import Collection, DocStore

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

    Empty documents are left out: there is nothing to generate. When no judgment of the
    collection reaches `min_gain` (a click log's clicks are gain 1), that is an error saying so.
    """
    query_ids = list(query_ids)
    rows = []
    for qid in query_ids:
        for did, gain in sorted(col.qrels.get(qid, {}).items()):
            if gain >= min_gain and col.docs[did].text:
                rows.append(_row(col, qid, did))
    top = max((g for judged in col.qrels.values() for g in judged.values()), default=0)
    if query_ids and top < min_gain:
        raise ValueError(f"{col.name}: no judgment reaches prep.cpt_min_gain = {min_gain} (the largest gain in the "
                         f"collection is {top}; a click log's clicks are gain 1), so there is no CPT example: "
                         f"set prep.cpt_min_gain to {max(top, 1)} or less")
    return rows


RANK_DEPTH = 1000  # `bm25_rank` is a document's rank within BM25's top 1000 (0 beyond: "not retrieved")


def retrieve(index: BM25Index, query: str, depth: int) -> tuple[list[str], dict[str, tuple[float, int]]]:
    """One top-k BM25 retrieval: the top `depth` ids, and (score, rank) of every document within
    the top `max(depth, RANK_DEPTH)` (rank 1-based)."""
    top = index.search(query, max(depth, RANK_DEPTH))
    return [d for d, _ in top[:depth]], {d: (s, r) for r, (d, s) in enumerate(top, start=1)}


def score_and_rank(index: BM25Index, query: str, ranked: dict[str, tuple[float, int]], doc_ids: Iterable[str]) -> dict[str, tuple[float, int]]:
    """(BM25 score, rank) of each document: from the retrieval where it was retrieved, else its
    exact score from the index (`BM25Index.score_docs`) with rank 0."""
    doc_ids = list(doc_ids)
    missing = [d for d in doc_ids if d not in ranked]
    extra = dict(zip(missing, ((float(s), 0) for s in index.score_docs(query, missing)), strict=True)) if missing else {}
    return {d: ranked.get(d) or extra[d] for d in doc_ids}


def first_stage_groups(candidates: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ranking groups of labelled training: the training queries' first-stage lists
    (`eval_candidates` without `add_judged`: the BM25 top k and nothing else, unjudged = gain 0)
    of every query whose list holds at least one relevant document (a list of gains 0 alone has no
    pair to learn). Training lists then look like the test lists: a judged document BM25 missed is
    never added, so "was added" can not become a cue the test lists never reward."""
    rows = list(candidates)
    outside = [r["doc_id"] for r in rows if r.get("source", "bm25") != "bm25"]
    if outside:
        raise ValueError(f"first_stage_groups: {len(outside)} rows are not from the first stage (e.g. {outside[0]!r})")
    keep = {r["query_id"] for r in rows if r["gain"] > 0}
    return [r for r in rows if r["query_id"] in keep]


def eval_candidates(
    col: Collection, index: BM25Index, query_ids: Iterable[str], depth: int, add_judged: bool = False,
) -> list[dict[str, Any]]:
    """Per query: the BM25 top `depth`, with BM25 scores (and, with `add_judged`, every judged
    document too).

    Dev and test lists are the first stage's top k and nothing else: adding the judged documents
    would add documents that are relevant by construction (every Cranfield judgment has gain > 0),
    and "was added" alone would then rank well. `add_judged` exists to show what that does (a
    test), and no stage uses it: training lists follow the same rule, or a ranker trained on them
    learns that "few shared words" marks a relevant document. `source` says how a row got in (`bm25` or
    `judged`).
    """
    rows = []
    for qid in query_ids:
        retrieved, ranked = retrieve(index, col.queries[qid], depth)
        judged = sorted(col.qrels.get(qid, {})) if add_judged else []
        ids = list(dict.fromkeys(retrieved + judged))
        known = score_and_rank(index, col.queries[qid], ranked, ids)
        in_top = set(retrieved)
        for did in ids:
            score, rank = known[did]
            rows.append(_row(col, qid, did, bm25_score=score, bm25_rank=rank, source="bm25" if did in in_top else "judged"))
    return rows


def list_coverage(cand: pd.DataFrame, qrels: dict[str, dict[str, int]], split: dict[str, list[str]]) -> pd.DataFrame:
    """Per split of `cand` (candidate rows with `split`, `query_id`, `doc_id`, `gain`): queries,
    candidates, relevant documents in the lists, relevant judged documents, and the share of the
    latter the lists hold (the re-ranking ceiling in recall terms)."""
    judged = {s: sum(g > 0 for q in split[s] for g in qrels[q].values()) for s in cand["split"].unique()}
    table = cand.groupby("split").agg(queries=("query_id", "nunique"), candidates=("doc_id", "size"),
                                      relevant_in_lists=("gain", lambda g: int((g > 0).sum())))
    table["relevant_judged"] = pd.Series(judged)
    table["share_in_lists"] = (table.relevant_in_lists / table.relevant_judged).round(3)
    return table


def qrels_rows(col: Collection, split: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Every judgment of the split's queries: query_id, doc_id, gain, split."""
    return [{"query_id": q, "doc_id": d, "gain": int(g), "split": name}
            for name, ids in split.items() for q in ids for d, g in sorted(col.qrels.get(q, {}).items())]


def prepared_summary(prepared: Any) -> pd.DataFrame:
    """One row per table of a `DatasetDict` (or a mapping of datasets): its rows and columns; what a
    reader needs instead of the `DatasetDict` repr."""
    return pd.DataFrame([{"table": name, "rows": ds.num_rows, "columns": ", ".join(ds.column_names)}
                         for name, ds in prepared.items()]).set_index("table")


def judged_ranks(col: Collection, index: BM25Index, query_ids: Iterable[str], depth: int = RANK_DEPTH) -> pd.DataFrame:
    """BM25 rank within the top `depth` (0 = not retrieved so deep) of every relevant judged
    document of the given queries."""
    rows = []
    for qid in query_ids:
        ranks = {d: r for r, (d, _) in enumerate(index.search(col.queries[qid], depth), start=1)}
        rows += [{"query_id": qid, "doc_id": d, "gain": g, "bm25_rank": ranks.get(d, 0)}
                 for d, g in col.qrels.get(qid, {}).items() if g > 0]
    return pd.DataFrame(rows)


def recall_at(ranks: pd.DataFrame, ks: Iterable[int]) -> pd.DataFrame:
    """Macro-averaged recall of relevant judged documents within the BM25 top k, for each k."""
    hit = lambda k: ((ranks.bm25_rank > 0) & (ranks.bm25_rank <= k)).groupby(ranks.query_id).mean().mean()  # noqa: E731
    return pd.DataFrame({"k": list(ks)}).assign(recall=lambda d: [float(hit(k)) for k in d.k])


def corpus_rows(col: Collection) -> list[dict[str, Any]] | Any:
    """Every document (doc_id, title, summary), for stages that need the whole collection: an
    Arrow table straight from a `DocStore` (no Python object per document), else rows."""
    if isinstance(col.docs, DocStore):
        return col.docs.table.rename_columns(["doc_id", "title", "summary"])
    return [{"doc_id": d.doc_id, "title": d.title, "summary": d.body} for d in col.docs.values()]


def pseudo_query_groups(col: Collection, index: BM25Index, n_queries: int, depth: int, seed: int) -> list[dict[str, Any]]:
    """Unlabeled click-style data from the collection itself: a document's title as a query.

    For `n_queries` documents (seeded sample of those with a title and a summary), the title is
    the query, the document is its one "clicked" result (gain 1) and the BM25 top `depth` other
    documents for that title are its candidates (gain 0). Candidates are shown as every test pair
    shows a document (title and summary), so that a student trained on them reads the format it is
    tested on; the source document's title then matches the query word for word, which is why the
    students learn from the teacher's scores of these lists, not from the gain-1 label.
    Query ids are `t<doc_id>`; no test query is involved.
    """
    if n_queries == 0:
        return []
    eligible = [d for d in col.docs.values() if d.title and d.body]
    rng = np.random.default_rng(seed)
    picked = [eligible[i] for i in sorted(rng.choice(len(eligible), size=min(n_queries, len(eligible)), replace=False))]
    rows = []
    for src in picked:
        top, ranked = retrieve(index, src.title, depth + 1)
        ids = [src.doc_id, *[d for d in top if d != src.doc_id][:depth]]
        known = score_and_rank(index, src.title, ranked, ids)
        for did in ids:
            rows.append({"query_id": f"t{src.doc_id}", "doc_id": did, "query": src.title, "title": col.docs[did].title,
                         "summary": col.docs[did].body, "gain": int(did == src.doc_id),
                         "bm25_score": known[did][0], "bm25_rank": known[did][1],
                         "source": "title_source" if did == src.doc_id else "bm25"})
    return rows
