"""Team-draft interleaving (Radlinski, Kurup and Joachims 2008): which of two rankers do users prefer?

For each session the two rankings are merged like picking teams: in each round the ranker with
fewer picks so far (a coin flip on a tie) adds its best document not yet shown, and the document
remembers its team. The user's clicks on the merged list are credited to the teams; the ranker
whose team got more clicks wins the session. Interleaving needs far fewer sessions than an A/B test
to detect a preference, because both rankers are judged by the same user on the same query.
`sessions_to_significance` shows how many.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats


def team_draft(a: Sequence[str], b: Sequence[str], k: int, rng: np.random.Generator) -> tuple[list[str], list[str]]:
    """The interleaved top `k` of rankings `a` and `b` (best first) and each document's team."""
    shown: list[str] = []
    teams: list[str] = []
    picks = {"a": 0, "b": 0}
    lists = {"a": list(a), "b": list(b)}
    while len(shown) < k:
        left = {t: [d for d in lists[t] if d not in shown] for t in lists}
        if not left["a"] and not left["b"]:
            break
        first = "a" if picks["a"] < picks["b"] or (picks["a"] == picks["b"] and rng.random() < 0.5) else "b"
        team = first if left[first] else ("b" if first == "a" else "a")
        shown.append(left[team][0])
        teams.append(team)
        picks[team] += 1
    return shown, teams


def team_clicks(clicks: Sequence[bool], teams: Sequence[str]) -> tuple[int, int]:
    """(clicks on ranker a's documents, clicks on ranker b's) in one interleaved session."""
    a = sum(bool(c) and t == "a" for c, t in zip(clicks, teams, strict=True))
    b = sum(bool(c) and t == "b" for c, t in zip(clicks, teams, strict=True))
    return a, b


def outcome(clicks_a: int, clicks_b: int) -> str:
    """The session's outcome for ranker b against a: `win` (b's team got more clicks), `loss`, `tie`."""
    return "win" if clicks_b > clicks_a else "loss" if clicks_a > clicks_b else "tie"


def credit(clicks: Sequence[bool], teams: Sequence[str]) -> str:
    """The outcome of one interleaved session from its clicks and the shown documents' teams."""
    return outcome(*team_clicks(clicks, teams))


def interleave_sessions(ranked_a: dict[str, list[str]], ranked_b: dict[str, list[str]], gains: dict[str, dict[str, int]],
                        click: Callable[[list[int], np.random.Generator], np.ndarray], n_sessions: int, k: int,
                        seed: int) -> pd.DataFrame:
    """`n_sessions` simulated sessions on queries drawn uniformly (seeded): per session the query,
    the clicks per team and the outcome for b against a. `click(gains, rng)` returns the clicks on
    the shown list (a click model's `simulate_session`); `gains[query][doc]` is 0 when unjudged."""
    rng = np.random.default_rng(seed)
    queries = sorted(ranked_a)
    rows = []
    for qid in np.asarray(queries, dtype=object)[rng.integers(len(queries), size=n_sessions)]:
        shown, teams = team_draft(ranked_a[qid], ranked_b[qid], k, rng)
        clicks = click([gains.get(qid, {}).get(d, 0) for d in shown], rng)
        a, b = team_clicks(clicks, teams)
        rows.append({"query_id": qid, "clicks_a": a, "clicks_b": b, "outcome": outcome(a, b)})
    return pd.DataFrame(rows)


def outcome_rates(outcomes: pd.Series, n_resamples: int = 1000, seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """Win / tie / loss rates of b against a with percentile bootstrap intervals over sessions,
    and the share of wins among decided sessions (the usual interleaving preference)."""
    o = outcomes.to_numpy()
    idx = np.random.default_rng(seed).integers(len(o), size=(n_resamples, len(o)))
    q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
    rows = {}
    for name in ("win", "tie", "loss"):
        draws = (o[idx] == name).mean(axis=1)
        rows[name] = {"rate": float((o == name).mean()), "ci_low": np.percentile(draws, q[0]), "ci_high": np.percentile(draws, q[1])}
    wins, losses = (o == "win").sum(), (o == "loss").sum()
    decided = (o[idx] != "tie").sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = (o[idx] == "win").sum(axis=1) / decided
    rows["win share of decided"] = {"rate": wins / (wins + losses) if wins + losses else float("nan"),
                                    "ci_low": np.nanpercentile(share, q[0]), "ci_high": np.nanpercentile(share, q[1])}
    return pd.DataFrame(rows).T


def per_query_preference(sessions: pd.DataFrame) -> dict[str, float]:
    """The preference per **query**: b is preferred on a query where it wins more of that query's
    sessions than it loses. Counts of queries preferring b, a or neither, and the two-sided sign
    test (binomial, scipy) over the decided queries: the test queries, not the simulated sessions,
    are the sample a conclusion generalises over."""
    net = sessions.assign(net=sessions.outcome.map({"win": 1, "loss": -1, "tie": 0})).groupby("query_id").net.sum()
    b, a = int((net > 0).sum()), int((net < 0).sum())
    p = stats.binomtest(b, a + b, 0.5).pvalue if a + b else float("nan")
    return {"queries preferring b": b, "queries preferring a": a, "undecided queries": int((net == 0).sum()), "sign test p": float(p)}


def sessions_to_significance(outcomes: pd.Series, grid: Sequence[int], alpha: float = 0.05) -> tuple[pd.DataFrame, int | None]:
    """The two-sided binomial test (scipy) of wins against losses over the first n sessions, for
    each n of `grid`, with the win share of the decided sessions and its exact (Clopper-Pearson)
    `1 - alpha` interval; and the smallest n of the grid from which p stays below `alpha` to the
    end (None if it never does)."""
    o = outcomes.to_numpy()
    rows = []
    for n in grid:
        if n > len(o):
            break
        w, lo = int((o[:n] == "win").sum()), int((o[:n] == "loss").sum())
        test = stats.binomtest(w, w + lo, 0.5) if w + lo else None
        ci = test.proportion_ci(1 - alpha) if test else None
        rows.append({"sessions": n, "wins": w, "losses": lo, "p": test.pvalue if test else 1.0,
                     "win share": w / (w + lo) if w + lo else float("nan"),
                     "ci_low": ci.low if ci else float("nan"), "ci_high": ci.high if ci else float("nan")})
    table = pd.DataFrame(rows)
    below = table.p.to_numpy() < alpha
    stable = [i for i in range(len(below)) if below[i:].all()]
    return table, (int(table.sessions.iloc[stable[0]]) if stable else None)


def plot_win_share(curves: pd.DataFrame, click_model: str) -> plt.Figure:
    """The interleaving preference as it settles: per comparison (`curves`: `sessions_to_significance`
    tables with a `comparison` column), b's share of the decided sessions against the sessions
    seen, with its 95% interval as a band and no preference (0.5) marked; a band clear of 0.5 is a
    significant preference. An effect with its interval, not a p-value falling to 1e-88."""
    fig, ax = plt.subplots(figsize=(8, 3.8))
    for i, (pair, c) in enumerate(curves.groupby("comparison", sort=False)):
        ax.plot(c.sessions, c["win share"], marker="o", ms=3, c=f"C{i}", label=pair)
        ax.fill_between(c.sessions, c.ci_low, c.ci_high, color=f"C{i}", alpha=0.2)
    ax.axhline(0.5, ls="--", c="grey", label="no preference")
    ax.set(xscale="log", ylim=(0, 1), xlabel="interleaved sessions", ylabel="b's share of decided sessions",
           title=f"interleaving: win share with 95% interval as sessions accumulate ({click_model})")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    return fig
