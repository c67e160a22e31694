"""The front page (`make report`) on a small made-up run, and the page checks on it."""

import json
import re
import shutil
import struct

import matplotlib.pyplot as plt
import nbformat
import pandas as pd
import pytest

from distilrank import pagecheck, report, results, verdicts


def _row(system, metric, value, lo=None, hi=None):
    return {"system": system, "metric": metric, "value": value, "ci_low": lo, "ci_high": hi, "n_queries": 10}


def _quality(system, ndcg, lo, hi, pnr=2.0):
    return [_row(system, "ndcg@5", ndcg, lo, hi), _row(system, "pnr", pnr, pnr - 0.5, pnr + 0.5)]


def _claims(rows: list[tuple]) -> pd.DataFrame:
    """A claims table as the notebooks record it: (claim, system, against, Δ, p, verdict, group, headline, dev Δ)."""
    return pd.DataFrame([{"claim": c, "system": s, "against": a, "Δ": d, "p": p, "verdict": v, "paper claim": g, "headline": h, "dev Δ": dev}
                         for c, s, a, d, p, v, g, h, dev in rows]).set_index("claim")


def _safetensors_header(path, shapes):
    """A safetensors file's header alone (the parameter count reads nothing else)."""
    header = json.dumps({f"w{i}": {"dtype": "F32", "shape": s, "data_offsets": [0, 0]} for i, s in enumerate(shapes)}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header)


