"""Notebook 06: the paper's systems and this project's own, timed at one batch size and over a
sweep, and the optimised students.

`paper_systems` / `time_systems` time the paper's systems and this project's own (with
`distilrank.timing`: warm-up, timed repetitions, median / p90 / p99, throughput, cost),
`latency_table` / `latency_rows` / `ratio_table` turn the timings into its tables and results
rows, and `student_variants` / `compare_variants` build, time and check the optimised students
(ONNX, int8, reduced precision) against the eager one.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from transformers import AutoTokenizer

from distilrank import metrics, paper, rankers
from distilrank.backbones import n_parameters
from distilrank.config import LatencyParams
from distilrank.onnx_student import OnnxRanker, export_onnx, quantize_int8
from distilrank.timing import Latency, measure, onnx_runner, random_batch, shape_model, torch_runner


@dataclass
class System:
    """How to time one ranker: `build` makes it (a trained one loaded fresh from disk), its random
    batches draw from `vocab_size` tokens (with BERT segments or not), after `warmup` untimed calls."""

    build: Callable[[], torch.nn.Module]
    vocab_size: int
    segments: bool
    warmup: int
    repeats: int


def paper_systems(cfg, out: Path, device: str, dtype: torch.dtype, llm_shape: str, student_name: str) -> dict[str, System]:
    """The timed systems, in order: this project's teacher (`teachers/teacher-cpt`), the paper's LLM
    class (`llm_shape`, bf16 on a GPU; one warm-up at most), BERT-12 and BERT-6 (random weights) and
    this project's student `students/<student_name>`, each in `dtype` on `device`."""
    lat = cfg.latency
    teacher_path, student_path = out / "teachers" / "teacher-cpt", out / "students" / student_name
    teacher_tok, student_tok = AutoTokenizer.from_pretrained(str(teacher_path)), AutoTokenizer.from_pretrained(str(student_path))
    on_gpu = device == "cuda"
    return {
        "teacher": System(lambda: rankers.load_ranker(teacher_path)[0].to(device, dtype), teacher_tok.vocab_size, False, lat.warmup, lat.repeats),
        "llm": System(lambda: shape_model(llm_shape, device, torch.bfloat16 if on_gpu else torch.float32), 151936, False,
                      min(lat.warmup, 1), lat.llm_repeats),
        "bert-12": System(lambda: shape_model("bert-12", device, dtype), 30522, True, lat.warmup, lat.repeats),
        "bert-6": System(lambda: shape_model("bert-6", device, dtype), 30522, True, lat.warmup, lat.repeats),
        student_name: System(lambda: rankers.load_ranker(student_path)[0].to(device, dtype), student_tok.vocab_size, True, lat.warmup, lat.repeats),
    }


@dataclass
class SystemTimings:
    """What `time_systems` measured: each system's `Latency` at the profile's batch size, its
    parameter count, and the batch-size sweep (one row per system and batch size)."""

    timings: dict[str, Latency]
    params: dict[str, int]
    sweep: pd.DataFrame  # system, batch size, median ms


def time_systems(systems: dict[str, System], lat: LatencyParams, seed: int, device: str) -> SystemTimings:
    """Build each system in turn, time it on a batch of `lat.batch_size` x `lat.seq_len` random
    tokens and at every `lat.batch_sizes` (one warm-up, `lat.sweep_repeats` timed batches; the
    profile's batch size reuses the main timing), print its line, and free it before the next."""
    timings, params, sweep = {}, {}, []
    for name, system in systems.items():
        model = system.build()
        params[name] = n_parameters(model)
        batch = random_batch(system.vocab_size, lat.batch_size, lat.seq_len, seed, system.segments)
        timings[name] = measure(torch_runner(model, batch, device), lat.batch_size, lat.seq_len, system.warmup, system.repeats, lat.price_per_hour)
        for b in lat.batch_sizes:
            if b == lat.batch_size:
                sweep.append({"system": name, "batch size": b, "median ms": timings[name].median_ms})
                continue
            small = random_batch(system.vocab_size, b, lat.seq_len, seed, system.segments)
            r = measure(torch_runner(model, small, device), b, lat.seq_len, 1, lat.sweep_repeats, lat.price_per_hour)
            sweep.append({"system": name, "batch size": b, "median ms": r.median_ms})
        print(f"{name:>14}: {timings[name].median_ms:9.1f} ms median over {timings[name].repeats} batches ({params[name] / 1e6:.0f}M parameters)")
        del model
        gc.collect()
    return SystemTimings(timings=timings, params=params, sweep=pd.DataFrame(sweep))


def latency_table(timings: dict[str, Latency], params: dict[str, int]) -> pd.DataFrame:
    """One row per system: parameters, weights (random or trained), median / p90 / p99 ms, pairs/s,
    cost per million pairs, repeats, the ratio to BERT-6, and the paper's A10 ms and ratio."""
    table = pd.DataFrame({name: {"parameters (M)": params[name] / 1e6, "weights": "random" if name in paper.SHAPE_MODELS else "trained",
                                 "median ms": t.median_ms, "p90 ms": t.p90_ms, "p99 ms": t.p99_ms, "pairs/s": t.pairs_per_s,
                                 "USD per 1M pairs": t.usd_per_million_pairs, "repeats": t.repeats}
                          for name, t in timings.items()}).T
    table["ratio to bert-6"] = table["median ms"] / timings["bert-6"].median_ms
    table["paper A10 ms"] = pd.Series(paper.LATENCY_A10_MS)
    table["paper ratio"] = table["paper A10 ms"] / paper.LATENCY_A10_MS["bert-6"]
    return table


