"""The paper profile's code paths, end to end, offline: a hub-format Qwen2 decoder (bf16 on disk)
and BERT students built here, a TREC-style collection in a temporary folder, and a params file
outside params/ with paper.yaml's switches (hub variant, LoRA on a bf16 backbone, gradient
checkpointing, the LLM teacher alone), run through `make replicate PARAMS=...` at smoke sizes, with
notebooks 02-04's training and scoring launched on two processes (`parallel.processes: 2`, gloo)."""

import json
import os
import subprocess
import sys

import nbformat
import numpy as np
import pytest
import yaml
from support.tiny import save_tiny_bert, save_tiny_decoder, write_trec

from distilrank.data import Collection, read_cranfield
from distilrank.paths import ROOT
from distilrank.rankers import load_ranker, load_scores
from distilrank.results import load_results

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
PAPER_PRECISION = "bf16"  # forced: this chain runs the bf16 path on every machine (emulated without native bf16: tiny models, seconds)
SIZED = ("split", "prep", "cpt", "teacher", "distill", "curriculum", "report", "latency")


def paper_shaped_profile(folder) -> dict:
    """paper.yaml's keys and switches, pointed at tiny local stand-ins, at smoke sizes."""
    cran = read_cranfield(ROOT.parent / "shared" / "data" / "cranfield")
    queries = sorted(cran.qrels, key=int)[:40]
    judged = {d for q in queries for d in cran.qrels[q]}
    docs = sorted(judged | set(list(cran.docs)[:300]), key=int)
    binary = Collection("msmarco-like", cran.docs, cran.queries, {q: {d: 1 for d in cran.qrels[q]} for q in queries})
    files = write_trec(binary, folder / "collection", queries, docs)
    texts = [cran.docs[d].text for d in docs] + [cran.queries[q] for q in queries]
    decoder = save_tiny_decoder(folder / "hub" / "tiny-qwen2", texts, arch="qwen2", vocab_size=1500)
    bert = save_tiny_bert(folder / "hub" / "tiny-bert", texts, vocab_size=1500)
    paper = yaml.safe_load((ROOT / "params" / "paper.yaml").read_text())
    smoke = yaml.safe_load((ROOT / "params" / "smoke.yaml").read_text())
    profile = {**paper, **{k: smoke[k] for k in SIZED}, "profile": "paper-tiny", "device": "cpu"}
    profile["data"] = {"source": "trec", **{k: str(v) for k, v in files.items()}}
    profile["prep"] = {**smoke["prep"], "cpt_min_gain": 1, "pseudo_queries": 0}
    profile["models"] = {"teacher": str(decoder), "students": {"bert12": str(bert), "bert6": str(bert)}, "dense": "minilm-l6"}
    profile["cpt"] = {**smoke["cpt"], "variants": ["hub"], "lr": {"hub": "5e-3"}, "pseudo_examples": 0}  # 5e-3 as users write it
    profile["teacher"] = {**smoke["teacher"], "variant_lr": {}, "pseudo_groups": 0, "lr": "1e-3"}
    profile["distill"] = {**smoke["distill"], "teacher": "llm", "pseudo_groups": 0,
                          "seeds": 1, "recipes": [], "no_llm_student": False}  # two networks x four students: seeds and recipes run in the smoke chain
    profile["rank_distillm"] = {**smoke["rank_distillm"], "losses": paper["rank_distillm"]["losses"], "first_stages": ["bm25"],
                                "run": ["kl-ranks-bm25-d5", "infonce-ranks-bm25-d8"]}  # paper's BM25-only grid, two cells
    assert profile["llm"]["finetune"] == "lora" and profile["llm"]["gradient_checkpointing"], "paper.yaml's switches"
    profile["llm"] = {**profile["llm"], "lora": {**profile["llm"]["lora"], "r": 4, "alpha": 8}}
    profile["parallel"] = {**paper["parallel"], "processes": 2, "backend": "gloo"}  # a node of GPUs, as two CPU processes
    return profile


