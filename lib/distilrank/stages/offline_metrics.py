"""The offline report (notebook 05): every cached system on the same test lists, bootstrap
intervals, a Benjamini-Hochberg-corrected family of paired tests, how the distilled students copy
their teacher, and where the hybrid student loses most to it.

Notebook 05's steps, one call each: `cached_systems` and `load_test_scores` (what the earlier
notebooks left), `evaluate_systems` (per-query metrics and intervals), `significance_family`,
`significance_table` and `plot_differences` (the comparisons the claims rest on), `drop_aliases`
(one name per ranker), `on_teacher_scale` and `fidelity_table` (the students against the teacher),
`ndcg_gap` and `failure_cases` (the failure analysis); `plot_*` draw its figures and return them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from scipy import stats

from distilrank import metrics, rankers
from distilrank.distill import LABELS_STUDENT, normalise

# the per-query measures of the significance family (pair accuracy: the per-query form of PNR)
MEASURES = ("ndcg@5", "ndcg@10", "mrr@10", "pair_accuracy")

# notebook 03's teacher without continued pre-training, under either name it has had
ABLATIONS = ("teacher-no-cpt", "teacher-random-init")


def cached_systems(scores_dir: Path, students: Sequence[str], cpt_variants: Iterable[str]) -> list[str]:
    """The systems whose test scores earlier notebooks cached under `scores_dir`, in the report's
    order: `dense-minilm` and its fusion with BM25, the teacher without CPT (`ABLATIONS`), the
    teacher with CPT and one per CPT variant, `teacher-ensemble`, the labels-only student, the
    distilled `students`, and the students fused with BM25 (notebook 04)."""
    ablation = next((n for n in ABLATIONS if (Path(scores_dir) / n).is_dir()), None)
    if ablation is None:
        raise FileNotFoundError(f"no cached scores of {' or '.join(ABLATIONS)} in {scores_dir}: run notebook 03")
    no_llm = [f"{s}-no-llm" for s in students if s.endswith("-hybrid") and (Path(scores_dir) / f"{s}-no-llm").is_dir()]
    core = [LABELS_STUDENT, *students, *no_llm]
    return ["dense-minilm", "bm25+dense-minilm", ablation, "teacher-cpt", *[f"teacher-cpt-{v}" for v in cpt_variants],
            "teacher-ensemble", *core, *[f"{n}+bm25" for n in core]]


def load_test_scores(test: pd.DataFrame, scores_dir: Path, names: Iterable[str]) -> dict[str, np.ndarray]:
    """Test scores aligned to `test`'s rows: BM25's (a column of the lists), then each of `names`
    from its cache (`rankers.load_scores`)."""
    scores = {"bm25": test.bm25_score.to_numpy()}
    scores.update({name: rankers.load_scores(Path(scores_dir) / name, "test", test) for name in names})
    return scores


def drop_aliases(scores: Mapping[str, np.ndarray], systems: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """`systems` without the aliases: a system whose test scores are exactly an earlier system's
    (notebook 03 keeps `teacher-cpt` also as `teacher-cpt-<variant>`) is the same ranker under a
    second name, and a second row in a table or a second test in a family would count it twice.
    Returns (the systems kept, in order; {alias: the name kept})."""
    kept, aliases = [], {}
    for name in systems:
        same = next((k for k in kept if k in scores and name in scores and np.array_equal(scores[k], scores[name])), None)
        if same is None:
            kept.append(name)
        else:
            aliases[name] = same
    return kept, aliases


def evaluate_systems(test: pd.DataFrame, qrels: pd.DataFrame, scores: Mapping[str, np.ndarray], systems: Sequence[str], *,
                     n_resamples: int, seed: int, scores_dir: Path | None = None) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """Per-query metrics of every scored system and of the `random` and `oracle` references
    (`seed`), and the bootstrap summary (`n_resamples`, `seed`) of each of `systems`, in that
    order. With `scores_dir`, a system with several seeds' caches (`rankers.seed_dirs`) gets the
    seed mean of each query's metrics (`metrics.seed_mean`), as notebook 04 reports it. Returns
    (per-query metrics, summaries), both by system."""
    per = {"random": None, **{name: metrics.evaluate_candidates(test.assign(score=sc), qrels=qrels) for name, sc in scores.items()}}
    per.update(metrics.evaluate_references(test, qrels, seed=seed))
    if scores_dir is not None:  # a system trained with several seeds: each query's metric is the seeds' mean (notebook 04)
        for name in scores:
            further = rankers.seed_dirs(scores_dir, name)[1:]  # the first seed's scores are `scores[name]`, evaluated above
            if further:
                per[name] = metrics.seed_mean([per[name], *[metrics.evaluate_candidates(test.assign(score=rankers.load_scores(d, "test", test)),
                                                                                        qrels=qrels) for d in further]])
    summary = {name: metrics.summarise(per[name], n_resamples=n_resamples, seed=seed) for name in systems}
    return per, summary


def interval_table(summary: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Systems as rows, metrics as columns, each cell `value [ci_low, ci_high]` (`metrics.format_interval`)."""
    return pd.DataFrame({name: {r.metric: metrics.format_interval(r.value, r.ci_low, r.ci_high) for r in s.itertuples()}
                         for name, s in summary.items()}).T


