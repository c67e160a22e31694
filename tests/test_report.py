"""The front page (`make report`) on a small made-up run, and the page checks on it."""

import nbformat
import pandas as pd
import pytest

from distilrank import pagecheck, report, results


def _row(system, metric, value, lo=None, hi=None):
    return {"system": system, "metric": metric, "value": value, "ci_low": lo, "ci_high": hi, "n_queries": 10}


@pytest.fixture
def run(tmp_path, monkeypatch):
    """outputs/t/ with four executed notebooks, results.json and claims.json."""
    monkeypatch.setenv("DISTILRANK_OUTPUTS", str(tmp_path))
    out = tmp_path / "t"
    for name, heading in (("01_data", "## 1. Data"), ("06_latency", f"## {report.LATENCY_SECTION}"), ("07_effects", "## 5. The `bm25` effects"),
                          ("09_online_simulation", f"## {report.ONLINE_SECTION}")):
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_markdown_cell(f"# {name}\n\n{heading}"), nbformat.v4.new_code_cell("1 + 1")]
        nb.cells[1].outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "2"}, execution_count=1)]
        nb.metadata["papermill"] = {"duration": 90.0, "parameters": {"data": {"source": "cranfield", "path": "../shared/data/cranfield"}}}
        out.mkdir(exist_ok=True)
        nbformat.write(nb, str(out / f"{name}.ipynb"))
    path = out / "results.json"
    results.record("t", [_row("bert6-hybrid", "ndcg@5", 0.40, 0.35, 0.45), _row("teacher-cpt", "ndcg@5", 0.55, 0.5, 0.6),
                         _row("bm25", "ndcg@5", 0.5, 0.45, 0.55), _row("dense-minilm", "ndcg@5", 0.45, 0.4, 0.5),
                         _row("oracle", "ndcg@5", 0.8, 0.75, 0.85), _row("random", "ndcg@5", 0.1, 0.05, 0.15),
                         _row("bert6-hybrid-onnx", "ndcg@5", 0.40)], path)
    results.record("t", [{**_row(s, "latency_ms@48", ms), "n_queries": None} for s, ms in
                         (("teacher", 900.0), ("llm", 20000.0), ("bert-6", 1500.0), ("bert6-hybrid", 300.0), ("bert6-hybrid-onnx", 250.0))]
                   + [{**_row("bert6-hybrid", "pairs_per_s@48", 160.0), "n_queries": None},
                      _row("bert6-hybrid vs bert6-labels", "sim_page_ctr_change", 0.12, 0.05, 0.2),
                      _row("bert6-hybrid vs bm25", "sim_page_ctr_change", -0.01, -0.05, 0.03)], path)
    claims = pd.DataFrame({"Δ ndcg@5": [0.05], "p": [0.0004], "p (BH)": [0.001], "verdict": ["holds"], "against the paper": ["consistent"]},
                          index=["a beats b"])
    results.record_claims("t", claims, "07_effects", "5. The `bm25` effects", path=out / "claims.json")
    return out


def test_quality_table_has_a_fixed_meaningful_order(run):
    rows = results.load_results(run / "results.json")
    table = report.quality_table(rows)
    assert list(table.index) == ["random", "bm25", "oracle", "dense-minilm", "teacher-cpt", "bert6-hybrid", "bert6-hybrid-onnx"]
    assert list(table.group) == ["reference"] * 3 + ["first stage", "teacher", "student", "deployed variant"]
    assert table.loc["bm25", "ndcg@5"] == "0.500 [0.450, 0.550]" and table.loc["bert6-hybrid-onnx", "ndcg@5"] == "0.400"
    assert table.loc["bert6-hybrid-onnx", "Δ ndcg@5 vs student"] == "+0.000" and table.loc["bm25", "Δ ndcg@5 vs student"] == ""
    assert report.variant_of("bert6-hybrid-onnx-int8") == "bert6-hybrid" and report.variant_of("bert6-hybrid") is None
    assert "ndcg@5 sd across seeds" not in table.columns  # no system was trained with several seeds
    seeded = [*rows, rows[0].model_copy(update={"system": "bert6-hybrid", "metric": "ndcg@5_seed_sd", "value": 0.0123, "ci_low": None,
                                                "ci_high": None})]
    spread = report.quality_table(seeded)["ndcg@5 sd across seeds"]
    assert spread["bert6-hybrid"] == "0.012" and spread["bm25"] == ""


def test_claims_table_links_each_claim_to_its_section(run):
    stored = results.load_claims(run / "claims.json")
    claims = report.claims_table(stored, results.load_results(run / "results.json")).set_index("claim")
    recorded = claims.loc["a beats b"]
    assert recorded.verdict == "holds" and recorded.measured == "Δ ndcg@5 +0.050" and recorded.p == "4.0e-04 (adjusted 0.001)"
    assert recorded.link == "07_effects.html#5.-The-bm25-effects"
    latency = claims.loc["bert6-hybrid takes at most half the latency of this project's teacher (teacher-cpt)"]
    assert latency.verdict == "holds" and "(1 : 3.0)" in latency.measured
    rows = results.load_results(run / "results.json")
    close = [r.model_copy(update={"value": 450.0}) if (r.system, r.metric) == ("teacher", "latency_ms@48") else r for r in rows]
    near = report.claims_table(stored, close).set_index("claim")  # 1 : 1.5 is not "a fraction"
    assert near.loc["bert6-hybrid takes at most half the latency of this project's teacher (teacher-cpt)"].verdict == "fails"
    online = claims.loc["simulated online: bert6-hybrid raises PageCTR over bert6-labels"]
    assert online.verdict == "holds" and "easy bar" not in online.note  # bert6-labels trains on first-stage lists: no shortcut to warn of
    assert claims.loc["simulated online: bert6-hybrid raises PageCTR over bm25"].verdict == "no significant difference"
    assert list(claims.notebook) == sorted(claims.notebook)


def test_latency_table_has_units_and_marks_shape_only_models(run):
    table = report.latency_table(results.load_results(run / "results.json"))
    assert table.loc["llm", "weights"] == "random (shape only)" and table.loc["bert6-hybrid", "weights"] == "trained"
    assert table.loc["bert6-hybrid", "ms per batch of 48"] == 300.0 and table.loc["bert6-hybrid", "pairs / s"] == 160


def test_write_report_front_page_and_results_md_agree(run):
    index = report.write_report("t")
    page = index.read_text()
    assert (index.parent / report.FIGURE).is_file() and f"src='{report.FIGURE}'" in page
    order = [page.index(h) for h in ("What was run", "Claims", "Ranking quality on test", "Quality against latency", "Latency and cost")]
    assert order == sorted(order)
    md = (run / "results.md").read_text()
    order_md = [md.index(h) for h in ("## What was run", "## Claims", "## Ranking quality", "## Quality against latency", "## Latency and cost")]
    assert order_md == sorted(order_md)
    assert "[a beats b](report/07_effects.html#5.-The-bm25-effects)" in md and "cranfield (../shared/data/cranfield)" in md
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
