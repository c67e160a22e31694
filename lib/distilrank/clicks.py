"""Simulated users: click models over a ranking, seeded sessions, and a simulated A/B test.

DisRanker's strongest evidence is an online A/B test (PageCTR, UserCTR, dwell time). With no live
traffic, IR research simulates users with **click models** parameterised from relevance judgments
(Chuklin, Markov and de Rijke, *Click Models for Web Search*, 2015; Hofmann et al. 2013 for the
gain-to-probability tables). Three classic models, each a few lines:

- **PBM** (position-based model): rank r is examined with probability `1 / r**pbm_power`,
  independently of the rest; an examined result is clicked with its attractiveness.
- **Cascade** (Craswell et al. 2008): the user reads top-down and clicks the first attractive
  result, then stops.
- **DBN** (dynamic Bayesian network, Chapelle and Zhang 2009): the user reads top-down, clicks an
  attractive result, is satisfied by it with its satisfaction probability and then stops; an
  unsatisfied user goes on to the next result with probability `dbn_gamma`.

Attractiveness and satisfaction are functions of the judged gain (0 for unjudged documents),
given per gain in the profile. Every click gets a dwell time: a satisfied click a long one, an
unsatisfied click a short one (log-normal around stated medians). A simulation can say how users
*who behave like the model* would react to two rankings; it cannot say how real users would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

KINDS = ("pbm", "cascade", "dbn")


@dataclass(frozen=True)
class ClickModel:
    """One click model: its kind and its parameters (probabilities indexed by gain)."""

    kind: str
    attractiveness: tuple[float, ...]
    satisfaction: tuple[float, ...]
    pbm_power: float = 1.0
    dbn_gamma: float = 0.9

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown click model {self.kind!r}; choose from {KINDS}")
        for name in ("attractiveness", "satisfaction"):
            p = np.asarray(getattr(self, name))
            if p.ndim != 1 or len(p) == 0 or not ((p >= 0) & (p <= 1)).all():
                raise ValueError(f"{name} must be probabilities, one per gain: {getattr(self, name)}")
        if len(self.attractiveness) != len(self.satisfaction):
            raise ValueError("attractiveness and satisfaction need one value per gain each")

    def probabilities(self, gains: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(attractiveness, satisfaction) of each shown document, by its gain."""
        g = np.asarray(gains, dtype=int)
        if len(g) and (g.min() < 0 or g.max() >= len(self.attractiveness)):
            raise ValueError(f"gains must lie in 0..{len(self.attractiveness) - 1}; got {sorted(set(g.tolist()))}")
        return np.asarray(self.attractiveness)[g], np.asarray(self.satisfaction)[g]


def examination_pbm(k: int, power: float) -> np.ndarray:
    """PBM's examination probability of ranks 1..k: `1 / r**power`."""
    return 1.0 / np.arange(1, k + 1, dtype=np.float64) ** power