@pytest.fixture
def run(tmp_path, monkeypatch):
    """outputs/t/ with five executed notebooks (papermill's injected parameters cell in each),
    results.json, claims.json, the teachers' files and hardware.json."""
    monkeypatch.setenv("DISTILRANK_OUTPUTS", str(tmp_path))
    out = tmp_path / "t"
    out.mkdir()
    params = {"data": {"source": "cranfield", "path": "../shared/data/cranfield"}, "models": {"teacher": "embedded"},
              "distill": {"teacher": "ensemble"}, "latency": {"llm_shape_cpu": "llm-0.5b"}}
    for name, heading in (("03_teacher_finetune", "## What this run says"), ("04_distillation", "## 6. What this run says"),
                          ("06_latency", f"## {report.LATENCY_SECTION}"), ("07_effects", "## 5. The `bm25` effects"),
                          ("09_online_simulation", f"## {report.ONLINE_SECTION}")):
        nb = nbformat.v4.new_notebook()
        injected = nbformat.v4.new_code_cell("# Parameters\nsecret_injected_value = 42\n")
        injected.metadata["tags"] = ["injected-parameters"]
        nb.cells = [nbformat.v4.new_markdown_cell(f"# {name}\n\n{heading}"), injected, nbformat.v4.new_code_cell("1 + 1")]
        injected.execution_count, nb.cells[2].execution_count = 1, 2  # papermill ran the injected cell first
        nb.cells[2].outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "2"}, execution_count=2)]
        nb.metadata["papermill"] = {"duration": 90.0, "parameters": params}
        nbformat.write(nb, str(out / f"{name}.ipynb"))
    (out / "teachers" / "teacher-cpt").mkdir(parents=True)
    (out / "teachers" / "teacher-cpt" / "config.json").write_text(json.dumps({"model_type": "bert", "num_hidden_layers": 6, "is_decoder": True}))
    _safetensors_header(out / "teachers" / "teacher-cpt" / "model.safetensors", [[1500, 1000], [300]])  # 1,500,300 parameters
    (out / "teachers" / "choice.json").write_text(json.dumps({"variant": "minilm"}))
    (out / "teachers" / "ensemble.json").write_text(json.dumps({"teacher-ensemble": {"weights": {
        "bm25_score": 0.35, "dense_score": 0.6, "teacher_score": 0.05}}}))
    (out / "hardware.json").write_text(json.dumps({"summary": "a test machine", "gpu": None}))
    path = out / "results.json"
    results.record("t", [*_quality("random", 0.1, 0.05, 0.15, 1.0), *_quality("bm25", 0.5, 0.45, 0.55, 3.0),
                         _row("oracle", "ndcg@5", 0.8, 0.75, 0.85), *_quality("dense-minilm", 0.45, 0.4, 0.5),
                         *_quality("teacher-cpt", 0.2, 0.15, 0.25, 1.3), *_quality("teacher-cpt-minilm", 0.2, 0.15, 0.25, 1.3),
                         *_quality("teacher-no-cpt", 0.35, 0.3, 0.4), *_quality("teacher-ensemble", 0.55, 0.5, 0.6, 4.0),
                         *_quality("bert6-labels", 0.3, 0.25, 0.35), *_quality("bert6-point", 0.38, 0.33, 0.43),
                         *_quality("bert6-margin", 0.44, 0.39, 0.49), *_quality("bert6-hybrid", 0.45, 0.4, 0.5, 3.3),
                         _row("bert6-hybrid-onnx", "ndcg@5", 0.45), _row("bert6-hybrid-onnx", "pnr", 3.3),
                         {**_row("bert6-hybrid-onnx", "within_tolerance", 0.0), "n_queries": None}], path)
    results.record("t", [{**_row(s, "latency_ms@48", ms), "n_queries": None} for s, ms in
                         (("teacher", 900.0), ("llm", 12000.0), ("bert-12", 2400.0), ("bert-6", 1200.0), ("bert6-hybrid", 300.0),
                          ("bert6-hybrid-onnx", 250.0))]
                   + [{**_row("bert6-hybrid", "pairs_per_s@48", 160.0), "n_queries": None},
                      _row("bert6-hybrid vs bert6-labels", "sim_page_ctr_change", 0.12, 0.05, 0.2),
                      _row("bert6-hybrid vs bert6-labels", "sim_user_ctr_change", 0.01, 0.003, 0.02),
                      _row("bert6-labels", "sim_page_ctr", 0.5, 0.45, 0.55), _row("bert6-hybrid", "sim_page_ctr", 0.56, 0.5, 0.6),
                      _row("bert6-labels", "sim_user_ctr", 0.99, 0.98, 1.0), _row("bert6-hybrid", "sim_user_ctr", 1.0, 0.99, 1.0)], path)
    claims = out / "claims.json"
    results.record_claims("t", _claims([
        ("teacher-cpt beats bm25", "teacher-cpt", "bm25", -0.3, 1e-10, "fails", "llm-teacher", True, None),
        ("teacher-cpt (the LLM teacher) beats random", "teacher-cpt", "random", 0.1, 0.001, "holds", "llm-teacher", False, None),
        ("CPT helps the teacher (teacher-cpt-minilm beats teacher-no-cpt)", "teacher-cpt-minilm", "teacher-no-cpt", -0.15, 2.7e-7, "fails",
         "cpt", True, None)]), "03_teacher_finetune", "What this run says", path=claims)
    results.record_claims("t", _claims([
        ("bert6-hybrid beats bert6-point", "bert6-hybrid", "bert6-point", 0.07, 2.9e-8,
         verdicts.fragile("holds", 0.07, -0.012), "hybrid", True, -0.012),
        ("bert6-hybrid beats bert6-margin", "bert6-hybrid", "bert6-margin", 0.001, 0.9, "no significant difference", "hybrid", True, 0.002),
        ("bert6-hybrid beats bert6-labels", "bert6-hybrid", "bert6-labels", 0.15, 1e-7, "holds", "distillation", True, 0.1),
        ("bert6-hybrid keeps >= 90% of teacher-ensemble's NDCG@5", "bert6-hybrid", "teacher-ensemble", -0.1, 1e-5, "fails", "keeps", True, None),
        ("the LLM teacher adds to the student (bert6-hybrid beats bert6-hybrid-no-llm)", "bert6-hybrid", "bert6-hybrid-no-llm", -0.0004, 0.92,
         "no significant difference", "llm-adds", False, None)]), "04_distillation", "6. What this run says", path=claims)
    effects = pd.DataFrame({"Δ ndcg@5": [0.05], "p": [0.0004], "p (BH)": [0.001], "verdict": ["holds"], "against the paper": ["consistent"]},
                           index=["a beats b"])
    results.record_claims("t", effects, "07_effects", "5. The `bm25` effects", path=claims)
    return out


def _page(run):
    rows = results.load_results(run / "results.json")
    return report.front_page("t", run, report.notebook_runs(run), rows, results.load_claims(run / "claims.json")), rows


