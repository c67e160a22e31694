"""Score fusion: several rankers' scores combined into one, with weights fitted on training or dev queries, never test.

Rankers' scales differ (a BM25 score, a cosine, a logit), so each ranker's score is standardised
before the weighted sum, `fuse`: Σ_c w_c · standardised_c. A `Fusion` holds the weights and says how
the scores are standardised, its `method`:

- **`global`** (every fusion the project reports): each score is standardised with a mean and a
  standard deviation fixed once on the training rows (`fit_standardiser`), one affine map for every
  query and every list. The fused score of a (query, document) pair is then *a function of that pair
  alone*. Distillation targets need exactly that: the student is a cross-encoder, which scores one
  (query, document) pair at a time and never sees the other candidates, so it cannot reproduce a
  target that depends on them; and a document in two lists (two first stages, two depths) gets one
  target, not two. The scores also keep their absolute level: a query whose candidates all score
  high keeps high targets.
- **`query`** (the ablation; `stats=None`): each score z-scored within its query's list
  (`zscore_per_query`). Every list's fused scores then have mean 0 whatever the candidates'
  relevance, and a document's score moves with the other candidates of its list: harmless for
  ordering one list (notebook 07's fused first stage uses it that way), not a per-pair target.

Within one list both methods order the candidates by a weighted sum of the raw scores; per query the
effective weights change from list to list (divided by each list's standard deviations).

The weights are fitted by a small pairwise learning-to-rank fit (`fit_fusion`): for every pair of
candidates of a training query with different gains, a logistic regression (scikit-learn, no
intercept) learns to tell from the difference of the two documents' standardised scores which one is
better: RankNet with a linear model, the classic way of fitting a linear fusion (Joachims's RankSVM,
with the logistic loss). The weights are the measured answer to "how much does each ranker add
beside the others", scaled so that their absolute values sum to 1.

Never fit on test. Notebook 03's fusions are fitted on the training queries (the `global`
statistics too); the LLM teacher trained on those queries, so it is scored *in sample* there and
can look better than it is on unseen queries (its weight is small; notebook 03 says so). Notebook
04's `<student>+bm25` fusions are fitted on dev instead: a student is further in sample on its
training queries than the teacher, and a fit there gives it more weight than it earns. A `Fusion` goes to
JSON and back (`to_dict`, `Fusion.from_dict`): notebook 03 writes `teachers/ensemble.json`, and
notebook 07 reads `teacher-ensemble` from it, statistics included, so its targets are notebook 03's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

METHODS = ("global", "query")


@dataclass(frozen=True)
class Fusion:
    """A fitted fusion: one weight per score column, and `stats`, each column's (mean, std) fixed
    on the training rows (`global`), or None: z-scores within each query (`query`, the ablation)."""

    weights: dict[str, float]
    stats: dict[str, tuple[float, float]] | None = None

    def __post_init__(self) -> None:
        if self.stats is not None and (missing := set(self.weights) - set(self.stats)):
            raise ValueError(f"Fusion: no standardisation statistics for {sorted(missing)}")

    @property
    def method(self) -> str:
        """`global` (training-set statistics) or `query` (per-query z-scores)."""
        return "query" if self.stats is None else "global"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: method, weights, stats (column -> [mean, std], or None)."""
        stats = None if self.stats is None else {c: [float(m), float(s)] for c, (m, s) in self.stats.items()}
        return {"method": self.method, "weights": {c: float(w) for c, w in self.weights.items()}, "stats": stats}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Fusion:
        """The `Fusion` a `to_dict` wrote."""
        stats = d.get("stats")
        fused = cls({c: float(w) for c, w in d["weights"].items()},
                    None if stats is None else {c: (float(m), float(s)) for c, (m, s) in stats.items()})
        if d.get("method", fused.method) != fused.method:
            raise ValueError(f"Fusion.from_dict: method {d['method']!r} does not match stats {'None' if stats is None else 'given'}")
        return fused


