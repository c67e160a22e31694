"""What a claim may say: the verdict words, the rules that keep a verdict within its evidence, the
paper's claims a test can be filed under, and which names are one system.

A claim is "a beats b" on a metric, tested by a paired t-test over the test queries
(`metrics.claim`). Its verdict is one of `KINDS`:

- **holds** / **fails**: the difference is significant (p < 0.05; the adjusted p where a notebook
  adjusts for its family) and positive / negative;
- **no significant difference**;
- **fragile**: it holds or fails on test, but the two systems are in the other order on dev
  (`fragile`): a verdict the dev queries would have reversed is not one to build on;
- **not testable**: the claim's premise fails on this run (`premised`), e.g. "dense candidates
  beat BM25's" when `dense-minilm` does not rank better than BM25 here: the comparison then says
  nothing about the claim.

A claim row may name the paper's claim it tests (`GROUPS`: the keys the notebooks record and the
front page groups by) and whether it is that claim's headline test. A rate at its ceiling or floor
in both arms (`saturated`) gets no verdict at all. Two names with identical scores are one system
(`distinct_systems`): a family of tests or a table counts it once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from distilrank import metrics

HOLDS, FAILS, NSD, FRAGILE, NOT_TESTABLE = "holds", "fails", "no significant difference", "fragile", "not testable"
KINDS = (HOLDS, FAILS, NSD, FRAGILE, NOT_TESTABLE)

# The front page's groups, in its order: DisRanker's claims first (`PAPER_CLAIMS`, one line each in
# the verdict box), then what this replication checks beyond them. Notebooks file a claim under a key.
GROUPS: dict[str, str] = {
    "cpt": "CPT helps the LLM teacher",
    "llm-teacher": "The LLM teacher beats the rankers it is compared with (here: BM25, the list it re-ranks)",
    "distillation": "Distilled students beat the same student trained on labels alone",
    "hybrid": "The hybrid loss beats Point-MSE and Margin-MSE",
    "keeps": "The student keeps most (>= 90%) of its teacher's quality",
    "latency": "Latency LLM : BERT-12 : BERT-6 = 10 : 2 : 1",
    "online": "Online gains: PageCTR +0.47%, UserCTR +0.58%",
    "llm-adds": "Beyond the paper: what the LLM adds on this profile",
    "first-stage": "Beyond the paper: rankers against the list they re-rank (BM25)",
}
PAPER_CLAIMS = ("cpt", "llm-teacher", "distillation", "hybrid", "keeps", "latency", "online")

SATURATION = 0.95  # a rate at or above this (or at or below 1 - this) in both arms has no room to move


def kind(verdict: str) -> str:
    """The verdict word a verdict text starts with (`KINDS`); `other` for anything else."""
    return next((k for k in KINDS if verdict.startswith(k)), "other")


def fragile(verdict: str, delta: float, dev_delta: float | None) -> str:
    """`verdict` of a test whose difference on test is `delta`, marked fragile when it holds or
    fails there and the difference on dev (`dev_delta`, the same claim on the dev queries) has the
    other sign. A verdict without significance, or without a dev difference, is left as it is."""
    if kind(verdict) not in (HOLDS, FAILS) or dev_delta is None or not np.isfinite(dev_delta) or dev_delta * delta >= 0:
        return verdict
    return f"{FRAGILE}: {verdict} on test, the other order on dev (dev Δ {dev_delta:+.3f})"


def premised(verdict: str, premise: bool, because: str) -> str:
    """`verdict` when the claim's premise holds; otherwise `not testable` with the reason."""
    return verdict if premise else f"{NOT_TESTABLE}: {because}"


def saturated(levels: Sequence[float], ceiling: float = SATURATION) -> bool:
    """Whether every one of `levels` (rates in [0, 1], e.g. both arms' CTR) sits at the ceiling
    (>= `ceiling`) or every one at the floor (<= 1 - `ceiling`): a change between them measures
    nothing but where the scale ends."""
    levels = [float(x) for x in levels]
    return bool(levels) and (all(x >= ceiling for x in levels) or all(x <= 1 - ceiling for x in levels))


def claim(text: str, per_a: pd.DataFrame, per_b: pd.DataFrame, system: str, against: str, *, paper_claim: str | None = None,
          headline: bool = False, metric: str = "ndcg@5", dev: tuple[pd.DataFrame, pd.DataFrame] | None = None) -> dict:
    """One row of a claims table: `metrics.claim` ("`system` beats `against`" on `metric`, the
    paired test over the test queries, the verdict) with the two systems named, the group it is
    filed under (`GROUPS` key, None: none) and whether it is that group's headline test. With
    `dev` (both systems' per-query metrics on the dev queries), the dev difference is kept and the
    verdict marked fragile when the dev order is the other one (`fragile`)."""
    if paper_claim is not None and paper_claim not in GROUPS:
        raise ValueError(f"claim {text!r}: unknown group {paper_claim!r}; choose from {sorted(GROUPS)}")
    row = metrics.claim(text, per_a, per_b, metric)
    row.update({"system": system, "against": against, "paper claim": paper_claim, "headline": headline})
    if dev is not None:
        dev_delta = metrics.aggregate(dev[0], metric) - metrics.aggregate(dev[1], metric)
        row["dev Δ"] = float(dev_delta)
        row["verdict"] = fragile(row["verdict"], row["Δ"], dev_delta)
    return row


def distinct_systems(names: Sequence[str], scores: Mapping[str, np.ndarray]) -> tuple[list[str], dict[str, str]]:
    """`names` without those whose `scores` equal an earlier name's element for element (an alias:
    one system under two names, e.g. `teacher-cpt` and `teacher-cpt-minilm`); a name without
    scores is kept. Returns (the names kept, {alias: the kept name it repeats})."""
    kept, aliases = [], {}
    for name in names:
        same = next((k for k in kept if k in scores and name in scores and np.shape(scores[k]) == np.shape(scores[name])
                     and np.array_equal(np.asarray(scores[k]), np.asarray(scores[name]))), None)
        if same is None:
            kept.append(name)
        else:
            aliases[name] = same
    return kept, aliases