def test_quality_table_has_a_fixed_order_and_one_row_per_system(run):
    rows = results.load_results(run / "results.json")
    assert report.aliases(rows) == {"teacher-cpt-minilm": "teacher-cpt"}  # identical intervals; the onnx variant has none: no alias
    table = report.quality_table(rows, report.read_setting(run))
    assert list(table.index) == ["random", "bm25", "oracle", "dense-minilm", "teacher-cpt", "teacher-no-cpt", "teacher-ensemble",
                                 "bert6-labels", "bert6-point", "bert6-margin", "bert6-hybrid", "bert6-hybrid-onnx"]
    assert table.loc["teacher-ensemble", "group"] == "teacher (what the students learn from)"
    assert table.loc["teacher-cpt", "group"] == "teacher (the LLM; not the students' teacher)"
    assert table.loc["bm25", "ndcg@5"] == "0.500 [0.450, 0.550]" and table.loc["bert6-hybrid-onnx", "ndcg@5"] == "0.450"
    assert table.loc["bert6-hybrid-onnx", "Δ ndcg@5 vs student"] == "+0.000" and table.loc["bm25", "Δ ndcg@5 vs student"] == ""
    assert table.loc["bert6-hybrid-onnx", "within 06's tolerance"].startswith("no") and table.loc["bm25", "within 06's tolerance"] == ""
    assert report.variant_of("bert6-hybrid-onnx-int8") == "bert6-hybrid" and report.variant_of("bert6-hybrid") is None
    assert report.rename("CPT helps (teacher-cpt-minilm beats x); teacher-cpt-minilm+bm25", {"teacher-cpt-minilm": "teacher-cpt"}) == \
        "CPT helps (teacher-cpt beats x); teacher-cpt-minilm+bm25"  # a fusion of the alias is another system


def test_the_setting_is_read_from_the_runs_files(run):
    s = report.read_setting(run)
    assert (s.students_teacher, s.teacher_source, s.variant, s.architecture, s.llm_parameters, s.llm_shape) == (
        "teacher-ensemble", "embedded", "minilm", "6-layer bert", 1_500_300, "llm-0.5b")
    assert s.llm_weight == 0.05 and s.weights["dense-minilm"] == 0.6
    assert s.llm_words() == "a 6-layer bert decoder (pretrained MiniLM weights run as a causal decoder), 1.5M parameters"


def test_the_verdict_box_has_one_line_per_claim_of_the_paper(run):
    page, rows = _page(run)
    box = {line.key: line for line in page.box}
    assert list(box) == list(verdicts.PAPER_CLAIMS)
    cpt = box["cpt"]  # the alias is named as the system shown
    assert cpt.measured == "teacher-cpt 0.200 [0.150, 0.250] vs teacher-no-cpt 0.350 [0.300, 0.400] (test NDCG@5); Δ ndcg@5 -0.150, p 2.7e-07"
    assert cpt.verdicts == [("fails", "fails")] and "1.5M parameters: the recipe at toy scale, not a 7B LLM" in cpt.why
    assert cpt.link == "03_teacher_finetune.html#What-this-run-says"
    assert box["llm-teacher"].measured.startswith("teacher-cpt 0.200 [0.150, 0.250] vs bm25 0.500")  # the headline test, not "beats random"
    hybrid = box["hybrid"]  # two headline tests: a fragile one is not green
    assert hybrid.verdicts == [("fragile", "vs bert6-point: fragile: holds on test, the other order on dev (dev Δ -0.012)"),
                               ("no significant difference", "vs bert6-margin: no significant difference")]
    assert "Δ ndcg@5 +0.070 (dev -0.012), p 2.9e-08" in hybrid.measured
    assert "in which the LLM weighs 0.05: mostly a BM25 + dense-minilm fusion, not an LLM" in box["distillation"].why
    assert box["keeps"].measured.endswith("share 0.82, threshold 0.90") and box["keeps"].verdicts == [("fails", "fails")]  # 0.45 / 0.55
    assert report._threshold("bert6-hybrid keeps >= 97% of x's NDCG@5") == "0.97"
    latency = box["latency"]  # 12000 : 2400 : 1200 ms
    assert latency.measured.startswith("LLM : BERT-12 : BERT-6 = 10 : 2 : 1 (12,000 / 2,400 / 1,200 ms per batch of 48")
    assert latency.verdicts == [("holds", "BERT-12 : BERT-6 holds (2 vs 2)"), ("not testable", "LLM : BERT-6 not testable (10 vs 10)")]
    online = box["online"]
    assert online.verdicts == [("not testable", "not testable on this profile")] and "same relevance judgments" in online.why