def _row(system: str, metric: str, value: float, n_queries: int | None = None) -> dict:
    return {"system": system, "metric": metric, "value": value, "ci_low": None, "ci_high": None, "n_queries": n_queries}


def latency_rows(timings: dict[str, Latency], batch_size: int) -> list[dict]:
    """The results rows of each system: `latency_ms@<batch>`, `pairs_per_s@<batch>` and
    `usd_per_million_pairs@<batch>` (no CI)."""
    suffix = f"@{batch_size}"
    return [row for name, t in timings.items() for row in (
        _row(name, f"latency_ms{suffix}", t.median_ms),
        _row(name, f"pairs_per_s{suffix}", t.pairs_per_s),
        _row(name, f"usd_per_million_pairs{suffix}", t.usd_per_million_pairs))]


def plot_latency_vs_batch(sweep: pd.DataFrame, seq_len: int) -> plt.Figure:
    """Median latency per batch (left) and throughput (right) against the batch size, one line per
    system, both on log scales; one legend, outside the data."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    sns.lineplot(sweep, x="batch size", y="median ms", hue="system", marker="o", ax=axes[0], legend=False)
    axes[0].set(yscale="log", title=f"latency per batch ({seq_len} tokens per pair)")
    sns.lineplot(sweep.assign(**{"pairs/s": sweep["batch size"] / (sweep["median ms"] / 1e3)}), x="batch size", y="pairs/s",
                 hue="system", marker="o", ax=axes[1])
    axes[1].set(yscale="log", title="throughput")
    axes[1].legend(title="system", fontsize=9, loc="upper left", bbox_to_anchor=(1.02, 1))
    fig.tight_layout()
    return fig


def ratio_table(timings: dict[str, Latency], student_name: str, llm_shape: str) -> pd.DataFrame:
    """The LLM, the teacher, BERT-12, BERT-6 and the student: median ms here, the ratio to BERT-6
    here, and the paper's A10 ratio (10 : 2 : 1; none for this project's own models)."""
    names = ("llm", "teacher", "bert-12", "bert-6", student_name)
    return pd.DataFrame({
        "measured here (ms)": [timings[n].median_ms for n in names],
        "ratio to bert-6 here": [timings[n].median_ms / timings["bert-6"].median_ms for n in names],
        "paper A10 ratio": [paper.latency_ratio("llm"), np.nan, paper.latency_ratio("bert-12"), paper.latency_ratio("bert-6"), np.nan],
    }, index=[f"llm ({llm_shape})", "teacher (this project)", "bert-12", "bert-6", f"{student_name} (MiniLM-L6)"])


# Notebook 06, beyond the paper: optimised students, timed and checked against the eager one.

@dataclass
class Variant:
    """One way of running the student: its device, its timing and its test candidate scores."""

    device: str
    timing: Latency
    scores: np.ndarray


def student_variants(cfg, out: Path, student_name: str, test: pd.DataFrame, precision: str, device: str,
                     eager: Latency | None = None) -> dict[str, Variant]:
    """The eager fp32 student on the CPU, its ONNX export and the int8-quantised copy (saved as
    `out/students/<student_name>-onnx[-int8]`), bf16 autocast on a CPU when the run's `precision`
    is bf16 (`<student_name>-cpu-bf16`), and fp32 / fp16 / bf16 copies on a GPU: each timed on one
    batch and scoring every `test` candidate.

    Every variant's scores are computed here from the saved student (`out/students/<student_name>`)
    at what the variant names: the eager student's in fp32, whatever precision the run trained and
    cached its scores at (a bf16 run's cached scores are not fp32 scores); the `-cpu-bf16`
    variant's rescored under bf16 autocast at the run's batch size and length (`cfg.distill`), as
    the run scored its cached ones: the same computation, so the same scores on the same machine.
    `eager`: the eager student's timing already measured (`time_systems`), reused so that the page
    shows one latency per system; None: timed here."""
    lat, dist = cfg.latency, cfg.distill
    on_gpu = device == "cuda"
    student_path = out / "students" / student_name
    student_tok = AutoTokenizer.from_pretrained(str(student_path))

    def timed(run: Callable[[], object]) -> Latency:
        return measure(run, lat.batch_size, lat.seq_len, lat.warmup, lat.repeats, lat.price_per_hour)

    student_cpu = rankers.load_ranker(student_path)[0]  # the saved fp32 student: every variant starts from it
    cpu_batch = random_batch(student_tok.vocab_size, lat.batch_size, lat.seq_len, cfg.seed, True)
    eager_scores = rankers.score_candidates(student_cpu, student_tok, test, dist.max_len, dist.batch_size, "cpu", desc=student_name)  # fp32
    variants = {student_name: Variant("cpu", eager if eager is not None and not on_gpu else timed(torch_runner(student_cpu, cpu_batch, "cpu")), eager_scores)}
    onnx_dir = export_onnx(student_cpu, student_tok, out / "students" / f"{student_name}-onnx", max_len=dist.max_len)
    int8_dir = quantize_int8(onnx_dir, out / "students" / f"{student_name}-onnx-int8")
    for path in (onnx_dir, int8_dir):
        ranker = OnnxRanker(path)
        variants[path.name] = Variant("cpu", timed(onnx_runner(ranker.session, cpu_batch)),
                                      rankers.score_candidates(ranker, ranker.tokenizer, test, dist.max_len, dist.batch_size, "cpu", desc=path.name))
    if precision == "bf16" and not on_gpu:  # the eager student under bf16 autocast, as the run trains and scores (native, or forced)
        name = f"{student_name}-cpu-bf16"
        variants[name] = Variant("cpu", timed(torch_runner(student_cpu, cpu_batch, "cpu", precision)),
                                 rankers.score_candidates(student_cpu, student_tok, test, dist.max_len, dist.batch_size, "cpu", desc=name, precision=precision))
    if on_gpu:
        gpu_batch = random_batch(student_tok.vocab_size, lat.batch_size, lat.seq_len, cfg.seed, True)
        for label, dt in (("fp32", torch.float32), ("fp16", torch.float16), ("bf16", torch.bfloat16)):
            m = rankers.load_ranker(student_path)[0].to("cuda", dt)
            name = f"{student_name}-cuda-{label}"
            variants[name] = Variant("cuda", timed(torch_runner(m, gpu_batch, "cuda")),
                                     rankers.score_candidates(m, student_tok, test, dist.max_len, dist.batch_size, "cuda", desc=name))
    return variants


@dataclass
class VariantComparison:
    """`compare_variants`' answer: the table (one row per variant) and the results rows to record."""

    table: pd.DataFrame
    rows: list[dict]


def compare_variants(variants: dict[str, Variant], eager_scores: np.ndarray, test: pd.DataFrame, qrels: pd.DataFrame,
                     student_name: str, lat: LatencyParams) -> VariantComparison:
    """Each variant's speed-up against the eager fp32 student on its device, its test NDCG@5 and PNR
    and their change from the eager student's (`eager_scores`: the eager fp32 student's, e.g.
    `variants[student_name].scores`), its scores' correlation with, rank agreement with (mean
    per-query Kendall tau, `metrics.rank_agreement`) and largest distance from the eager scores,
    and whether both changes are within `lat.tolerance_ndcg5` / `lat.tolerance_pnr`; rows
    (latency, ndcg@5, pnr) for every variant but the eager student, and the eager student's quality
    as `<student>-cpu-fp32` (its latency is notebook 06's student row)."""
    eager_per = metrics.evaluate_candidates(test.assign(score=eager_scores), qrels=qrels)
    eager_q = {m: metrics.aggregate(eager_per, m) for m in ("ndcg@5", "pnr")}
    table, records = [], []
    for name, v in variants.items():
        base = variants[student_name if v.device == "cpu" else f"{student_name}-cuda-fp32"].timing.median_ms
        per = metrics.evaluate_candidates(test.assign(score=v.scores), qrels=qrels)
        q = {m: metrics.aggregate(per, m) for m in ("ndcg@5", "pnr")}
        table.append({"variant": name, "device": v.device, "median ms": v.timing.median_ms, "speed-up vs eager fp32": base / v.timing.median_ms,
                      "test ndcg@5": q["ndcg@5"], "Δ ndcg@5": q["ndcg@5"] - eager_q["ndcg@5"], "test pnr": q["pnr"], "Δ pnr": q["pnr"] - eager_q["pnr"],
                      "score r with eager": float(np.corrcoef(v.scores, eager_scores)[0, 1]),
                      "rank tau with eager": metrics.rank_agreement(test.assign(variant=v.scores, eager=eager_scores), "variant", "eager"),
                      "max |score - eager|": float(np.abs(v.scores - eager_scores).max()),
                      "within tolerance": abs(q["ndcg@5"] - eager_q["ndcg@5"]) <= lat.tolerance_ndcg5 and abs(q["pnr"] - eager_q["pnr"]) <= lat.tolerance_pnr})
        n = int(per.query_id.nunique())
        if name != student_name:
            records += [_row(name, f"latency_ms@{lat.batch_size}", v.timing.median_ms), _row(name, "ndcg@5", q["ndcg@5"], n), _row(name, "pnr", q["pnr"], n),
                        _row(name, "within_tolerance", float(table[-1]["within tolerance"]))]
        elif v.device == "cpu":  # the saved (first-seed) student itself, eager fp32: what the deployed variants are compared with
            records += [_row(f"{name}-cpu-fp32", "ndcg@5", q["ndcg@5"], n), _row(f"{name}-cpu-fp32", "pnr", q["pnr"], n)]
    return VariantComparison(table=pd.DataFrame(table).set_index("variant"), rows=records)
