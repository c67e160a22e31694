"""First-stage retrieval: BM25 from the `bm25s` library over title + body.

`BM25Index` is the one way the project scores documents with BM25: notebook 01 uses it for hard
negatives, evaluation candidates and the BM25 baseline; later stages read its cached results.
Retrieval is top-k (`search`: bm25s' own selection, no sort of the corpus); the exact BM25 score
of a few given documents (a query's judged ones) comes from the index's posting lists
(`score_docs`). The corpus is tokenised in chunks, so an Arrow-backed `DocStore` of millions of
passages never becomes one list of Python strings.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import islice

import bm25s
import numpy as np
from bm25s.tokenization import Tokenized, Tokenizer

from distilrank.data import Doc


def _stemmer(language: str | None):
    if language is None:
        return None
    import Stemmer  # PyStemmer

    return Stemmer.Stemmer(language)


class BM25Index:
    """A bm25s index over documents (title + body), built chunk by chunk."""

    TIE_MARGIN = 16

    def __init__(self, docs: Iterable[Doc], k1: float = 1.2, b: float = 0.75, stopwords: str | None = "en",
                 stemmer: str | None = "english", chunk_size: int = 200_000, show_progress: bool = False) -> None:
        self._stopwords = stopwords or []
        self._stemmer = _stemmer(stemmer)
        tokenizer = Tokenizer(stopwords=self._stopwords, stemmer=self._stemmer)
        self.doc_ids: list[str] = []
        ids: list[list[int]] = []
        it = iter(docs)
        while chunk := list(islice(it, chunk_size)):
            self.doc_ids += [d.doc_id for d in chunk]
            ids += tokenizer.tokenize([d.text for d in chunk], update_vocab=True, return_as="ids", show_progress=show_progress)
        if not self.doc_ids:
            raise ValueError("BM25Index needs at least one document")
        vocab = tokenizer.get_vocab_dict()
        if "" in vocab:  # the tokenizer writes an empty document as [""]: it has length 0, as bm25s.tokenize says
            empty = vocab[""]
            ids = [[] if doc == [empty] else doc for doc in ids]
        self._retriever = bm25s.BM25(k1=k1, b=b)
        self._retriever.index(Tokenized(ids=ids, vocab=vocab), show_progress=show_progress)
        self._pos: dict[str, int] | None = None

    def position(self, doc_id: str) -> int:
        """The index position of a document id (a dict built on first use)."""
        if self._pos is None:
            self._pos = {d: i for i, d in enumerate(self.doc_ids)}
        return self._pos[doc_id]

    def tokens(self, query: str) -> list[str]:
        """The query as bm25s sees it (lower-cased, stop words removed, stemmed)."""
        return bm25s.tokenize(
            query, stopwords=self._stopwords, stemmer=self._stemmer, return_ids=False,
            show_progress=False,
        )[0]

    def _token_ids(self, query: str) -> list[int]:
        return self._retriever.get_tokens_ids([t for t in self.tokens(query) if t])

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document (in `doc_ids` order) for one query (a full vector: for
        small collections and checks; retrieval uses `search`)."""
        ids = self._token_ids(query)
        if not ids:
            return np.zeros(len(self.doc_ids), dtype=np.float32)
        return np.asarray(self._retriever.get_scores_from_ids(ids), dtype=np.float32)

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """The k best documents with a positive score, best first, ties in index order: bm25s'
        top-k selection over the query's scores (no sort of the corpus), `TIE_MARGIN` deeper than
        k; when even that depth ends in a tie with the k-th score, every document at or above it is
        collected from the score vector (one linear pass), so the cut never depends on the
        selection's order."""
        ids = self._token_ids(query)
        if not ids or k <= 0:
            return []
        deeper = min(k + self.TIE_MARGIN, len(self.doc_ids))
        found, scores = self._retriever.retrieve([ids], k=deeper, sorted=False, show_progress=False, n_threads=0)
        pairs = sorted(((int(i), float(s)) for i, s in zip(found[0], scores[0], strict=True) if s > 0), key=lambda p: (-p[1], p[0]))
        if len(pairs) > k and deeper < len(self.doc_ids) and pairs[-1][1] == pairs[k - 1][1]:
            full = np.asarray(self._retriever.get_scores_from_ids(ids), dtype=np.float32)
            at_least = np.flatnonzero(full >= np.float32(pairs[k - 1][1]))
            pairs = sorted(((int(i), float(full[i])) for i in at_least), key=lambda p: (-p[1], p[0]))
        return [(self.doc_ids[i], s) for i, s in pairs[:k]]

    def score_docs(self, query: str, doc_ids: Sequence[str]) -> np.ndarray:
        """The exact BM25 scores of the given documents for `query`, read from the posting lists
        of the query's terms (binary search per term): what `scores` would give at their
        positions, without scoring the corpus."""
        data, indices, indptr = (self._retriever.scores[k] for k in ("data", "indices", "indptr"))
        positions = np.array([self.position(d) for d in doc_ids], dtype=np.int64)
        out = np.zeros(len(positions), dtype=np.float32)  # float32, term by term: bm25s' own sums, bit for bit
        for t in self._token_ids(query):
            docs = indices[indptr[t] : indptr[t + 1]]
            j = np.minimum(np.searchsorted(docs, positions), max(len(docs) - 1, 0))
            hit = (docs[j] == positions) if len(docs) else np.zeros(len(positions), dtype=bool)
            out[hit] += data[indptr[t] : indptr[t + 1]][j[hit]]
        return out
