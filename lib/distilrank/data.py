"""One in-memory shape for a test collection, and readers that fill it.

`Collection` holds documents (id, title, body), queries (id -> text) and graded judgments
(query id -> doc id -> gain, higher is better, 0 = judged not relevant). Three readers fill it:

- `read_cranfield`: the Cranfield 1400 files in SMART format, with their real quirks handled,
- `read_ir_datasets`: any `ir_datasets` id (MS MARCO / TREC DL for the paper profile),
- `read_clicklog`: a JSONL click log of (query, title, summary, clicked), the paper's own data.

Readers raise `DataError` (naming file and line) on records they cannot trust, and count what they
deliberately skip or repair in `Collection.report`, which notebook 01 prints.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distilrank.paths import resolve

CRANFIELD_DOCS = 1400
CRANFIELD_QUERIES = 225
CRANFIELD_FILES = ("cran.all.1400", "cran.qry", "cranqrel")


class DataError(ValueError):
    """A data file is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class Doc:
    """A document as the rankers see it: the paper's title and summary."""

    doc_id: str
    title: str
    body: str

    @property
    def text(self) -> str:
        """Title and body in one string (what BM25 indexes)."""
        return f"{self.title} {self.body}".strip()


@dataclass
class Collection:
    """Documents, queries and graded judgments (gain: higher is better, 0 = judged non-relevant)."""

    name: str
    docs: dict[str, Doc]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    report: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        for qid, judged in self.qrels.items():
            if qid not in self.queries:
                raise DataError(f"{self.name}: judgments for unknown query {qid!r}")
            missing = [d for d in judged if d not in self.docs]
            if missing:
                raise DataError(f"{self.name}: query {qid!r} judges unknown docs {missing[:5]}")

    def summary(self) -> dict[str, int]:
        """Counts a reader would check first."""
        gains = [g for judged in self.qrels.values() for g in judged.values()]
        return {
            "documents": len(self.docs),
            "queries": len(self.queries),
            "judged queries": len(self.qrels),
            "judgments": len(gains),
            "relevant judgments (gain > 0)": sum(g > 0 for g in gains),
            "empty documents": sum(not d.text for d in self.docs.values()),
        }


# --------------------------------------------------------------------------- Cranfield (SMART)


def _fold(lines: list[str]) -> str:
    return " ".join(" ".join(lines).split())


def _strip_repeated_title(title: str, abstract: str) -> str:
    """Cranfield's `.W` repeats the title as its first lines; the summary is what follows."""
    if title and abstract.startswith(title):
        return abstract[len(title) :].strip()
    return abstract


def _check_sha256(folder: Path, name: str) -> None:
    sums = folder / "SHA256SUMS"
    if not sums.is_file():
        return
    expected = {}
    for line in sums.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            expected[parts[1].lstrip("*")] = parts[0]
    if name not in expected:
        return
    actual = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    if actual != expected[name]:
        raise DataError(
            f"{folder / name}: SHA-256 does not match SHA256SUMS (truncated or modified copy?); "
            f"expected {expected[name][:12]}..., got {actual[:12]}..."
        )


def _read_text(path: Path) -> list[str]:
    if not path.is_file():
        raise DataError(f"missing data file: {path}")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 text ({err})") from None
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def parse_smart(path: Path, fields: set[str], report: Counter) -> list[tuple[str, dict[str, str]]]:
    """Parse a SMART file into `(raw id, {field: folded text})` records, in file order.

    A bare `.I` with nothing after it as the last record is skipped and counted (both Cranfield
    files end so). A field given twice in one record is joined and counted. Any other oddity
    raises `DataError` with the file and line.
    """
    lines = _read_text(path)
    records: list[tuple[str, dict[str, list[str]], int]] = []
    current: str | None = None
    for lineno, line in enumerate(lines, start=1):
        if line.startswith(".I"):
            records.append((line[2:].strip(), {}, lineno))
            current = None
        elif re.fullmatch(r"\.[A-Z]", line.rstrip()):
            tag = line.strip()[1]
            if not records:
                raise DataError(f"{path}:{lineno}: field .{tag} before the first .I record")
            if tag not in fields:
                raise DataError(f"{path}:{lineno}: unexpected field .{tag} (expected {sorted(fields)})")
            if tag in records[-1][1]:
                report[f"{path.name}: field .{tag} given twice in a record (joined)"] += 1
            records[-1][1].setdefault(tag, [])
            current = tag
        elif line.strip():
            if current is None:
                raise DataError(f"{path}:{lineno}: text outside any field: {line[:60]!r}")
            records[-1][1][current].append(line)
    out = []
    for i, (rid, body, lineno) in enumerate(records):
        if not rid:
            if i == len(records) - 1 and not body:
                report[f"{path.name}: trailing bare .I record (skipped)"] += 1
                continue
            raise DataError(f"{path}:{lineno}: .I record without an id")
        missing = fields - body.keys()
        if missing:
            raise DataError(
                f"{path}:{lineno}: record .I {rid} lacks field(s) {sorted(missing)} "
                "(truncated file?)"
            )
        out.append((rid, {k: _fold(v) for k, v in body.items()}))
    return out


