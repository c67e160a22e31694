"""`dense-minilm`: a zero-shot pretrained bi-encoder ranker (sentence-transformers).

The pip-packaged all-MiniLM-L6-v2 was trained by sentence-transformers on a billion sentence
pairs to embed texts so that related ones lie close: query and document are embedded apart and a
pair's score is the cosine of their (normalised) embeddings. It never saw Cranfield's labels, so
it is an honest zero-shot reference, and, unlike BM25, it matches meaning rather than words: the
second signal of the ensemble teacher (`distilrank.fusion`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
from sentence_transformers import SentenceTransformer

from distilrank.paths import atomic_path
from distilrank.precision import autocast
from distilrank.rankers import document_text


def load_encoder(path: str, device: str = "cpu") -> SentenceTransformer:
    """A sentence-transformers bi-encoder from a local folder (or a hub id on the paper profile)."""
    return SentenceTransformer(path, device=device)


def embed(model: SentenceTransformer, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """L2-normalised embeddings (N, D) of `texts`, in order."""
    return model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                        show_progress_bar=False)


def score_frame(model: SentenceTransformer, df: pd.DataFrame, batch_size: int = 64, precision: str = "fp32") -> np.ndarray:
    """Cosine of query and document (title + summary) embeddings for each row of a candidates frame.

    Each distinct query and document is embedded once, however many rows share it.
    """
    return score_frames(model, {"": df}, batch_size, precision)[""]


def save_doc_embeddings(texts: Sequence[str], embeddings: np.ndarray, path: str | Path) -> None:
    """Document texts (title + summary, as embedded) and their embeddings as one Arrow file, atomically."""
    emb = np.ascontiguousarray(embeddings, dtype=np.float32)
    column = pa.FixedSizeListArray.from_arrays(pa.array(emb.reshape(-1)), emb.shape[1])
    with atomic_path(path) as tmp:
        feather.write_feather(pa.table({"text": pa.array(list(texts), pa.string()), "embedding": column}), str(tmp))


def load_doc_embeddings(path: str | Path) -> dict[str, np.ndarray]:
    """What `save_doc_embeddings` wrote, as text -> embedding; a missing file is an error naming
    the notebook that writes it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no document embeddings at {path}: run notebook 03, which embeds the lists' documents")
    table = feather.read_table(str(path))
    width = table.schema.field("embedding").type.list_size
    emb = table.column("embedding").combine_chunks().flatten().to_numpy().reshape(-1, width)
    return dict(zip(table.column("text").to_pylist(), emb, strict=True))


def score_frames(model: SentenceTransformer, frames: dict[str, pd.DataFrame], batch_size: int = 64,
                 precision: str = "fp32", device: str = "cpu", save_docs_to: str | Path | None = None) -> dict[str, np.ndarray]:
    """`score_frame` for several frames at once: each distinct query and document of all of them is
    embedded once (lists of different splits share most of the collection's documents), under
    `precision`'s autocast on `device`. With `save_docs_to`, the document embeddings are kept there
    (`save_doc_embeddings`) for a later stage that needs them again (notebook 07's dense search)."""
    docs = {name: [document_text(t, s) for t, s in zip(df["title"], df["summary"], strict=True)] for name, df in frames.items()}
    doc_keys = pd.Categorical([d for name in frames for d in docs[name]])
    query_keys = pd.Categorical([q for df in frames.values() for q in df["query"]])
    if len(doc_keys) == 0:
        return {name: np.zeros(0, dtype=np.float32) for name in frames}
    with autocast(precision, device):
        d_emb = embed(model, list(doc_keys.categories), batch_size)
        q_emb = embed(model, list(query_keys.categories), batch_size)
    if save_docs_to is not None:
        save_doc_embeddings(list(doc_keys.categories), d_emb, save_docs_to)
    scores = np.einsum("nd,nd->n", q_emb[query_keys.codes], d_emb[doc_keys.codes]).astype(np.float32)
    out, start = {}, 0
    for name, df in frames.items():
        out[name], start = scores[start : start + len(df)], start + len(df)
    return out