def test_a_claim_of_the_paper_no_test_recorded_is_said_so(run):
    rows = results.load_results(run / "results.json")
    line = report.verdict_box([], rows, report.Setting())[0]
    assert line.measured.startswith("no test of it in claims.json") and line.verdicts == [("not testable", "no test recorded")]
    bare = [r for r in rows if not r.metric.startswith("latency")]
    assert report.verdict_box([], bare, report.Setting())[5].measured == "not measured (notebook 06 did not run)"


def test_names_say_what_the_llm_is_and_what_the_students_learn_from(run):
    page, _ = _page(run)
    llm, students = page.names
    assert "a 6-layer bert decoder (pretrained MiniLM weights run as a causal decoder), 1.5M parameters (`models.teacher: embedded`)" in llm
    assert llm.endswith("0.200 [0.150, 0.250], against BM25 0.500 and random 0.100: far below BM25, nearer chance than BM25.")
    assert "with weights dense-minilm 0.6, bm25 0.35, the LLM (teacher-cpt) 0.05" in students
    assert "effectively distil a BM25 + dense-MiniLM fusion, not an LLM" in students
    assert "bert6-hybrid beats bert6-hybrid-no-llm): Δ ndcg@5 -0.000, p 0.920 (no significant difference)" in students


def test_claims_are_grouped_by_the_papers_claim_and_name_no_alias(run):
    page, _ = _page(run)
    claims = page.claims
    assert list(dict.fromkeys(claims.group)) == ["cpt", "llm-teacher", "distillation", "hybrid", "keeps", "latency", "llm-adds", "07_effects"]
    assert list(claims[claims.group == "llm-teacher"].claim) == ["teacher-cpt beats bm25", "teacher-cpt (the LLM teacher) beats random"]
    assert not claims.claim.str.contains("teacher-cpt-minilm").any()
    cpt = claims.set_index("claim").loc["CPT helps the teacher (teacher-cpt beats teacher-no-cpt)"]
    assert cpt["systems (test)"] == "0.200 [0.150, 0.250] vs 0.350 [0.300, 0.400]" and cpt.p == "2.7e-07"
    recorded = claims.set_index("claim").loc["a beats b"]
    assert recorded.verdict == "holds" and recorded.measured == "Δ ndcg@5 +0.050" and recorded.p == "4.0e-04 (adjusted 0.001)"
    assert recorded.link == "07_effects.html#5.-The-bm25-effects" and recorded.note == "consistent"
    latency = claims.set_index("claim").loc["bert6-hybrid takes at most half the latency of the LLM teacher (teacher-cpt)"]
    assert latency.verdict.startswith("not testable: the embedded teacher-cpt") and latency.measured == "300 ms vs 900 ms per batch of 48 (1 : 3)"
    rows = results.load_results(run / "results.json")
    hub = report.claims_table(results.load_claims(run / "claims.json"), rows).set_index("claim")  # a hub LLM teacher: the claim is testable
    assert hub.loc["bert6-hybrid takes at most half the latency of the LLM teacher (teacher-cpt)"].verdict == "holds"
    close = [r.model_copy(update={"value": 450.0}) if (r.system, r.metric) == ("teacher", "latency_ms@48") else r for r in rows]
    near = report.claims_table(results.load_claims(run / "claims.json"), close).set_index("claim")  # 1 : 1.5 is not "a fraction"
    assert near.loc["bert6-hybrid takes at most half the latency of the LLM teacher (teacher-cpt)"].verdict == "fails"
    embedded = report.claims_table(results.load_claims(run / "claims.json"), close, report.Setting(teacher_source="embedded")).set_index("claim")
    assert embedded.loc["bert6-hybrid takes at most half the latency of the LLM teacher (teacher-cpt)"].verdict.startswith(
        "not testable: the embedded teacher-cpt is")  # the student's own size: no LLM to be faster than
    assert not claims.claim.str.startswith("simulated").any()  # the simulated online rows are no claims


