"""TAPIR's task-aware curriculum (Yue et al., arXiv 2405.13448), carried over to ranking distillation.

TAPIR distils an instruction-following LLM into a smaller one in rounds: it keeps the examples the
student finds hard (Model Fitting Difficulty: how far the student's answer falls short of the
teacher's), rebalances task categories so that abilities grow evenly, and raises the share of hard
examples round by round. Its release has no training code; this ranking version is this project's
own reading of it:

- an *example* is a query's candidate list with the teacher's scores (a `training.Group`);
- *difficulty* of a query is the disagreement between the current student's and the teacher's
  orderings of the teacher's top candidates: (1 - Kendall's tau-b) / 2, 0 when they agree, 1 when
  the student reverses the teacher (`query_difficulty`);
- *task categories* are k-means clusters of the queries' `dense-minilm` embeddings
  (`task_clusters`); *rebalancing* gives every category the same share of the draws
  (`rebalance_weights`), or a share that grows with the category's difficulty;
- a *curriculum* trains in rounds: the first round samples by the base weights (a warm-up), each
  later one re-measures difficulty with the current student and gives the harder half of the
  queries a rising share of the draws (`hard_share_schedule`, `curriculum_weights`).

`WeightedGroups` is the sampler: a lazy sequence of groups, each drawn (seeded by its index) from
the current weights when the training loop asks for it, so the loop (`training.train_groups`) does
not change; `RoundBoundary` is the callback that re-weights it between rounds; `Curriculum` ties
them to one student's plan (`train_system(..., sampler=plan.sampler(...), callbacks=plan.callbacks(...))`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.patches import Patch
from scipy.stats import kendalltau
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
from transformers import TrainerCallback

from distilrank import distill, metrics, results, verdicts
from distilrank.artifacts import load_prepared
from distilrank.training import Group, cut_group


def query_difficulty(df: pd.DataFrame, student: str, teacher: str, depth: int | None = None) -> pd.Series:
    """Per `query_id`: (1 - Kendall's tau-b between columns `student` and `teacher`) / 2 over the
    query's rows, restricted to the teacher's top `depth` when given. NaN where tau is undefined
    (one row, or constant scores on either side)."""
    out = {}
    for qid, g in df.groupby("query_id", sort=False):
        if depth is not None:
            g = g.nlargest(depth, teacher)
        tau = kendalltau(g[student].to_numpy(), g[teacher].to_numpy()).statistic if len(g) > 1 else np.nan
        out[qid] = (1 - tau) / 2 if np.isfinite(tau) else np.nan
    return pd.Series(out, name="difficulty", dtype=float)


def task_clusters(embeddings: np.ndarray, k: int, seed: int) -> KMeans:
    """k-means (scikit-learn) over query embeddings: the task categories. `.labels_` labels the
    fitted queries, `.predict` others (test queries, for NDCG@5 per category)."""
    if not 1 <= k <= len(embeddings):
        raise ValueError(f"task_clusters: k must be between 1 and the number of queries ({len(embeddings)}), not {k}")
    return KMeans(n_clusters=k, n_init=10, random_state=seed).fit(embeddings)


def rebalance_weights(labels: np.ndarray, strength: np.ndarray | None = None) -> np.ndarray:
    """Sampling weights (summing to 1) that give each category an equal share of the draws, or,
    with `strength` (one value >= 0 per category, e.g. its mean difficulty), a share proportional
    to it; a category's share is split evenly among its queries."""
    labels = np.asarray(labels)
    cats, counts = np.unique(labels, return_counts=True)
    share = np.ones(len(cats)) if strength is None else np.asarray(strength, dtype=float)[cats]
    if np.any(share < 0) or share.sum() <= 0:
        raise ValueError("rebalance_weights: strengths must be >= 0 and not all 0")
    share = share / share.sum()
    per_query = dict(zip(cats, share / counts, strict=True))
    return np.array([per_query[c] for c in labels])


def hard_share_schedule(rounds: int, start: float, end: float) -> list[float]:
    """The share of draws that goes to hard queries in each round after the first (the warm-up
    round samples by the base weights): `rounds - 1` values rising linearly from `start` to `end`
    (with two rounds, the one later round gets `start`)."""
    if rounds < 1 or not 0 <= start <= 1 or not 0 <= end <= 1:
        raise ValueError("hard_share_schedule: rounds >= 1 and shares within [0, 1]")
    if rounds == 1:
        return []
    return list(np.linspace(start, end, rounds - 1))


def curriculum_weights(difficulty: np.ndarray, base: np.ndarray, hard_share: float, seed: int = 0) -> np.ndarray:
    """`base` re-weighted so that the harder half of the queries of known difficulty (ranked by
    difficulty, ties broken by a seeded shuffle: a coarse difficulty such as Kendall's tau over a
    few candidates has many ties) gets `hard_share` of the mass and the rest `1 - hard_share`,
    each side in proportion to `base`. A query of unknown (NaN) difficulty counts as not hard.
    Sums to 1."""
    difficulty = np.asarray(difficulty, dtype=float)
    base = np.asarray(base, dtype=float)
    hard = hard_half(difficulty, seed)
    if not hard.any() or hard.all() or base[hard].sum() <= 0 or base[~hard].sum() <= 0:
        return base / base.sum()
    w = np.where(hard, hard_share * base / base[hard].sum(), (1 - hard_share) * base / base[~hard].sum())
    return w / w.sum()


def hard_half(difficulty: np.ndarray, seed: int = 0) -> np.ndarray:
    """A mask of the harder half (rounded down) of the queries of known difficulty: ranked by
    difficulty, ties in a seeded random order."""
    difficulty = np.asarray(difficulty, dtype=float)
    known = np.flatnonzero(np.isfinite(difficulty))
    tiebreak = np.random.default_rng(seed).permutation(len(known))
    ranked = known[np.lexsort((tiebreak, -difficulty[known]))]  # hardest first
    hard = np.zeros(len(difficulty), dtype=bool)
    hard[ranked[: len(known) // 2]] = True
    return hard


class WeightedGroups(Sequence):
    """`n` groups drawn with replacement from `groups` by `weights`, each cut to `group_size`
    (`training.cut_group`); draw i is seeded by (seed, i) and made when the loop asks for it, so
    `set_weights` between rounds changes the draws still to come and nothing else."""

    def __init__(self, groups: Sequence[Group], n: int, group_size: int, seed: int, weights: np.ndarray | None = None) -> None:
        self.groups = [g for g in groups if len(g.targets) > 1]
        if len(self.groups) != len(groups):
            raise ValueError("WeightedGroups: every group needs two candidates (weights are per group)")
        self.n, self.group_size, self.seed = n, group_size, seed
        self.set_weights(np.ones(len(groups)) if weights is None else weights)

    def set_weights(self, weights: np.ndarray) -> None:
        """New sampling weights (one per group, >= 0, not all 0), normalised."""
        w = np.asarray(weights, dtype=float)
        if w.shape != (len(self.groups),) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError(f"WeightedGroups: need {len(self.groups)} weights >= 0, not all 0")
        self.weights = w / w.sum()

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> Group:
        if not 0 <= i < self.n:
            raise IndexError(i)
        rng = np.random.default_rng([self.seed, i])
        return cut_group(self.groups[rng.choice(len(self.groups), p=self.weights)], self.group_size, rng)


class RoundBoundary(TrainerCallback):
    """Calls `on_round(model, r)` after steps `every`, `2 * every`, ..., `(rounds - 1) * every`:
    round r + 1 starts with what it sets (new weights for a `WeightedGroups`). The loop may have
    drawn the next batch already (a data loader looks one batch ahead): that one keeps the old
    weights, the same way on every run."""

    def __init__(self, every: int, rounds: int, on_round: Callable) -> None:
        if every < 1:
            raise ValueError(f"RoundBoundary: a round needs at least one step (every={every})")
        self.every, self.rounds, self.on_round = every, rounds, on_round

    def on_step_end(self, args, state, control, model=None, **kwargs):
        step = state.global_step
        if step % self.every == 0 and step // self.every < self.rounds:
            was_training = model.training
            self.on_round(model, step // self.every)
            model.train(was_training)


@dataclass
class Curriculum:
    """One student's sampling plan: `base` weights per query (uniform or rebalanced), and for
    `rounds` > 1 the hard-query share of each later round (`hard_shares`), with difficulty
    measured on `pool` (rows with `query_id` and the teacher's `teacher` column; the student's
    scores of those rows come from the `score` function given to `callbacks`). With `categories`
    (query_id -> task category), each later round also re-balances: every category's share of the
    draws is half an equal share and half a share proportional to its mean difficulty (the
    student's weakest tasks get most, a mastered one still half its equal share), before the hard
    share is applied. `history` records each round: its first step, the hard share, the pool's
    mean difficulty (and the categories' shares)."""

    base: pd.Series
    rounds: int = 1
    hard_shares: Sequence[float] = ()
    pool: pd.DataFrame | None = None
    teacher: str = "target"
    categories: pd.Series | None = None
    history: list[dict] = field(default_factory=list)
    difficulty: dict[int, pd.Series] = field(default_factory=dict)
    groups: WeightedGroups | None = None

    def __post_init__(self) -> None:
        if self.rounds > 1 and (self.pool is None or len(self.hard_shares) != self.rounds - 1):
            raise ValueError("Curriculum: rounds > 1 needs a difficulty pool and rounds - 1 hard shares")

    def _aligned(self, values: pd.Series, default: float) -> np.ndarray:
        return values.reindex([g.query_id for g in self.groups.groups]).fillna(default).to_numpy(dtype=float)

    def sampler(self, steps: int, group_size: int, groups_per_step: int, seed: int) -> Callable[[list[Group]], WeightedGroups]:
        """What `training.fit_ranker` calls on the query groups: `steps * groups_per_step` draws
        by the base weights (a query the base does not name gets weight 0)."""
        def make(groups: list[Group]) -> WeightedGroups:
            self.groups = WeightedGroups(groups, steps * groups_per_step, group_size, seed)
            self.groups.set_weights(self._aligned(self.base, 0.0))
            self.history = [{"round": 1, "step": 0, "hard share": np.nan, "pool mean difficulty": np.nan}]
            return self.groups
        return make

    def callbacks(self, steps: int, groups_per_step: int, score: Callable[[object], np.ndarray]) -> list[TrainerCallback]:
        """The round boundaries (every `steps // rounds` steps): re-measure difficulty on the pool
        with the current student (`score(model)` gives its scores of the pool's rows, in order)
        and re-weight the draws still to come; none for a one-round plan."""
        if self.rounds <= 1:
            return []

        def on_round(model, finished: int) -> None:
            diff = query_difficulty(self.pool.assign(student=score(model)), "student", self.teacher)
            self.difficulty[finished] = diff
            share = self.hard_shares[finished - 1]
            base, record = self.base, {}
            if self.categories is not None:
                strength = diff.groupby(self.categories.reindex(diff.index)).mean()
                cats = self.categories.reindex(self.base.index)
                codes = cats.to_numpy()
                by_cat = strength.reindex(np.arange(codes.max() + 1)).fillna(strength.mean()).to_numpy()
                harder = rebalance_weights(codes, by_cat) if by_cat.sum() > 0 else rebalance_weights(codes)
                base = pd.Series(0.5 * rebalance_weights(codes) + 0.5 * harder, index=self.base.index)
            self.groups.set_weights(curriculum_weights(self._aligned(diff, np.nan), self._aligned(base, 0.0), share, finished))
            if self.categories is not None:  # the categories' shares of the draws, after the hard share
                cats = self.categories.reindex([g.query_id for g in self.groups.groups]).to_numpy()
                record = {f"draws in category {c}": float(self.groups.weights[cats == c].sum()) for c in sorted(set(cats))}
            self.history.append({"round": finished + 1, "step": finished * (steps // self.rounds), "hard share": share,
                                 "pool mean difficulty": float(diff.mean()), **record})

        return [RoundBoundary(steps // self.rounds, self.rounds, on_round)]


def difficulty_pool(df: pd.DataFrame, teacher: str, depth: int) -> pd.DataFrame:
    """The rows difficulty is measured on: each query's `depth` candidates the teacher ranks
    highest (ties broken by row order), in the frame's query order."""
    ranked = df.assign(_row=np.arange(len(df))).sort_values([teacher, "_row"], ascending=[False, True], kind="stable")
    top = ranked.groupby("query_id", sort=False).head(depth)
    return df.loc[df.index[np.sort(top["_row"].to_numpy())]].reset_index(drop=True)


STUDENTS = ("uniform", "rebalanced", "curriculum", "curriculum-rebalanced")


def four_plans(categories: pd.Series, pool: pd.DataFrame, rounds: int, hard_shares: Sequence[float],
               teacher: str = "target") -> dict[str, Curriculum]:
    """The four students' plans over the queries of `categories` (query_id -> category):
    `uniform` (every query alike), `rebalanced` (every category alike), `curriculum` (uniform,
    then rounds with a rising hard share) and `curriculum-rebalanced` (categories alike, then rounds
    that re-balance toward the hardest categories and raise the hard share)."""
    uniform = pd.Series(1.0 / len(categories), index=categories.index)
    balanced = pd.Series(rebalance_weights(categories.to_numpy()), index=categories.index)
    return {"uniform": Curriculum(uniform), "rebalanced": Curriculum(balanced),
            "curriculum": Curriculum(uniform, rounds, hard_shares, pool, teacher),
            "curriculum-rebalanced": Curriculum(balanced, rounds, hard_shares, pool, teacher, categories=categories)}


def cluster_table(queries: pd.DataFrame, n_examples: int, seed: int) -> pd.DataFrame:
    """Per category of `queries` (columns query_id, query, category; `t`-prefixed ids are title
    pseudo-queries): how many training and pseudo-queries it holds and `n_examples` seeded example
    queries, so a reader sees what the "tasks" are."""
    rows = []
    for cat, g in queries.groupby("category"):
        pseudo = g.query_id.astype(str).str.startswith("t")
        shown = g.sample(min(n_examples, len(g)), random_state=seed)["query"].str.slice(0, 90)
        rows.append({"category": cat, "training queries": int((~pseudo).sum()), "pseudo-queries": int(pseudo.sum()),
                     "examples": " | ".join(shown)})
    return pd.DataFrame(rows).set_index("category")


def category_names(queries: pd.DataFrame, n_terms: int = 3) -> dict[int, str]:
    """A short name per category of `queries` (columns query, category): its number and the
    `n_terms` words most particular to it, each word scored by its count in the category times the
    share of all its occurrences that fall there (so a word every category uses does not name one);
    English stop words and words under three letters left out, ties broken alphabetically. Forms of
    one word count as one (an English stemmer: `flow` and `flows`), named by their most frequent form."""
    import Stemmer  # PyStemmer, as BM25 stems

    stem = Stemmer.Stemmer("english").stemWord
    forms = {cat: Counter(w for q in g["query"] for w in re.findall(r"[a-z][a-z-]{2,}", q.lower()) if w not in ENGLISH_STOP_WORDS)
             for cat, g in queries.groupby("category")}
    words = {cat: Counter() for cat in forms}
    for cat, counts in forms.items():
        for w, k in counts.items():
            words[cat][stem(w)] += k
    every = sum(forms.values(), Counter())
    shown = {}
    for w in sorted(every, key=lambda w: (-every[w], w)):  # the most frequent form first, then alphabetical
        shown.setdefault(stem(w), w)
    total = sum(words.values(), Counter())
    names = {}
    for cat, counts in words.items():
        best = sorted(counts, key=lambda w: (-counts[w] * counts[w] / total[w], shown[w]))[:n_terms]
        names[int(cat)] = f"{cat} · {', '.join(shown[w] for w in best)}"
    return names


def plot_categories(by_cat: pd.DataFrame, curve: pd.DataFrame, boundaries: Sequence[int], dev_random: float | None = None) -> plt.Figure:
    """Left: test NDCG@5 per task category (`by_cat`: categories by name as rows, one column per
    system), one bar per system, and a `random` column, when there is one, as a black tick (chance
    on that category's lists); right: dev NDCG@5 during training (`curve`: system, step, dev
    ndcg@5; first seed), the round `boundaries` dotted and `dev_random` (random scores on the
    curve's dev queries) as a line. One colour per system in both panels, one legend outside."""
    chance = by_cat.get("random")
    bars = by_cat.drop(columns="random", errors="ignore")
    systems = list(bars.columns)
    palette = dict(zip(systems, sns.color_palette(n_colors=len(systems)), strict=True))
    fig, axes = plt.subplots(1, 2, figsize=(14, max(4.0, 0.7 * len(bars) + 1)), gridspec_kw={"width_ratios": [1.3, 1]})
    bars.iloc[::-1, ::-1].plot.barh(ax=axes[0], color=[palette[c] for c in systems[::-1]], legend=False, width=0.8)  # top down, legend order
    handles = [Patch(color=palette[s], label=s) for s in systems]
    if chance is not None:
        axes[0].scatter(chance.iloc[::-1], np.arange(len(chance)), marker="|", s=400, c="k", zorder=3)
        handles.append(plt.Line2D([], [], c="k", marker="|", ls="none", ms=14, label="random (test, per category)"))
    axes[0].set(title="test NDCG@5 per task category (seed mean)", xlabel="test ndcg@5", ylabel="")
    sns.lineplot(curve, x="step", y="dev ndcg@5", hue="system", palette=palette, marker="o", ax=axes[1], legend=False)
    for b in boundaries:
        axes[1].axvline(b, c="grey", ls=":", lw=1)
    if dev_random is not None:
        axes[1].axhline(dev_random, c="firebrick", ls=(0, (4, 2, 1, 2)), lw=1.2)
        handles.append(plt.Line2D([], [], c="firebrick", ls=(0, (4, 2, 1, 2)), label="random (dev, the curve's queries)"))
    axes[1].set(title="dev NDCG@5 during training, first seed (dotted: round boundaries)")
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=9)
    fig.tight_layout()
    return fig


def pool_scorer(pool: pd.DataFrame, tokenizer, params, device: str, precision: str) -> Callable[[object], np.ndarray]:
    """`score(model)` for `Curriculum.callbacks`: the model's scores of the pool's rows, at the
    student's input length and batch size (the pool is tokenised once, `rankers.encode_frame`)."""
    from distilrank.rankers import score_candidates

    def score(model) -> np.ndarray:
        return score_candidates(model, tokenizer, pool, params.max_len, params.batch_size, device, desc="difficulty", precision=precision)

    return score


def train_plans(make_plans: Callable[[], dict[str, Curriculum]], train_df: pd.DataFrame, params, eval_frames: dict[str, pd.DataFrame], *,
                start: str, loss_fn: Callable, steps: int, seeds: Sequence[int], pool: pd.DataFrame, scores_dir, work_dir: str,
                qrels: pd.DataFrame, device: str, precision: str, prefix: str = "bert6") -> tuple[dict[str, list], dict[str, Curriculum]]:
    """Every plan's student (`make_plans()` gives fresh plans: a plan keeps its round history) with
    every seed of `seeds`, from the encoder at `start`, each on `train_df`'s `target` for `steps`
    steps. The first seed scores every frame of `eval_frames` (dev: the learning curve at each round
    boundary) into `scores_dir/<prefix>-<plan>`; a further seed scores all but dev, into
    `<prefix>-<plan>@seed<k>`. Returns each student's runs in seed order and the first seed's plans."""
    from transformers import AutoTokenizer

    from distilrank.rankers import cross_encoder, seed_cache
    from distilrank.runtime import set_seed
    from distilrank.training import seed_settings, train_system

    runs: dict[str, list] = {}
    first_plans: dict[str, Curriculum] = {}
    for i, seed in enumerate(seeds):
        plans = make_plans()
        first_plans = first_plans or plans
        run_params, frames = seed_settings(params, eval_frames, first=i == 0)
        for name, plan in plans.items():
            set_seed(seed)
            model, tok = cross_encoder(start, pooling=params.pooling), AutoTokenizer.from_pretrained(start)
            cache = seed_cache(f"{prefix}-{name}", seed, first=i == 0)
            score = pool_scorer(pool, tok, params, device, precision)
            runs.setdefault(f"{prefix}-{name}", []).append(train_system(
                model, tok, train_df, run_params, frames, seed=seed, device=device, work_dir=work_dir,
                scores_to=Path(scores_dir) / cache, target="target", loss_fn=loss_fn, steps=steps, qrels=qrels, precision=precision,
                sampler=plan.sampler(steps, params.group_size, params.groups_per_step, seed),
                callbacks=plan.callbacks(steps, params.groups_per_step, score)))
    return runs, first_plans


@dataclass
class Evaluation:
    """Notebook 08's test evaluation: each system's per-query metrics per seed, their seed mean
    (`random` and `oracle` included) and its bootstrap summary."""

    per_seed: dict[str, list[pd.DataFrame]]
    per: dict[str, pd.DataFrame]
    summary: dict[str, pd.DataFrame]


def evaluate(test: pd.DataFrame, qrels: pd.DataFrame, seeded: dict[str, list[np.ndarray]], seed: int) -> Evaluation:
    """`random`, every system of `seeded` (its test scores, one array per training seed; a system
    run once has one) and `oracle` on the `test` lists: per-query metrics per seed, their mean
    over seeds, and its summary with 95% bootstrap intervals over queries (`seed`)."""
    refs = metrics.evaluate_references(test, qrels, seed=seed)
    per_seed = {name: [metrics.evaluate_candidates(test.assign(score=sc), qrels=qrels) for sc in runs] for name, runs in seeded.items()}
    per = {"random": refs["random"], **{n: metrics.seed_mean(f) for n, f in per_seed.items()}, "oracle": refs["oracle"]}
    return Evaluation(per_seed, per, {n: metrics.summarise(pq, seed=seed).set_index("metric") for n, pq in per.items()})


def result_rows(evaluation: Evaluation, names: Sequence[str]) -> list[dict]:
    """The rows notebook 08 records for its students (`names`): every metric of the seed mean, and
    NDCG@5's spread across seeds where there are two or more."""
    rows = [row for n in names for row in results.summary_rows(n, evaluation.summary[n].reset_index())]
    return rows + [{"system": n, "metric": "ndcg@5_seed_sd", "value": metrics.seed_spread(evaluation.per_seed[n], "ndcg@5"),
                    "ci_low": None, "ci_high": None, "n_queries": len(evaluation.per[n])} for n in names if len(evaluation.per_seed[n]) > 1]


def claims(per: dict[str, pd.DataFrame], baseline: str = "bert6-uniform") -> pd.DataFrame:
    """Each curriculum student against `baseline` on NDCG@5 and pair accuracy (paired t-tests over
    the test queries, `verdicts.claim`): one question asked six ways, so the verdicts read the
    Benjamini-Hochberg adjusted p-values (`metrics.adjust_pvalues`), the raw ones beside them."""
    table = pd.DataFrame([verdicts.claim(f"bert6-{name} beats {baseline}" + (f" ({m})" if m != "ndcg@5" else ""), per[f"bert6-{name}"],
                                         per[baseline], f"bert6-{name}", baseline, metric=m) | {"metric": m}
                          for name in STUDENTS[1:] for m in ("ndcg@5", "pair_accuracy")]).set_index("claim")
    table["p (BH)"] = metrics.adjust_pvalues(table["p"])
    table["verdict"] = [metrics.verdict(d, p) for d, p in zip(table["Δ"], table["p (BH)"], strict=True)]
    return table


# Notebook 08's inputs.

def load_inputs(out: Path) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """What notebook 08 reads from the run's folder `out`: notebook 03's transfer lists by split
    and notebook 01's qrels."""
    transfer = {split: ds.to_pandas() for split, ds in load_prepared(out / "transfer").items()}
    return transfer, load_prepared(out / "prepared")["qrels"].to_pandas()


def training_frame(transfer: dict[str, pd.DataFrame], pseudo_groups: int, out: Path, seed: int, column: str) -> pd.DataFrame:
    """Notebook 04's training groups (`distill.transfer_frame`) with its targets: the teacher's
    `column` through notebook 04's normaliser (`students/teacher_normaliser.json`), so that every
    student of notebook 08 learns exactly what notebook 04's did."""
    norm = json.loads((out / "students" / "teacher_normaliser.json").read_text())
    df = distill.transfer_frame(transfer, pseudo_groups, seed, column=column)
    return df.assign(target=distill.normalise(df, norm, column=column))


def budget_sentence(train_df: pd.DataFrame, params, cur, recipe: str) -> str:
    """What each of notebook 08's students trains on and for how long (`cur`: the curriculum section)."""
    return (f"{train_df.query_id.nunique()} training groups ({len(train_df)} pairs); {cur.steps} steps x {params.groups_per_step} x "
            f"{params.group_size} pairs per student and seed at {recipe}{f' cut to {cur.max_len} tokens' if cur.max_len else ''}; "
            f"{cur.rounds} rounds; {cur.seeds} seeds")
