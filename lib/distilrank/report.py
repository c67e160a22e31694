"""The report of one profile's run (`make report PROFILE=...`): every executed notebook as HTML
(nbconvert; the injected parameters cell left out of the page, kept in the .ipynb) and a front
page, `report/index.html`, with `results.md` beside `results.json` saying the same in the same order:

1. **the verdict box**: one line per claim of the paper (`verdicts.PAPER_CLAIMS`): what the paper
   reported, what this run measured (the two systems' test NDCG@5 with their intervals, Δ, p), the
   verdict, and why a verdict is limited or the claim not testable on this profile;
2. **what the names mean**: what the "LLM" teacher is on this run (read from its saved weights),
   how it ranks against BM25 and random, and what the students learn from (the fusion weights);
3. **every claim, grouped by the paper's claim** it tests (`claims.json`, written by
   `results.record_claims`, and the latency claims this page derives from `results.json`), each
   linking to the notebook section that tests it, the caveats stated once;
4. **the simulated online A/B as a restatement** of offline differences (not claims);
5. the quality table in a fixed order (one row per system: names with identical scores are one),
   the quality-latency figure, latency and cost, and what was run.

For the committed profiles (`PUBLISHED`, run from the repository's own params file) it also writes
`docs/results/<profile>.md` (`results.md` stamped with its commit and machine, `results_page`) and,
for `default`, README's findings block between its markers, with the run's wall time per
notebook (`write_committed`).

Numbers follow one rule (`fmt_*`): metrics with three decimals, other numbers three significant
digits (integers as integers, thousands with separators), p as 0.038 or 1.8e-13.
"""

from __future__ import annotations

import html
import itertools
import json
import math
import re
import struct
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from nbconvert import HTMLExporter  # noqa: E402
from nbconvert.preprocessors import Preprocessor, TagRemovePreprocessor  # noqa: E402

from distilrank import paper, paths, verdicts  # noqa: E402
from distilrank.formats import fmt_delta, fmt_interval, fmt_metric, fmt_number, fmt_pct, format_p, markdown_table, missing  # noqa: E402
from distilrank.paths import atomic_path, output_dir  # noqa: E402
from distilrank.results import ClaimRow, ResultRow, load_claims, load_results  # noqa: E402

QUALITY = ("pnr", "ndcg@5", "ndcg@10", "mrr@10")
REFERENCE_ROWS = ("random", "bm25", "oracle")  # the rows every quality table opens with
GROUPS = ("reference", "first stage", "teacher", "student", "deployed variant", "other")
LATENCY_SYSTEM = {"teacher": "teacher-cpt"}  # notebook 06 times the LLM teacher under this name
LLM_TEACHER = "teacher-cpt"
FIGURE = "quality_latency.png"
HIDDEN_TAGS = ("injected-parameters",)  # papermill's injected cell: the .ipynb keeps it, the page does not show it
GROUP_MARKERS = {"teacher": ("o", "C0", False, 4), "student": ("X", "C1", False, 5), "deployed variant": ("s", "C2", True, 3),
                 "first stage": ("^", "C4", False, 4), "other": ("D", "C5", False, 4)}


# What was run.

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


def run_parameters(out: Path) -> dict:
    """The profile the run read: papermill's parameters of the first executed notebook (every
    notebook is given the whole profile); empty when none was executed."""
    first = sorted(p for p in out.glob("[0-9][0-9]_*.ipynb") if not p.name.endswith(".partial.ipynb"))
    return nbformat.read(first[0], as_version=4).metadata.get("papermill", {}).get("parameters", {}) if first else {}


def data_description(out: Path) -> str:
    """The collection the run read, from the notebooks' papermill parameters (`data:` section)."""
    params = run_parameters(out)
    if not params:
        return "unknown (no notebook was executed)"
    data = params.get("data", {})
    where = data.get("ir_datasets_id") or data.get("path") or data.get("docs")
    return f"{data.get('source', 'unknown')}" + (f" ({where})" if where else "")


def hardware(out: Path) -> str:
    """The hardware and precision the run recorded (`hardware.json`, written by the notebook that
    ran last), or a note that it did not."""
    path = out / "hardware.json"
    if not path.is_file():
        return "not recorded (every notebook writes hardware.json as it starts)"
    return json.loads(path.read_text())["summary"]


def run_environment(out: Path) -> str:
    """The environment variables the run was made under that change its numbers, as a command
    prefix (`DISTILRANK_PRECISION=fp32 ATEN_CPU_CAPABILITY=avx2 `), from `hardware.json`: the
    precision when forced, and the instruction-set caps in force; empty when neither."""
    path = out / "hardware.json"
    if not path.is_file():
        return ""
    recorded = json.loads(path.read_text())
    precision = recorded.get("precision") or {}
    env = {"DISTILRANK_PRECISION": precision["requested"]} if precision.get("source") == "DISTILRANK_PRECISION" else {}
    env |= recorded.get("isa_caps") or {}
    return "".join(f"{k}={v} " for k, v in env.items())


def section_anchor(section: str) -> str:
    """The id nbconvert gives a markdown heading: its text with spaces as dashes."""
    return section.replace("`", "").strip().replace(" ", "-")


# The run's systems, as its files say they are.

def safetensors_parameters(folder: Path) -> int | None:
    """Parameters stored in `folder`'s `*.safetensors` files, read from their headers alone (no
    weights loaded); None without any."""
    files = sorted(Path(folder).glob("*.safetensors"))
    if not files:
        return None
    total = 0
    for f in files:
        with open(f, "rb") as fh:
            header = json.loads(fh.read(struct.unpack("<Q", fh.read(8))[0]))
        total += sum(math.prod(t["shape"]) for k, t in header.items() if k != "__metadata__")
    return total


VARIANT_WORDS = {"minilm": "pretrained MiniLM weights run as a causal decoder", "scratch": "a decoder pre-trained from scratch in this run"}
FUSION_PARTS = {"bm25_score": "bm25", "dense_score": "dense-minilm", "teacher_score": "the LLM (teacher-cpt)"}


@dataclass(frozen=True)
class Setting:
    """What the front page says the run's systems are, read from its files: the system the
    students learn from (`distill.teacher`), the LLM teacher (`models.teacher`, its CPT variant,
    architecture and parameter count from its saved weights), `teacher-ensemble`'s fitted weights,
    and the LLM shape notebook 06 timed."""

    students_teacher: str = "teacher-ensemble"
    teacher_source: str | None = None  # models.teacher: embedded, or a hub checkpoint
    variant: str | None = None  # the CPT variant teacher-cpt was built on
    architecture: str | None = None  # e.g. "6-layer bert"
    llm_parameters: int | None = None
    weights: dict[str, float] = field(default_factory=dict)  # teacher-ensemble's, by part (FUSION_PARTS' names)
    llm_shape: str | None = None

    @property
    def embedded(self) -> bool:
        return self.teacher_source == "embedded"

    @property
    def llm_weight(self) -> float | None:
        return self.weights.get(FUSION_PARTS["teacher_score"])

    def llm_words(self) -> str:
        """The LLM teacher in a phrase, e.g. `a 6-layer bert decoder (pretrained MiniLM weights run as a causal decoder), 22.7M parameters`."""
        if self.teacher_source and not self.embedded:
            what = f"{self.teacher_source}, fine-tuned here"
        else:
            what = f"a {self.architecture or 'small'} decoder" + (f" ({VARIANT_WORDS.get(self.variant, self.variant)})" if self.variant else "")
        return what + (f", {self.llm_parameters / 1e6:.1f}M parameters" if self.llm_parameters else "")


