"""The report of one profile's run (`make report PROFILE=...`): every executed notebook as HTML
(nbconvert) and a front page, `report/index.html`, with `results.md` beside `results.json` in the
same order:

1. what was run: profile, data, hardware (`hardware.json`), commit(s), wall time per notebook;
2. the claims table: each claim a notebook tested (`claims.json`, written by `results.record_claims`)
   and the ones this page derives from `results.json` (the student's latency against the teacher's,
   notebook 06; the simulated online A/B, notebook 09), with Δ, p and the verdict, each linking to
   the notebook section that shows it;
3. the quality table in a fixed order: references (`random`, `bm25`, `oracle`), first stages,
   teachers, students, deployed variants;
4. the quality-latency figure: test NDCG@5 against milliseconds per batch of 48 (log scale), every
   system whose latency was measured on this machine, the paper's A10 figures marked apart;
5. latency and cost with units.
"""

from __future__ import annotations

import html
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from nbconvert import HTMLExporter  # noqa: E402

from distilrank import metrics  # noqa: E402
from distilrank.paths import atomic_path, output_dir  # noqa: E402
from distilrank.results import ClaimRow, ResultRow, load_claims, load_results  # noqa: E402

QUALITY = ("pnr", "ndcg@5", "ndcg@10", "mrr@10")
REFERENCES = ("random", "bm25", "oracle")
GROUPS = ("reference", "first stage", "teacher", "student", "deployed variant", "other")
SHAPE_ONLY = ("llm", "bert-12", "bert-6")  # notebook 06's random-weight models of the paper's sizes
PAPER_A10_MS = {"LLM": 100.0, "BERT-12": 20.0, "BERT-6": 10.0}  # the paper's latency figures (batch 48, A10)
LATENCY_SYSTEM = {"teacher": "teacher-cpt"}  # notebook 06 times the LLM teacher under this name
FIGURE = "quality_latency.png"
DISTILLATION_TEACHER = "teacher-ensemble"  # the embedded profiles' `distill.teacher`: drawn as a line (its cost is not timed)
GROUP_MARKERS = {"teacher": ("o", "C0", False, 4), "student": ("X", "C1", False, 5), "deployed variant": ("s", "C2", True, 3),
                 "first stage": ("^", "C4", False, 4), "other": ("D", "C5", False, 4)}


