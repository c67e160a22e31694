"""`dense-minilm`: a zero-shot pretrained bi-encoder ranker (sentence-transformers).

The pip-packaged all-MiniLM-L6-v2 was trained by sentence-transformers on a billion sentence
pairs to embed texts so that related ones lie close: query and document are embedded apart and a
pair's score is the cosine of their (normalised) embeddings. It never saw Cranfield's labels, so
it is an honest zero-shot reference, and, unlike BM25, it matches meaning rather than words: the
second signal of the ensemble teacher (`distilrank.fusion`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sentence_transformers import SentenceTransformer

from distilrank.rankers import document_text


def load_encoder(path: str, device: str = "cpu") -> SentenceTransformer:
    """A sentence-transformers bi-encoder from a local folder (or a hub id on the paper profile)."""
    return SentenceTransformer(path, device=device)


def embed(model: SentenceTransformer, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """L2-normalised embeddings (N, D) of `texts`, in order."""
    return model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                        show_progress_bar=False)


def score_frame(model: SentenceTransformer, df: pd.DataFrame, batch_size: int = 64) -> np.ndarray:
    """Cosine of query and document (title + summary) embeddings for each row of a candidates frame.

    Each distinct query and document is embedded once, however many rows share it.
    """
    if df.empty:
        return np.zeros(0, dtype=np.float32)
    docs = [document_text(t, s) for t, s in zip(df["title"], df["summary"], strict=True)]
    doc_keys = pd.Series(docs).astype("category")
    query_keys = df["query"].astype("category")
    d_emb = embed(model, list(doc_keys.cat.categories), batch_size)
    q_emb = embed(model, list(query_keys.cat.categories), batch_size)
    q_rows = q_emb[query_keys.cat.codes.to_numpy()]
    d_rows = d_emb[doc_keys.cat.codes.to_numpy()]
    return np.einsum("nd,nd->n", q_rows, d_rows).astype(np.float32)