def read_setting(out: Path) -> Setting:
    """The `Setting` of the run in `out` (missing files leave their fields at the defaults)."""
    from distilrank import distill
    from distilrank.config import LatencyParams

    params = run_parameters(out)
    kind = params.get("distill", {}).get("teacher", "ensemble")
    students_teacher = distill.TEACHERS[kind][0] if kind in distill.TEACHERS else "teacher-ensemble"
    variant = architecture = None
    choice = out / "teachers" / "choice.json"
    if choice.is_file():
        variant = json.loads(choice.read_text()).get("variant")
    folder = out / "teachers" / LLM_TEACHER
    if (folder / "config.json").is_file():
        c = json.loads((folder / "config.json").read_text())
        layers = c.get("num_hidden_layers")
        architecture = " ".join(str(x) for x in (f"{layers}-layer" if layers else None, c.get("model_type")) if x) or None
    weights = {}
    ensemble = out / "teachers" / "ensemble.json"
    if ensemble.is_file():
        fitted = json.loads(ensemble.read_text()).get("teacher-ensemble", {}).get("weights", {})
        weights = {FUSION_PARTS.get(k, k): float(v) for k, v in fitted.items()}
    gpu = json.loads((out / "hardware.json").read_text()).get("gpu") if (out / "hardware.json").is_file() else None
    lat = params.get("latency", {})
    shape_key = "llm_shape_gpu" if gpu else "llm_shape_cpu"
    llm_shape = lat.get(shape_key, LatencyParams.model_fields[shape_key].default)
    return Setting(students_teacher, params.get("models", {}).get("teacher"), variant, architecture,
                   safetensors_parameters(folder) if folder.is_dir() else None, weights, llm_shape)


# Systems: groups, order, aliases.

def system_group(name: str) -> str:
    """Where a system sits in the quality table: reference, first stage, teacher, student, deployed
    variant (an exported or re-precisioned student), other."""
    if name in REFERENCE_ROWS:
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


def aliases(rows: list[ResultRow]) -> dict[str, str]:
    """{alias: the name shown} for systems recorded under two names: every quality metric with its
    interval identical to another system's (at least two metrics, all with intervals: a deployed
    variant that ranks like its student has no interval and is not an alias). The name shown is the
    shorter one (`teacher-cpt` for `teacher-cpt-minilm`), then the first recorded."""
    by_system: dict[str, dict[str, tuple]] = {}
    for r in rows:
        if r.metric in QUALITY:
            by_system.setdefault(r.system, {})[r.metric] = (r.value, r.ci_low, r.ci_high)
    seen: dict[tuple, str] = {}
    out: dict[str, str] = {}
    for name, cells in by_system.items():
        if len(cells) < 2 or any(lo is None or hi is None for _, lo, hi in cells.values()):
            continue
        key = tuple(sorted(cells.items()))
        if key not in seen:
            seen[key] = name
            continue
        first = seen[key]
        shown, alias = (first, name) if (len(first), 0) <= (len(name), 1) else (name, first)
        seen[key] = shown
        out = {a: (shown if s == alias else s) for a, s in out.items()}
        out[alias] = shown
    return out


def rename(text: str, names: dict[str, str]) -> str:
    """`text` with every whole system name of `names` (an alias) replaced by the name shown."""
    for alias, shown in sorted(names.items(), key=lambda kv: -len(kv[0])):
        text = re.sub(rf"(?<![\w@+.-]){re.escape(alias)}(?![\w@+-])", shown, text)
    return text


def ordered_systems(rows: list[ResultRow]) -> list[str]:
    """Systems with a quality row, aliases left out (`aliases`): references in their fixed order,
    then by group, then in the order first recorded (the notebooks' order)."""
    skip = aliases(rows)
    seen: list[str] = []
    for r in rows:
        if r.metric in QUALITY and r.system not in seen and r.system not in skip:
            seen.append(r.system)
    return sorted(seen, key=lambda s: (GROUPS.index(system_group(s)), REFERENCE_ROWS.index(s) if s in REFERENCE_ROWS else 0, seen.index(s)))


def _value(rows: list[ResultRow], system: str | None, metric: str) -> ResultRow | None:
    return next((r for r in rows if r.system == system and r.metric == metric), None)


def level(rows: list[ResultRow], system: str | None, metric: str = "ndcg@5") -> str:
    """A system's test `metric` with its interval (`fmt_interval`), empty when not recorded."""
    r = _value(rows, system, metric)
    return "" if r is None else fmt_interval(r.value, r.ci_low, r.ci_high)


def _role(name: str, setting: Setting) -> str:
    if name == setting.students_teacher:
        return "teacher (what the students learn from)"
    if name == LLM_TEACHER:
        return "teacher (the LLM" + ("; not the students' teacher)" if setting.students_teacher != LLM_TEACHER else ")")
    return system_group(name)


def quality_table(rows: list[ResultRow], setting: Setting | None = None) -> pd.DataFrame:
    """Systems (ordered: `ordered_systems`, one row per system) x quality metrics, cells
    'value [ci_low, ci_high]', with the system's group (the students' teacher and the LLM named as
    such), the spread across seeds and a deployed variant's change against its student."""
    setting = setting or Setting()
    cells: dict[str, dict[str, str]] = {}
    for r in rows:
        if r.metric in QUALITY:
            cells.setdefault(r.system, {})[r.metric] = fmt_interval(r.value, r.ci_low, r.ci_high)
    order = ordered_systems(rows)
    table = pd.DataFrame.from_dict(cells, orient="index").reindex(order)
    table = table.reindex(columns=[m for m in QUALITY if m in table.columns]).fillna("")
    table.insert(0, "group", [_role(s, setting) for s in order])
    spread = {r.system: r.value for r in rows if r.metric == "ndcg@5_seed_sd"}
    if spread:
        table["ndcg@5 sd across seeds"] = [fmt_metric(spread.get(s)) for s in order]
    if any(system_group(s) == "deployed variant" for s in order):
        table["Δ ndcg@5 vs student"] = [_variant_delta(rows, s) for s in order]
        within = {r.system: r.value for r in rows if r.metric == "within_tolerance"}
        table["within 06's tolerance"] = [("yes" if within[s] else "no: NDCG@5 or PNR moved beyond 06's tolerance (its table says which)") if s in within else "" for s in order]
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
    return fmt_delta(a.value - b.value) if a is not None and b is not None else ""


# Latency.

def latency_batch(rows: list[ResultRow]) -> int | None:
    """The batch size notebook 06 timed at (its `latency_ms@<batch>` rows), or None."""
    batches = [int(r.metric.split("@", 1)[1]) for r in rows if r.metric.startswith("latency_ms@")]
    return max(set(batches), key=batches.count) if batches else None


LATENCY_PRECISION = "this machine; eager models in fp32 on a CPU, fp16 on a GPU, whatever the run's precision; a variant's name says its own"


def latency_table(rows: list[ResultRow], batch: int = 48) -> pd.DataFrame:
    """Every system timed at batch `batch`: ms per batch, pairs per second, USD per million pairs,
    and whether its weights are trained (the paper-sized shape models are not); numbers formatted."""
    timed = [r.system for r in rows if r.metric == f"latency_ms@{batch}"]
    table = []
    for s in timed:
        ms, pps, usd = (_value(rows, s, f"{m}@{batch}") for m in ("latency_ms", "pairs_per_s", "usd_per_million_pairs"))
        table.append({"system": LATENCY_SYSTEM.get(s, s),  # 06's `teacher` under the name every table gives it
                      "weights": "random (shape only)" if s in paper.SHAPE_MODELS else "trained",
                      f"ms per batch of {batch}": fmt_number(ms.value),
                      "pairs / s": "" if pps is None else fmt_number(round(pps.value)),
                      "USD per 1M pairs": "" if usd is None else fmt_number(usd.value)})
    return pd.DataFrame(table, columns=["system", "weights", f"ms per batch of {batch}", "pairs / s", "USD per 1M pairs"]).set_index("system")


FIRST_SEED = " (first seed)"  # a timed student's point: the seed 06 timed and exported, not the seeds' mean


