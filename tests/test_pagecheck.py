"""The page checks' number and alias rules, on tiny hand-written pages that pass and fail."""

import pytest

from distilrank import pagecheck


def _pages(tmp_path, **pages):
    for name, body in pages.items():
        (tmp_path / f"{name}.html").write_text(f"<html><body>{body}</body></html>")
    return {p.name: pagecheck.parse_page(p) for p in sorted(tmp_path.glob("*.html"))}


def _numbers(tmp_path, body):
    page = _pages(tmp_path, nb=body)["nb.html"]
    return pagecheck.number_problems("nb.html", page.grids)


# a pandas table as nbconvert renders it: a header row in <thead>, the index as <th> in the body
PANDAS = ("<table class='dataframe'><thead><tr><th></th><th>Δ</th><th>p</th><th>queries</th></tr></thead>"
          "<tbody><tr><th>a beats b</th><td>{d}</td><td>{p}</td><td>{n}</td></tr></tbody></table>")


def test_sound_numbers_pass(tmp_path):
    body = PANDAS.format(d="0.0686", p="1.8e-13", n="75") + PANDAS.format(d="-0.0004", p="0.038", n="1,400")
    body += ("<table><tr><th>system</th><th>note</th></tr><tr><td>x</td><td>torch 2.13.0+cpu; +1.0%; lr 1.0e-4; "
             "p &lt; 0.001; v1.0; 0.513 [0.455, 0.568]</td></tr></table>")
    assert _numbers(tmp_path, body) == []


@pytest.mark.parametrize(("cell", "what"), [
    ("570.23071", "'570.23071' prints more than 4 decimals"),
    ("0.952111", "'0.952111' prints more than 4 decimals"),
    ("75.0", "'75.0' prints an integer as a float"),
    ("22713601.0", "'22713601.0' prints an integer as a float"),
    ("11,374.0 ms", "'11,374.0' prints an integer as a float"),
])
def test_a_cell_with_too_many_decimals_or_an_integer_as_a_float_fails(tmp_path, cell, what):
    assert _numbers(tmp_path, PANDAS.format(d=cell, p="0.5", n="3")) == [f"nb.html: table 1: {what} (in {cell!r})"]


@pytest.mark.parametrize("p", ["0.0000", "0.000", "0", "0.0e+00"])
def test_a_p_value_printed_as_zero_fails(tmp_path, p):
    problems = _numbers(tmp_path, PANDAS.format(d="0.1", p=p, n="3"))
    assert any("a p-value printed as zero" in q for q in problems), problems


def test_p_zero_in_running_text_fails_and_a_zero_outside_a_p_column_passes(tmp_path):
    text = "<table><tr><th>claim</th><th>measured</th></tr><tr><td>x</td><td>Δ +0.069, p 0.0000</td></tr></table>"
    assert _numbers(tmp_path, text) == ["nb.html: table 1: a p-value printed as zero ('Δ +0.069, p 0.0000'): print it as 1.8e-13"]
    # a Δ of 0.000 is a number like any other; the column header "pnr" is no p column
    zero = ("<table><tr><th>system</th><th>pnr</th><th>Δ</th></tr><tr><td>x</td><td>0.000</td><td>+0.000</td></tr></table>")
    assert _numbers(tmp_path, zero) == []


INDEX = ("<h2>Ranking quality</h2><table><tr><th>system</th><th>group</th><th>pnr</th><th>ndcg@5</th></tr>"
         "<tr><td>teacher-cpt</td><td>teacher</td><td>1.365 [1.147, 1.625]</td><td>0.221 [0.172, 0.270]</td></tr>"
         "<tr><td>{second}</td><td>teacher</td><td>{pnr}</td><td>0.221 [0.172, 0.270]</td></tr>"
         "<tr><td>bert6-hybrid-onnx</td><td>deployed variant</td><td>3.564</td><td>0.452</td></tr>"
         "<tr><td>bert6-hybrid-cpu-fp32</td><td>deployed variant</td><td>3.564</td><td>0.452</td></tr></table>{extra}")
CLAIMS = ("<table class='claims'><tr><th>claim</th><th>measured</th><th>p</th><th>verdict</th></tr>"
          "<tr><td>{claim}</td><td>Δ ndcg@5 -0.148</td><td>2.7e-07</td><td>fails</td></tr></table>")


def test_two_system_rows_with_the_same_scores_fail(tmp_path):
    same = _pages(tmp_path, index=INDEX.format(second="teacher-cpt-minilm", pnr="1.365 [1.147, 1.625]", extra=""))
    assert pagecheck.alias_problems(same) == [
        "index.html: table 1: 'teacher-cpt' and 'teacher-cpt-minilm' show the same scores: one system under two names"]
    # another system's scores, or deployed variants without intervals (a faithful export ranks like its model): no alias
    other = _pages(tmp_path, index=INDEX.format(second="teacher-no-cpt", pnr="2.738 [2.270, 3.384]", extra=""))
    assert pagecheck.alias_problems(other) == []


def test_a_claim_naming_a_declared_alias_fails(tmp_path):
    declared = "<p class='aliases' data-aliases='teacher-cpt-minilm=teacher-cpt'>teacher-cpt (also recorded as teacher-cpt-minilm)</p>"
    index = INDEX.format(second="teacher-no-cpt", pnr="2.738 [2.270, 3.384]", extra=declared)
    pages = _pages(tmp_path, index=index + CLAIMS.format(claim="CPT helps the teacher (teacher-cpt beats teacher-no-cpt)"),
                   nb=CLAIMS.format(claim="CPT helps the teacher (teacher-cpt-minilm beats teacher-no-cpt)"))
    assert pagecheck.alias_problems(pages) == [
        "nb.html: table 1: a claim names 'teacher-cpt-minilm', which repeats 'teacher-cpt''s scores (an alias)"]
    # a system whose name starts with the alias's (its fusion with BM25) is another system
    fused = _pages(tmp_path, index=index, nb=CLAIMS.format(claim="teacher-cpt-minilm+bm25 beats bm25"))
    assert pagecheck.alias_problems(fused) == []
    row = _pages(tmp_path, index=INDEX.format(second="teacher-cpt-minilm", pnr="2.738 [2.270, 3.384]", extra=declared), nb="")
    assert pagecheck.alias_problems(row) == ["index.html: table 1: a row for 'teacher-cpt-minilm', an alias of 'teacher-cpt'"]


def test_static_problems_run_the_number_and_alias_rules(tmp_path):
    _pages(tmp_path, index=INDEX.format(second="teacher-cpt-minilm", pnr="1.365 [1.147, 1.625]", extra=""),
           nb=PANDAS.format(d="75.0", p="0.0000", n="3"))
    problems = pagecheck.static_problems(tmp_path)
    assert problems == ["nb.html: table 1: '75.0' prints an integer as a float (in '75.0')",
                        "nb.html: table 1: a p-value printed as zero ('0.0000'): print it as 1.8e-13",
                        "index.html: table 1: 'teacher-cpt' and 'teacher-cpt-minilm' show the same scores: one system under two names"]
