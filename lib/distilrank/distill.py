"""Distillation data: the teacher's cached transfer-set scores as regression targets for students.

Notebook 03 scored the transfer set once (`outputs/<profile>/transfer/`): the LLM teacher's scores
in column `teacher_score`, `teacher-ensemble`'s in `ensemble_score`. `distill.teacher` picks one
(`TEACHERS`); here those scores become each candidate's `target`: normalised (MSE reads absolute
values, and a teacher's scale is arbitrary) and grouped by query for `distilrank.training`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from distilrank.fusion import zscore_per_query

NORMALISATIONS = ("none", "global", "query")

# distill.teacher -> (the teacher's system name, its column in the transfer set)
TEACHERS = {"llm": ("teacher-cpt", "teacher_score"), "ensemble": ("teacher-ensemble", "ensemble_score")}

# distilled student suffix (bert6-<suffix>) -> its loss in distilrank.losses
DISTILL_LOSSES = {"point": "point_mse", "margin": "margin_mse", "hybrid": "hybrid"}


def pick_queries(query_ids: Sequence[str], n: int, seed: int) -> list[str]:
    """`n` of `query_ids` (unique, in first-seen order), chosen by a seeded permutation, in their
    original order."""
    ids = list(pd.unique(pd.Series(list(query_ids), dtype=object)))
    keep = np.sort(np.random.default_rng(seed).permutation(len(ids))[:n])
    return [ids[i] for i in keep]


def fusion_lists(train: pd.DataFrame, n_queries: int | None, seed: int) -> pd.DataFrame:
    """The training queries' BM25 lists (rows with `source == "bm25"`, as test lists look) that a
    `<student>+bm25` fusion is fitted on: those of `n_queries` seeded queries (`pick_queries`), or
    of every training query when `n_queries` is None."""
    lists = train[train["source"] == "bm25"]
    if n_queries is None:
        return lists
    return lists[lists["query_id"].isin(pick_queries(lists["query_id"], n_queries, seed))]


def teacher_of(kind: str) -> tuple[str, str]:
    """(system name, transfer-set column) of the teacher `distill.teacher` names."""
    if kind not in TEACHERS:
        raise ValueError(f"unknown distill.teacher {kind!r}; choose from {sorted(TEACHERS)}")
    return TEACHERS[kind]


def transfer_frame(transfer: dict[str, pd.DataFrame], pseudo_groups: int, seed: int, column: str = "teacher_score") -> pd.DataFrame:
    """The distillation training set: every training query's deep candidate list plus
    `pseudo_groups` seeded title pseudo-query groups (all teacher-scored in `column`; never dev or
    test)."""
    if "train" not in transfer:
        raise KeyError("the transfer set has no 'train' split: rerun notebook 03")
    parts = [transfer["train"]]
    if pseudo_groups:
        pseudo = transfer.get("pseudo")
        if pseudo is None or pseudo.empty:
            raise ValueError(f"distill.pseudo_groups = {pseudo_groups} but the transfer set has no pseudo-query split")
        picked = pick_queries(pseudo["query_id"], pseudo_groups, seed)
        parts.append(pseudo[pseudo["query_id"].isin(picked)])
    out = pd.concat(parts, ignore_index=True)
    if column not in out.columns:
        raise KeyError(f"the transfer set has no column {column!r}: rerun notebook 03")
    if out[column].isna().any() or not np.isfinite(out[column].to_numpy()).all():
        raise ValueError(f"the transfer set has missing or non-finite scores in {column!r}")
    return out


def fit_normaliser(scores: pd.Series, method: str) -> dict[str, float | str]:
    """The statistics `normalise` needs, fitted on the training transfer set's teacher scores."""
    if method not in NORMALISATIONS:
        raise ValueError(f"unknown normalisation {method!r}; choose from {NORMALISATIONS}")
    values = scores.to_numpy(dtype=np.float64)
    return {"method": method, "mean": float(values.mean()), "std": float(values.std())}


def normalise(df: pd.DataFrame, stats: dict[str, float | str], column: str = "teacher_score") -> pd.Series:
    """Teacher scores as regression targets.

    - `none`: as they are;
    - `global`: `(t - mean) / std` with the training set's statistics: one affine map for every
      query, so the order and the ratios of margins are kept and the targets sit at the scale of a
      fresh one-output head;
    - `query`: z-scored within each query: only the order and relative spacing within a query
      survive, not which query's documents the teacher found more relevant overall.
    """
    t = df[column].astype(np.float64)
    if stats["method"] == "none":
        return t
    if stats["method"] == "global":
        return (t - stats["mean"]) / (stats["std"] if stats["std"] > 0 else 1.0)
    if stats["method"] == "query":
        return zscore_per_query(df, column)
    raise ValueError(f"unknown normalisation {stats['method']!r}; choose from {NORMALISATIONS}")


def distill_loss_kwargs(student: str, margin_weight: float) -> dict[str, float]:
    """Arguments of a distilled student's loss (only the hybrid takes one)."""
    if student not in DISTILL_LOSSES:
        raise ValueError(f"unknown distillation loss {student!r}; choose from {sorted(DISTILL_LOSSES)}")
    return {"margin_weight": margin_weight} if student == "hybrid" else {}