def quality_latency_points(rows: list[ResultRow], batch: int = 48) -> pd.DataFrame:
    """Systems with both a measured latency and a test NDCG@5 (06's `teacher` is `teacher-cpt`). A
    timed student is the first seed 06 timed and exported (`<student>-cpu-fp32`, no interval), so
    that its point and its deployed variants' are one model's; the seeds' mean where 06 scored none."""
    points = []
    for r in rows:
        if r.metric != f"latency_ms@{batch}" or r.system in paper.SHAPE_MODELS:
            continue
        name = LATENCY_SYSTEM.get(r.system, r.system)
        q = _value(rows, name, "ndcg@5")
        first = _value(rows, f"{name}-cpu-fp32", "ndcg@5")
        if first is not None:
            name, q = name + FIRST_SEED, first
        if q is not None:
            points.append({"system": name, "ms": r.value, "ndcg@5": q.value, "ci_low": q.ci_low, "ci_high": q.ci_high,
                           "group": system_group(name.removesuffix(FIRST_SEED))})
    return pd.DataFrame(points, columns=["system", "ms", "ndcg@5", "ci_low", "ci_high", "group"])


def point_words(name: str, setting: Setting) -> str:
    """What a point of the quality-latency figure is, for its numbered legend entry."""
    if name == LLM_TEACHER:
        return f"{name}: the LLM" + (", not the students' teacher" if setting.students_teacher != name else ", the students' teacher")
    if system_group(name) == "deployed variant":
        return f"{name} (deployed)"
    if name.removesuffix(FIRST_SEED).endswith("-hybrid"):
        return f"{name}: the student"
    return name


def label_offsets(xs: Sequence[float], ys: Sequence[float], near_x: float = 0.12, near_y: float = 0.04) -> list[tuple[int, int]]:
    """An offset in points for each point's number label: (7, 5), up and right, unless an earlier
    point lies within `near_x` decades (log x) and `near_y` (y); then the next free one of right-down,
    left-up, left-down, ... so that the numbers of close points do not overlap."""
    choices = [(7, 5), (7, -13), (-15, 5), (-15, -13), (7, 17), (-15, 17), (7, -25), (-15, -25)]
    placed: list[tuple[float, float, tuple[int, int]]] = []
    out = []
    for x, y in zip(xs, ys, strict=True):
        lx = math.log10(x)
        taken = {o for px, py, o in placed if abs(px - lx) < near_x and abs(py - y) < near_y}
        offset = next((c for c in choices if c not in taken), choices[len(taken) % len(choices)])
        placed.append((lx, y, offset))
        out.append(offset)
    return out


def plot_quality_latency(rows: list[ResultRow], batch: int = 48, setting: Setting | None = None):
    """The paper's trade-off in one figure: test NDCG@5 against ms per batch (log x). Each timed
    system is a numbered point, named in the legend outside the axes (the LLM as the LLM, the
    students' teacher as what they learn from); references and the students' teacher as horizontal
    lines; the shape-only models and the paper's A10 figures as vertical marks."""
    setting = setting or Setting()
    points = quality_latency_points(rows, batch).sort_values(["ms", "ndcg@5"]).reset_index(drop=True)
    with sns.axes_style("whitegrid"):
        fig, ax = plt.subplots(figsize=(12, 5))
    teacher_line = f"{setting.students_teacher}: what the students learn from (not timed)"
    for name, style, color, label in (("random", ":", "grey", "random"), ("bm25", "--", "grey", "bm25"), ("oracle", "-.", "grey", "oracle"),
                                      (setting.students_teacher, "--", "C0", teacher_line)):
        ref = _value(rows, name, "ndcg@5")
        if ref is not None and not (name == setting.students_teacher and name in set(points.system)):
            ax.axhline(ref.value, ls=style, c=color, lw=1)
            ax.annotate(label, (0.0, ref.value), xycoords=("axes fraction", "data"), xytext=(4, 3),
                        textcoords="offset points", ha="left", fontsize=8, color=color)
    handles, labels = [], []
    if not points.empty:
        err = [points["ndcg@5"] - points.ci_low.fillna(points["ndcg@5"]), points.ci_high.fillna(points["ndcg@5"]) - points["ndcg@5"]]
        ax.errorbar(points.ms, points["ndcg@5"], yerr=err, fmt="none", ecolor="0.6", capsize=3)
        for group, (marker, color, hollow, z) in GROUP_MARKERS.items():  # deployed variants hollow: they sit on their student
            g = points[points.group == group]
            if not g.empty:
                ax.scatter(g.ms, g["ndcg@5"], marker=marker, s=110 if hollow else 90, zorder=z,
                           facecolors="none" if hollow else color, edgecolors=color, linewidths=1.6)
        for k, (p, offset) in enumerate(zip(points.itertuples(), label_offsets(points.ms, points["ndcg@5"]), strict=True), start=1):
            ax.annotate(str(k), (p.ms, p[3]), xytext=offset, textcoords="offset points", fontsize=9, fontweight="bold")
            marker, color, hollow, _ = GROUP_MARKERS.get(p.group, GROUP_MARKERS["other"])
            handles.append(Line2D([], [], ls="", marker=marker, markersize=8, markerfacecolor="none" if hollow else color, markeredgecolor=color))
            labels.append(f"{k}  {point_words(p.system, setting)}: {fmt_number(p.ms)} ms, {fmt_metric(p[3])}")
    for s in paper.SHAPE_MODELS:
        r = _value(rows, s, f"latency_ms@{batch}")
        if r is not None:
            ax.axvline(r.value, c="C7", ls=":", lw=1)
            ax.annotate(f"{s} (random weights, shape only)", (r.value, 0.2), xycoords=("data", "axes fraction"), rotation=90,
                        fontsize=7, color="C7", xytext=(3, 0), textcoords="offset points")
    for s, ms in paper.LATENCY_A10_MS.items():
        ax.axvline(ms, c="C3", ls="--", lw=0.8, alpha=0.6)
        ax.annotate(f"paper A10: {s.upper()}", (ms, 0.98), xycoords=("data", "axes fraction"), rotation=90, va="top",
                    fontsize=7, color="C3", xytext=(3, 0), textcoords="offset points")
    lo = min([*paper.LATENCY_A10_MS.values(), *points.ms]) / 6  # room on the left for the references' labels
    shapes = [r.value for r in rows if r.metric == f"latency_ms@{batch}"]
    ax.set_xlim(lo, max([*paper.LATENCY_A10_MS.values(), *shapes]) * 2)
    ax.set(xscale="log", xlabel=f"median ms per batch of {batch} (log scale; this machine; red: the paper's A10 figures)",
           ylabel="test NDCG@5 (95% CI)", title="quality against latency (numbered points: the legend names them)")
    if handles:
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False, title="timed systems",
                  title_fontsize=8, alignment="left")
    fig.tight_layout()
    return fig


# Claims.

NOTEBOOK_GROUPS = {"07_rank_distillm": "Rank-DistiLLM's practices (arXiv 2405.07920; notebook 07)",
                   "08_curriculum": "A TAPIR-style curriculum (arXiv 2405.13448; notebook 08)"}
GROUP_NOTES = {
    "latency": "Timings are medians on this machine, not paired over queries: no p. A student takes \"at most half\" the "
               "other's latency when the other's median is at least twice its own. The paper: BERT-6 about 10 ms and its 7B LLM "
               "about 100 ms per batch of 48 on an A10.",
    "07_rank_distillm": "Rank-DistiLLM's numbers are nDCG@10 on TREC DL: the note reads only the direction against them.",
}
LATENCY_FRACTION = 2.0  # "a fraction of the latency": the other takes at least twice the student's time
RATIO_TOLERANCE = 0.25  # a latency ratio within 25% of the paper's reproduces it
LATENCY_SECTION = "4. The ratios, against the paper's 10 : 2 : 1"
ONLINE_SECTION = "5. What the simulation says"