def zscore_per_query(df: pd.DataFrame, column: str) -> pd.Series:
    """`column` z-scored within each query (0 where a query's scores are constant)."""
    x = df[column].astype(np.float64)
    grouped = x.groupby(df["query_id"], sort=False)
    std = grouped.transform("std", ddof=0)
    return ((x - grouped.transform("mean")) / std.where(std > 0, 1.0)).fillna(0.0)


def fit_standardiser(df: pd.DataFrame, columns: Sequence[str]) -> dict[str, tuple[float, float]]:
    """Each column's (mean, population std) over `df`'s rows; std 1.0 for a constant column."""
    stats = {}
    for c in columns:
        x = df[c].to_numpy(dtype=np.float64)
        if len(x) == 0 or not np.isfinite(x).all():
            raise ValueError(f"fit_standardiser: column {c!r} is empty or not finite")
        std = float(x.std())
        stats[c] = (float(x.mean()), std if std > 0 else 1.0)
    return stats


def standardise(df: pd.DataFrame, columns: Sequence[str], stats: Mapping[str, tuple[float, float]] | None) -> np.ndarray:
    """The (rows, columns) matrix of standardised scores: `(x - mean) / std` with `stats`, or
    z-scores within each query when `stats` is None."""
    if stats is None:
        return np.column_stack([zscore_per_query(df, c).to_numpy() for c in columns]).reshape(len(df), len(columns))
    return np.column_stack([(df[c].to_numpy(dtype=np.float64) - stats[c][0]) / stats[c][1] for c in columns]).reshape(len(df), len(columns))


def pair_differences(df: pd.DataFrame, columns: Sequence[str], gain: str = "gain",
                     stats: Mapping[str, tuple[float, float]] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per query, every pair (i, j) with gain_i != gain_j: features z_i - z_j (one column per
    ranker; z from `standardise` with `stats`, per-query z-scores when None) and the label 1 when i
    has the higher gain. Each pair appears once, in index order, so both labels occur."""
    z = standardise(df, columns, stats)
    g = df[gain].to_numpy(dtype=np.float64)
    xs, ys = [], []
    for idx in df.groupby("query_id", sort=False).indices.values():
        i, j = np.triu_indices(len(idx), k=1)
        i, j = idx[i], idx[j]
        keep = g[i] != g[j]
        xs.append(z[i[keep]] - z[j[keep]])
        ys.append((g[i[keep]] > g[j[keep]]).astype(int))
    if not xs or sum(len(y) for y in ys) == 0:
        raise ValueError("fusion: no pair of candidates with different gains to fit on")
    return np.concatenate(xs), np.concatenate(ys)


def fit_fusion(df: pd.DataFrame, columns: Sequence[str], gain: str = "gain", method: str = "global", c: float = 1.0) -> Fusion:
    """The fusion of `columns` fitted on `df`'s queries: with `global`, the standardisation
    statistics of `df`'s rows (`fit_standardiser`); the weights by pairwise logistic regression on
    within-query differences of the standardised scores, scaled so that their absolute values sum
    to 1 (the fused order is unchanged by scaling)."""
    if method not in METHODS:
        raise ValueError(f"unknown fusion method {method!r}; choose from {METHODS}")
    stats = fit_standardiser(df, columns) if method == "global" else None
    x, y = pair_differences(df, columns, gain, stats)
    if len(np.unique(y)) < 2:
        raise ValueError("fusion: the pairs carry one label only")
    w = LogisticRegression(C=c, fit_intercept=False, max_iter=1000).fit(x, y).coef_[0]
    total = float(np.abs(w).sum()) or 1.0
    return Fusion({col: float(v / total) for col, v in zip(columns, w, strict=True)}, stats)


def fuse(df: pd.DataFrame, fusion: Fusion) -> np.ndarray:
    """The fused score of each row: Σ over the fusion's columns of weight × standardised score."""
    if not isinstance(fusion, Fusion):
        raise TypeError(f"fuse: expected a Fusion (fit_fusion, Fusion.from_dict), got {type(fusion).__name__}")
    columns = list(fusion.weights)
    if not columns:
        return np.zeros(len(df), dtype=np.float64)
    return standardise(df, columns, fusion.stats) @ np.array([fusion.weights[c] for c in columns], dtype=np.float64)
