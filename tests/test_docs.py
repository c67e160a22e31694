"""README.md and docs/: every relative link and image points at a file (and a heading, for an
anchor into Markdown) in the checkout, and the README stays short."""

import re
from pathlib import Path

import pytest

from distilrank import report
from distilrank.paths import ROOT

README_MAX_LINES = 300
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~).*?^\1\s*$", re.S | re.M)
CODE = re.compile(r"`[^`\n]*`")


def markdown_files(root: Path = ROOT) -> list[Path]:
    """README.md and every Markdown file under docs/."""
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def prose(text: str) -> str:
    """`text` without fenced code blocks and inline code (links there are code, not links)."""
    return CODE.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """The id GitHub gives a heading: link text kept, lower case, punctuation dropped, spaces as dashes."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip())
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading id of a Markdown file, repeated headings numbered as GitHub numbers them."""
    seen: dict[str, int] = {}
    out = set()
    for line in FENCE.sub("", path.read_text(encoding="utf-8")).splitlines():
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            base = slug(m.group(1))
            out.add(base if base not in seen else f"{base}-{seen[base]}")
            seen[base] = seen.get(base, 0) + 1
    return out


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    """`path`'s relative links and images that point at nothing: a missing file, a file outside the
    checkout, or an anchor with no such heading in the Markdown file it names."""
    problems = []
    for target in LINK.findall(prose(path.read_text(encoding="utf-8"))):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http(s), mailto: not checked here
            continue
        file, _, anchor = target.partition("#")
        dest = (path.parent / file).resolve() if file else path.resolve()
        where = f"{path.relative_to(root)}: ({target})"
        if not dest.is_relative_to(root.resolve()):
            problems.append(f"{where} leaves the checkout")
        elif not dest.exists():
            problems.append(f"{where} points at a missing file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            problems.append(f"{where} points at a missing heading")
    return problems


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_resolves(path):
    assert broken_links(path) == []


def test_the_readme_is_short_and_links_the_default_results():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= README_MAX_LINES
    assert "](docs/results/default.md" in readme and (ROOT / "docs" / "results" / "default.md").is_file()
    assert all(marker in readme for marker in report.FINDINGS)


def test_the_link_check_names_what_is_broken(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A page\n\n## Two words, `code`\n\n## Two words, `code`\n")
    (tmp_path / "README.md").write_text(
        "[ok](docs/a.md) [ok](docs/a.md#a-page) [ok](docs/a.md#two-words-code-1) ![ok](docs/a.md) [web](https://x.org/y)\n"
        "[self](#title) `[code](gone.md)`\n```\n[fenced](gone.md)\n```\n# Title\n"
        "[missing](docs/b.md) ![image](docs/b.png) [heading](docs/a.md#nope) [outside](../elsewhere.md)\n")
    assert broken_links(tmp_path / "README.md", tmp_path) == [
        "README.md: (docs/b.md) points at a missing file", "README.md: (docs/b.png) points at a missing file",
        "README.md: (docs/a.md#nope) points at a missing heading", "README.md: (../elsewhere.md) leaves the checkout"]
    assert slug("The paper's claims at a glance") == report.BOX_ANCHOR