@dataclass(frozen=True)
class Claim:
    """One claim as the front page shows it."""

    group: str  # `verdicts.GROUPS` key, or the notebook's stem
    notebook: str
    section: str
    claim: str
    levels: str  # both systems' test metric with intervals
    measured: str
    p: str
    verdict: str
    note: str
    headline: bool = False
    system: str | None = None  # the system claimed better (the name shown), when recorded
    against: str | None = None

    @property
    def link(self) -> str:
        return f"{self.notebook}.html#{section_anchor(self.section)}"


def recorded_claims(claims: list[ClaimRow], rows: list[ResultRow]) -> list[Claim]:
    """The claims the notebooks tested (`claims.json`'s rows), an alias named by the name shown
    (`aliases`), each with its two systems' test levels from `rows`."""
    names = aliases(rows)
    table = []
    for c in claims:
        system, against = (names.get(x, x) if x else x for x in (c.system, c.against))
        ci = f" [{fmt_delta(c.ci_low)}, {fmt_delta(c.ci_high)}]" if not missing(c.ci_low) and not missing(c.ci_high) else ""
        measured = "" if c.delta is None else f"Δ {c.metric} {fmt_delta(c.delta)}{ci}"
        if c.dev_delta is not None:
            measured += f" (dev {fmt_delta(c.dev_delta)})"
        levels = f"{level(rows, system, c.metric)} vs {level(rows, against, c.metric)}" if level(rows, system, c.metric) and level(rows, against, c.metric) else ""
        p = format_p(c.p) + (f" (adjusted {format_p(c.p_adjusted)})" if c.p_adjusted is not None else "")
        group = c.paper_claim if c.paper_claim in verdicts.GROUPS else c.notebook
        table.append(Claim(group, c.notebook, c.section, rename(c.claim, names), levels, measured, p, rename(c.verdict, names),
                           rename(c.detail or "", names), c.headline, system, against))
    return table


def derived_claims(rows: list[ResultRow], batch: int = 48, setting: Setting | None = None) -> list[Claim]:
    """Claims read off `results.json`: the student's latency against the LLM teacher's and the
    paper-sized LLM's (notebook 06: holds when the student takes at most half the other's median
    time, fails otherwise; no p, timings are not paired over queries)."""
    setting = setting or Setting()
    shape = ("the paper's 7B shape" if setting.llm_shape == "llm-7b" else
             f"the {setting.llm_shape or 'smaller'} shape, smaller than the paper's 7B: its time is a lower bound of a 7B's")
    claims = []
    student = next((r.system for r in rows if r.metric == f"latency_ms@{batch}" and r.system.endswith("-hybrid")), None)
    s = _value(rows, student, f"latency_ms@{batch}") if student else None
    for other, label, note in (("teacher", f"the LLM teacher ({LLM_TEACHER})", "this run's LLM teacher, as it was built here"),
                               ("llm", "the paper-sized LLM stand-in (llm: random weights)", shape)):
        o = _value(rows, other, f"latency_ms@{batch}")
        if s is not None and o is not None:
            claims.append(Claim("latency", "06_latency", LATENCY_SECTION, f"{student} takes at most half the latency of {label}", "",
                                f"{fmt_number(s.value)} ms vs {fmt_number(o.value)} ms per batch of {batch} (1 : {fmt_number(o.value / s.value)})",
                                "", verdicts.premised(verdicts.HOLDS if o.value >= LATENCY_FRACTION * s.value else verdicts.FAILS,
                                                      other != "teacher" or not setting.embedded,
                                                      f"the embedded {LLM_TEACHER} is {setting.llm_words()}, the student's size: "
                                                      "no LLM to be faster than"), note))
    return claims


def group_title(key: str) -> str:
    return verdicts.GROUPS.get(key) or NOTEBOOK_GROUPS.get(key) or f"Further claims of notebook {key[:2]} ({key})"


def grouped_claims(claims: list[Claim]) -> list[tuple[str, list[Claim]]]:
    """(group key, its claims) in the page's order: the paper's claims and this replication's
    checks (`verdicts.GROUPS`), then each further notebook's; within a group the headline tests
    first, then the notebooks' order."""
    keys = list(dict.fromkeys([*[k for k in verdicts.GROUPS if any(c.group == k for c in claims)],
                               *sorted({c.group for c in claims if c.group not in verdicts.GROUPS})]))
    return [(k, sorted([c for c in claims if c.group == k], key=lambda c: (not c.headline, c.notebook))) for k in keys]


def claims_table(recorded: list[ClaimRow], rows: list[ResultRow], setting: Setting | None = None) -> pd.DataFrame:
    """Every claim, recorded (`claims.json`'s rows) and derived from `rows`, grouped
    (`grouped_claims`), with the link to its section."""
    claims = [*recorded_claims(recorded, rows), *derived_claims(rows, latency_batch(rows) or 48, setting)]
    return pd.DataFrame([{"group": key, "claim": c.claim, "systems (test)": c.levels, "measured": c.measured, "p": c.p, "verdict": c.verdict,
                          "note": c.note, "headline": c.headline, "notebook": c.notebook, "link": c.link}
                         for key, group in grouped_claims(claims) for c in group],
                        columns=["group", "claim", "systems (test)", "measured", "p", "verdict", "note", "headline", "notebook", "link"])


# The verdict box.

PAPER_SAYS = {
    "cpt": "the fine-tuned LLM ranks better with CPT on click data than without (its ablation)",
    "llm-teacher": "the fine-tuned 7B LLM ranks above the BERT rankers it is compared with",
    "distillation": "the distilled BERT student beats BERT trained on the labels alone",
    "hybrid": "the hybrid of Point-MSE and Margin-MSE distils better than either alone",
    "keeps": "a BERT-6 student close to its 7B teacher (this page's threshold: 90% of the teacher's NDCG@5)",
    "latency": "LLM 100 ms, BERT-12 20 ms, BERT-6 10 ms per batch of 48 on an A10 (10 : 2 : 1)",
    "online": "real users, the new ranker against production: PageCTR +0.47%, UserCTR +0.58%",
}


@dataclass(frozen=True)
class Line:
    """One line of the verdict box: a claim of the paper, what it reported, what this run
    measured, the verdicts (kind, words) of its parts and why they say what they say."""

    key: str
    paper: str
    measured: str
    verdicts: list[tuple[str, str]]
    why: str
    link: str

    @property
    def claim(self) -> str:
        return verdicts.GROUPS[self.key]


def _short(verdict: str) -> str:
    """The verdict as the box shows it: its word, and what follows a colon for fragile and not testable."""
    return verdict if verdicts.kind(verdict) in (verdicts.FRAGILE, verdicts.NOT_TESTABLE) else verdicts.kind(verdict)