def start_chain(folder) -> subprocess.Popen:
    """`make replicate PARAMS=<folder>/mine/paper-tiny.yaml` in the background, offline (conftest
    starts it right after collection, so that it runs beside the rest of the suite)."""
    profile = paper_shaped_profile(folder)
    params = folder / "mine" / "paper-tiny.yaml"
    params.parent.mkdir()
    params.write_text(yaml.safe_dump(profile, sort_keys=False))
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "DISTILRANK_PRECISION": PAPER_PRECISION}  # papermill's kernels inherit it
    log = (folder / "make.log").open("w")  # a file, not a pipe: a full pipe would stall make
    return subprocess.Popen(["make", "-C", str(ROOT), "replicate", f"PARAMS={params}", f"OUTPUTS={folder / 'outputs'}",
                             f"PYTHON={sys.executable}"], stdout=log, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True)  # its own process group: conftest can stop make and its kernels


@pytest.mark.slow
def test_paper_shaped_profile_runs_every_notebook_offline(paper_chain):
    tmp_path, returncode, log = paper_chain
    assert returncode == 0, log[-6000:]
    out = tmp_path / "outputs" / "paper-tiny"
    for src in NOTEBOOKS:
        nb = nbformat.read(out / src.name, as_version=4)
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
        assert not errors, f"{src.name}: {errors[0]}"
    # CPT, both teachers, the transfer set's scores and every student went through accelerate launch on two processes
    launched = {p.parent.name for p in (out / "trainer" / "launch").glob("*/job.json")}
    assert {"teacher-cpt-hub", "teacher-no-cpt", "train lists", "students"} <= launched, launched  # every core student in one launch
    assert len(list((out / "trainer" / "launch" / "students").glob("*/result.json"))) == 8  # two networks x four students
    assert (out / "cpt" / "hub" / "trainer" / "launch" / "result.json").is_file()
    # the teacher: LoRA on the bf16 hub decoder, merged; it and every student score finitely
    teacher, _ = load_ranker(out / "teachers" / "teacher-cpt")
    assert not any("lora_" in n for n, _ in teacher.named_parameters())
    assert not list((out / "cpt" / "hub" / "cpt").glob("adapter_*")), "CPT's adapters are merged into the saved decoder"
    from test_notebooks import (  # tests/ is on sys.path (pytest's prepend import mode)
        FP32_BF16_MIN_TAU,
        _student_reloads_reproduce_cached_scores,
    )

    from distilrank.artifacts import load_prepared

    test = load_prepared(out / "prepared")["test_candidates"].to_pandas()
    for system in ("teacher-cpt", "bert12-hybrid", "bert6-hybrid", "bert6-labels"):
        assert np.isfinite(load_scores(out / "scores" / system, "test", test)).all(), system
    # every notebook ran in bf16, forced by the environment; the saved student reproduces its bf16 cache
    hardware = json.loads((out / "hardware.json").read_text())["precision"]
    assert hardware["used"] == hardware["requested"] == PAPER_PRECISION and hardware["source"] == "DISTILRANK_PRECISION"
    batch_size = yaml.safe_load((tmp_path / "mine" / "paper-tiny.yaml").read_text())["distill"]["batch_size"]
    # (no CrossEncoder check here: the tiny word-level tokenizer gives CrossEncoder no token_type_ids, so its
    # scores differ from the student's with segments, whatever the precision; the smoke chain checks CrossEncoder)
    made_at, tau = _student_reloads_reproduce_cached_scores(out, "bert6-hybrid", batch_size, cross_encoder=False)
    assert made_at == PAPER_PRECISION
    assert tau >= FP32_BF16_MIN_TAU, f"the student rescored in fp32 orders candidates unlike its bf16 cache (tau {tau:.3f})"
    rows = load_results(out / "results.json")
    assert {r.profile for r in rows} == {"paper-tiny"}
    measured = {r.system for r in rows if r.metric == "ndcg@5"}
    assert {"bm25", "random", "oracle", "teacher-cpt", "teacher-no-cpt", "bert12-hybrid", "bert6-hybrid", "bert6-labels"} <= measured
    assert all(np.isfinite(r.value) for r in rows if r.value is not None)