def notebook_runs(out: Path) -> pd.DataFrame:
    """One row per executed notebook in `out` (in order): name, wall seconds, errors."""
    rows = []
    for path in sorted(out.glob("[0-9][0-9]_*.ipynb")):
        if path.name.endswith(".partial.ipynb"):
            continue
        nb = nbformat.read(path, as_version=4)
        errors = sum(o.get("output_type") == "error" for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
        duration = nb.metadata.get("papermill", {}).get("duration")
        rows.append({"notebook": path.stem, "seconds": float(duration) if duration is not None else float("nan"), "errors": errors})
    return pd.DataFrame(rows, columns=["notebook", "seconds", "errors"])


def data_description(out: Path) -> str:
    """The collection the run read, from notebook 01's papermill parameters (`data:` section)."""
    first = sorted(p for p in out.glob("01_*.ipynb") if not p.name.endswith(".partial.ipynb"))
    if not first:
        return "unknown (notebook 01 was not executed)"
    data = nbformat.read(first[0], as_version=4).metadata.get("papermill", {}).get("parameters", {}).get("data", {})
    where = data.get("ir_datasets_id") or data.get("path") or data.get("docs")
    return f"{data.get('source', 'unknown')}" + (f" ({where})" if where else "")


def section_anchor(section: str) -> str:
    """The id nbconvert gives a markdown heading: its text with spaces as dashes."""
    return section.replace("`", "").strip().replace(" ", "-")


def system_group(name: str) -> str:
    """Where a system sits in the quality table: reference, first stage, teacher, student, deployed
    variant (an exported or re-precisioned student), other."""
    if name in REFERENCES:
        return "reference"
    if name.startswith("teacher"):
        return "teacher"
    if any(tag in name for tag in ("-onnx", "-cpu-", "-cuda-")):
        return "deployed variant"
    if name.startswith("bert"):
        return "student"
    if name.startswith(("dense", "bm25")):
        return "first stage"
    return "other"


def ordered_systems(rows: list[ResultRow]) -> list[str]:
    """Systems with a quality row: references in their fixed order, then by group, then in the order
    first recorded (the notebooks' order)."""
    seen: list[str] = []
    for r in rows:
        if r.metric in QUALITY and r.system not in seen:
            seen.append(r.system)
    return sorted(seen, key=lambda s: (GROUPS.index(system_group(s)), REFERENCES.index(s) if s in REFERENCES else 0, seen.index(s)))


def _cell(r: ResultRow) -> str:
    if r.ci_low is None or r.ci_high is None:
        return f"{r.value:.3f}"
    return metrics.format_interval(r.value, r.ci_low, r.ci_high)


def quality_table(rows: list[ResultRow]) -> pd.DataFrame:
    """Systems (ordered: `ordered_systems`) x quality metrics, cells 'value [ci_low, ci_high]', with
    the system's group."""
    cells: dict[str, dict[str, str]] = {}
    for r in rows:
        if r.metric in QUALITY:
            cells.setdefault(r.system, {})[r.metric] = _cell(r)
    order = ordered_systems(rows)
    table = pd.DataFrame.from_dict(cells, orient="index").reindex(order)
    table = table.reindex(columns=[m for m in QUALITY if m in table.columns]).fillna("")
    table.insert(0, "group", [system_group(s) for s in order])
    spread = {r.system: r.value for r in rows if r.metric == "ndcg@5_seed_sd"}
    if spread:
        table["ndcg@5 sd across seeds"] = [f"{spread[s]:.3f}" if s in spread else "" for s in order]
    if any(system_group(s) == "deployed variant" for s in order):
        table["Δ ndcg@5 vs student"] = [_variant_delta(rows, s) for s in order]
    table.index.name = "system"
    return table


def variant_of(name: str) -> str | None:
    """The student a deployed variant was made from (`bert6-hybrid-onnx-int8` -> `bert6-hybrid`), else None."""
    for tag in ("-onnx", "-cpu-", "-cuda-"):
        if tag in name:
            return name.split(tag, 1)[0]
    return None


def _variant_delta(rows: list[ResultRow], name: str) -> str:
    """A deployed variant's NDCG@5 change against the model it was made from: the eager fp32
    student notebook 06 scored (`<student>-cpu-fp32`, one seed), else the student's row (which, for
    a student trained with several seeds, is their mean)."""
    student = variant_of(name)
    a = _value(rows, name, "ndcg@5")
    b = (_value(rows, f"{student}-cpu-fp32", "ndcg@5") or _value(rows, student, "ndcg@5")) if student else None
    return f"{a.value - b.value:+.3f}" if a is not None and b is not None else ""


def _value(rows: list[ResultRow], system: str, metric: str) -> ResultRow | None:
    return next((r for r in rows if r.system == system and r.metric == metric), None)


def latency_batch(rows: list[ResultRow]) -> int | None:
    """The batch size notebook 06 timed at (its `latency_ms@<batch>` rows), or None."""
    batches = [int(r.metric.split("@", 1)[1]) for r in rows if r.metric.startswith("latency_ms@")]
    return max(set(batches), key=batches.count) if batches else None


def latency_table(rows: list[ResultRow], batch: int = 48) -> pd.DataFrame:
    """Every system timed at batch `batch`: ms per batch, pairs per second, USD per million pairs,
    and whether its weights are trained (the paper-sized shape models are not)."""
    timed = [r.system for r in rows if r.metric == f"latency_ms@{batch}"]
    table = []
    for s in timed:
        ms, pps, usd = (_value(rows, s, f"{m}@{batch}") for m in ("latency_ms", "pairs_per_s", "usd_per_million_pairs"))
        table.append({"system": s, "weights": "random (shape only)" if s in SHAPE_ONLY else "trained",
                      f"ms per batch of {batch}": round(ms.value, 1),
                      "pairs / s": None if pps is None else round(pps.value),
                      "USD per 1M pairs": None if usd is None else float(f"{usd.value:.3g}")})
    return pd.DataFrame(table, columns=["system", "weights", f"ms per batch of {batch}", "pairs / s", "USD per 1M pairs"]).set_index("system")


def quality_latency_points(rows: list[ResultRow], batch: int = 48) -> pd.DataFrame:
    """Systems with both a measured latency and a test NDCG@5 (06's `teacher` is `teacher-cpt`)."""
    points = []
    for r in rows:
        if r.metric != f"latency_ms@{batch}" or r.system in SHAPE_ONLY:
            continue
        name = LATENCY_SYSTEM.get(r.system, r.system)
        q = _value(rows, name, "ndcg@5")
        if q is not None:
            points.append({"system": name, "ms": r.value, "ndcg@5": q.value, "ci_low": q.ci_low, "ci_high": q.ci_high,
                           "group": system_group(name)})
    return pd.DataFrame(points, columns=["system", "ms", "ndcg@5", "ci_low", "ci_high", "group"])


def plot_quality_latency(rows: list[ResultRow], batch: int = 48):
    """The paper's trade-off in one figure: test NDCG@5 against ms per batch (log x); references as
    horizontal lines; the shape-only models and the paper's A10 figures as vertical marks."""
    points = quality_latency_points(rows, batch)
    with sns.axes_style("whitegrid"):
        fig, ax = plt.subplots(figsize=(8.5, 4.8))
    for name, style, color, label in (("random", ":", "grey", "random"), ("bm25", "--", "grey", "bm25"), ("oracle", "-.", "grey", "oracle"),
                                      (DISTILLATION_TEACHER, "--", "C0", f"{DISTILLATION_TEACHER} (what the students learn from; not timed)")):
        ref = _value(rows, name, "ndcg@5")
        if ref is not None:
            ax.axhline(ref.value, ls=style, c=color, lw=1)
            ax.annotate(label, (0.0, ref.value), xycoords=("axes fraction", "data"), xytext=(4, 3),
                        textcoords="offset points", ha="left", fontsize=8, color=color)
    if not points.empty:
        err = [points["ndcg@5"] - points.ci_low.fillna(points["ndcg@5"]), points.ci_high.fillna(points["ndcg@5"]) - points["ndcg@5"]]
        ax.errorbar(points.ms, points["ndcg@5"], yerr=err, fmt="none", ecolor="0.6", capsize=3)
        for group, (marker, color, hollow, z) in GROUP_MARKERS.items():  # deployed variants hollow: they sit on their student
            g = points[points.group == group]
            if not g.empty:
                ax.scatter(g.ms, g["ndcg@5"], marker=marker, s=110 if hollow else 90, label=group, zorder=z,
                           facecolors="none" if hollow else color, edgecolors=color, linewidths=1.6)
        for k, p in enumerate(points.sort_values(["ndcg@5", "ms"], ascending=False).itertuples()):  # staggered, top to bottom
            ax.annotate(p.system + (" (the LLM teacher)" if p.group == "teacher" else ""), (p.ms, p[3]), xytext=(14, 22 - 16 * (k % 3)), textcoords="offset points", fontsize=8,
                        arrowprops={"arrowstyle": "-", "color": "0.5", "lw": 0.6})
    for s in SHAPE_ONLY:
        r = _value(rows, s, f"latency_ms@{batch}")
        if r is not None:
            ax.axvline(r.value, c="C7", ls=":", lw=1)
            ax.annotate(f"{s} (here, shape only)", (r.value, 0.03), xycoords=("data", "axes fraction"), rotation=90,
                        fontsize=7, color="C7", xytext=(3, 0), textcoords="offset points")
    for s, ms in PAPER_A10_MS.items():
        ax.axvline(ms, c="C3", ls="--", lw=0.8, alpha=0.6)
        ax.annotate(f"paper A10: {s}", (ms, 0.98), xycoords=("data", "axes fraction"), rotation=90, va="top",
                    fontsize=7, color="C3", xytext=(3, 0), textcoords="offset points")
    lo = min([*PAPER_A10_MS.values(), *points.ms]) / 4  # room on the left for the references' labels
    shapes = [r.value for r in rows if r.metric == f"latency_ms@{batch}"]
    ax.set_xlim(lo, max([*PAPER_A10_MS.values(), *shapes]) * 2)
    ax.set(xscale="log", xlabel=f"median ms per batch of {batch} (log scale; this machine; red: the paper's A10 figures at batch 48)",
           ylabel="test NDCG@5 (95% CI)", title="quality against latency")
    if not points.empty:
        ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    fig.tight_layout()
    return fig


@dataclass(frozen=True)
class Claim:
    """One row of the front page's claims table."""

    notebook: str
    section: str
    claim: str
    measured: str
    p: str
    verdict: str
    detail: str


def _p(x: float | None) -> str:
    return "" if x is None else (f"{x:.1e}" if x < 1e-3 else f"{x:.3f}")


def recorded_claims(claims: list[ClaimRow]) -> list[Claim]:
    """The claims the notebooks tested (`claims.json`'s rows), in notebook order."""
    table = []
    for c in sorted(claims, key=lambda c: c.notebook):
        ci = f" [{c.ci_low:+.3f}, {c.ci_high:+.3f}]" if c.ci_low is not None and c.ci_high is not None else ""
        measured = "" if c.delta is None else f"Δ {c.metric} {c.delta:+.3f}{ci}"
        p = _p(c.p) + (f" (adjusted {_p(c.p_adjusted)})" if c.p_adjusted is not None else "")
        table.append(Claim(c.notebook, c.section, c.claim, measured, p, c.verdict, c.detail or ""))
    return table


VERDICTS = ("Verdict: holds (better, p < 0.05), fails (worse, p < 0.05), no significant difference; paired t-tests over the "
            "test queries, one training seed per system; where a notebook adjusts for its family of tests (07, 08: "
            "Benjamini-Hochberg), the verdict reads the adjusted p. Latency rows (06) hold when the student takes at most half "
            "the other's median time (timings are not paired over queries: no p). Simulated online rows (09) hold when the 95% "
            "interval of the change is above 0, fail when it is below, and show no significant difference when it spans 0. "
            "For 07, the note says how the verdict reads against Rank-DistiLLM's own numbers.")
LATENCY_FRACTION = 2.0  # "a fraction of the latency": the other takes at least twice the student's time
LATENCY_SECTION = "4. The ratios, against the paper's 10 : 2 : 1"
ONLINE_SECTION = "5. What the simulation says"


def derived_claims(rows: list[ResultRow], batch: int = 48) -> list[Claim]:
    """Claims read off `results.json`: the student's latency against the teacher's and the paper-sized
    LLM's (notebook 06: holds when the student takes at most half the other's median time, fails
    otherwise; no p, timings are not paired over queries; the paper's ratio is 1 : 10), and the
    simulated online changes (notebook 09: holds when the 95% interval of the change is above 0,
    fails when below, no significant difference when it spans 0)."""
    claims = []
    student = next((r.system for r in rows if r.metric == f"latency_ms@{batch}" and r.system.endswith("-hybrid")), None)
    s = _value(rows, student, f"latency_ms@{batch}") if student else None
    for other, label in (("teacher", "this project's teacher (teacher-cpt)"), ("llm", "the LLM stand-in (llm: a 0.5B-class shape, random weights)")):
        o = _value(rows, other, f"latency_ms@{batch}")
        if s is not None and o is not None:
            claims.append(Claim("06_latency", LATENCY_SECTION, f"{student} takes at most half the latency of {label}",
                                f"{s.value:.1f} ms vs {o.value:.1f} ms per batch of {batch} (1 : {o.value / s.value:.1f})", "",
                                "holds" if o.value >= LATENCY_FRACTION * s.value else "fails", "paper: BERT-6 10 ms vs LLM 100 ms on an A10 (1 : 10); "
                                + ("this project's teacher is a small decoder built here" if other == "teacher"
                                   else "a 0.5B-class stand-in (14 times smaller than the paper's 7B on a CPU profile): a lower bound")))
    for r in rows:
        if r.metric in ("sim_page_ctr_change", "sim_user_ctr_change") and " vs " in r.system and r.ci_low is not None:
            b, a = r.system.split(" vs ", 1)
            verdict = "holds" if r.ci_low > 0 else "fails" if r.ci_high < 0 else "no significant difference"
            what = "PageCTR" if "page" in r.metric else "UserCTR"
            claims.append(Claim("09_online_simulation", ONLINE_SECTION, f"simulated online: {b} raises {what} over {a}",
                                f"{r.value:+.1%} [{r.ci_low:+.1%}, {r.ci_high:+.1%}]", "", verdict,
                                "simulated clicks on the test queries; paper (real users): PageCTR +0.47%, UserCTR +0.58%"))
    return claims


CAVEATS: dict[str, str] = {}  # system -> what a reader must know to read a claim that names it (none today)


def _note(claim: str, detail: str) -> str:
    extra = [text for name, text in CAVEATS.items() if name in claim]
    return "; ".join([d for d in (detail, *extra) if d])


def claims_table(recorded: list[ClaimRow], rows: list[ResultRow]) -> pd.DataFrame:
    """Every claim, recorded (`claims.json`'s rows) and derived from `rows`, in notebook order, with
    the link to its section."""
    claims = sorted([*recorded_claims(recorded), *derived_claims(rows, latency_batch(rows) or 48)], key=lambda c: c.notebook)
    return pd.DataFrame([{"notebook": c.notebook, "claim": c.claim, "measured": c.measured, "p": c.p, "verdict": c.verdict,
                          "note": _note(c.claim, c.detail), "link": f"{c.notebook}.html#{section_anchor(c.section)}"} for c in claims],
                        columns=["notebook", "claim", "measured", "p", "verdict", "note", "link"])


def _number(v: float) -> str:
    """Four significant digits, thousands with separators and no exponent (22,084, not 2.208e+04)."""
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"


def markdown_table(df: pd.DataFrame, index: str | None) -> str:
    """A pipe table (no `tabulate` dependency); `index` names the index column, None drops it."""
    cols = ([index] if index else []) + list(map(str, df.columns))
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for key, row in df.iterrows():
        cells = [*([str(key)] if index else []), *("" if v is None or (isinstance(v, float) and math.isnan(v)) else
                                                  _number(v) if isinstance(v, float) else str(v) for v in row)]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def hardware(out: Path) -> str:
    """The hardware and precision the run recorded (`hardware.json`, written by the notebook that
    ran last), or a note that it did not."""
    path = out / "hardware.json"
    if not path.is_file():
        return "not recorded (every notebook writes hardware.json as it starts)"
    return json.loads(path.read_text())["summary"]


@dataclass(frozen=True)
class FrontPage:
    """What both the HTML front page and `results.md` show, in order."""

    profile: str
    data: str
    machine: str
    commits: str
    runs: pd.DataFrame
    claims: pd.DataFrame
    quality: pd.DataFrame
    latency: pd.DataFrame


def front_page(profile: str, out: Path, runs: pd.DataFrame, rows: list[ResultRow], claims: list[ClaimRow]) -> FrontPage:
    """Gather the front page's parts: `out`'s data and hardware, the executed notebooks' `runs`,
    the results `rows` and the recorded `claims`."""
    commits = ", ".join(sorted({r.commit for r in rows} | {c.commit for c in claims})) or "none"
    return FrontPage(profile, data_description(out), hardware(out), commits, runs, claims_table(claims, rows),
                     quality_table(rows), latency_table(rows, latency_batch(rows) or 48))


QUALITY_LEGEND = ("PNR: concordant over discordant pairs of differing gain (the oracle's is infinite: no row). `teacher-cpt` is the "
                  "chosen `teacher-cpt-<variant>` under its alias; the students learn from `teacher-ensemble`. Students: notebook 04's "
                  "(labels, point, margin, hybrid, hybrid-no-llm and their `+bm25` fusions) at one recipe and budget, each the mean over "
                  "its seeds (the interval: a bootstrap over queries of the seed means; the spread across seeds beside it), notebook "
                  "07's grid and 08's curriculum students at their own, shorter budgets and one seed (the notebooks say how many steps). Deployed variants are one "
                  "scoring of the hybrid student's first seed, the one saved and deployed (no interval; `-cpu-fp32` is that model "
                  "eager, in fp32); `Δ vs student` is their change against `-cpu-fp32`, which notebook 06 checks against its tolerances.")


def _walls(runs: pd.DataFrame) -> pd.DataFrame:
    return runs.assign(minutes=(runs.seconds / 60).round(1)).set_index("notebook")[["minutes", "errors"]]


def results_markdown(page: FrontPage, figure: str | None) -> str:
    """`results.md`: the front page as Markdown, in the same order."""
    claims = page.claims.assign(claim=[f"[{c}](report/{link})" for c, link in zip(page.claims.claim, page.claims.link, strict=True)])
    parts = [f"# distilrank results: profile `{page.profile}`", "",
             f"Regenerate: `make replicate PROFILE={page.profile} && make report PROFILE={page.profile}`.", "",
             "## What was run", "", f"- profile `{page.profile}`; data: {page.data}", f"- hardware: {page.machine}",
             f"- commit(s) that wrote the rows: {page.commits} (-dirty: the working tree differed from that commit)", f"- wall time: {page.runs.seconds.sum() / 60:.1f} min in all (papermill's record per notebook, kernel start included)", "",
             markdown_table(_walls(page.runs), "notebook"), "",
             "## Claims", "", VERDICTS, "",
             markdown_table(claims.drop(columns="link"), None) if not claims.empty else "No claims recorded.", "",
             "## Ranking quality on test (value [95% bootstrap CI])", "", markdown_table(page.quality, "system"), "", QUALITY_LEGEND]
    if figure:
        parts += ["", "## Quality against latency", "", f"![test NDCG@5 against ms per batch](report/{figure})"]
    if not page.latency.empty:
        parts += ["", "## Latency and cost (this machine)", "", markdown_table(page.latency, "system")]
    return "\n".join(parts) + "\n"


CSS = ("body{font-family:sans-serif;max-width:80em;margin:2em auto;line-height:1.4}table{border-collapse:collapse;margin:.5em 0}"
       "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left;vertical-align:top}th{background:#f4f4f4}"
       ".holds{color:#1a7f37;font-weight:bold}.fails{color:#b42318;font-weight:bold}.nsd{color:#666}img{max-width:100%}")


# nbconvert's lab template paints stderr red, like an error: progress bars and notes are not errors
STDERR_CSS = ("<style>.jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
              "{background:#f6f6f6 !important;color:#555}</style>")


def _verdict_html(v: str) -> str:
    cls = "holds" if v.startswith("holds") else "fails" if v.startswith("fails") else "nsd"
    return f"<span class='{cls}'>{html.escape(v)}</span>"


def index_html(page: FrontPage, figure: str | None) -> str:
    """The front page."""
    runs = "".join(f"<tr><td><a href='{html.escape(r.notebook)}.html'>{html.escape(r.notebook)}</a></td><td>{r.seconds / 60:.1f}</td>"
                   f"<td>{r.errors}</td></tr>" for r in page.runs.itertuples())
    claim_rows = "".join(
        f"<tr><td>{html.escape(c.notebook[:2])}</td><td><a href='{html.escape(c.link)}'>{html.escape(c.claim)}</a></td>"
        f"<td>{html.escape(c.measured)}</td><td>{html.escape(c.p)}</td><td>{_verdict_html(c.verdict)}</td><td>{html.escape(c.note)}</td></tr>"
        for c in page.claims.itertuples())
    claims = ("<table><tr><th>nb</th><th>claim (links to the section)</th><th>measured</th><th>p</th><th>verdict</th><th>note</th></tr>"
              f"{claim_rows}</table>") if claim_rows else "<p>No claims recorded.</p>"
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>distilrank: {html.escape(page.profile)}</title>",
             f"<style>{CSS}</style></head><body>",
             f"<h1>distilrank report: profile <code>{html.escape(page.profile)}</code></h1>",
             "<h2 id='run'>What was run</h2>",
             f"<p>Data: {html.escape(page.data)}. Hardware: {html.escape(page.machine)}. Commit(s) that wrote the rows: {html.escape(page.commits)} (-dirty: the working tree differed from that commit). "
             f"Total wall time {page.runs.seconds.sum() / 60:.1f} min.</p>",
             f"<table><tr><th>notebook</th><th>minutes</th><th>errors</th></tr>{runs}</table>",
             "<h2 id='claims'>Claims</h2>",
             f"<p>{html.escape(VERDICTS)}</p>",
             claims,
             "<h2 id='quality'>Ranking quality on test</h2><p>Value [95% bootstrap CI over test queries]. "
             "<code>random</code> is chance on these lists, <code>oracle</code> the best any re-ranker of them can do.</p>",
             page.quality.to_html(escape=True, na_rep=""), f"<p>{html.escape(QUALITY_LEGEND)}</p>",
             "<p>Every other recorded number (shares of the teacher, simulated online rows, ...) is in <code>results.json</code> "
             "and the notebook that wrote it.</p>"]
    if figure:
        parts += ["<h2 id='trade-off'>Quality against latency</h2>",
                  f"<p><img src='{html.escape(figure)}' alt='test NDCG@5 against ms per batch'></p>",
                  "<p>Every system whose latency notebook 06 measured on this machine. The paper's A10 figures are marked apart: "
                  "they are another machine's, and the paper's quality numbers are on another collection.</p>"]
    if not page.latency.empty:
        parts += ["<h2 id='latency'>Latency and cost (this machine)</h2>", page.latency.to_html(escape=True, na_rep="")]
    return "".join(parts) + "</body></html>\n"