def _offline_line(key: str, claims: list[Claim], rows: list[ResultRow], setting: Setting) -> Line:
    """The verdict box's line of an offline claim of the paper: its headline tests' two systems
    (test level with interval), Δ and p, and their verdicts; why the evidence is limited where the
    teacher is not the paper's (said in full on the first line it applies to)."""
    heads = [c for c in claims if c.group == key and c.headline]
    why = ""
    if key in ("cpt", "llm-teacher") and setting.embedded:
        why = (f"the LLM here is {setting.llm_words()}: the recipe at toy scale, not a 7B LLM" if key == "cpt"
               else "the same toy-scale decoder: its fine-tuning, not a 7B LLM's")
    if key in ("distillation", "hybrid", "keeps") and setting.students_teacher != LLM_TEACHER:
        w = setting.llm_weight
        mostly = w is None or w < 0.2
        why = (f"the students distil {setting.students_teacher}" + (f", in which the LLM weighs {fmt_number(w)}" if w is not None else "")
               + (": mostly a BM25 + dense-minilm fusion, not an LLM" if mostly else ": the LLM among other rankers")
               if key == "distillation" else f"their teacher is {setting.students_teacher}" + (", not an LLM (above)" if mostly else " (above)"))
    if not heads:
        return Line(key, PAPER_SAYS[key], "no test of it in claims.json (its notebook did not run, or ran with code that did not file its claims)",
                    [(verdicts.NOT_TESTABLE, "no test recorded")], why, "")
    measured, parts = [], []
    for c in heads:
        metric = c.measured.split()[1] if c.measured.startswith("Δ ") else "ndcg@5"
        a, b = (level(rows, x, metric) for x in (c.system, c.against))
        what = f"{c.system} {a} vs {c.against} {b} (test {metric.upper() if metric.startswith('ndcg') else metric})" if a and b else c.claim
        if key == "keeps" and a and b:
            share = _value(rows, c.system, metric).value / _value(rows, c.against, metric).value
            what += f": share {share:.2f}, threshold {_threshold(c.claim)}"
        else:
            what += f"; {c.measured}" + (f", p {c.p}" if c.p else "")
        prefix = f"vs {c.against}: " if len(heads) > 1 and c.against else ""
        measured.append(what)
        parts.append((verdicts.kind(c.verdict), prefix + _short(c.verdict)))
    return Line(key, PAPER_SAYS[key], " | ".join(measured), parts, why, heads[0].link)


def _threshold(text: str) -> str:
    found = re.search(r">= (\d+)%", text)
    return f"{int(found.group(1)) / 100:.2f}" if found else "0.90"


def _latency_line(rows: list[ResultRow], setting: Setting, batch: int) -> Line:
    ms = {s: _value(rows, s, f"latency_ms@{batch}") for s in paper.SHAPE_MODELS}
    link = f"06_latency.html#{section_anchor(LATENCY_SECTION)}"
    if ms["bert-6"] is None:
        return Line("latency", PAPER_SAYS["latency"], "not measured (notebook 06 did not run)", [(verdicts.NOT_TESTABLE, "not tested in this run")], "", "")
    base = ms["bert-6"].value
    ratio = {s: ms[s].value / base for s in ("llm", "bert-12") if ms[s] is not None}
    shown = " : ".join(fmt_number(ratio[s]) if s in ratio else "?" for s in ("llm", "bert-12")) + " : 1"
    measured = (f"LLM : BERT-12 : BERT-6 = {shown} (" + " / ".join(fmt_number(ms[s].value) if ms[s] else "?" for s in paper.SHAPE_MODELS)
                + f" ms per batch of {batch}, this machine; random-weight models of the paper's shapes)")
    parts = []
    if "bert-12" in ratio:
        ok = abs(ratio["bert-12"] / 2.0 - 1) <= RATIO_TOLERANCE
        parts.append((verdicts.HOLDS if ok else verdicts.FAILS, f"BERT-12 : BERT-6 {'holds' if ok else 'fails'} ({fmt_number(ratio['bert-12'])} vs 2)"))
    why = "ratios, not milliseconds, carry across machines; within 25% of the paper's ratio reproduces it"
    if "llm" in ratio:
        if setting.llm_shape == "llm-7b":
            ok = abs(ratio["llm"] / 10.0 - 1) <= RATIO_TOLERANCE
            parts.append((verdicts.HOLDS if ok else verdicts.FAILS, f"LLM : BERT-6 {'holds' if ok else 'fails'} ({fmt_number(ratio['llm'])} vs 10)"))
        else:
            parts.append((verdicts.NOT_TESTABLE, f"LLM : BERT-6 not testable ({fmt_number(ratio['llm'])} vs 10)"))
            why += (f"; the LLM timed has the {setting.llm_shape or 'smaller'} shape, on this CPU: not the paper's 7B on an A10, so its "
                    "ratio is a lower bound of a 7B's")
    return Line("latency", PAPER_SAYS["latency"], measured, parts, why, link)


def _online_line(rows: list[ResultRow]) -> Line:
    sim = [r for r in rows if r.metric == "sim_page_ctr_change"]
    measured = "simulated clicks only: " + ("the restatement table below" if sim else "not run")
    why = ("no users here: the simulated clicks come from click models built on the same relevance judgments the offline metrics "
           "read, so a simulated CTR change restates an offline NDCG difference and is not independent evidence")
    return Line("online", PAPER_SAYS["online"], measured, [(verdicts.NOT_TESTABLE, "not testable on this profile")], why,
                "#online" if sim else "")


def verdict_box(claims: list[Claim], rows: list[ResultRow], setting: Setting) -> list[Line]:
    """One `Line` per claim of the paper (`verdicts.PAPER_CLAIMS`), in its order: the offline claims
    from their headline tests, latency from notebook 06's shape models, online gains as not
    testable (`_online_line` says why)."""
    lines = []
    for key in verdicts.PAPER_CLAIMS:
        if key == "latency":
            lines.append(_latency_line(rows, setting, latency_batch(rows) or 48))
        elif key == "online":
            lines.append(_online_line(rows))
        else:
            lines.append(_offline_line(key, claims, rows, setting))
    return lines


# What the names mean.

def names_text(rows: list[ResultRow], claims: list[Claim], setting: Setting) -> list[str]:
    """Paragraphs (Markdown: `code` in backticks) saying what the LLM teacher is on this run, how it
    ranks against BM25 and random, and what the students learn from, with the fusion's weights and
    what the LLM adds to the student; every number read from the run."""
    paras = []
    llm, bm25, rnd = (_value(rows, s, "ndcg@5") for s in (LLM_TEACHER, "bm25", "random"))
    source = f" (`models.teacher: {setting.teacher_source}`)" if setting.teacher_source else ""
    text = f"**The LLM teacher, `{LLM_TEACHER}`.** The paper fine-tunes a 7B decoder LLM. Here it is {setting.llm_words()}{source}."
    if llm is not None and bm25 is not None and rnd is not None:
        above_random = next((c for c in claims if c.group == "llm-teacher" and "random" in c.claim), None)
        at_chance = above_random is not None and verdicts.kind(above_random.verdict) != verdicts.HOLDS
        position = (llm.value - rnd.value) / (bm25.value - rnd.value) if bm25.value != rnd.value else float("nan")
        reading = ("no better than chance" if at_chance else "far below BM25, nearer chance than BM25" if position < 0.5
                   else "below BM25" if llm.value < bm25.value else "above BM25")
        text += (f" On the test lists it ranks at NDCG@5 {fmt_interval(llm.value, llm.ci_low, llm.ci_high)}, against BM25 "
                 f"{fmt_metric(bm25.value)} and random {fmt_metric(rnd.value)}: {reading}.")
    paras.append(text)
    t = setting.students_teacher
    if t == LLM_TEACHER:
        paras.append(f"**What the students learn from.** `{t}` itself (`distill.teacher: llm`), as in the paper.")
    else:
        w = setting.weights
        parts = ", ".join(f"{name} {fmt_number(v)}" for name, v in sorted(w.items(), key=lambda kv: -kv[1]))
        text = (f"**What the students learn from: `{t}`**, not the LLM alone: a fusion of standardised scores fitted on the training "
                f"queries" + (f", with weights {parts}" if parts else "") + ".")
        if setting.llm_weight is not None and setting.llm_weight < 0.2:
            text += (f" With the LLM at {fmt_number(setting.llm_weight)}, the students on this profile effectively distil a BM25 + "
                     "dense-MiniLM fusion, not an LLM.")
        no_llm = next((c for c in claims if c.group == "llm-adds" and c.notebook.startswith("04")), None)
        if no_llm is not None:
            text += f" The LLM's share of what the student learns, tested: {no_llm.claim}: {no_llm.measured}, p {no_llm.p} ({_short(no_llm.verdict)})."
        paras.append(text)
    return paras


