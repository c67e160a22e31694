"""Distillation: the teacher's cached transfer-set scores as regression targets, and notebook 04's
students trained on them and read against the teacher.

Notebook 03 scored the transfer set once (`outputs/<profile>/transfer/`): the LLM teacher's scores
in column `teacher_score`, `teacher-ensemble`'s in `ensemble_score`. `distill.teacher` picks one
(`TEACHERS`); here those scores become each candidate's `target`: normalised (MSE reads absolute
values, and a teacher's scale is arbitrary) and grouped by query for `distilrank.training`.

Notebook 04's steps, one call each: `target_frame` (the targets), `train_students` (one student
per loss of `DISTILL_LOSSES`, same data order and seed), `evaluate_on_test` (every system on the
test lists, the students fused with BM25), `paired_tests` and `claims_table` (the paper's claims),
`learning_curves` and `curve_summary` (dev NDCG@5 during training); `plot_*` draw its figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from transformers import AutoTokenizer

from distilrank import backbones, fusion, losses, metrics, rankers, results
from distilrank.fusion import zscore_per_query
from distilrank.runtime import set_seed

if TYPE_CHECKING:
    from distilrank.training import TrainedSystem

NORMALISATIONS = ("none", "global", "query")

# distill.teacher -> (the teacher's system name, its column in the transfer set)
TEACHERS = {"llm": ("teacher-cpt", "teacher_score"), "ensemble": ("teacher-ensemble", "ensemble_score")}

# distilled student suffix (bert6-<suffix>) -> its loss in distilrank.losses
DISTILL_LOSSES = {"point": "point_mse", "margin": "margin_mse", "hybrid": "hybrid"}

# notebook 03's labels-only student: the same network and budget as the distilled ones, on human labels
LABELS_STUDENT = "bert6-labels"


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


def student_names(students: Iterable[str]) -> list[str]:
    """The distilled students' system names, `<student>-<suffix>` for each `models.students` key and
    each loss of `DISTILL_LOSSES`, in training order."""
    return [f"{student}-{suffix}" for student in students for suffix in DISTILL_LOSSES]


# Notebook 04, section 1: the targets.

def target_frame(transfer: dict[str, pd.DataFrame], params, seed: int) -> tuple[pd.DataFrame, dict]:
    """The students' training frame and the teacher's normaliser.

    `params` is the profile's `distill` section (`teacher`, `pseudo_groups`, `normalise`). The frame
    is `transfer_frame` with each candidate's normalised `target`, its `kind` (training query or
    title pseudo-query) and `label` (judged relevant or other); the normaliser is `fit_normaliser`'s
    statistics with the teacher's name and column (notebook 05 reads it back to put the teacher's
    test scores on the students' scale)."""
    teacher_name, teacher_col = teacher_of(params.teacher)
    train_df = transfer_frame(transfer, params.pseudo_groups, seed, column=teacher_col)
    norm = {**fit_normaliser(train_df[teacher_col], params.normalise), "teacher": teacher_name, "column": teacher_col}
    train_df = train_df.assign(target=normalise(train_df, norm, column=teacher_col))
    kind = np.where(train_df.query_id.isin(transfer["train"].query_id), "training query", "title pseudo-query")
    return train_df.assign(kind=kind, label=np.where(train_df.gain > 0, "judged relevant", "other")), norm