def plot_intervals(summary: Mapping[str, pd.DataFrame]) -> plt.Figure:
    """One panel per metric: each system's value with its 95% interval, the first system on top (an
    infinite value, the oracle's PNR, is not drawn)."""
    plot = pd.concat([s.assign(system=name) for name, s in summary.items()])
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.8), sharey=True)
    for ax, metric in zip(axes, metrics.METRICS, strict=True):
        d = plot[plot.metric == metric].set_index("system").loc[list(summary)]
        d = d.assign(value=d.value.where(np.isfinite(d.value)))  # the oracle's PNR is infinite: not drawn
        ax.errorbar(d.value, range(len(d)), xerr=[d.value - d.ci_low, d.ci_high - d.value], fmt="o", capsize=3)
        ax.set(title=f"test {metric}", yticks=range(len(d)), yticklabels=d.index)
    axes[0].invert_yaxis()  # shared y axis: once, so that the first system is on top
    fig.suptitle("every system on the test candidates (95% bootstrap CI)")
    return fig


def significance_family(per: Mapping[str, pd.DataFrame], systems: Iterable[str], references: Iterable[str],
                        measures: Sequence[str] = MEASURES) -> pd.DataFrame:
    """Every system of `systems` against each of `references` (itself, `random` and `oracle` left
    out) on each of `measures`: the paired t-test's mean difference and p-value
    (`metrics.paired_test`), the Benjamini-Hochberg-adjusted p-value over the whole family
    (`metrics.adjust_pvalues`) and whether it is below 0.05. One row per test."""
    systems = list(systems)
    rows = []
    for ref in references:
        for name in systems:
            if name in (ref, *metrics.REFERENCES):
                continue
            for m in measures:
                t = metrics.paired_test(per[name], per[ref], m)
                rows.append({"reference": ref, "system": name, "measure": m, "Δ (system - reference)": t["diff"], "p": t["p"]})
    sig = pd.DataFrame(rows)
    sig["p (BH-adjusted)"] = metrics.adjust_pvalues(sig.p)
    sig["significant"] = sig["p (BH-adjusted)"] < 0.05
    return sig


def significance_table(sig: pd.DataFrame, measure: str = "ndcg@5") -> pd.DataFrame:
    """`significance_family`'s tests on one measure, one row per system: per reference, the mean
    difference (system - reference) and the Benjamini-Hochberg-adjusted p-value (blank where the
    system is the reference)."""
    d = sig[sig.measure == measure]
    refs, order = list(dict.fromkeys(d.reference)), list(dict.fromkeys(d.system))
    cols = {}
    for ref in refs:
        r = d[d.reference == ref].set_index("system")
        cols[f"Δ vs {ref}"] = r["Δ (system - reference)"]
        cols[f"p (BH) vs {ref}"] = r["p (BH-adjusted)"]
    return pd.DataFrame(cols).reindex(order).rename_axis(f"system ({measure})")