# Simulated online figures: a restatement.

def online_table(rows: list[ResultRow]) -> pd.DataFrame:
    """Notebook 09's simulated A/B comparisons beside the offline NDCG@5 difference they restate:
    per comparison `b vs a`, Δ NDCG@5 (b - a, test; 09's `offline_ndcg@5_change`, of the rankings
    its clicks were simulated on, where recorded), the simulated PageCTR and UserCTR changes
    with 95% intervals, a change between arms that are both saturated (`verdicts.saturated`) shown
    as such; the paper's real-user figures last. No verdicts: these are not claims."""
    names = aliases(rows)
    out = []
    for r in rows:
        if r.metric != "sim_page_ctr_change" or " vs " not in r.system:
            continue
        b, a = r.system.split(" vs ", 1)
        qa, qb = _value(rows, names.get(a, a), "ndcg@5"), _value(rows, names.get(b, b), "ndcg@5")
        simulated = _value(rows, r.system, "offline_ndcg@5_change")  # 09's own: the rankings its clicks were simulated on
        offline = simulated.value if simulated else qb.value - qa.value if qa and qb else None
        row = {"comparison": f"{b} vs {a}", "offline Δ ndcg@5": "" if offline is None else fmt_delta(offline)}
        for metric, label in (("page_ctr", "PageCTR"), ("user_ctr", "UserCTR")):
            change = _value(rows, r.system, f"sim_{metric}_change")
            arms = [x.value for x in rows if x.metric == f"sim_{metric}" and x.system in (a, b)]
            cell = "" if change is None else f"{fmt_pct(change.value)} [{fmt_pct(change.ci_low)}, {fmt_pct(change.ci_high)}]"
            if arms and verdicts.saturated(arms):
                cell += f" (saturated: both arms {min(arms):.2f}-{max(arms):.2f}, no reading)"
            row[f"simulated {label} change [95% CI]"] = cell
        out.append(row)
    if out:
        out.append({"comparison": "paper: real users, its ranker vs production", "offline Δ ndcg@5": "",
                    "simulated PageCTR change [95% CI]": f"{paper.ONLINE_CHANGE['page_ctr']:+.2%} (real)",
                    "simulated UserCTR change [95% CI]": f"{paper.ONLINE_CHANGE['user_ctr']:+.2%} (real)"})
    return pd.DataFrame(out, columns=["comparison", "offline Δ ndcg@5", "simulated PageCTR change [95% CI]",
                                      "simulated UserCTR change [95% CI]"]).set_index("comparison")


# The page.

HOW_TO_READ = (
    "Every claim is \"a beats b\": a paired t-test over the test queries on NDCG@5 (or the metric named), on the seed-averaged "
    "per-query scores of a system trained with several seeds (notebook 04's core students and 08's; the quality table's sd "
    "column shows the spread), on one seed elsewhere. Verdicts: holds (better, p < 0.05), fails (worse, "
    "p < 0.05), no significant difference; where a notebook adjusts for its family of tests (07, 08: Benjamini-Hochberg), the "
    "adjusted p decides. Fragile: it holds or fails on test, but the two systems are in the other order on dev (notebook 04, "
    "the seed mean, every dev query; the dev difference in brackets): not a result to build on. Not testable: the claim's premise "
    "fails on this run (the reason follows). Latency claims hold when the student's median time is at most half the other's. "
    "The paper's numbers come from another collection and other models, so only directions compare.")
QUALITY_LEGEND = ("PNR: concordant over discordant pairs of differing gain (the oracle's is infinite: no row). Students: notebook 04's "
                  "(labels, point, margin, hybrid, hybrid-no-llm and their `+bm25` fusions) at one recipe and budget, each the mean over "
                  "its seeds (the interval: a bootstrap over queries of the seed means; the spread across seeds beside it), notebook "
                  "07's grid and 08's curriculum students at their own budgets. Deployed variants are one scoring of the hybrid "
                  "student's first seed, the one saved and deployed (no interval); `Δ vs student` is their change against "
                  "`-cpu-fp32`, else against the student's row.")


@dataclass(frozen=True)
class FrontPage:
    """What both the HTML front page and `results.md` show, in order."""

    profile: str
    data: str
    machine: str
    commits: str
    runs: pd.DataFrame
    box: list[Line]
    names: list[str]
    claims: pd.DataFrame
    online: pd.DataFrame
    quality: pd.DataFrame
    aliases: dict[str, str]
    latency: pd.DataFrame
    setting: Setting
    n_queries: int | None = None
    environment: str = ""  # `run_environment`: the variables to set again to regenerate this run


def front_page(profile: str, out: Path, runs: pd.DataFrame, rows: list[ResultRow], claims: list[ClaimRow],
               setting: Setting | None = None) -> FrontPage:
    """Gather the front page's parts: `out`'s data, hardware and systems (`read_setting`), the
    executed notebooks' `runs`, the results `rows` and the recorded `claims`."""
    setting = setting or read_setting(out)
    commits = ", ".join(sorted({r.commit for r in rows} | {c.commit for c in claims})) or "none"
    shown = [*recorded_claims(claims, rows), *derived_claims(rows, latency_batch(rows) or 48, setting)]
    bm25 = _value(rows, "bm25", "ndcg@5")
    return FrontPage(profile, data_description(out), hardware(out), commits, runs, verdict_box(shown, rows, setting),
                     names_text(rows, shown, setting), claims_table(claims, rows, setting), online_table(rows), quality_table(rows, setting),
                     aliases(rows), latency_table(rows, latency_batch(rows) or 48), setting, bm25.n_queries if bm25 else None,
                     run_environment(out))


