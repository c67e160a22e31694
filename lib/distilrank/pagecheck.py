"""Check `make report`'s pages as a reader's browser shows them: no broken image, no empty table,
no Python traceback, no front-page link to a page or section that is not there, no number printed
in a way that misleads, and no system under two names.

`static_problems` reads the HTML files (stdlib parser; links and anchors, images' files, tables,
tracebacks, `number_problems` and `alias_problems` on every table). `browser_problems` opens each
page in headless Chromium and asks the rendered page (images that failed to decode or load, tables
with no cell, traceback text). Both return a list of problems, empty when the pages are sound.
`python -m distilrank.pagecheck PROFILE` runs both and exits non-zero on any problem
(`make check-report`).

The number rules, on every table cell of every page: no number with more than 4 decimals
(570.23071), no integer printed as a float (75.0, 22713601.0), no p-value printed as zero (0.0000 in
a p column, or "p 0.0000" in any cell). The alias rules: on the front page, no two rows of a
`system` table with the same interval in every metric, and on any page, no row of a claims table
(one with a `verdict` column) naming a system the front page declares an alias of another
(`data-aliases`: its scores are the other's).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from distilrank.paths import output_dir

TRACEBACK = "Traceback (most recent call last)"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")
PROBE = """<script>window.addEventListener('load', () => {
  const broken = [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => (i.getAttribute('src') || '').slice(0, 80));
  const empty = [...document.querySelectorAll('table')].filter(t => !t.querySelector('td')).length;
  const pre = document.createElement('pre'); pre.id = '__pagecheck';
  pre.textContent = JSON.stringify({broken, empty, traceback: document.body.innerText.includes('@TRACEBACK@')});
  document.body.appendChild(pre);
});</script>""".replace("@TRACEBACK@", TRACEBACK)


@dataclass
class Table:
    """One table's rows, each a list of (text, is a header cell); a cell spanning k columns
    repeated k times, so that columns line up."""

    rows: list[list[tuple[str, bool]]] = field(default_factory=list)
    head: int = 0  # the first rows inside <thead>

    def header(self) -> list[str]:
        """The column labels: the first header row that names a column (all its cells header
        cells), empty when the table has none."""
        for i, row in enumerate(self.rows):
            if (i < self.head or all(h for _, h in row)) and any(t.strip() for t, _ in row):
                return [t.strip() for t, _ in row]
        return []

    def body(self) -> list[list[str]]:
        """Rows that are not header rows, as their cells' texts."""
        return [[t.strip() for t, _ in row] for i, row in enumerate(self.rows) if not (i < self.head or all(h for _, h in row))]