def simulate_session(model: ClickModel, gains: Sequence[int], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One user's clicks and satisfied clicks (boolean arrays over the shown ranks)."""
    attract, satisfy = model.probabilities(gains)
    k = len(attract)
    clicks, satisfied = np.zeros(k, dtype=bool), np.zeros(k, dtype=bool)
    if model.kind == "pbm":
        clicks = (rng.random(k) < examination_pbm(k, model.pbm_power)) & (rng.random(k) < attract)
        satisfied = clicks & (rng.random(k) < satisfy)
        return clicks, satisfied
    for r in range(k):
        if rng.random() < attract[r]:
            clicks[r] = True
            satisfied[r] = rng.random() < satisfy[r]
            if model.kind == "cascade" or satisfied[r]:
                break
        if model.kind == "dbn" and rng.random() >= model.dbn_gamma:
            break
    return clicks, satisfied


def click_probabilities_cascade(attract: Sequence[float]) -> np.ndarray:
    """The cascade model's exact click probability per rank: `a_r * prod_{i<r} (1 - a_i)`."""
    a = np.asarray(attract, dtype=np.float64)
    return a * np.concatenate([[1.0], np.cumprod(1 - a)[:-1]])


def dwell_times(satisfied: np.ndarray, rng: np.random.Generator, satisfied_s: float, unsatisfied_s: float,
                sigma: float) -> np.ndarray:
    """A dwell time in seconds per click: log-normal around `satisfied_s` or `unsatisfied_s`."""
    median = np.where(satisfied, satisfied_s, unsatisfied_s)
    return median * np.exp(sigma * rng.standard_normal(len(satisfied)))


@dataclass(frozen=True)
class Traffic:
    """Who searches what: `users` users, each with `sessions_per_user` sessions on queries drawn
    uniformly (seeded) from the test queries."""

    users: int
    sessions_per_user: int
    seed: int

    def queries(self, query_ids: Sequence[str]) -> np.ndarray:
        """(users, sessions_per_user) array of query ids: the same for every system compared."""
        rng = np.random.default_rng(self.seed)
        return np.asarray(query_ids, dtype=object)[rng.integers(len(query_ids), size=(self.users, self.sessions_per_user))]


def top_gains(df: pd.DataFrame, score: str, k: int) -> dict[str, np.ndarray]:
    """Per query: the gains of the top `k` documents of a candidates frame ranked by `score`
    (ties broken by doc id, so the ranking is deterministic)."""
    ranked = df.sort_values(["query_id", score, "doc_id"], ascending=[True, False, True], kind="stable")
    return {str(q): g["gain"].to_numpy(dtype=int)[:k] for q, g in ranked.groupby("query_id", sort=False)}


def simulate_traffic(model: ClickModel, rankings: Mapping[str, np.ndarray], traffic: Traffic, seed: int, *,
                     dwell_satisfied_s: float, dwell_unsatisfied_s: float, dwell_sigma: float) -> pd.DataFrame:
    """Every session of `traffic` on one system's rankings (query -> gains of its top k): one row
    per session with user, query_id, clicks, satisfied clicks, total dwell seconds and the clicked
    ranks (1-based, a tuple: `session_ctr_by_rank` reads them)."""
    rng = np.random.default_rng(seed)
    queries = traffic.queries(sorted(rankings))
    rows = []
    for user in range(traffic.users):
        for session, qid in enumerate(queries[user]):
            clicks, satisfied = simulate_session(model, rankings[qid], rng)
            dwell = dwell_times(satisfied[clicks], rng, dwell_satisfied_s, dwell_unsatisfied_s, dwell_sigma)
            rows.append((user, session, qid, int(clicks.sum()), int(satisfied.sum()), float(dwell.sum()),
                         tuple(int(r) + 1 for r in np.flatnonzero(clicks))))
    return pd.DataFrame(rows, columns=["user", "session", "query_id", "clicks", "satisfied", "dwell_s", "clicked_ranks"])


def session_ctr_by_rank(sessions: pd.DataFrame, k: int) -> np.ndarray:
    """Click-through rate at ranks 1..`k` in simulated sessions (`simulate_traffic`'s rows): the
    share of sessions with a click at each rank."""
    counts = np.zeros(k)
    for ranks in sessions["clicked_ranks"]:
        for r in ranks:
            if r <= k:
                counts[r - 1] += 1
    return counts / max(len(sessions), 1)


def ctr_by_rank(model: ClickModel, rankings: Mapping[str, np.ndarray], sessions_per_query: int, seed: int) -> np.ndarray:
    """Mean clicks per rank over `sessions_per_query` sessions on every query's ranking (one
    generator runs through all of them, so no draw is shared between queries)."""
    rng = np.random.default_rng(seed)
    k = max(len(g) for g in rankings.values())
    total = np.zeros(k)
    for gains in rankings.values():
        for _ in range(sessions_per_query):
            c = simulate_session(model, gains, rng)[0]
            total[: len(c)] += c
    return total / (len(rankings) * sessions_per_query)


METRICS = ("page_ctr", "user_ctr", "dwell_s")


def _tables(sessions: pd.DataFrame, queries: list[str], users: np.ndarray) -> dict[str, np.ndarray]:
    """Per-query sums (sessions, clicked sessions, clicks, dwell) and per-(user, query) session counts."""
    s = sessions.assign(clicked=(sessions.clicks > 0).astype(int), one=1)
    by_q = s.groupby("query_id")[["one", "clicked", "clicks", "dwell_s"]].sum().reindex(queries, fill_value=0)
    per_user = s.pivot_table(index="user", columns="query_id", values="one", aggfunc="sum", fill_value=0)
    return {"sessions": by_q.one.to_numpy(float), "clicked": by_q.clicked.to_numpy(float), "clicks": by_q.clicks.to_numpy(float),
            "dwell": by_q.dwell_s.to_numpy(float),
            "user_sessions": per_user.reindex(index=users, columns=queries, fill_value=0).to_numpy(float)}


def _metrics(t: dict[str, np.ndarray], draws: np.ndarray) -> dict[str, np.ndarray]:
    """The A/B metrics when query slot j is played by query `draws[r, j]`, for each row r of
    `draws` (R, Q); the identity row gives the point estimates.

    PageCTR and dwell are ratios of the drawn queries' sums. UserCTR is the chance that a user
    with these sessions clicks at least once, `1 - prod(1 - ctr(query))` over the user's sessions,
    from the per-query click rates: every click model here draws sessions independently given the
    query, so this is the quantity the share of clicking users estimates, and it stays defined
    when a resample repeats or drops queries.
    """
    weights = np.stack([np.bincount(row, minlength=draws.shape[1]) for row in draws]).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ctr = t["clicked"] / t["sessions"]
        # a query every session clicked has miss probability 0: a large negative log, not -inf,
        # so that users without a session on it (count 0) are not turned into nan by 0 * -inf
        log_miss = np.maximum(np.log1p(-np.clip(np.nan_to_num(ctr), 0.0, 1.0)), -1e6)[draws]  # (R, Q)
        user_ctr = 1 - np.exp(t["user_sessions"] @ log_miss.T)  # (U, R)
        return {"page_ctr": (weights @ t["clicked"]) / (weights @ t["sessions"]),
                "user_ctr": user_ctr.mean(axis=0),
                "dwell_s": (weights @ t["dwell"]) / (weights @ t["clicks"])}


def ab_metrics(sessions: pd.DataFrame) -> dict[str, float]:
    """The paper's online metrics from simulated sessions: PageCTR (share of sessions with a
    click), UserCTR (the chance a user clicks in at least one of their sessions) and the mean dwell
    per click (seconds)."""
    queries, users = sorted(sessions.query_id.unique()), np.sort(sessions.user.unique())
    return {k: float(v[0]) for k, v in _metrics(_tables(sessions, queries, users), np.arange(len(queries))[None, :]).items()}


def ab_compare(a: pd.DataFrame, b: pd.DataFrame, n_resamples: int = 1000, seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """System b against system a from their simulated sessions (the same users on the same
    queries): each metric for both, the relative change `b / a - 1`, and percentile bootstrap
    intervals that resample the **queries** (the test queries are a sample; the simulated users on
    a fixed query are not the uncertainty that matters), jointly for both systems."""
    if not a[["user", "session", "query_id"]].equals(b[["user", "session", "query_id"]]):
        raise ValueError("ab_compare: the two systems were not shown to the same users on the same queries")
    queries, users = sorted(a.query_id.unique()), np.sort(a.user.unique())
    ta, tb = _tables(a, queries, users), _tables(b, queries, users)
    draws = np.random.default_rng(seed).integers(len(queries), size=(n_resamples, len(queries)))
    q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
    identity = np.arange(len(queries))[None, :]
    point_a, point_b = _metrics(ta, identity), _metrics(tb, identity)
    boot_a, boot_b = _metrics(ta, draws), _metrics(tb, draws)
    out = []
    for name in METRICS:
        with np.errstate(divide="ignore", invalid="ignore"):
            change = boot_b[name] / boot_a[name] - 1
        change[~np.isfinite(change)] = np.nan  # a resample where the baseline had no click at all
        ci_a, ci_b, ci_c = (np.nanpercentile(x, q) for x in (boot_a[name], boot_b[name], change))
        pa, pb = float(point_a[name][0]), float(point_b[name][0])
        out.append({"metric": name, "a": pa, "a_ci_low": ci_a[0], "a_ci_high": ci_a[1], "b": pb, "b_ci_low": ci_b[0],
                    "b_ci_high": ci_b[1], "relative change": pb / pa - 1 if pa else float("nan"),
                    "change_ci_low": ci_c[0], "change_ci_high": ci_c[1]})
    return pd.DataFrame(out).set_index("metric")