def wall_clock(seconds: float) -> str:
    """A notebook's wall time as minutes and seconds (`2:03`): one format for every row."""
    whole = int(round(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


def _walls(runs: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"wall time (m:ss)": [wall_clock(s) for s in runs.seconds], "errors": [fmt_number(int(e)) for e in runs.errors]},
                        index=pd.Index(runs.notebook, name="notebook"))


def _summary(page: FrontPage) -> str:
    n = f"{page.n_queries} test queries; " if page.n_queries else ""
    return (f"Profile `{page.profile}`: data {page.data}; {n}{page.machine}; {fmt_number(round(page.runs.seconds.sum() / 60, 1))} min "
            f"in all; commit(s) {page.commits}.")


def _alias_note(names: dict[str, str]) -> str:
    if not names:
        return ""
    return "One system under two names, shown once: " + "; ".join(f"`{s}` (also recorded as `{a}`)" for a, s in names.items()) + "."


def _box_frame(box: list[Line], link) -> pd.DataFrame:
    return pd.DataFrame([{"the paper's claim": link(b), "the paper reported": b.paper, "this run measured": b.measured,
                          "verdict": "; ".join(t for _, t in b.verdicts), "why": b.why} for b in box])


def results_markdown(page: FrontPage, figure: str | None) -> str:
    """`results.md`: the front page as Markdown, in the same order."""
    box = _box_frame(page.box, lambda b: f"[{b.claim}](report/{b.link})" if b.link and not b.link.startswith("#") else b.claim)
    parts = [f"# distilrank: what this run found (profile `{page.profile}`)", "", _summary(page), "",
             f"Regenerate: `{page.environment}make replicate PROFILE={page.profile} && make report PROFILE={page.profile}`.", "",
             "## The paper's claims at a glance", "", markdown_table(box, None), "",
             "## What the names mean on this run", "", *[p + "\n" for p in page.names],
             "## Every claim, by the paper's claim", "", HOW_TO_READ, ""]
    for key, group in page.claims.groupby("group", sort=False):
        parts += [f"### {group_title(key)}", ""] + ([GROUP_NOTES[key], ""] if key in GROUP_NOTES else [])
        shown = group.assign(claim=[f"[{c}](report/{link})" for c, link in zip(group.claim, group.link, strict=True)])
        parts += [markdown_table(shown[["claim", "systems (test)", "measured", "p", "verdict", "note"]], None), ""]
    if page.claims.empty:
        parts += ["No claims recorded.", ""]
    if not page.online.empty:
        parts += ["## Simulated online A/B: a restatement, not evidence", "", ONLINE_TEXT, "", markdown_table(page.online, "comparison"), ""]
    parts += ["## Ranking quality on test (value [95% bootstrap CI])", "", markdown_table(page.quality, "system"), "",
              QUALITY_LEGEND + (" " + _alias_note(page.aliases) if page.aliases else "")]
    if figure:
        parts += ["", "## Quality against latency", "", f"![test NDCG@5 against ms per batch](report/{figure})", "", FIGURE_TEXT]
    if not page.latency.empty:
        parts += ["", f"## Latency and cost ({LATENCY_PRECISION})", "", markdown_table(page.latency, "system")]
    parts += ["", "## What was run", "", f"- profile `{page.profile}`; data: {page.data}", f"- hardware: {page.machine}",
              f"- commit(s) that wrote the rows: {page.commits}" + (" (-dirty: the working tree differed from that commit)" if "-dirty" in page.commits else ""),
              f"- wall time: {fmt_number(round(page.runs.seconds.sum() / 60, 1))} min in all (papermill's record per notebook, kernel start included)",
              "", markdown_table(_walls(page.runs), "notebook")]
    return "\n".join(parts) + "\n"


ONLINE_TEXT = ("Notebook 09 simulates the paper's online A/B test with click models whose click and satisfaction probabilities are "
               "set by the same relevance judgments the offline metrics read. A simulated CTR change therefore restates the offline "
               "NDCG difference beside it, through a click model; it is shown for what it is and counts as no claim. A rate near 1 "
               "(or 0) in both arms is saturated: its change is no reading.")
FIGURE_TEXT = ("Every system whose latency notebook 06 measured on this machine, numbered; the legend names each. The paper's A10 "
               "figures are marked apart: another machine's, and the paper's quality numbers are on another collection.")

CSS = ("body{font-family:sans-serif;max-width:84em;margin:2em auto;line-height:1.4}table{border-collapse:collapse;margin:.5em 0}"
       "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left;vertical-align:top}th{background:#f4f4f4}"
       ".holds{color:#1a7f37;font-weight:bold}.fails{color:#b42318;font-weight:bold}.nsd{color:#666}"
       ".fragile{color:#9a6700;font-weight:bold}.nt{color:#57606a;font-style:italic}img{max-width:100%}"
       "table.verdicts{border:2px solid #444}table.verdicts td:first-child{font-weight:bold}.summary{color:#444}")
VERDICT_CLASS = {verdicts.HOLDS: "holds", verdicts.FAILS: "fails", verdicts.FRAGILE: "fragile", verdicts.NOT_TESTABLE: "nt"}

# nbconvert's lab template paints stderr red, like an error: progress bars and notes are not errors
STDERR_CSS = ("<style>.jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
              "{background:#f6f6f6 !important;color:#555}</style>")


def _verdict_html(v: str, kind: str | None = None) -> str:
    """A verdict's words, coloured by its kind (`verdicts.kind(v)` unless given)."""
    return f"<span class='{VERDICT_CLASS.get(kind or verdicts.kind(v), 'nsd')}'>{html.escape(v)}</span>"


def _link_html(href: str, text: str) -> str:
    return f"<a href='{html.escape(href)}'>{html.escape(text)}</a>" if href else html.escape(text)


def _inline(text: str) -> str:
    """Markdown's `code` and **bold** as HTML, the rest escaped."""
    out = html.escape(text)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)


def _table_html(df: pd.DataFrame, index: str | None, cls: str = "") -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in ([index] if index else []) + list(df.columns))
    body = "".join("<tr>" + ("".join([f"<td>{html.escape(str(k))}</td>"] if index else []))
                   + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for k, row in df.iterrows())
    return f"<table{f' class={cls!r}' if cls else ''}><tr>{head}</tr>{body}</table>"


def index_html(page: FrontPage, figure: str | None) -> str:
    """The front page."""
    box = "".join(f"<tr><td>{_link_html(b.link, b.claim)}</td><td>{html.escape(b.paper)}</td><td>{html.escape(b.measured)}</td>"
                  f"<td>{'<br>'.join(_verdict_html(t, k) for k, t in b.verdicts)}</td><td>{html.escape(b.why)}</td></tr>" for b in page.box)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>distilrank: {html.escape(page.profile)}</title>",
             f"<style>{CSS}</style></head><body>",
             f"<h1>distilrank: what this run found (profile <code>{html.escape(page.profile)}</code>)</h1>",
             f"<p class='summary'>{_inline(_summary(page))} <a href='#run'>What was run</a>.</p>",
             "<h2 id='verdicts'>The paper's claims at a glance</h2>",
             "<table class='verdicts'><tr><th>the paper's claim</th><th>the paper reported</th><th>this run measured</th><th>verdict</th>"
             f"<th>why</th></tr>{box}</table>",
             "<p>Each claim's tests, with their links to the notebooks, are <a href='#claims'>below</a>; "
             "<a href='#how'>how to read a verdict</a>.</p>",
             "<h2 id='names'>What the names mean on this run</h2>", *[f"<p>{_inline(p)}</p>" for p in page.names],
             "<h2 id='claims'>Every claim, by the paper's claim</h2>", f"<p id='how'><strong>How to read a verdict.</strong> {html.escape(HOW_TO_READ)}</p>"]
    for key, group in page.claims.groupby("group", sort=False):
        rows = "".join(
            f"<tr><td>{_link_html(c['link'], c['claim'])}</td><td>{html.escape(c['systems (test)'])}</td><td>{html.escape(c['measured'])}</td>"
            f"<td>{html.escape(c['p'])}</td><td>{_verdict_html(c['verdict'])}</td><td>{html.escape(c['note'])}</td></tr>"
            for c in group.to_dict("records"))
        parts += [f"<h3>{html.escape(group_title(key))}</h3>"] + ([f"<p>{html.escape(GROUP_NOTES[key])}</p>"] if key in GROUP_NOTES else [])
        parts.append("<table class='claims'><tr><th>claim (links to the section)</th><th>systems (test NDCG@5 or the metric named)</th>"
                     f"<th>measured</th><th>p</th><th>verdict</th><th>note</th></tr>{rows}</table>")
    if page.claims.empty:
        parts.append("<p>No claims recorded.</p>")
    if not page.online.empty:
        parts += ["<h2 id='online'>Simulated online A/B: a restatement, not evidence</h2>", f"<p>{html.escape(ONLINE_TEXT)}</p>",
                  _table_html(page.online, "comparison")]
    alias_attr = " ".join(f"{a}={s}" for a, s in page.aliases.items())
    parts += ["<h2 id='quality'>Ranking quality on test</h2><p>Value [95% bootstrap CI over test queries]. "
              "<code>random</code> is chance on these lists, <code>oracle</code> the best any re-ranker of them can do.</p>",
              _table_html(page.quality, "system"), f"<p>{_inline(QUALITY_LEGEND)}</p>"]
    if page.aliases:
        parts.append(f"<p class='aliases' data-aliases='{html.escape(alias_attr)}'>{_inline(_alias_note(page.aliases))}</p>")
    if figure:
        parts += ["<h2 id='trade-off'>Quality against latency</h2>",
                  f"<p><img src='{html.escape(figure)}' alt='test NDCG@5 against ms per batch'></p>", f"<p>{html.escape(FIGURE_TEXT)}</p>"]
    if not page.latency.empty:
        parts += [f"<h2 id='latency'>Latency and cost ({LATENCY_PRECISION})</h2>", _table_html(page.latency, "system")]
    runs = "".join(f"<tr><td><a href='{html.escape(n)}.html'>{html.escape(n)}</a></td><td>{html.escape(r['wall time (m:ss)'])}</td>"
                   f"<td>{html.escape(r.errors)}</td></tr>" for n, r in _walls(page.runs).iterrows())
    parts += ["<h2 id='run'>What was run</h2>",
              f"<p>Data: {html.escape(page.data)}. Hardware: {html.escape(page.machine)}. Commit(s) that wrote the rows: "
              f"{html.escape(page.commits)}{' (-dirty: the working tree differed from that commit)' if '-dirty' in page.commits else ''}. Total wall time "
              f"{fmt_number(round(page.runs.seconds.sum() / 60, 1))} min.</p>",
              f"<table><tr><th>notebook</th><th>wall time (m:ss)</th><th>errors</th></tr>{runs}</table>"]
    return "".join(parts) + "</body></html>\n"


