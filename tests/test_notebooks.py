"""The notebooks as sources (clean, parameterised) and as a chain (`make replicate PROFILE=smoke`)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
import yaml
from datasets import load_from_disk

from distilrank import pagecheck, progress, results
from distilrank.config import load_params
from distilrank.metrics import rank_agreement
from distilrank.paths import ROOT
from distilrank.rankers import SEED_MARK, document_text, load_scores, score_candidates, scores_precision, seed_dirs
from distilrank.results import load_results
from distilrank.training import load_curve

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_notebooks_exist_in_order():
    assert NOTEBOOKS and NOTEBOOKS[0].name == "01_data_prep.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_sources_are_clean_and_parameterised(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert not any(c.get("outputs") or c.get("execution_count") for c in code), "commit notebooks without outputs"
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and 'profile = "default"' in tagged[0].source
    after = code[code.index(tagged[0]) + 1].source
    assert "cfg = notebook_params(globals())" in after.split("import matplotlib")[0], \
        "read the profile right after the parameters cell, before imports can shadow its keys"
    assert nb.metadata.kernelspec.name == "distilrank"
    assert nb.cells[0].cell_type == "markdown", "a notebook opens with prose"
    assert not any(line.lstrip().startswith("def ") for c in code for line in c.source.splitlines()), \
        "functions belong in lib/distilrank, not in notebooks"


MAX_LINES = 12  # every code cell of every notebook says what is done in a few lines


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_code_cells_are_thin(path):
    nb = nbformat.read(path, as_version=4)
    long = {i: n for i, c in enumerate(nb.cells) if c.cell_type == "code"
            if (n := sum(1 for line in c.source.splitlines() if line.strip())) > MAX_LINES}
    assert not long, f"cells over {MAX_LINES} non-blank lines (cell index: lines): {long}; move the loop into lib/distilrank"


def _headings(nb) -> set[str]:
    return {line.lstrip("#").strip().replace("`", "") for c in nb.cells if c.cell_type == "markdown"
            for line in c.source.splitlines() if line.startswith("#")}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_recorded_claims_name_their_notebook_and_a_section_of_it(path):
    import re

    nb = nbformat.read(path, as_version=4)
    calls = re.findall(r'record_claims\([^"]*"(\d\d_[a-z_]+)",\s*"([^"]+)"', "\n".join(c.source for c in nb.cells if c.cell_type == "code"))
    for notebook, section in calls:
        assert notebook == path.stem and section in _headings(nb), (notebook, section)


def test_the_report_derives_claims_from_sections_that_exist():
    from distilrank import report

    for stem, section in (("06_latency", report.LATENCY_SECTION), ("09_online_simulation", report.ONLINE_SECTION)):
        assert section in _headings(nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)), (stem, section)


SMOKE_PRECISION = "fp32"  # the smoke chain forced to fp32, the paper-shaped one to bf16: both paths on every machine


def _make(*args: str, outputs: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "DISTILRANK_PRECISION": SMOKE_PRECISION}  # papermill's kernels inherit it
    return subprocess.run(["make", "-C", str(ROOT), *args, "PROFILE=smoke", f"OUTPUTS={outputs}",
                           f"PYTHON={sys.executable}"], capture_output=True, text=True, env=env)


@pytest.mark.slow
def test_smoke_chain_runs_every_notebook(tmp_path):
    run = _make("replicate", outputs=tmp_path)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    out = tmp_path / "smoke"
    for src in NOTEBOOKS:
        nb = nbformat.read(out / src.name, as_version=4)
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
        assert not errors, f"{src.name}: {errors[0]}"
        assert all(c.get("execution_count") for c in nb.cells if c.cell_type == "code"), f"{src.name} not fully executed"
        # clean executed copies: no library load reports, no Trainer HTML tables, one line per progress loop
        text = json.dumps(nb)
        assert "LOAD REPORT" not in text and "<progress" not in text, src.name
        assert progress.redraws(nb) == 0, src.name
    assert not list(out.glob("*.partial.ipynb"))
    rows = load_results(out / "results.json")
    bm25 = {r.metric: r for r in rows if r.system == "bm25" and not r.metric.startswith("sim_")}  # 09 adds simulated rows
    assert set(bm25) == {"pnr", "ndcg@5", "ndcg@10", "mrr@10"}
    assert all(r.profile == "smoke" and r.n_queries == 12 for r in bm25.values())
    assert 0 < bm25["ndcg@5"].value <= 1 and bm25["pnr"].value > 0
    assert bm25["ndcg@5"].ci_low <= bm25["ndcg@5"].value <= bm25["ndcg@5"].ci_high
    assert (out / "prepared" / "dataset_dict.json").is_file()
    # the evaluation protocol: dev/test lists are the BM25 top k and nothing else, and every
    # quality table has its references (random: chance; oracle: the recall ceiling, no finite PNR)
    prepared = load_from_disk(str(out / "prepared"))
    for split in ("dev_candidates", "test_candidates", "train_candidates", "train_groups"):  # training lists too: nothing added
        lists = prepared[split].to_pandas()
        assert set(lists.source) == {"bm25"} and (lists.bm25_rank.between(1, 10)).all(), split
        assert lists.groupby("query_id").size().max() <= 10
    groups = prepared["train_groups"].to_pandas()
    assert (groups.groupby("query_id").gain.max() > 0).all(), "a labelled group holds a relevant document"
    assert {"random", "oracle"} <= {r.system for r in rows}
    oracle = {r.metric: r.value for r in rows if r.system == "oracle"}
    assert "pnr" not in oracle and bm25["ndcg@5"].value <= oracle["ndcg@5"] <= 1
    assert len(list((out / "figures").glob("01_*.png"))) >= 5
    # 02: both decoder variants before and after CPT, and the choice
    choice = json.loads((out / "cpt" / "choice.json").read_text())
    assert choice["variant"] in {"minilm", "scratch"}
    for variant in ("minilm", "scratch"):
        assert (out / "cpt" / variant / "cpt" / "model.safetensors").is_file()
    # 03: the teachers, dense-minilm, the ensemble and its weights, saved rankers, cached scores, transfer set
    systems = {r.system for r in rows}
    assert {"bm25", "dense-minilm", "bm25+dense-minilm", "teacher-no-cpt", "teacher-cpt", "teacher-ensemble"} <= systems
    ensemble = json.loads((out / "teachers" / "ensemble.json").read_text())["teacher-ensemble"]
    assert ensemble["method"] == "global" and set(ensemble["stats"]) == {"bm25_score", "dense_score", "teacher_score"}
    weights = ensemble["weights"]
    assert set(weights) == {"bm25_score", "dense_score", "teacher_score"}
    assert sum(abs(w) for w in weights.values()) == pytest.approx(1.0)
    assert (out / "teachers" / "teacher-cpt" / "score_head.safetensors").is_file()
    transfer = load_from_disk(str(out / "transfer"))
    assert set(transfer) >= {"train", "dev", "test", "pseudo"}
    assert transfer["test"].num_rows == load_from_disk(str(out / "prepared"))["test_candidates"].num_rows
    for column in ("teacher_score", "dense_score", "ensemble_score", "no_llm_score"):
        assert np.isfinite(transfer["train"].to_pandas()[column]).all(), column
    # 04: a recipe chosen on dev; five core students (labels, three distilled, the hybrid without the LLM), each
    # with every seed, one budget: distill.epochs passes over the training queries and the recipe's pseudo groups
    smoke = load_params(ROOT / "params" / "smoke.yaml")
    recipe = json.loads((out / "students" / "recipe.json").read_text())
    assert recipe["max_len"] in {smoke.distill.max_len, *[r.max_len for r in smoke.distill.recipes if r.max_len]}
    n_groups = transfer["train"].to_pandas().query_id.nunique() + recipe["pseudo_groups"]
    budget = -(-smoke.distill.epochs * n_groups // smoke.distill.groups_per_step)  # students.budget_steps
    for name in ("bert6-labels", "bert6-point", "bert6-margin", "bert6-hybrid", "bert6-hybrid-no-llm"):
        assert {"pnr", "ndcg@5", "ndcg@10", "ndcg@5_share_of_teacher", "ndcg@5_seed_sd"} <= {r.metric for r in rows if r.system == name}, name
        assert load_curve(out / "scores" / name)["steps"] == budget, name
        assert (out / "students" / name / "model.safetensors").is_file(), name
        assert {"ndcg@5", "ndcg@10"} <= {r.metric for r in rows if r.system == f"{name}+bm25"}
        for cached in (name, f"{name}+bm25"):  # the first seed's cache and one per further seed
            assert [p.name for p in seed_dirs(out / "scores", cached)] == [
                cached, *[f"{cached}{SEED_MARK}{smoke.seed + k}" for k in range(1, smoke.distill.seeds)]], cached
    batch_size = yaml.safe_load((ROOT / "params" / "smoke.yaml").read_text())["distill"]["batch_size"]
    made_at, tau = _student_reloads_reproduce_cached_scores(out, "bert6-hybrid", batch_size)
    assert made_at == SMOKE_PRECISION
    assert tau >= FP32_BF16_MIN_TAU, f"bf16 rescoring of the fp32 student orders candidates differently (tau {tau:.3f})"
    # 05: every system with a bootstrap CI on every quality metric, and the hardware it ran on
    for system in ("random", "bm25", "dense-minilm", "teacher-no-cpt", "teacher-cpt", "teacher-ensemble", "bert6-labels",
                   "bert6-point", "bert6-margin", "bert6-hybrid", "bert6-hybrid-no-llm", "bert6-hybrid+bm25"):
        got = {r.metric: r for r in rows if r.system == system}
        for metric in ("pnr", "ndcg@5", "ndcg@10", "mrr@10"):
            assert got[metric].ci_low is not None and got[metric].ci_low <= got[metric].value <= got[metric].ci_high, (system, metric)
    assert json.loads((out / "hardware.json").read_text())["cores"] >= 1
    # 06: latency rows for the paper's systems and each optimised student, which loads and scores
    latency = {r.system: r.value for r in rows if r.metric == "latency_ms@4"}
    assert {"teacher", "llm", "bert-12", "bert-6", "bert6-hybrid", "bert6-hybrid-onnx", "bert6-hybrid-onnx-int8"} <= set(latency)
    assert all(v > 0 for v in latency.values())
    assert (out / "students" / "bert6-hybrid-onnx-int8" / "model.onnx").is_file()
    # 07: a student per selected cell, on its first stage's top k only, from the teacher's cached pool
    pool = load_from_disk(str(out / "rank_distillm" / "pool"))["pool"].to_pandas()
    assert np.isfinite(pool.teacher_score).all() and np.isfinite(pool.dense_score).all()
    assert pool.rank_bm25.between(1, 8).all(), "the pool holds the BM25 top 8 and nothing else"
    for name in ("bert6-ranknet-ranks-bm25-d8", "bert6-adrmse-ranks-bm25-d8"):
        assert {"pnr", "ndcg@5", "ndcg@10"} <= {r.metric for r in rows if r.system == name}, name
        assert load_curve(out / "scores" / name)["steps"] == smoke.rank_distillm.steps
    # 08: the four curriculum students, each with the profile's steps and a curve point per round
    hardware = json.loads((out / "hardware.json").read_text())
    assert hardware["precision"]["used"] == hardware["precision"]["requested"] == SMOKE_PRECISION
    assert hardware["precision"]["source"] == "DISTILRANK_PRECISION" and hardware["precision"]["profile"] == "auto"
    for name in ("bert6-uniform", "bert6-rebalanced", "bert6-curriculum", "bert6-curriculum-rebalanced"):
        assert {"pnr", "ndcg@5", "ndcg@10"} <= {r.metric for r in rows if r.system == name}, name
        curve = load_curve(out / "scores" / name)
        assert curve["steps"] == smoke.curriculum.steps == 4 and [h["step"] for h in curve["history"]] == [2, 4], name
    # 09: the simulated online evaluation: A/B changes, interleaving and side-by-side shares
    online = {(r.system, r.metric): r.value for r in rows}
    pair = "bert6-hybrid vs bert6-labels"
    for metric in ("sim_page_ctr_change", "sim_user_ctr_change", "sim_dwell_change", "interleaving_win_rate", "interleaving_loss_rate"):
        assert (pair, metric) in online, metric
    assert sum(online[(pair, f"sbs_{j}")] for j in ("good", "same", "bad")) == pytest.approx(1.0)
    assert 0 < online[("bert6-hybrid", "sim_page_ctr")] <= 1
    # make report: every executed notebook as HTML, each figure rendered, an index and results.md
    report = _make("report", outputs=tmp_path)
    assert report.returncode == 0, report.stdout[-2000:] + report.stderr[-2000:]
    for src in NOTEBOOKS:
        nb = nbformat.read(out / src.name, as_version=4)
        images = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
        page = (out / "report" / f"{src.stem}.html").read_text()
        assert page.count("data:image/png;base64") >= images > 0, src.name
    index = pagecheck.parse_page(out / "report" / "index.html")
    assert {f"{src.stem}.html" for src in NOTEBOOKS} <= set(index.links)
    md = (out / "results.md").read_text()
    assert "| bert6-hybrid | student |" in md and "ms per batch of 4" in md and "## What was run" in md
    assert "## The paper's claims at a glance" in md and "## Every claim, by the paper's claim" in md
    claims = results.load_claims(out / "claims.json")
    assert {"07_rank_distillm", "08_curriculum"} <= {c.notebook for c in claims}, "each notebook's claims reach the front page"
    assert (out / "report" / "quality_latency.png").is_file()
    assert pagecheck.static_problems(out / "report") == []
    if pagecheck.chromium():  # .ci/run installs Chromium; test_report.py says so when it is missing
        assert pagecheck.browser_problems(out / "report", pagecheck.chromium()) == []
    # a second run finds every stage up to date
    again = _make("-q", *[str(out / p.name) for p in NOTEBOOKS], outputs=tmp_path)
    assert again.returncode == 0, "make considers a stage out of date right after running it"
    # the budget benchmark reads the run it follows (notebook 04's recipe and transfer set) and writes nothing there
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    env = {**os.environ, "DISTILRANK_OUTPUTS": str(tmp_path), "DISTILRANK_PRECISION": SMOKE_PRECISION,
           "PYTHONPATH": os.pathsep.join(str(ROOT / d) for d in ("lib", "tools"))}
    bench = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "student_budget.py"), "--profile", "smoke", "--steps", "4", "--every", "2"],
                           capture_output=True, text=True, env=env)
    assert bench.returncode == 0, bench.stdout[-2000:] + bench.stderr[-2000:]
    assert "bm25 (dev)" in bench.stdout and "the seed mean of 1 seed(s) at step 4 (a measurement" in bench.stdout
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before


FP32_BF16_MIN_TAU = 0.9  # the same model in fp32 and in bf16: mean per-query Kendall tau at least this


def _student_reloads_reproduce_cached_scores(out: Path, name: str, batch_size: int = 32, cross_encoder: bool = True) -> tuple[str, float]:
    """The saved student, reloaded (transformers), reproduces its cached test scores to 1e-4 when
    rescored at the precision that made them (`scores_precision`; `batch_size` as the run scored);
    with `cross_encoder`, sentence-transformers' `CrossEncoder` (always fp32) gives its fp32 scores to 1e-4. Returns that
    precision and the rank agreement (mean per-query Kendall tau) between the student's fp32 and
    bf16 scores (one of them the cache), for the caller to bound: no bound on raw fp32-vs-bf16
    scores, which differ by more than 1e-4 (issue 24)."""
    from sentence_transformers import CrossEncoder
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    test = load_from_disk(str(out / "prepared"))["test_candidates"].to_pandas()
    cached = load_scores(out / "scores" / name, "test", test)
    made_at = scores_precision(out / "scores" / name)
    path = str(out / "students" / name)
    model, tok = AutoModelForSequenceClassification.from_pretrained(path), AutoTokenizer.from_pretrained(path)
    rescore = lambda precision: score_candidates(model, tok, test, tok.model_max_length, batch_size, "cpu", precision=precision)  # noqa: E731
    np.testing.assert_allclose(rescore(made_at), cached, atol=1e-4)
    fp32 = cached if made_at == "fp32" else rescore("fp32")
    pairs = [(q, document_text(t, s)) for q, t, s in zip(test["query"], test["title"], test["summary"], strict=True)]
    if cross_encoder:
        np.testing.assert_allclose(CrossEncoder(path, device="cpu").predict(pairs, batch_size=batch_size), fp32, atol=1e-4)
    bf16 = cached if made_at == "bf16" else rescore("bf16")
    return made_at, rank_agreement(test.assign(fp32=fp32, bf16=bf16), "fp32", "bf16")


@pytest.mark.slow
def test_make_replicate_stops_on_a_bad_profile(tmp_path):
    bad = ROOT / "params" / "broken-test.yaml"
    text = (ROOT / "params" / "smoke.yaml").read_text().replace("n_test:", "n_tset:")
    bad.write_text(text.replace("profile: smoke", "profile: broken-test"))
    try:
        run = subprocess.run(["make", "-C", str(ROOT), "check-params", "PROFILE=broken-test"],
                             capture_output=True, text=True)
    finally:
        bad.unlink()
    assert run.returncode != 0
    assert "split.n_tset: unknown key" in run.stderr
