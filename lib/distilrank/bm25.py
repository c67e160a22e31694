"""First-stage retrieval: BM25 from the `bm25s` library over title + body.

`BM25Index` is the one way the project scores documents with BM25: notebook 01 uses it for hard
negatives, evaluation candidates and the BM25 baseline; later stages read its cached results.
"""

from __future__ import annotations

from collections.abc import Sequence

import bm25s
import numpy as np

from distilrank.data import Doc


def _stemmer(language: str | None):
    if language is None:
        return None
    import Stemmer  # PyStemmer

    return Stemmer.Stemmer(language)


class BM25Index:
    """A bm25s index over documents; scores every document for a query."""

    def __init__(
        self,
        docs: Sequence[Doc],
        k1: float = 1.2,
        b: float = 0.75,
        stopwords: str | None = "en",
        stemmer: str | None = "english",
    ) -> None:
        if not docs:
            raise ValueError("BM25Index needs at least one document")
        self.doc_ids = [d.doc_id for d in docs]
        self._stopwords = stopwords or []
        self._stemmer = _stemmer(stemmer)
        tokens = bm25s.tokenize(
            [d.text for d in docs], stopwords=self._stopwords, stemmer=self._stemmer,
            show_progress=False,
        )
        self._retriever = bm25s.BM25(k1=k1, b=b)
        self._retriever.index(tokens, show_progress=False)

    def tokens(self, query: str) -> list[str]:
        """The query as bm25s sees it (lower-cased, stop words removed, stemmed)."""
        return bm25s.tokenize(
            query, stopwords=self._stopwords, stemmer=self._stemmer, return_ids=False,
            show_progress=False,
        )[0]

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document (in `doc_ids` order) for one query."""
        toks = [t for t in self.tokens(query) if t]
        if not toks:
            return np.zeros(len(self.doc_ids), dtype=np.float32)
        return np.asarray(self._retriever.get_scores(toks), dtype=np.float32)

    def top_k(self, scores: np.ndarray, k: int) -> list[tuple[str, float]]:
        """The k best documents with a positive score, best first (ties in index order)."""
        positive = np.flatnonzero(scores > 0)
        if len(positive) > k:  # keep the work O(n) on large corpora
            positive = positive[np.argpartition(-scores[positive], k - 1)[:k]]
        order = sorted(positive, key=lambda i: (-float(scores[i]), i))
        return [(self.doc_ids[i], float(scores[i])) for i in order]