def test_simulated_online_figures_are_a_restatement_and_saturation_has_no_reading(run):
    table = report.online_table(results.load_results(run / "results.json"))
    row = table.loc["bert6-hybrid vs bert6-labels"]
    assert row["offline Δ ndcg@5"] == "+0.150"  # 0.45 - 0.30: the difference the simulation restates
    assert row["simulated PageCTR change [95% CI]"] == "+12.0% [+5.0%, +20.0%]"
    assert row["simulated UserCTR change [95% CI]"] == "+1.0% [+0.3%, +2.0%] (saturated: both arms 0.99-1.00, no reading)"
    assert list(table.index)[-1].startswith("paper: real users") and "verdict" not in table.columns


def test_latency_table_formats_its_numbers(run):
    table = report.latency_table(results.load_results(run / "results.json"))
    assert table.loc["llm", "weights"] == "random (shape only)" and table.loc["bert6-hybrid", "weights"] == "trained"
    assert table.loc["bert6-hybrid", "ms per batch of 48"] == "300" and table.loc["bert6-hybrid", "pairs / s"] == "160"
    assert "teacher-cpt" in table.index and "teacher" not in table.index  # one name per system on the whole page


def test_the_figure_numbers_its_points_and_keeps_the_legend_outside(run):
    rows = results.load_results(run / "results.json")
    fig = report.plot_quality_latency(rows, 48, report.read_setting(run))
    ax = fig.axes[0]
    legend = ax.get_legend()
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels == ["1  bert6-hybrid-onnx (deployed): 250 ms, 0.450", "2  bert6-hybrid: the student: 300 ms, 0.450",
                      "3  teacher-cpt: the LLM, not the students' teacher: 900 ms, 0.200"]
    fig.canvas.draw()
    assert legend.get_window_extent().x0 > ax.get_window_extent().x1  # outside the data
    texts = [t.get_text() for t in ax.texts]
    assert "teacher-ensemble: what the students learn from (not timed)" in texts and not any("the LLM teacher" in t for t in texts)
    plt.close(fig)
    # close points get different offsets for their numbers; far ones the first
    assert report.label_offsets([100, 102, 104, 1000], [0.45, 0.45, 0.46, 0.45]) == [(7, 5), (7, -13), (-15, 5), (7, 5)]


def test_write_report_front_page_and_results_md_agree(run):
    index = report.write_report("t")
    page = index.read_text()
    assert (index.parent / report.FIGURE).is_file() and f"src='{report.FIGURE}'" in page
    headings = ("The paper's claims at a glance", "What the names mean", "Every claim, by the paper's claim", "Simulated online A/B",
                "Ranking quality on test", "Quality against latency", "Latency and cost", "What was run")
    order = [re.search(rf"<h2[^>]*>{re.escape(h)}", page).start() for h in headings]
    assert order == sorted(order)
    md = (run / "results.md").read_text()
    assert [md.index(f"## {h}") for h in headings] == sorted(md.index(f"## {h}") for h in headings)
    assert "[a beats b](report/07_effects.html#5.-The-bm25-effects)" in md and "cranfield (../shared/data/cranfield)" in md
    assert "data-aliases='teacher-cpt-minilm=teacher-cpt'" in page and page.count("<td>teacher-cpt-minilm") == 0
    assert "class='fragile'" in page and "class='nt'" in page
    # the injected parameters cell: in the executed notebook, not on its page
    assert "secret_injected_value" in (run / "03_teacher_finetune.ipynb").read_text()
    assert "secret_injected_value" not in (index.parent / "03_teacher_finetune.html").read_text()
    shown = (index.parent / "03_teacher_finetune.html").read_text()  # the cells left are numbered from 1
    assert re.search(r"\[1\]:", shown) and not re.search(r"\[2\]:", shown)
    assert pagecheck.static_problems(index.parent) == []