class Renumber(Preprocessor):
    """Number the code cells left on the page 1, 2, 3, ... (In [2] is not missing where the hidden
    injected cell ran second)."""

    def preprocess(self, nb, resources):
        count = itertools.count(1)
        for cell in nb.cells:
            if cell.cell_type == "code" and cell.get("execution_count") is not None:
                k = next(count)
                cell.execution_count = k
                for output in cell.get("outputs", []):
                    if "execution_count" in output:
                        output["execution_count"] = k
        return nb, resources


def notebook_exporter() -> HTMLExporter:
    """nbconvert's lab HTML exporter without the cells tagged `HIDDEN_TAGS` (papermill's injected
    parameters: the executed .ipynb keeps them, the page does not show them), the cells left
    numbered in order (`Renumber`)."""
    exporter = HTMLExporter(template_name="lab")
    exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags=set(HIDDEN_TAGS), enabled=True), enabled=True)
    exporter.register_preprocessor(Renumber(enabled=True), enabled=True)
    return exporter


def write_report(profile: str) -> Path:
    """Render `outputs/<profile>/`'s executed notebooks to `report/*.html` with `report/index.html`
    and its figure, and write `results.md`; for a `published` run also the committed copies
    (`write_committed`). Returns the index path. Errors when nothing was executed."""
    out = output_dir(profile)
    runs = notebook_runs(out)
    if runs.empty:
        raise FileNotFoundError(f"no executed notebooks in {out}: run `make replicate PROFILE={profile}` first")
    rows = load_results(out / "results.json")
    setting = read_setting(out)
    page = front_page(profile, out, runs, rows, load_claims(out / "claims.json"), setting)
    exporter = notebook_exporter()
    for name in runs.notebook:
        body, _ = exporter.from_notebook_node(nbformat.read(out / f"{name}.ipynb", as_version=4))
        body = body.replace("</head>", STDERR_CSS + "</head>", 1)
        with atomic_path(out / "report" / f"{name}.html") as tmp:
            tmp.write_text(body, encoding="utf-8")
    figure = None
    if (batch := latency_batch(rows)) is not None:
        fig = plot_quality_latency(rows, batch, setting)
        with atomic_path(out / "report" / FIGURE) as tmp:
            fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
        plt.close(fig)
        figure = FIGURE
    with atomic_path(out / "report" / "index.html") as tmp:
        tmp.write_text(index_html(page, figure), encoding="utf-8")
    with atomic_path(out / "results.md") as tmp:
        tmp.write_text(results_markdown(page, figure), encoding="utf-8")
    if published(profile, out):
        write_committed(page, figure)
    return out / "report" / "index.html"


# The committed copies: docs/results/<profile>.md and README's findings.

PUBLISHED = ("default", "gpu", "paper")  # profiles whose results page is committed (docs/results/<profile>.md)
README_PROFILE = "default"  # the profile whose verdicts README.md shows
FINDINGS = ("<!-- findings:begin -->", "<!-- findings:end -->")
BOX_ANCHOR = "the-papers-claims-at-a-glance"  # GitHub's id of results.md's "## The paper's claims at a glance"


def repo_root() -> Path:
    """The checkout the committed pages belong to (a function, so that tests can point it elsewhere)."""
    return paths.ROOT


def published(profile: str, out: Path) -> bool:
    """Whether `make report` keeps a committed copy of this run's results: a profile of `PUBLISHED`
    whose run read the repository's own `params/<profile>.yaml` (a profile file kept elsewhere, and
    `smoke` or a test's profile, never write into the checkout)."""
    if profile not in PUBLISHED:
        return False
    used = run_parameters(out).get("params_file")
    own = repo_root() / "params" / f"{profile}.yaml"
    return bool(used) and own.is_file() and Path(used).resolve() == own.resolve()


def results_page(page: FrontPage, figure: str | None) -> str:
    """`docs/results/<profile>.md`: `results.md` with a line saying where it comes from, its links
    into the local `report/` folder (not committed) made plain text and its figure named, not shown."""
    md = results_markdown(page, figure)
    md = re.sub(r"!\[([^\]]*)\]\(report/([^)]*)\)", rf"(figure: outputs/{page.profile}/report/\2 after `make report`)", md)
    md = re.sub(r"\[([^\]]+)\]\(report/[^)]*\)", r"\1", md)
    title, rest = md.split("\n", 1)
    note = (f"> Written by `make report PROFILE={page.profile}` from the run of commit(s) {page.commits} on {page.machine}. "
            "Do not edit it by hand: re-run the report and commit the result.")
    return f"{title}\n\n{note}\n{rest}"


def findings_lines(box: list[Line], page_link: str) -> list[str]:
    """README's findings: one line per claim of the paper, its verdict, linking to the results page."""
    return [f"- [{b.claim}]({page_link}#{BOX_ANCHOR}): {'; '.join(t for _, t in b.verdicts)}" for b in box]


def wall_times_line(runs: pd.DataFrame, machine: str) -> str:
    """README's line under the findings: each notebook's wall time in that run (its number, m:ss)
    and the total, with the machine and precision, as papermill recorded them."""
    each = " · ".join(f"{str(n).split('_', 1)[0]} {wall_clock(s)}" for n, s in zip(runs.notebook, runs.seconds, strict=True))
    return f"Wall time of that run, per notebook (m:ss): {each}; {wall_clock(float(runs.seconds.sum()))} in all, on {machine}."


def replace_between(text: str, markers: tuple[str, str], body: str) -> str:
    """`text` with what lies between the two marker lines replaced by `body`; an error naming the
    markers when either is missing."""
    start, end = markers
    if start not in text or end not in text or text.index(start) > text.index(end):
        raise ValueError(f"README.md: markers {start} ... {end} not found (in that order)")
    a, b = text.index(start) + len(start), text.index(end)
    return f"{text[:a]}\n{body}\n{text[b:]}"


def write_committed(page: FrontPage, figure: str | None) -> list[Path]:
    """Write `docs/results/<profile>.md` and, for `README_PROFILE`, README's findings block (both
    atomically); returns the files written. The caller decides whether the run is `published`."""
    root = repo_root()
    target = root / "docs" / "results" / f"{page.profile}.md"
    with atomic_path(target) as tmp:
        tmp.write_text(results_page(page, figure), encoding="utf-8")
    written = [target]
    readme = root / "README.md"
    if page.profile == README_PROFILE and readme.is_file():
        lines = [*findings_lines(page.box, target.relative_to(root).as_posix()), "", wall_times_line(page.runs, page.machine)]
        text = replace_between(readme.read_text(encoding="utf-8"), FINDINGS, "\n".join(lines))
        with atomic_path(readme) as tmp:
            tmp.write_text(text, encoding="utf-8")
        written.append(readme)
    return written


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
    if published(args[0], index.parent.parent):
        print(f"committed copy: docs/results/{args[0]}.md" + (" and README.md's findings" if args[0] == README_PROFILE else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