def read_cranfield(folder: str | Path, verify_checksums: bool = True) -> Collection:
    """Read the Cranfield 1400 collection from its SMART files.

    Quirks handled (see `../shared/data/README.md`): CRLF line endings in `cran.qry`; trailing
    bare `.I` records; `cranqrel` numbers queries 1..225 by their order in `cran.qry`, not by
    their `.I` ids (001..365 with gaps), so query ids here are those positions; grades run 1 (best)
    to 4 and are mapped to gains `5 - grade`; the abstract repeats the title, which is stripped
    from the body; docs 471 and 995 are empty and kept (they are judged); two documents have their
    `.W` field twice, joined.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"Cranfield folder not found: {folder}")
    for name in CRANFIELD_FILES:
        if not (folder / name).is_file():
            raise DataError(f"missing data file: {folder / name}")
        if verify_checksums:
            _check_sha256(folder, name)
    report: Counter = Counter()

    docs: dict[str, Doc] = {}
    for rid, f in parse_smart(folder / "cran.all.1400", {"T", "A", "B", "W"}, report):
        if rid in docs:
            raise DataError(f"{folder / 'cran.all.1400'}: duplicate document id {rid}")
        docs[rid] = Doc(rid, f["T"], _strip_repeated_title(f["T"], f["W"]))
    if len(docs) != CRANFIELD_DOCS:
        raise DataError(
            f"{folder / 'cran.all.1400'}: {len(docs)} documents, expected {CRANFIELD_DOCS} "
            "(truncated file?)"
        )
    report["empty documents (kept: they are judged)"] += sum(not d.text for d in docs.values())

    raw_queries = parse_smart(folder / "cran.qry", {"W"}, report)
    if len(raw_queries) != CRANFIELD_QUERIES:
        raise DataError(
            f"{folder / 'cran.qry'}: {len(raw_queries)} queries, expected {CRANFIELD_QUERIES} "
            "(truncated file?)"
        )
    # cranqrel's query numbers are positions in cran.qry, not the .I ids.
    queries = {str(pos): f["W"] for pos, (_, f) in enumerate(raw_queries, start=1)}
    report["queries renumbered by position (cran.qry .I ids have gaps)"] += sum(
        str(pos) != str(int(rid)) for pos, (rid, _) in enumerate(raw_queries, start=1)
    )

    qrels: dict[str, dict[str, int]] = {}
    path = folder / "cranqrel"
    for lineno, line in enumerate(_read_text(path), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 3 or not all(p.lstrip("-").isdigit() for p in parts):
            raise DataError(f"{path}:{lineno}: expected 'query doc grade', got {line!r}")
        qid, did, grade = parts[0], parts[1], int(parts[2])
        if qid not in queries:
            raise DataError(f"{path}:{lineno}: query {qid} is not among the {len(queries)} queries")
        if did not in docs:
            raise DataError(f"{path}:{lineno}: document {did} is not in the collection")
        if grade not in (1, 2, 3, 4):
            raise DataError(f"{path}:{lineno}: grade {grade} outside 1..4 (see cranqrel.readme)")
        if did in qrels.get(qid, {}):
            raise DataError(f"{path}:{lineno}: query {qid} judges document {did} twice")
        qrels.setdefault(qid, {})[did] = 5 - grade
    return Collection("cranfield", docs, queries, qrels, report)


# --------------------------------------------------------------------------- ir_datasets


def _import_ir_datasets() -> Any:
    try:
        import ir_datasets
    except ImportError:
        raise DataError(
            "data.source 'ir_datasets' needs the ir-datasets package: "
            "pip install -e '.[paper]' (and internet to download the data)"
        ) from None
    return ir_datasets


def read_ir_datasets(dataset_id: str, max_queries: int | None = None, seed: int = 0) -> Collection:
    """Read any `ir_datasets` id with queries and qrels (downloads on first use: needs internet).

    Queries without judgments are dropped (counted). With `max_queries`, a seeded sample of the
    judged queries is kept, and their judgments. Documents keep `title` when the dataset has one;
    the body is the `text` (or `body`) field.
    """
    ds = _import_ir_datasets().load(dataset_id)
    for need in ("docs", "queries", "qrels"):
        if not getattr(ds, f"has_{need}")():
            raise DataError(f"ir_datasets '{dataset_id}' has no {need}")
    report: Counter = Counter()
    qrels: dict[str, dict[str, int]] = {}
    for q in ds.qrels_iter():
        qrels.setdefault(str(q.query_id), {})[str(q.doc_id)] = max(int(q.relevance), 0)
    all_queries = {str(q.query_id): q.text for q in ds.queries_iter()}
    queries = {q: t for q, t in all_queries.items() if q in qrels}
    report["queries without judgments (dropped)"] += len(all_queries) - len(queries)
    unknown = [q for q in qrels if q not in all_queries]
    if unknown:
        report["judgments of unknown queries (dropped)"] += sum(len(qrels[q]) for q in unknown)
    if max_queries is not None and len(queries) > max_queries:
        keep = sorted(random.Random(seed).sample(sorted(queries), max_queries))
        report["judged queries left out by max_queries"] += len(queries) - max_queries
        queries = {q: queries[q] for q in keep}
    qrels = {q: j for q, j in qrels.items() if q in queries}
    docs: dict[str, Doc] = {}
    for d in ds.docs_iter():
        body = getattr(d, "text", None) or getattr(d, "body", "") or ""
        docs[str(d.doc_id)] = Doc(str(d.doc_id), getattr(d, "title", "") or "", body)
    dangling = {q: [d for d in j if d not in docs] for q, j in qrels.items()}
    n_dangling = sum(len(v) for v in dangling.values())
    if n_dangling:
        report["judgments of documents missing from the corpus (dropped)"] += n_dangling
        qrels = {q: {d: g for d, g in j.items() if d in docs} for q, j in qrels.items()}
    return Collection(dataset_id, docs, queries, qrels, report)


# --------------------------------------------------------------------------- JSONL click log

CLICKLOG_KEYS = ("query", "title", "summary", "clicked")


def read_clicklog(path: str | Path) -> Collection:
    """Read a click log: one JSON object a line with `query`, `title`, `summary`, `clicked`.

    Optional `query_id` / `doc_id` fields name things; otherwise identical texts share an id.
    A clicked impression is gain 1 and a shown-but-not-clicked one gain 0 (clicks win when the same
    pair appears more than once). A record whose title and summary are both empty is skipped and
    counted; a line that is not a JSON object, lacks a key or has a wrong type raises `DataError`.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"click log not found: {path}")
    report: Counter = Counter()
    docs: dict[str, Doc] = {}
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    query_ids: dict[str, str] = {}
    doc_ids: dict[tuple[str, str], str] = {}
    for lineno, line in enumerate(_read_text(path), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{path}:{lineno}: not valid JSON ({err.msg})") from None
        if not isinstance(rec, dict):
            raise DataError(f"{path}:{lineno}: expected a JSON object")
        missing = [k for k in CLICKLOG_KEYS if k not in rec]
        if missing:
            raise DataError(f"{path}:{lineno}: missing key(s) {missing}")
        for k in ("query", "title", "summary"):
            if not isinstance(rec[k], str):
                raise DataError(f"{path}:{lineno}: '{k}' must be a string")
        if not isinstance(rec["clicked"], (bool, int)):
            raise DataError(f"{path}:{lineno}: 'clicked' must be true/false or 0/1")
        query, title, summary = (" ".join(rec[k].split()) for k in ("query", "title", "summary"))
        if not query:
            raise DataError(f"{path}:{lineno}: empty query")
        if not title and not summary:
            report["records with an empty document (skipped)"] += 1
            continue
        qid = str(rec.get("query_id") or query_ids.setdefault(query, f"q{len(query_ids) + 1}"))
        did = str(rec.get("doc_id") or doc_ids.setdefault((title, summary), f"d{len(doc_ids) + 1}"))
        if qid in queries and queries[qid] != query:
            raise DataError(f"{path}:{lineno}: query_id {qid} names two different queries")
        if did in docs and (docs[did].title, docs[did].body) != (title, summary):
            raise DataError(f"{path}:{lineno}: doc_id {did} names two different documents")
        queries[qid] = query
        docs[did] = Doc(did, title, summary)
        judged = qrels.setdefault(qid, {})
        judged[did] = max(judged.get(did, 0), int(bool(rec["clicked"])))
    if not queries:
        raise DataError(f"{path}: no usable records")
    return Collection(path.stem, docs, queries, qrels, report)


def load_collection(data: Any, seed: int = 0) -> Collection:
    """Dispatch on `params.data.source` (a `distilrank.config.DataParams`)."""
    if data.source == "cranfield":
        return read_cranfield(resolve(data.path), data.verify_checksums)
    if data.source == "clicklog":
        return read_clicklog(resolve(data.path))
    return read_ir_datasets(data.ir_datasets_id, data.max_queries, seed)