def paired_intervals(per: Mapping[str, pd.DataFrame], systems: Iterable[str], reference: str, measure: str = "ndcg@5",
                     level: float = 0.95) -> pd.DataFrame:
    """Per system: the mean per-query difference (system - `reference`) on `measure` and its
    `level` t-interval (the interval of the paired t-test: mean ± t quantile × sd / sqrt(n))."""
    rows = []
    for name in systems:
        j = per[name].set_index("query_id")[[measure]].join(per[reference].set_index("query_id")[[measure]], rsuffix="_ref", how="inner").dropna()
        diff = (j[measure] - j[f"{measure}_ref"]).to_numpy()
        half = stats.t.ppf(0.5 + level / 2, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else np.nan
        rows.append({"system": name, "Δ": diff.mean(), "ci_low": diff.mean() - half, "ci_high": diff.mean() + half})
    return pd.DataFrame(rows).set_index("system")


def plot_differences(per: Mapping[str, pd.DataFrame], sig: pd.DataFrame, systems: Sequence[str], references: Sequence[str],
                     measure: str = "ndcg@5") -> plt.Figure:
    """The comparisons the paper's claims rest on, one panel per reference: each of `systems` (the
    students) minus the reference on `measure`, with the paired test's 95% interval, a filled
    marker where the difference is significant after the family's Benjamini-Hochberg correction
    (`significance_family`), hollow where not; zero marked."""
    fig, axes = plt.subplots(1, len(references), figsize=(6 * len(references), 0.42 * len(systems) + 1.6), squeeze=False)
    for ax, ref in zip(axes[0], references, strict=True):
        shown = [n for n in systems if n != ref]
        d = paired_intervals(per, shown, ref, measure)
        flags = sig[(sig.reference == ref) & (sig.measure == measure)].set_index("system")["significant"].reindex(shown).fillna(False)
        y = np.arange(len(shown))
        ax.errorbar(d.Δ, y, xerr=[d.Δ - d.ci_low, d.ci_high - d.Δ], fmt="none", ecolor="grey", capsize=3)
        ax.scatter(d.Δ[flags.to_numpy()], y[flags.to_numpy()], c="C0", zorder=3, label="significant (BH-adjusted p < 0.05)")
        ax.scatter(d.Δ[~flags.to_numpy()], y[~flags.to_numpy()], facecolors="white", edgecolors="C0", zorder=3, label="not significant")
        ax.axvline(0, c="k", lw=0.8)
        ax.set(yticks=y, yticklabels=shown, xlabel=f"Δ test {measure} (system - {ref}); 95% CI, unadjusted", title=f"against {ref}")
        ax.invert_yaxis()
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncols=2, fontsize=9, bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def on_teacher_scale(test: pd.DataFrame, scores: Mapping[str, np.ndarray], teacher: str, students: Iterable[str], norm: dict) -> pd.DataFrame:
    """`test` with a `teacher` column (the teacher's test scores through notebook 04's normaliser
    `norm`, the scale the students were trained on) and one column of scores per student."""
    return test.assign(teacher=normalise(test.assign(teacher_score=scores[teacher]), norm).to_numpy(),
                       **{name: scores[name] for name in students})


def plot_score_distributions(test: pd.DataFrame, margins: pd.DataFrame, students: Sequence[str], method: str) -> plt.Figure:
    """Densities of the teacher's (normalised by `method`) and the students' test scores (left) and
    of each student's per-pair margin error against the teacher's (`margins`:
    `metrics.pair_margins` of `on_teacher_scale`'s frame; right)."""
    dist = pd.concat([pd.DataFrame({"system": name, "score": test[name]}) for name in ["teacher", *students]])
    fig, axes = plt.subplots(1, 2, figsize=(13, 3.8))
    palette = dict(zip(["teacher", *students], sns.color_palette(n_colors=len(students) + 1), strict=True))  # one colour per system in both panels
    sns.kdeplot(dist, x="score", hue="system", common_norm=False, palette=palette, ax=axes[0], legend=False)
    axes[0].set(title=f"test scores: teacher ('{method}'-normalised) vs students")
    err = pd.concat([pd.DataFrame({"student": name, "margin error": margins[name] - margins["teacher"]}) for name in students])
    sns.kdeplot(err, x="margin error", hue="student", common_norm=False, palette=palette, ax=axes[1], legend=False)
    axes[1].axvline(0, c="grey", ls="--")
    axes[1].set(title="per-pair margin: student - teacher (all pairs within a query)")
    handles = [plt.Line2D([], [], c=c, label=n) for n, c in palette.items()]
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=9)
    fig.tight_layout()
    return fig


def fidelity_table(test: pd.DataFrame, margins: pd.DataFrame, students: Iterable[str]) -> pd.DataFrame:
    """How closely each student copies the teacher (columns of `on_teacher_scale`'s frame; margins
    from `metrics.pair_margins`): Kendall's tau per query (mean, and the share above 0), Pearson r
    over all candidates, point and margin MSE, the offset of the means and the ratio of the sds."""
    fidelity = {}
    for name in students:
        tau = metrics.kendall_per_query(test, "teacher", name)
        fidelity[name] = {"Kendall tau per query (mean)": tau.mean(), f"queries with tau > 0 (of {len(tau)})": int((tau > 0).sum()),
                          "Pearson r": np.corrcoef(test.teacher, test[name])[0, 1],
                          "point MSE": float(np.mean((test[name] - test.teacher) ** 2)),
                          "margin MSE": float(np.mean((margins[name] - margins.teacher) ** 2)),
                          "offset (mean s - t)": float((test[name] - test.teacher).mean()),
                          "spread ratio (sd s / sd t)": float(test[name].std() / test.teacher.std())}
    return pd.DataFrame(fidelity).T