def test_static_checks_find_broken_pages(run):
    index = report.write_report("t")
    folder = index.parent
    assert pagecheck.static_problems(folder) == []
    (folder / "extra.html").write_text("<html><body><img src='gone.png'><table><tr><th>x</th></tr></table>"
                                       "<pre>Traceback (most recent call last):</pre></body></html>")
    problems = pagecheck.static_problems(folder)
    assert any("gone.png" in p for p in problems) and any("no cell" in p for p in problems) and any("traceback" in p for p in problems)
    (folder / "extra.html").unlink()
    index.write_text(index.read_text().replace("#5.-The-bm25-effects", "#5.-Gone"))
    assert pagecheck.static_problems(folder) == ["index.html: link to missing section '07_effects.html#5.-Gone'"]


def test_browser_check_renders_the_pages(run):
    browser = pagecheck.chromium()
    if browser is None:
        pytest.skip("no Chromium here (apt-get install chromium): .ci/run installs it")
    folder = report.write_report("t").parent
    assert pagecheck.browser_problems(folder, browser) == []
    (folder / "broken.html").write_text("<html><body><img src='data:image/png;base64,AAAAAAAAAAAAAAAAAAAA'><table></table></body></html>")
    assert pagecheck.browser_problems(folder, browser) == ["broken.html (browser): image 'data:image/png;base64,AAAAAAAAAAAAAAAAAAAA' did not load",
                                                           "broken.html (browser): 1 table(s) with no cell"]


