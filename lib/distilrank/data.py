"""One in-memory shape for a test collection, and readers that fill it.

`Collection` holds documents (id, title, body), queries (id -> text) and graded judgments
(query id -> doc id -> gain, higher is better, 0 = judged not relevant). Four readers fill it:

- `read_cranfield`: the Cranfield 1400 files in SMART format, with their real quirks handled,
- `read_ir_datasets`: any `ir_datasets` id (MS MARCO / TREC DL for the paper profile),
- `read_clicklog`: a JSONL click log of (query, title, summary, clicked), the paper's own data,
- `read_trec`: your own collection as TREC-style files (documents JSONL, queries TSV or JSONL,
  qrels in TREC format).

Large corpora are held in Arrow columns (`DocStore`), not as one Python object per document: a
`DocStore` answers `docs[doc_id]` and iterates like the dict small collections use.

Readers raise `DataError` (naming file and line) on records they cannot trust, and count what they
deliberately skip or repair in `Collection.report`, which notebook 01 prints.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

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


class DocStore(Mapping):
    """Documents in Arrow columns (`doc_id`, `title`, `body`), looked up by id without a Python
    object per document: the ids are kept sorted as fixed-width bytes and found by binary search,
    and a `Doc` is built only for the document asked for. Iterating yields ids in table order;
    `values()` yields `Doc`s batch by batch. Duplicate ids are an error (`DataError`)."""

    def __init__(self, table: pa.Table, source: str = "documents") -> None:
        missing = {"doc_id", "title", "body"} - set(table.column_names)
        if missing:
            raise DataError(f"{source}: document table lacks column(s) {sorted(missing)}")
        self.table = table.select(["doc_id", "title", "body"]).combine_chunks()
        ids = np.asarray(pc.cast(self.table["doc_id"], pa.binary()).to_numpy(zero_copy_only=False), dtype="S")
        self._order = np.argsort(ids, kind="stable")
        self._sorted = ids[self._order]
        same = np.flatnonzero(self._sorted[1:] == self._sorted[:-1])
        if len(same):
            dup = self._sorted[same[0]].decode()
            first, again = sorted(int(r) for r in self._order[same[0] : same[0] + 2])
            where = (lambda r: record_line(Path(source), r)) if Path(source).is_file() else (lambda r: r + 1)  # noqa: E731
            raise DataError(f"{source}:{where(again)}: duplicate doc_id {dup!r} (first at line {where(first)})")

    def position(self, doc_id: str) -> int | None:
        """The row of `doc_id` in the table, or None."""
        key = str(doc_id).encode()
        i = int(np.searchsorted(self._sorted, key))
        return int(self._order[i]) if i < len(self._sorted) and self._sorted[i] == key else None

    def __getitem__(self, doc_id: str) -> Doc:
        row = self.position(doc_id)
        if row is None:
            raise KeyError(doc_id)
        return Doc(*(self.table[c][row].as_py() for c in ("doc_id", "title", "body")))

    def __contains__(self, doc_id: object) -> bool:
        return self.position(str(doc_id)) is not None

    def __iter__(self) -> Iterator[str]:
        for batch in self.table["doc_id"].chunks:
            yield from batch.to_pylist()

    def __len__(self) -> int:
        return self.table.num_rows

    def values(self) -> Iterator[Doc]:  # type: ignore[override]
        for batch in self.table.to_batches(max_chunksize=65536):
            cols = batch.to_pydict()
            yield from (Doc(d, t, b) for d, t, b in zip(cols["doc_id"], cols["title"], cols["body"], strict=True))


@dataclass
class Collection:
    """Documents, queries and graded judgments (gain: higher is better, 0 = judged non-relevant).
    `docs` is a dict for small collections, a `DocStore` (Arrow columns) for large ones."""

    name: str
    docs: Mapping[str, Doc]
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
            "empty documents": empty_documents(self.docs),
        }


def empty_documents(docs: Mapping[str, Doc]) -> int:
    """How many documents have neither title nor body (counted in Arrow for a `DocStore`)."""
    if isinstance(docs, DocStore):
        return int(pc.sum(blank_documents(docs.table["title"], docs.table["body"])).as_py() or 0)
    return sum(not d.text for d in docs.values())


def blank_documents(title: pa.ChunkedArray, body: pa.ChunkedArray) -> pa.ChunkedArray:
    """Per document (Arrow columns): True where title and body are both empty or white space."""
    blank = lambda c: pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(pc.fill_null(c, ""))), 0)  # noqa: E731
    return pc.and_(blank(title), blank(body))


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


def _fields(path: Path) -> Iterator[tuple[int, str, list[str]]]:
    """(line number, line, whitespace-split fields) of each non-blank line of a text file."""
    for lineno, line in enumerate(_read_text(path), start=1):
        if line.strip():
            yield lineno, line, line.split()


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
    for lineno, line, parts in _fields(path):
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
    docs = DocStore(_doc_table((str(d.doc_id), getattr(d, "title", "") or "", getattr(d, "text", None) or getattr(d, "body", "") or "")
                               for d in ds.docs_iter()), f"ir_datasets '{dataset_id}'")
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


def _doc_table(records: Iterator[tuple[str, str, str]], batch: int = 100_000) -> pa.Table:
    """(doc_id, title, body) records as an Arrow table, built batch by batch."""
    schema = pa.schema([("doc_id", pa.string()), ("title", pa.string()), ("body", pa.string())])
    batches, cols = [], ([], [], [])
    for rec in records:
        for c, v in zip(cols, rec, strict=True):
            c.append(v)
        if len(cols[0]) >= batch:
            batches.append(pa.record_batch([pa.array(c, pa.string()) for c in cols], schema=schema))
            cols = ([], [], [])
    batches.append(pa.record_batch([pa.array(c, pa.string()) for c in cols], schema=schema))
    return pa.Table.from_batches(batches, schema=schema)


# --------------------------------------------------------------------------- TREC-style files


def _jsonl_table(path: Path, what: str) -> pa.Table:
    """A JSONL file as an Arrow table (pyarrow's reader: no Python object per record); a malformed
    record is an error naming the file and line (blank lines are skipped, as pyarrow skips them)."""
    import pyarrow.json as pj

    if not path.is_file():
        raise DataError(f"{what} file not found: {path}")
    try:
        table = pj.read_json(path, read_options=pj.ReadOptions(block_size=1 << 24))
    except pa.ArrowInvalid as err:
        line = _first_bad_json_line(path)
        if line is None:  # every line is a JSON object: the records disagree in type (pyarrow says which)
            raise DataError(f"{path}: records disagree in a field's type ({str(err).splitlines()[0]})") from None
        raise DataError(f"{path}:{line}: not a JSON object per line") from None
    return table


def _first_bad_json_line(path: Path) -> int | None:
    with path.open(encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                if not isinstance(json.loads(line), dict):
                    return lineno
            except json.JSONDecodeError:
                return lineno
    return None


def record_line(path: Path, record: int) -> int:
    """The line of the `record`-th (0-based) non-blank line of a file: what an Arrow row index
    means in the file (read again only to name a line in an error)."""
    seen = -1
    with path.open(encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, start=1):
            seen += bool(line.strip())
            if seen == record:
                return lineno
    return record + 1


def _string_column(table: pa.Table, name: str, path: Path, required: bool = True) -> pa.ChunkedArray:
    """Column `name` as strings (numbers cast: ids are often numeric); a missing required column
    or a null in it is an error naming the first such line."""
    if name not in table.column_names:
        if not required:
            return pa.chunked_array([pa.array([""] * table.num_rows, pa.string())])
        raise DataError(f"{path}: records lack the key {name!r} (have {table.column_names})")
    col = table[name]
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type) or pa.types.is_integer(col.type)):
        raise DataError(f"{path}: {name!r} must be a string (found {col.type})")
    nulls = pc.is_null(col)
    if required and pc.any(nulls).as_py():
        raise DataError(f"{path}:{record_line(path, int(pc.index(nulls, True).as_py()))}: {name!r} is missing or null")
    return pc.fill_null(pc.cast(col, pa.string()), "")


def read_trec_docs(path: str | Path) -> DocStore:
    """Documents JSONL: one object a line with `doc_id`, `text` and optionally `title`; held in
    Arrow. A duplicate id or an empty document (no title, no text) is an error naming its line."""
    path = Path(path)
    table = _jsonl_table(path, "documents")
    ids = _string_column(table, "doc_id", path)
    title, text = _string_column(table, "title", path, required=False), _string_column(table, "text", path)
    squash = lambda c: pc.utf8_trim_whitespace(pc.replace_substring_regex(c, r"\s+", " "))  # noqa: E731
    title, text = squash(title), squash(text)
    empty = blank_documents(title, text)
    if pc.any(empty).as_py():
        row = int(pc.index(empty, True).as_py())
        raise DataError(f"{path}:{record_line(path, row)}: document {ids[row].as_py()!r} is empty (no title and no text)")
    if pc.any(pc.equal(pc.utf8_length(ids), 0)).as_py():
        raise DataError(f"{path}:{record_line(path, int(pc.index(pc.equal(pc.utf8_length(ids), 0), True).as_py()))}: empty doc_id")
    return DocStore(pa.table({"doc_id": ids, "title": title, "body": text}), str(path))


def read_trec_queries(path: str | Path) -> dict[str, str]:
    """Queries as TSV (`query_id<TAB>text`, no header) or JSONL (`query_id`, `text`), by suffix."""
    path = Path(path)
    queries: dict[str, str] = {}
    jsonl = path.suffix.lower() in (".jsonl", ".json")
    for lineno, line in enumerate(_read_text(path), start=1):
        if not line.strip():
            continue
        if jsonl:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(f"{path}:{lineno}: not valid JSON ({err.msg})") from None
            if not isinstance(rec, dict) or "query_id" not in rec or "text" not in rec:
                raise DataError(f"{path}:{lineno}: expected an object with 'query_id' and 'text'")
            qid, text = str(rec["query_id"]), str(rec["text"])
        else:
            parts = line.split("\t")
            if len(parts) != 2:
                raise DataError(f"{path}:{lineno}: expected 'query_id<TAB>text', got {len(parts)} field(s)")
            qid, text = parts[0].strip(), parts[1]
        text = " ".join(text.split())
        if not qid or not text:
            raise DataError(f"{path}:{lineno}: empty query id or text")
        if qid in queries:
            raise DataError(f"{path}:{lineno}: duplicate query id {qid!r}")
        queries[qid] = text
    if not queries:
        raise DataError(f"{path}: no queries")
    return queries


def read_trec_qrels(path: str | Path, queries: Mapping[str, str], docs: Mapping[str, Doc], report: Counter) -> dict[str, dict[str, int]]:
    """TREC qrels (`query_id iteration doc_id gain`): an unknown query or document, a repeated
    judgment or a non-integer gain is an error naming the line; negative gains (some TREC tracks
    mark junk so) count as 0."""
    path = Path(path)
    qrels: dict[str, dict[str, int]] = {}
    for lineno, line, parts in _fields(path):
        if len(parts) != 4 or not parts[3].lstrip("-").isdigit():
            raise DataError(f"{path}:{lineno}: expected 'query_id iteration doc_id gain', got {line.strip()!r}")
        qid, did, gain = parts[0], parts[2], int(parts[3])
        if qid not in queries:
            raise DataError(f"{path}:{lineno}: query {qid!r} is not in the queries file")
        if did not in docs:
            raise DataError(f"{path}:{lineno}: document {did!r} is not in the documents file")
        if did in qrels.get(qid, {}):
            raise DataError(f"{path}:{lineno}: query {qid!r} judges document {did!r} twice")
        if gain < 0:
            report["negative gains (read as 0)"] += 1
        qrels.setdefault(qid, {})[did] = max(gain, 0)
    if not qrels:
        raise DataError(f"{path}: no judgments")
    return qrels


def read_trec(docs: str | Path, queries: str | Path, qrels: str | Path) -> Collection:
    """Your own collection in TREC-style files (see `read_trec_docs`, `read_trec_queries`,
    `read_trec_qrels`). Queries without judgments are dropped (counted)."""
    report: Counter = Counter()
    store = read_trec_docs(docs)
    all_queries = read_trec_queries(queries)
    judged = read_trec_qrels(qrels, all_queries, store, report)
    report["queries without judgments (dropped)"] += len(all_queries) - len(judged)
    return Collection(Path(docs).stem, store, {q: t for q, t in all_queries.items() if q in judged}, judged, report)


def load_collection(data: Any, seed: int = 0) -> Collection:
    """Dispatch on `params.data.source` (a `distilrank.config.DataParams`)."""
    if data.source == "cranfield":
        return read_cranfield(resolve(data.path), data.verify_checksums)
    if data.source == "clicklog":
        return read_clicklog(resolve(data.path))
    if data.source == "trec":
        return read_trec(resolve(data.docs), resolve(data.queries), resolve(data.qrels))
    return read_ir_datasets(data.ir_datasets_id, data.max_queries, seed)