def write_report(profile: str) -> Path:
    """Render `outputs/<profile>/`'s executed notebooks to `report/*.html` with `report/index.html`
    and its figure, and write `results.md`; returns the index path. Errors when nothing was executed."""
    out = output_dir(profile)
    runs = notebook_runs(out)
    if runs.empty:
        raise FileNotFoundError(f"no executed notebooks in {out}: run `make replicate PROFILE={profile}` first")
    rows = load_results(out / "results.json")
    page = front_page(profile, out, runs, rows, load_claims(out / "claims.json"))
    exporter = HTMLExporter(template_name="lab")
    for name in runs.notebook:
        body, _ = exporter.from_notebook_node(nbformat.read(out / f"{name}.ipynb", as_version=4))
        body = body.replace("</head>", STDERR_CSS + "</head>", 1)
        with atomic_path(out / "report" / f"{name}.html") as tmp:
            tmp.write_text(body, encoding="utf-8")
    figure = None
    if (batch := latency_batch(rows)) is not None:
        fig = plot_quality_latency(rows, batch)
        with atomic_path(out / "report" / FIGURE) as tmp:
            fig.savefig(tmp, format="png", dpi=120)
        plt.close(fig)
        figure = FIGURE
    with atomic_path(out / "report" / "index.html") as tmp:
        tmp.write_text(index_html(page, figure), encoding="utf-8")
    with atomic_path(out / "results.md") as tmp:
        tmp.write_text(results_markdown(page, figure), encoding="utf-8")
    return out / "report" / "index.html"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m distilrank.report PROFILE", file=sys.stderr)
        return 2
    try:
        index = write_report(args[0])
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"report: {index} (and {index.parent.parent / 'results.md'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
