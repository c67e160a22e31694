"""Check `make report`'s pages as a reader's browser shows them: no broken image, no empty table,
no Python traceback, no front-page link to a page or section that is not there.

`static_problems` reads the HTML files (stdlib parser; links and anchors, images' files, tables,
tracebacks). `browser_problems` opens each page in headless Chromium and asks the rendered page
(images that failed to decode or load, tables with no cell, traceback text). Both return a list of
problems, empty when the pages are sound. `python -m distilrank.pagecheck PROFILE` runs both and
exits non-zero on any problem (`make check-report`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
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


class _Page(HTMLParser):
    """What the checks need from one page: ids, links, image sources, tables' cell counts, text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.images: list[str] = []
        self.tables: list[int] = []
        self._open: list[int] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "img":
            self.images.append(a.get("src") or "")
        elif tag == "table":
            self._open.append(0)
        elif tag == "td" and self._open:
            self._open[-1] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self._open:
            self.tables.append(self._open.pop())

    def handle_data(self, data: str) -> None:
        self.text.append(data)


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