def _as_profile(run, profile: str, params_file) -> None:
    """`run`'s outputs copied to `<outputs>/<profile>/`, its notebooks run from `params_file`."""
    out = run.parent / profile
    shutil.copytree(run, out)
    for path in out.glob("[0-9][0-9]_*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        nb.metadata["papermill"]["parameters"]["params_file"] = str(params_file)
        nbformat.write(nb, str(path))


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    """A stand-in repository root (params/, README.md with the findings markers) that
    `report.repo_root` points at, so that no test writes into the real docs/ or README."""
    root = tmp_path / "repo"
    (root / "params").mkdir(parents=True)
    for name in ("default", "smoke"):
        (root / "params" / f"{name}.yaml").write_text(f"profile: {name}\n")
    (root / "README.md").write_text(f"# x\n\nbefore\n{report.FINDINGS[0]}\nold line\n{report.FINDINGS[1]}\nafter\n")
    monkeypatch.setattr(report, "repo_root", lambda: root)
    return root


def test_a_committed_profile_writes_its_results_page_and_readmes_findings(run, checkout):
    _as_profile(run, "default", checkout / "params" / "default.yaml")
    report.write_report("default")
    page = (checkout / "docs" / "results" / "default.md").read_text()
    title, blank, note = page.splitlines()[:3]
    assert title.startswith("# distilrank") and blank == ""
    assert "make report PROFILE=default" in note and "a test machine" in note and "Do not edit it by hand" in note
    assert "](report/" not in page and "[a beats b]" not in page and "| a beats b |" in page  # local report links made plain
    assert f"(figure: outputs/default/report/{report.FIGURE} after `make report`)" in page
    readme = (checkout / "README.md").read_text()
    assert readme.startswith("# x\n\nbefore\n") and readme.endswith(f"{report.FINDINGS[1]}\nafter\n") and "old line" not in readme
    block = readme.split(report.FINDINGS[0], 1)[1].split(report.FINDINGS[1], 1)[0].strip().splitlines()
    *block, blank, walls = block
    assert blank == "" and walls.startswith("Wall time of that run, per notebook (m:ss): ") and "in all, on a test machine" in walls
    assert len(block) == len(verdicts.PAPER_CLAIMS) <= 7
    assert block[0] == f"- [{verdicts.GROUPS['cpt']}](docs/results/default.md#{report.BOX_ANCHOR}): fails"
    assert all(line.startswith("- [") and "](docs/results/default.md#" in line for line in block)
    report.write_report("default")  # idempotent: the block is replaced, not added to
    assert (checkout / "README.md").read_text() == readme


def test_other_profiles_write_nothing_into_the_checkout(run, checkout, tmp_path):
    report.write_report("t")  # not a committed profile
    _as_profile(run, "smoke", checkout / "params" / "smoke.yaml")  # committed params file, but a test profile
    report.write_report("smoke")
    elsewhere = tmp_path / "mine.yaml"
    elsewhere.write_text("profile: default\n")
    _as_profile(run, "default", elsewhere)  # the default's name, from a params file kept elsewhere
    report.write_report("default")
    assert not (checkout / "docs").exists()
    assert "old line" in (checkout / "README.md").read_text()


def test_readme_markers_missing_is_an_error():
    assert report.replace_between("a\n<!-- s -->\nold\n<!-- e -->\nb", ("<!-- s -->", "<!-- e -->"), "new") == "a\n<!-- s -->\nnew\n<!-- e -->\nb"
    with pytest.raises(ValueError, match="markers"):
        report.replace_between("no markers here", report.FINDINGS, "new")


def test_wall_times_print_as_minutes_and_seconds_alike():
    assert [report.wall_clock(s) for s in (120.0, 123.4, 59.6, 3599.6)] == ["2:00", "2:03", "1:00", "60:00"]  # never 2.0 beside 1.8



def test_readmes_wall_time_line_names_each_notebook_and_the_total():
    runs = pd.DataFrame({"notebook": ["01_data_prep", "04_distillation"], "seconds": [16.4, 877.0], "errors": [0, 0]})
    line = report.wall_times_line(runs, "a 2-core CPU; precision fp32")
    assert line == "Wall time of that run, per notebook (m:ss): 01 0:16 · 04 14:37; 14:53 in all, on a 2-core CPU; precision fp32."


def test_a_timed_student_is_plotted_as_the_seed_it_was_timed_and_exported_from():
    def row(system, metric, value, lo=None, hi=None):
        return results.ResultRow(system=system, metric=metric, value=value, ci_low=lo, ci_high=hi, profile="t", commit="c")
    rows = [row("bert6-hybrid", "ndcg@5", 0.44, 0.38, 0.50), row("bert6-hybrid-cpu-fp32", "ndcg@5", 0.45),
            row("bert6-hybrid", "latency_ms@48", 300.0), row("bert6-hybrid-onnx", "ndcg@5", 0.45), row("bert6-hybrid-onnx", "latency_ms@48", 200.0),
            row("dense-minilm", "ndcg@5", 0.49, 0.43, 0.55), row("dense-minilm", "latency_ms@48", 100.0)]
    points = report.quality_latency_points(rows).set_index("system")
    assert points.loc["bert6-hybrid (first seed)", "ndcg@5"] == 0.45 and pd.isna(points.loc["bert6-hybrid (first seed)", "ci_low"])
    assert points.loc["bert6-hybrid (first seed)", "group"] == "student" and "bert6-hybrid" not in points.index
    assert points.loc["dense-minilm", "ndcg@5"] == 0.49  # no first-seed row: its own
    assert report.point_words("bert6-hybrid (first seed)", report.Setting()) == "bert6-hybrid (first seed): the student"


def test_the_regenerate_command_sets_again_what_the_run_was_forced_to(tmp_path):
    assert report.run_environment(tmp_path) == ""  # nothing recorded
    (tmp_path / "hardware.json").write_text(json.dumps({"precision": {"requested": "auto", "source": "profile"}}))
    assert report.run_environment(tmp_path) == ""
    (tmp_path / "hardware.json").write_text(json.dumps({"precision": {"requested": "fp32", "source": "DISTILRANK_PRECISION"},
                                                        "isa_caps": {"ATEN_CPU_CAPABILITY": "avx2"}}))
    assert report.run_environment(tmp_path) == "DISTILRANK_PRECISION=fp32 ATEN_CPU_CAPABILITY=avx2 "


def test_the_online_table_reads_the_offline_difference_of_the_rankings_simulated():
    def row(system, metric, value):
        return results.ResultRow(system=system, metric=metric, value=value, profile="t", commit="c")
    rows = [row("a", "ndcg@5", 0.40), row("b", "ndcg@5", 0.44), row("b vs a", "sim_page_ctr_change", 0.02)]
    assert report.online_table(rows).loc["b vs a", "offline Δ ndcg@5"] == "+0.040"  # the seed means, when 09 recorded none
    rows.append(row("b vs a", "offline_ndcg@5_change", 0.035))  # 09's own: its first-seed rankings
    assert report.online_table(rows).loc["b vs a", "offline Δ ndcg@5"] == "+0.035"
