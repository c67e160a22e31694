"""Seeded choices of queries, shared by every stage that takes a subset (the pseudo-query groups
a teacher or student trains on, the dev queries of a learning curve, the lists a fusion is fitted
on): the same seed picks the same queries wherever it is asked."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def pick_queries(query_ids: Sequence[str], n: int, seed: int) -> list[str]:
    """`n` of `query_ids` (unique, in first-seen order), chosen by a seeded permutation, in their
    original order."""
    ids = list(pd.unique(pd.Series(list(query_ids), dtype=object)))
    keep = np.sort(np.random.default_rng(seed).permutation(len(ids))[:n])
    return [ids[i] for i in keep]