def plot_teacher_vs_student(test: pd.DataFrame, fidelity: pd.DataFrame, students: Sequence[str]) -> plt.Figure:
    """One scatter per student of its test scores against the teacher's (judged relevant or not),
    the diagonal drawn, its mean Kendall tau (`fidelity_table`) in the title."""
    fig, axes = plt.subplots(1, len(students), figsize=(4.2 * len(students), 3.8), sharex=True, sharey=True, squeeze=False)
    kind = pd.Series(np.where(test.gain > 0, "judged relevant", "other"), index=test.index)
    for ax, name in zip(axes[0], students, strict=True):
        sns.scatterplot(test, x="teacher", y=name, hue=kind, hue_order=["other", "judged relevant"], s=10, alpha=0.5, ax=ax, legend=ax is axes[0][-1])
        lim = [min(test.teacher.min(), test[name].min()), max(test.teacher.max(), test[name].max())]
        ax.plot(lim, lim, c="grey", ls="--", lw=1, label="student = teacher")
        ax.set(title=f"{name}: tau {fidelity.loc[name, 'Kendall tau per query (mean)']:.2f}", xlabel="teacher (normalised)",
               ylabel="student score")
    axes[0][-1].legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.02, 1), markerscale=2)
    fig.tight_layout()
    return fig


def ndcg_gap(per_teacher: pd.DataFrame, per_student: pd.DataFrame) -> pd.Series:
    """Per query: the teacher's NDCG@5 minus the student's (positive where the student loses)."""
    return per_teacher.set_index("query_id")["ndcg@5"] - per_student.set_index("query_id")["ndcg@5"]


class FailureCase(NamedTuple):
    """One query of the failure analysis: a markdown header and both rankings' top documents."""

    header: str
    table: pd.DataFrame


def failure_cases(test: pd.DataFrame, per_teacher: pd.DataFrame, per_student: pd.DataFrame, student: str, n: int,
                  top_docs: int, qrels: pd.DataFrame | None = None) -> list[FailureCase]:
    """The `n` test queries where `student` loses most NDCG@5 to the teacher (`ndcg_gap`), each with
    a header (the query, both NDCG@5 values, the drop, the judged relevant candidates) and the
    teacher's and the student's top `top_docs` documents side by side (id · title, gain). `test` is
    `on_teacher_scale`'s frame (columns `teacher` and `student`: the student's first seed). The
    per-query metrics may be seed means: the header then also gives the NDCG@5 of the ranking shown
    (judged against `qrels`; None: the list's own gains)."""
    worst = ndcg_gap(per_teacher, per_student).sort_values(ascending=False).head(n)
    cases = []
    for qid, drop in worst.items():
        q = test[test.query_id == qid]
        shown = metrics.evaluate_candidates(q, score=student, qrels=qrels).set_index("query_id").loc[qid, "ndcg@5"]
        header = (f"**Query {qid}**: *{q['query'].iloc[0]}*  \nNDCG@5 teacher "
                  f"{per_teacher.set_index('query_id').loc[qid, 'ndcg@5']:.3f} → {student} "
                  f"{per_student.set_index('query_id').loc[qid, 'ndcg@5']:.3f} (drop {drop:.3f}; the student's NDCG@5 is its seeds' "
                  f"mean, the ranking below its first seed's, NDCG@5 {shown:.3f}); "
                  f"{int((q.gain > 0).sum())} judged relevant of {len(q)} candidates")
        side = {}
        for name, col in (("teacher", "teacher"), (student, student)):
            top = q.sort_values(col, ascending=False).head(top_docs)
            side[(name, "document")] = (top.doc_id + " · " + top.title.str.slice(0, 60)).to_list()
            side[(name, "gain")] = top.gain.astype(int).to_list()
        cases.append(FailureCase(header, pd.DataFrame(side, index=pd.RangeIndex(1, top_docs + 1, name="rank"))))
    return cases
