"""Distillation targets: the teacher's cached transfer-set scores as regression targets.

Notebook 03 scored the transfer set once (`outputs/<profile>/transfer/`): the LLM teacher's scores
in column `teacher_score`, `teacher-ensemble`'s in `ensemble_score`, `bm25+dense-minilm`'s in
`no_llm_score`, each a function of (query, document) alone (`distilrank.fusion`'s global
standardisation). `distill.teacher` picks one (`TEACHERS`); here those scores become each
candidate's `target`: normalised by one affine map fitted on the whole transfer set (MSE reads
absolute values, and a teacher's scale is arbitrary). `target_frame` builds the frame;
`distilrank.stages.distillation` trains and evaluates notebook 04's students on it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch

from distilrank.fusion import zscore_per_query
from distilrank.losses import make_loss
from distilrank.sampling import pick_queries

NORMALISATIONS = ("none", "global", "query")

# distill.teacher -> (the teacher's system name, its column in the transfer set)
TEACHERS = {"llm": ("teacher-cpt", "teacher_score"), "ensemble": ("teacher-ensemble", "ensemble_score")}

# distilled student suffix (bert6-<suffix>) -> its loss in distilrank.losses
DISTILL_LOSSES = {"point": "point_mse", "margin": "margin_mse", "hybrid": "hybrid"}

# notebook 03's labels-only student: the same network and budget as the distilled ones, on human labels
LABELS_STUDENT = "bert6-labels"


def training_lists(train: pd.DataFrame, n_queries: int | None, seed: int) -> pd.DataFrame:
    """The training queries' BM25 lists (rows with `source == "bm25"`, as test lists look) that
    notebook 04's fit diagnostic scores every student seed on: those of `n_queries` seeded queries
    (`pick_queries`), or of every training query when `n_queries` is None."""
    lists = train[train["source"] == "bm25"]
    if n_queries is None:
        return lists
    return lists[lists["query_id"].isin(pick_queries(lists["query_id"], n_queries, seed))]


def teacher_of(kind: str) -> tuple[str, str]:
    """(system name, transfer-set column) of the teacher `distill.teacher` names."""
    if kind not in TEACHERS:
        raise ValueError(f"unknown distill.teacher {kind!r}; choose from {sorted(TEACHERS)}")
    return TEACHERS[kind]


COMPONENTS = {"bm25_score": "BM25", "dense_score": "dense-minilm", "teacher_score": "the LLM teacher (teacher-cpt)"}


def fitted_weights(out: Path, name: str) -> dict[str, float] | None:
    """The weights notebook 03 fitted for the fusion `name` (`teachers/ensemble.json` under `out`),
    or None when there is no such fusion."""
    path = Path(out) / "teachers" / "ensemble.json"
    return json.loads(path.read_text()).get(name, {}).get("weights") if path.is_file() else None


def teacher_sentence(name: str, weights: dict[str, float] | None = None, llm_share: float = 0.2) -> str:
    """What the students learn from, named honestly: the LLM teacher alone, or `teacher-ensemble`
    with its fitted weights (`weights`, keyed by score column, as notebook 03 writes them to
    `teachers/ensemble.json`) and, when the LLM's share of the absolute weights is below
    `llm_share`, that the target is mostly a BM25 + MiniLM fusion rather than the LLM."""
    if name != "teacher-ensemble" or not weights:
        return f"the students learn from {name}" + (", the fine-tuned decoder LLM alone, as in the paper" if name == "teacher-cpt" else "")
    terms = " + ".join(f"{w:.3f} x {COMPONENTS.get(c, c)}" for c, w in weights.items())
    share = abs(weights.get("teacher_score", 0.0)) / max(sum(abs(w) for w in weights.values()), 1e-12)
    return (f"the students learn from teacher-ensemble = {terms} (standardised scores, weights fitted on training queries): "
            + (f"mostly a BM25 + MiniLM fusion, the LLM carrying {share:.0%} of the weight" if share < llm_share
               else f"the LLM carries {share:.0%} of the weight"))


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
    """The students' targets over the whole transfer set and the teacher's normaliser.

    `params` is the profile's `distill` section (`teacher`, `normalise`). The frame is
    `transfer_frame` with every title pseudo-query (a recipe picks its share later,
    `stages.distillation.student_frame`), each candidate's normalised `target`, `target_no_llm` (the same
    map fitted on `bm25+dense-minilm`'s scores, when the transfer set has them), its `kind`
    (training query or title pseudo-query) and `label` (judged relevant or other). The normaliser
    is fitted once on the whole transfer set, so a pair's target does not depend on which groups a
    recipe picks; notebook 05 reads it back to put the teacher's test scores on the students' scale."""
    teacher_name, teacher_col = teacher_of(params.teacher)
    pseudo = transfer.get("pseudo")
    n_pseudo = 0 if pseudo is None else pseudo.query_id.nunique()
    train_df = transfer_frame(transfer, n_pseudo, seed, column=teacher_col)
    norm = {**fit_normaliser(train_df[teacher_col], params.normalise), "teacher": teacher_name, "column": teacher_col}
    train_df = train_df.assign(target=normalise(train_df, norm, column=teacher_col))
    if "no_llm_score" in train_df.columns:
        train_df = train_df.assign(target_no_llm=normalise(train_df, fit_normaliser(train_df["no_llm_score"], params.normalise), column="no_llm_score"))
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


def worked_example(student: Sequence[float], teacher: Sequence[float], shift: float = 5.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Notebook 04's worked example on one query's documents: the terms each loss averages (per
    document, the Point-MSE error (s - t)^2; per pair i < j, the Margin-MSE error
    ((s_i - s_j) - (t_i - t_j))^2), and the three losses as the library computes them
    (`losses.make_loss`, margin weight 1) for the student's scores and for the same scores plus `shift`
    (the same order and spacing at another offset: Margin-MSE does not move, Point-MSE does)."""
    s, t = np.asarray(student, dtype=float), np.asarray(teacher, dtype=float)
    rows = [{"term": f"point d{i + 1}", "teacher t": t[i], "student s": s[i], "squared error": (s[i] - t[i]) ** 2} for i in range(len(s))]
    rows += [{"term": f"margin d{i + 1}-d{j + 1}", "teacher t": t[i] - t[j], "student s": s[i] - s[j],
              "squared error": ((s[i] - s[j]) - (t[i] - t[j])) ** 2} for i in range(len(s)) for j in range(i + 1, len(s))]
    terms = pd.DataFrame(rows).set_index("term")
    target, mask = torch.tensor(t[None], dtype=torch.float32), torch.ones(1, len(t), dtype=torch.bool)
    value = lambda name, x: float(make_loss(name)(torch.tensor(np.asarray(x)[None], dtype=torch.float32), target, mask))  # noqa: E731
    totals = pd.DataFrame({"student s": {n: value(n, s) for n in ("point_mse", "margin_mse", "hybrid")},
                           f"s + {shift:g} (same order and spacing)": {n: value(n, s + shift) for n in ("point_mse", "margin_mse", "hybrid")}})
    return terms, totals.rename_axis("loss")