def target_summary(train_df: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per kind of query of `target_frame`'s frame: queries, pairs, and the mean and sd of the
    teacher's raw scores (`column`) and of the targets."""
    return train_df.groupby("kind").agg(queries=("query_id", "nunique"), pairs=("doc_id", "size"),
                                        teacher_mean=(column, "mean"), teacher_sd=(column, "std"),
                                        target_mean=("target", "mean"), target_sd=("target", "std"))


def plot_targets(train_df: pd.DataFrame, norm: dict) -> plt.Figure:
    """The teacher's raw transfer-set scores by kind of query (left) and the normalised targets of
    the training queries, judged relevant against the others (right)."""
    teacher_name, teacher_col = norm["teacher"], norm["column"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
    sns.histplot(train_df, x=teacher_col, hue="kind", bins=40, element="step", stat="density", common_norm=False, ax=axes[0])
    axes[0].set(title=f"{teacher_name} scores on the transfer set (raw)")
    sns.histplot(train_df[train_df.kind == "training query"], x="target", hue="label", bins=40, element="step",
                 stat="density", common_norm=False, ax=axes[1])
    axes[1].set(title=f"targets after '{norm['method']}' normalisation (training queries)")
    return fig


# Notebook 04, section 2: the students.

def train_students(cfg, train_df: pd.DataFrame, eval_frames: dict[str, pd.DataFrame], qrels: pd.DataFrame, *,
                   out: Path, device: str, precision: str) -> dict[str, TrainedSystem]:
    """One student per `models.students` entry and loss of `DISTILL_LOSSES` (`<student>-<suffix>`),
    each a fresh cross-encoder trained on `train_df`'s `target` for `distill.steps` steps by
    `training.train_system`, seeded with `cfg.seed` right before it is built, so that every student
    sees the same groups in the same order; saved under `out/students/<name>/`, its scores of every
    frame of `eval_frames` under `out/scores/<name>/`. Returns the trained systems by name."""
    from distilrank import training  # here, not at the top: training imports this module (pick_queries)

    systems = {}
    for student, source in cfg.models.students.items():
        start = backbones.model_path(source)
        for suffix, loss_name in DISTILL_LOSSES.items():
            name = f"{student}-{suffix}"
            set_seed(cfg.seed)
            loss_fn = losses.make_loss(loss_name, **distill_loss_kwargs(suffix, cfg.distill.margin_weight))
            systems[name] = training.train_system(
                rankers.cross_encoder(start), AutoTokenizer.from_pretrained(start), train_df, cfg.distill, eval_frames,
                seed=cfg.seed, device=device, work_dir=str(out / "trainer"), save_to=out / "students" / name,
                scores_to=out / "scores" / name, target="target", loss_fn=loss_fn, steps=cfg.distill.steps, qrels=qrels, precision=precision)
    return systems


def budget_table(systems: Mapping[str, TrainedSystem], labels_run: dict, labels_loss: str) -> pd.DataFrame:
    """What each student was given: loss, steps, training minutes and parameters, for the distilled
    students (`train_students`) and then the labels-only student (`labels_run`: its cached
    `training.load_curve`; the same network, so the same parameter count)."""
    budget = pd.DataFrame({name: {"loss": DISTILL_LOSSES[name.rsplit("-", 1)[1]], "steps": s.history[-1]["step"],
                                  "train minutes": s.timing["train minutes"], "parameters": backbones.n_parameters(s.model)}
                           for name, s in systems.items()}).T
    budget.loc[LABELS_STUDENT] = {"loss": labels_loss, "steps": labels_run["steps"], "train minutes": labels_run["timing"]["train minutes"],
                                  "parameters": budget.iloc[0]["parameters"]}
    return budget


# Notebook 04, section 3: every system on test.

@dataclass
class TestEvaluation:
    """Notebook 04's test evaluation (`evaluate_on_test`)."""

    per: dict[str, pd.DataFrame]  # system -> per-query metrics (`metrics.evaluate_candidates`); random first, oracle last
    summary: dict[str, pd.DataFrame]  # system -> `metrics.summarise`, indexed by metric
    weights: dict[str, dict[str, float]]  # `<system>+bm25` -> its fusion weights (`fuse_with_bm25`)
    table: pd.DataFrame  # `quality_table`


def cached_test_scores(test: pd.DataFrame, out: Path) -> dict[str, np.ndarray]:
    """The test scores notebook 03 left: BM25, `dense-minilm` and both teachers (columns of the
    transfer set's test split) and the labels-only student (`out/scores/bert6-labels`)."""
    return {"bm25": test.bm25_score.to_numpy(), "dense-minilm": test.dense_score.to_numpy(),
            "teacher-cpt": test.teacher_score.to_numpy(), "teacher-ensemble": test.ensemble_score.to_numpy(),
            LABELS_STUDENT: rankers.load_scores(out / "scores" / LABELS_STUDENT, "test", test)}


def fuse_with_bm25(train_scores: Mapping[str, np.ndarray], test_scores: Mapping[str, np.ndarray], train_lists: pd.DataFrame,
                   test: pd.DataFrame, out: Path) -> tuple[dict[str, dict[str, float]], dict[str, np.ndarray]]:
    """Each system of `train_scores` fused with BM25 (`<name>+bm25`): the weights fitted on its
    scores of the training queries' BM25 lists (`train_lists`, `fusion.fit_weights`), applied to its
    test scores; the fused test scores are cached under `out/scores/<name>+bm25`. Returns (weights,
    fused test scores), both by fused name."""
    weights, fused = {}, {}
    for name, tr in train_scores.items():
        weights[f"{name}+bm25"] = w = fusion.fit_weights(train_lists.assign(student=tr), ["student", "bm25_score"])
        fused[f"{name}+bm25"] = fusion.fuse(test.assign(student=test_scores[name]), w)
        rankers.save_scores({"test": test.assign(score=fused[f"{name}+bm25"])}, out / "scores" / f"{name}+bm25")
    return weights, fused


def quality_table(summary: Mapping[str, pd.DataFrame], teacher: str) -> pd.DataFrame:
    """PNR, NDCG@5 and NDCG@10 of every system with its 95% interval (`metrics.format_interval`), and the
    share of the teacher's NDCG@5 each system keeps (none for the references)."""
    teacher_ndcg = summary[teacher].loc["ndcg@5", "value"]
    rows = []
    for name, s in summary.items():
        row = {"system": name}
        for m in ("pnr", "ndcg@5", "ndcg@10"):
            row[m] = metrics.format_interval(s.loc[m, "value"], s.loc[m, "ci_low"], s.loc[m, "ci_high"])
        row[f"share of {teacher} ndcg@5"] = s.loc["ndcg@5", "value"] / teacher_ndcg if teacher_ndcg > 0 and name not in metrics.REFERENCES else np.nan
        rows.append(row)
    return pd.DataFrame(rows).set_index("system")


def evaluate_on_test(systems: Mapping[str, TrainedSystem], test: pd.DataFrame, train_lists: pd.DataFrame, qrels: pd.DataFrame, *,
                     out: Path, seed: int, teacher: str) -> TestEvaluation:
    """Every system of notebook 04 on the test lists: `random`, the cached ones
    (`cached_test_scores`), the distilled students, the labels-only and distilled students fused
    with BM25 (`fuse_with_bm25`, fitted on `train_lists`) and `oracle`, each with its per-query
    metrics and bootstrap summary (`seed`), and the `quality_table` against `teacher`."""
    refs = metrics.evaluate_references(test, qrels, seed=seed)
    scores = cached_test_scores(test, out)
    scores.update({name: s.scores["test"] for name, s in systems.items()})
    train_scores = {LABELS_STUDENT: rankers.load_scores(out / "scores" / LABELS_STUDENT, "train", train_lists),
                    **{name: s.scores["train"] for name, s in systems.items()}}
    weights, fused = fuse_with_bm25(train_scores, scores, train_lists, test, out)
    scores.update(fused)
    per = {"random": refs["random"], **{name: metrics.evaluate_candidates(test.assign(score=sc), qrels=qrels) for name, sc in scores.items()},
           "oracle": refs["oracle"]}
    summary = {name: metrics.summarise(pq, seed=seed).set_index("metric") for name, pq in per.items()}
    return TestEvaluation(per, summary, weights, quality_table(summary, teacher))


def weights_table(weights: Mapping[str, dict[str, float]]) -> pd.DataFrame:
    """The `<system>+bm25` fusion weights, one row each."""
    return pd.DataFrame(weights).T.rename(columns={"student": "student weight", "bm25_score": "bm25 weight"})


def result_rows(evaluation: TestEvaluation, students: Sequence[str], teacher: str) -> list[dict]:
    """The rows notebook 04 records: every metric of the distilled students and of the fused systems
    (`results.summary_rows`), then each distilled student's `ndcg@5_share_of_teacher`."""
    rows = [row for name in [*students, *evaluation.weights] for row in results.summary_rows(name, evaluation.summary[name].reset_index())]
    return rows + [{"system": name, "metric": "ndcg@5_share_of_teacher", "value": float(evaluation.table.loc[name, f"share of {teacher} ndcg@5"]),
                    "ci_low": None, "ci_high": None, "n_queries": len(evaluation.per[name])} for name in students]


def comparisons(students: Iterable[str], teacher: str, with_labels: bool = True) -> list[tuple[str, str]]:
    """The (a, b) pairs the paper's claims rest on, per `models.students` key: the hybrid against each
    single loss, every distilled student against the labels-only student (`with_labels`), the
    hybrid against its teacher."""
    pairs = []
    for student in students:
        hybrid = f"{student}-hybrid"
        pairs += [(hybrid, f"{student}-point"), (hybrid, f"{student}-margin")]
        if with_labels:
            pairs += [(f"{student}-{suffix}", LABELS_STUDENT) for suffix in DISTILL_LOSSES]
        pairs.append((hybrid, teacher))
    return pairs


def paired_tests(per: Mapping[str, pd.DataFrame], students: Iterable[str], teacher: str) -> pd.DataFrame:
    """Paired t-tests (`metrics.paired_test`) on NDCG@5 and pair accuracy for each of `comparisons`,
    one row per comparison, each p-value on its own (no correction)."""
    tests = []
    for a, b in comparisons(students, teacher, with_labels=LABELS_STUDENT in per):
        nd, pa = metrics.paired_test(per[a], per[b], "ndcg@5"), metrics.paired_test(per[a], per[b], "pair_accuracy")
        tests.append({"comparison": f"{a} vs {b}", "Δ ndcg@5": nd["diff"], "p (ndcg@5)": nd["p"],
                      "Δ pair accuracy": pa["diff"], "p (pair accuracy)": pa["p"], "queries": nd["n_queries"]})
    return pd.DataFrame(tests).set_index("comparison")


def claims_table(per: Mapping[str, pd.DataFrame], summary: Mapping[str, pd.DataFrame], students: Iterable[str], teacher: str,
                 keep: float = 0.9) -> pd.DataFrame:
    """The paper's claims with a paired test on NDCG@5 each (`metrics.claim`), per `models.students`
    key: the hybrid beats each single loss, every distilled student beats the labels-only student,
    the hybrid (alone and fused) beats BM25, and the hybrid keeps `keep` of the teacher's NDCG@5 (a
    threshold on the share, its test against the teacher beside it)."""
    teacher_ndcg = summary[teacher].loc["ndcg@5", "value"]
    claims = []
    for student in students:
        h = f"{student}-hybrid"
        claims += [metrics.claim(f"{h} beats {student}-point", per[h], per[f"{student}-point"]),
                   metrics.claim(f"{h} beats {student}-margin", per[h], per[f"{student}-margin"])]
        claims += [metrics.claim(f"{student}-{suffix} beats {LABELS_STUDENT}", per[f"{student}-{suffix}"], per[LABELS_STUDENT])
                   for suffix in DISTILL_LOSSES]
        claims.append(metrics.claim(f"{h} beats bm25", per[h], per["bm25"]))
        claims.append(metrics.claim(f"{h}+bm25 beats bm25", per[f"{h}+bm25"], per["bm25"]))
        kept = metrics.claim(f"{h} keeps >= {keep:.0%} of {teacher}'s NDCG@5", per[h], per[teacher])
        share = summary[h].loc["ndcg@5", "value"] / teacher_ndcg
        kept["verdict"] = f"{'holds' if share >= keep else 'fails'} (share {share:.2f}; vs teacher: {kept['verdict']})"
        claims.append(kept)
    return pd.DataFrame(claims).set_index("claim")


# Notebook 04, section 4: learning curves.

def learning_curves(systems: Mapping[str, TrainedSystem], labels_history: Sequence[dict]) -> pd.DataFrame:
    """One row per learning-curve point (`system`, `step`, `dev ndcg@5`, `dev pnr`): the distilled
    students, then the labels-only student (its cached history)."""
    return pd.DataFrame([{"system": name, **h} for name, s in systems.items() for h in s.history]
                        + [{"system": LABELS_STUDENT, **h} for h in labels_history])


def dev_references(dev: pd.DataFrame, qrels: pd.DataFrame, teacher: str, teacher_col: str, seed: int) -> dict[str, float]:
    """Dev NDCG@5 of the teacher (its column `teacher_col`), BM25 and `random` (seeded): the
    learning curves' reference lines."""
    return {f"{teacher} (dev)": metrics.aggregate(metrics.evaluate_candidates(dev.assign(score=dev[teacher_col]), qrels=qrels), "ndcg@5"),
            "bm25 (dev)": metrics.aggregate(metrics.evaluate_candidates(dev, score="bm25_score", qrels=qrels), "ndcg@5"),
            "random (dev)": metrics.aggregate(metrics.evaluate_references(dev, qrels, seed=seed)["random"], "ndcg@5")}


def plot_learning_curves(curve: pd.DataFrame, dev_ref: Mapping[str, float], budget: int) -> plt.Figure:
    """Dev NDCG@5 against the step, one line per student, with the `dev_references` lines and the
    budget's end (`distill.steps`) marked."""
    fig, ax = plt.subplots(figsize=(8, 3.8))
    sns.lineplot(curve, x="step", y="dev ndcg@5", hue="system", marker="o", ax=ax)
    for (name, value), style in zip(dev_ref.items(), ["--", ":", "-."], strict=True):
        ax.axhline(value, ls=style, c="grey", label=name)
    ax.axvline(budget, c="k", lw=0.8, label="budget (distill.steps)")
    ax.set(title="dev NDCG@5 during training: distilled students vs the labels-only student")
    ax.legend(fontsize=8)
    return fig


def curve_summary(curve: pd.DataFrame, target: float) -> pd.DataFrame:
    """Per system: dev NDCG@5 at its curve's last step and the steps it would need to reach `target`
    (BM25 on dev), extrapolated by `training.steps_to_reach` and rounded to tens."""
    from distilrank.training import steps_to_reach  # here, not at the top: training imports this module

    need = {name: steps_to_reach(g.to_dict("records"), target) for name, g in curve.groupby("system")}
    return pd.DataFrame({"dev ndcg@5 at the end": curve.sort_values("step").groupby("system")["dev ndcg@5"].last(),
                         "steps to reach bm25 on dev (extrapolated)": pd.Series(need, dtype=float).round(-1)})