class _Page(HTMLParser):
    """What the checks need from one page: ids, links, image sources, tables' cell counts and
    cells, declared aliases, text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.images: list[str] = []
        self.tables: list[int] = []
        self.grids: list[Table] = []
        self.aliases: dict[str, str] = {}
        self._open: list[int] = []
        self._grids: list[Table] = []
        self._cell: list | None = None  # [text parts, header?, colspan]
        self._in_head = False
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if a.get("data-aliases"):
            self.aliases.update(dict(pair.split("=", 1) for pair in a["data-aliases"].split() if "=" in pair))
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "img":
            self.images.append(a.get("src") or "")
        elif tag == "table":
            self._open.append(0)
            self._grids.append(Table())
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr" and self._grids:
            self._grids[-1].rows.append([])
            if self._in_head:
                self._grids[-1].head = len(self._grids[-1].rows)
        elif tag in ("td", "th") and self._grids:
            if tag == "td":
                self._open[-1] += 1
            span = a.get("colspan") or "1"
            self._cell = [[], tag == "th", int(span) if span.isdigit() else 1]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._grids:
            parts, header, span = self._cell
            if not self._grids[-1].rows:
                self._grids[-1].rows.append([])
            self._grids[-1].rows[-1].extend([(" ".join("".join(parts).split()), header)] * span)
            self._cell = None
        elif tag == "thead":
            self._in_head = False
        elif tag == "table" and self._open:
            self.tables.append(self._open.pop())
            self.grids.append(self._grids.pop())

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell[0].append(data)


# the number rules: a number token with more than 4 decimals; an integer printed as a float; a p printed as zero
TOO_PRECISE = re.compile(r"(?<![\w.])-?\d+\.\d{5,}")
INTEGER_AS_FLOAT = re.compile(r"(?<![\w.,])-?\d[\d,]*\.0(?![\w.%])")
P_COLUMN = re.compile(r"^p(\s|\(|-value|$)", re.IGNORECASE)
ZERO_NUMBER = re.compile(r"^[+-]?0*\.?0*(e[+-]?\d+)?$", re.IGNORECASE)
ZERO_P_TEXT = re.compile(r"(?<![\w])p\s*[=:]?\s*0\.0+(?![\d])")
INTERVAL = re.compile(r"^-?\d+\.\d+ \[-?\d+\.\d+, -?\d+\.\d+\]$")


def number_problems(name: str, tables: list[Table]) -> list[str]:
    """The number rules on every body cell of `tables` (page `name`): more than 4 decimals, an
    integer as `x.0`, a p-value printed as zero (a cell of a p column, or `p 0.0000` in any cell)."""
    problems = []
    for k, table in enumerate(tables, start=1):
        header = table.header()
        p_columns = {j for j, label in enumerate(header) if P_COLUMN.match(label)}
        for row in table.body():
            for j, cell in enumerate(row):
                if m := TOO_PRECISE.search(cell):
                    problems.append(f"{name}: table {k}: {m.group(0)!r} prints more than 4 decimals (in {cell[:60]!r})")
                if m := INTEGER_AS_FLOAT.search(cell):
                    problems.append(f"{name}: table {k}: {m.group(0)!r} prints an integer as a float (in {cell[:60]!r})")
                zero_cell = j in p_columns and cell and any(ch.isdigit() for ch in cell) and ZERO_NUMBER.match(cell)
                if zero_cell or ZERO_P_TEXT.search(cell):
                    problems.append(f"{name}: table {k}: a p-value printed as zero ({cell[:60]!r}): print it as 1.8e-13")
    return problems


def alias_problems(pages: dict[str, _Page]) -> list[str]:
    """The alias rules: on `index.html`, two rows of a table whose first column is `system` with the
    same interval in every metric cell (at least two); on any page, a row of a claims table (one
    with a `verdict` column) or a `system` row of the front page naming a system the front page
    declares an alias (`data-aliases="alias=shown ..."`)."""
    problems = []
    index = pages.get("index.html")
    declared = index.aliases if index else {}
    if index is not None:
        for k, table in enumerate(index.grids, start=1):
            header = table.header()
            if not header or header[0] != "system":
                continue
            seen: dict[tuple, str] = {}
            for row in table.body():
                if not row:
                    continue
                cells = tuple((j, c) for j, c in enumerate(row) if j and INTERVAL.match(c))
                if row[0] in declared:
                    problems.append(f"index.html: table {k}: a row for {row[0]!r}, an alias of {declared[row[0]]!r}")
                if len(cells) < 2:
                    continue
                if cells in seen:
                    problems.append(f"index.html: table {k}: {seen[cells]!r} and {row[0]!r} show the same scores: one system under two names")
                seen.setdefault(cells, row[0])
    if declared:
        tokens = {a: re.compile(rf"(?<![\w@+.-]){re.escape(a)}(?![\w@+-])") for a in declared}
        for name, page in pages.items():
            for k, table in enumerate(page.grids, start=1):
                if "verdict" not in table.header():
                    continue
                for row in table.body():
                    text = " ".join(row)
                    for alias, pattern in tokens.items():
                        if pattern.search(text):
                            problems.append(f"{name}: table {k}: a claim names {alias!r}, which repeats {declared[alias]!r}'s scores (an alias)")
    return problems


def parse_page(path: Path) -> _Page:
    """The parsed page at `path`."""
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def static_problems(report_dir: Path) -> list[str]:
    """Problems in the HTML files of `report_dir`: a page missing, a link to a missing page or
    section, an image whose file is missing or whose data URI is empty, a table with no cell, a
    traceback in the text."""
    index = report_dir / "index.html"
    if not index.is_file():
        return [f"{index}: missing (run `make report`)"]
    problems, pages = [], {p.name: parse_page(p) for p in sorted(report_dir.glob("*.html"))}
    for name, page in pages.items():
        for src in page.images:
            if src.startswith("data:"):
                if not re.match(r"data:image/[a-z+]+;base64,[A-Za-z0-9+/=]{16,}", src):
                    problems.append(f"{name}: an image with an empty or malformed data URI")
            elif not src or not (report_dir / src).is_file():
                problems.append(f"{name}: image {src!r} does not exist")
        if empty := sum(n == 0 for n in page.tables):
            problems.append(f"{name}: {empty} table(s) with no cell")
        if TRACEBACK in "".join(page.text):
            problems.append(f"{name}: contains a Python traceback")
        problems += number_problems(name, page.grids)
    problems += alias_problems(pages)
    for href in pages["index.html"].links:
        target, _, anchor = href.partition("#")
        if re.match(r"[a-z]+:", target):
            continue
        if target and target not in pages:
            problems.append(f"index.html: link to missing page {target!r}")
        elif anchor and anchor not in pages[target or "index.html"].ids:
            problems.append(f"index.html: link to missing section {href!r}")
    return problems


def chromium() -> str | None:
    """The Chromium executable (`DISTILRANK_CHROMIUM`, else chromium or chromium-browser on PATH)."""
    return os.environ.get("DISTILRANK_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def rendered(path: Path, browser: str, timeout: float = 60.0) -> dict:
    """What headless Chromium finds in `path` once loaded: broken images, empty tables, traceback.
    The page is copied beside itself with a probe script (so relative images resolve), then removed."""
    probe = path.with_name(f".pagecheck-{path.name}")
    body = path.read_text(encoding="utf-8")
    probe.write_text(body.replace("</body>", PROBE + "</body>") if "</body>" in body else body + PROBE, encoding="utf-8")
    try:
        with tempfile.TemporaryDirectory() as profile:
            run = subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=10000",
                                  "--dump-dom", probe.resolve().as_uri()], capture_output=True, text=True, timeout=timeout)
    finally:
        probe.unlink(missing_ok=True)
    found = re.search(r'<pre id="__pagecheck">([^<]*)</pre>', run.stdout)
    if not found:
        raise RuntimeError(f"{path.name}: Chromium did not render the page (exit {run.returncode}): {run.stderr[-500:]}")
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))


def browser_problems(report_dir: Path, browser: str) -> list[str]:
    """Problems each page of `report_dir` shows in headless Chromium."""
    problems = []
    for path in sorted(report_dir.glob("*.html")):
        if path.name.startswith(".pagecheck-"):
            continue
        r = rendered(path, browser)
        problems += [f"{path.name} (browser): image {src!r} did not load" for src in r["broken"]]
        if r["empty"]:
            problems.append(f"{path.name} (browser): {r['empty']} table(s) with no cell")
        if r["traceback"]:
            problems.append(f"{path.name} (browser): shows a Python traceback")
    return problems


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m distilrank.pagecheck PROFILE", file=sys.stderr)
        return 2
    report_dir = output_dir(args[0]) / "report"
    problems = static_problems(report_dir)
    browser = chromium()
    if browser is None:
        problems.append("no Chromium found (apt-get install chromium, or set DISTILRANK_CHROMIUM)")
    elif (report_dir / "index.html").is_file():
        problems += browser_problems(report_dir, browser)
    for p in problems:
        print(f"problem: {p}")
    pages = len(list(report_dir.glob("*.html")))
    print(f"{report_dir}: {pages} pages checked{' in ' + browser if browser else ''}; {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
