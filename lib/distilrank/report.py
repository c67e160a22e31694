"""The report of one profile's run: every executed notebook as HTML (nbconvert), an index page,
and `results.md` beside `results.json` (`make report PROFILE=...`).

The index and `results.md` carry the results table (value and 95% CI per system and metric), each
notebook's wall time (papermill's record in the executed notebook) and the hardware the run
recorded (`hardware.json`, written by every notebook as it starts: `runtime.start_run`; it
describes the machine and precision of the notebook that ran last).
"""

from __future__ import annotations

import html
import json
import sys
from pathlib import Path

import nbformat
import pandas as pd
from nbconvert import HTMLExporter

from distilrank.paths import atomic_path, output_dir
from distilrank.results import ResultRow, load_results

QUALITY = ("pnr", "ndcg@5", "ndcg@10", "mrr@10")


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


def _cell(r: ResultRow) -> str:
    if r.ci_low is None or r.ci_high is None:
        return f"{r.value:.3f}"
    return f"{r.value:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}]"


def quality_table(rows: list[ResultRow]) -> pd.DataFrame:
    """Systems x quality metrics (PNR, NDCG@5, NDCG@10, MRR@10), cells 'value [ci_low, ci_high]'."""
    cells: dict[str, dict[str, str]] = {}
    for r in rows:
        if r.metric in QUALITY:
            cells.setdefault(r.system, {})[r.metric] = _cell(r)
    table = pd.DataFrame.from_dict(cells, orient="index")
    return table.reindex(columns=[m for m in QUALITY if m in table.columns]).fillna("")


def other_rows(rows: list[ResultRow]) -> pd.DataFrame:
    """Every row that is not a quality metric (latency, teacher share, ...), as a long table."""
    return pd.DataFrame([{"system": r.system, "metric": r.metric, "value": r.value} for r in rows if r.metric not in QUALITY],
                        columns=["system", "metric", "value"])


def markdown_table(df: pd.DataFrame, index: str) -> str:
    """A pipe table (no `tabulate` dependency)."""
    cols = [index, *map(str, df.columns)]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for key, row in df.iterrows():
        lines.append("| " + " | ".join([str(key), *(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row)]) + " |")
    return "\n".join(lines)


def hardware(out: Path) -> str:
    """The hardware and precision the run recorded (`hardware.json`, written by the notebook that
    ran last), or a note that it did not."""
    path = out / "hardware.json"
    if not path.is_file():
        return "not recorded (every notebook writes hardware.json as it starts)"
    return json.loads(path.read_text())["summary"]


def results_markdown(profile: str, rows: list[ResultRow], runs: pd.DataFrame, machine: str) -> str:
    """`results.md`: the quality table, the other measured rows, the wall times and the hardware."""
    commits = sorted({r.commit for r in rows})
    parts = [f"# distilrank results: profile `{profile}`", "",
             f"Regenerate: `make replicate PROFILE={profile} && make report PROFILE={profile}`. "
             f"Hardware: {machine}. Commit(s): {', '.join(commits) or 'none'}.", "",
             "## Ranking quality on test (value [95% bootstrap CI])", "", markdown_table(quality_table(rows), "system")]
    other = other_rows(rows)
    if not other.empty:
        parts += ["", "## Other measured rows", "", markdown_table(other.set_index("system"), "system")]
    if not runs.empty:
        walls = runs.set_index("notebook")[["seconds"]].assign(minutes=lambda d: (d.seconds / 60).round(1))
        parts += ["", "## Wall time per notebook", "", markdown_table(walls[["minutes"]], "notebook"),
                  "", f"Total: {runs.seconds.sum() / 60:.1f} min."]
    return "\n".join(parts) + "\n"


def _index_html(profile: str, runs: pd.DataFrame, rows: list[ResultRow], machine: str) -> str:
    links = "".join(f'<li><a href="{html.escape(r.notebook)}.html">{html.escape(r.notebook)}</a> '
                    f"({r.seconds / 60:.1f} min{', ' + str(r.errors) + ' errors' if r.errors else ''})</li>"
                    for r in runs.itertuples())
    other = other_rows(rows)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>distilrank: {html.escape(profile)}</title>"
            "<style>body{font-family:sans-serif;max-width:70em;margin:2em auto}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:.2em .6em}</style></head><body>"
            f"<h1>distilrank report: profile <code>{html.escape(profile)}</code></h1>"
            f"<p>Hardware: {html.escape(machine)}. Total wall time {runs.seconds.sum() / 60:.1f} min.</p>"
            f"<h2>Executed notebooks</h2><ol>{links}</ol>"
            f"<h2>Ranking quality on test</h2>{quality_table(rows).to_html(escape=True)}"
            + (f"<h2>Other measured rows</h2>{other.to_html(index=False, escape=True)}" if not other.empty else "")
            + "</body></html>\n")


def write_report(profile: str) -> Path:
    """Render `outputs/<profile>/`'s executed notebooks to `report/*.html` with `report/index.html`,
    and write `results.md`; returns the index path. Errors when nothing was executed."""
    out = output_dir(profile)
    runs = notebook_runs(out)
    if runs.empty:
        raise FileNotFoundError(f"no executed notebooks in {out}: run `make replicate PROFILE={profile}` first")
    rows = load_results(out / "results.json") if (out / "results.json").is_file() else []
    machine = hardware(out)
    exporter = HTMLExporter(template_name="lab")
    for name in runs.notebook:
        body, _ = exporter.from_notebook_node(nbformat.read(out / f"{name}.ipynb", as_version=4))
        with atomic_path(out / "report" / f"{name}.html") as tmp:
            tmp.write_text(body, encoding="utf-8")
    with atomic_path(out / "report" / "index.html") as tmp:
        tmp.write_text(_index_html(profile, runs, rows, machine), encoding="utf-8")
    with atomic_path(out / "results.md") as tmp:
        tmp.write_text(results_markdown(profile, rows, runs, machine), encoding="utf-8")
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
