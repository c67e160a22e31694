"""Score fusion: several rankers' scores combined per query, with weights fitted on training queries.

Each ranker's scores are z-scored within each query (`zscore_per_query`: scales differ across
rankers and across queries), then summed with one weight per ranker (`fuse`). The weights are
fitted by a small pairwise learning-to-rank fit (`fit_weights`): for every pair of candidates of a
training query with different gains, a logistic regression (scikit-learn, no intercept) learns to
tell from the difference of the two documents' z-scores which one is better: RankNet with a linear
model, the classic way of fitting a linear fusion (Joachims's RankSVM, with the logistic loss). The
weights are the measured answer to "how much does each ranker add beside the others".

Fit on training queries only, never dev or test. A ranker that was trained on those training
queries (the LLM teacher, a student) is scored *in sample* there and can look better than it is on
unseen queries; the notebooks say so where it applies.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression


def zscore_per_query(df: pd.DataFrame, column: str) -> pd.Series:
    """`column` z-scored within each query (0 where a query's scores are constant)."""
    x = df[column].astype(np.float64)
    grouped = x.groupby(df["query_id"], sort=False)
    std = grouped.transform("std", ddof=0)
    return ((x - grouped.transform("mean")) / std.where(std > 0, 1.0)).fillna(0.0)


def pair_differences(df: pd.DataFrame, columns: Sequence[str], gain: str = "gain") -> tuple[np.ndarray, np.ndarray]:
    """Per query, every pair (i, j) with gain_i != gain_j: features z_i - z_j (one column per
    ranker) and the label 1 when i has the higher gain. Each pair appears once, in index order, so
    both labels occur."""
    z = np.column_stack([zscore_per_query(df, c).to_numpy() for c in columns])
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


def fit_weights(df: pd.DataFrame, columns: Sequence[str], gain: str = "gain", c: float = 1.0) -> dict[str, float]:
    """Fusion weights of `columns`, fitted by pairwise logistic regression on `df`'s queries and
    scaled so that their absolute values sum to 1 (the fused order is unchanged by scaling)."""
    x, y = pair_differences(df, columns, gain)
    if len(np.unique(y)) < 2:
        raise ValueError("fusion: the pairs carry one label only")
    w = LogisticRegression(C=c, fit_intercept=False, max_iter=1000).fit(x, y).coef_[0]
    total = float(np.abs(w).sum()) or 1.0
    return {col: float(v / total) for col, v in zip(columns, w, strict=True)}


def fuse(df: pd.DataFrame, weights: dict[str, float]) -> np.ndarray:
    """The fused score of each row: sum over rankers of weight x per-query z-score."""
    out = np.zeros(len(df), dtype=np.float64)
    for col, w in weights.items():
        out += w * zscore_per_query(df, col).to_numpy()
    return out
