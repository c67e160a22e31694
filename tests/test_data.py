import json
import sys
import types

import pyarrow as pa
import pytest

from distilrank.data import (
    DataError,
    Doc,
    DocStore,
    read_clicklog,
    read_cranfield,
    read_ir_datasets,
    read_trec,
)


@pytest.fixture(scope="module")
def cran(cranfield_dir):
    return read_cranfield(cranfield_dir)


def test_cranfield_counts(cran):
    s = cran.summary()
    assert (s["documents"], s["queries"], s["judged queries"], s["judgments"]) == (1400, 225, 225, 1837)
    assert s["empty documents"] == 2
    assert not cran.docs["471"].text and not cran.docs["995"].text


def test_cranfield_queries_are_numbered_by_position(cran, cranfield_dir):
    # cran.qry's third record is ".I 004"; cranqrel calls it query 3.
    assert cran.queries["3"].startswith("what problems of heat conduction in composite slabs")
    assert "365" not in cran.queries and "225" in cran.queries
    assert all("\r" not in q for q in cran.queries.values())


def test_cranfield_grades_become_gains(cran):
    # cranqrel line "1 184 2": grade 2 (high relevance) -> gain 3
    assert cran.qrels["1"]["184"] == 3
    assert set(g for j in cran.qrels.values() for g in j.values()) == {1, 2, 3, 4}


def test_cranfield_summary_drops_repeated_title(cran):
    d = cran.docs["1"]
    assert d.title == "experimental investigation of the aerodynamics of a wing in a slipstream ."
    assert d.body.startswith("an experimental study of a wing in a propeller slipstream")


def test_cranfield_report_counts_quirks(cran):
    r = dict(cran.report)
    assert r["cran.all.1400: trailing bare .I record (skipped)"] == 1
    assert r["cran.qry: trailing bare .I record (skipped)"] == 1
    assert r["cran.all.1400: field .W given twice in a record (joined)"] == 2


def test_missing_folder_and_file(tmp_path, cranfield_copy):
    with pytest.raises(DataError, match="Cranfield folder not found"):
        read_cranfield(tmp_path / "nowhere")
    (cranfield_copy / "cranqrel").unlink()
    with pytest.raises(DataError, match="missing data file: .*cranqrel"):
        read_cranfield(cranfield_copy)


def _truncate(path, fraction=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])


def test_truncated_docs_fail_the_checksum(cranfield_copy):
    _truncate(cranfield_copy / "cran.all.1400")
    with pytest.raises(DataError, match=r"cran.all.1400: SHA-256 does not match .*truncated"):
        read_cranfield(cranfield_copy)


def test_truncated_docs_fail_the_count_without_checksums(cranfield_copy):
    _truncate(cranfield_copy / "cran.all.1400")
    with pytest.raises(DataError, match=r"cran.all.1400.*(expected 1400|lacks field).*truncated"):
        read_cranfield(cranfield_copy, verify_checksums=False)


def test_truncated_queries_fail_without_checksums(cranfield_copy):
    _truncate(cranfield_copy / "cran.qry", 0.3)
    with pytest.raises(DataError, match=r"cran.qry.*truncated"):
        read_cranfield(cranfield_copy, verify_checksums=False)


def test_bad_qrel_line_names_file_and_line(cranfield_copy):
    lines = (cranfield_copy / "cranqrel").read_text().splitlines()
    lines[4] = "1 29 7"
    (cranfield_copy / "cranqrel").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"cranqrel:5: grade 7 outside 1..4"):
        read_cranfield(cranfield_copy, verify_checksums=False)
    lines[4] = "226 29 2"
    (cranfield_copy / "cranqrel").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"cranqrel:5: query 226 is not among the 225 queries"):
        read_cranfield(cranfield_copy, verify_checksums=False)


# --------------------------------------------------------------------------- click log


def _log(tmp_path, records):
    path = tmp_path / "clicks.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n")
    return path


def test_clicklog_builds_a_collection(tmp_path):
    recs = [
        {"query": "swept wing flutter", "title": "flutter", "summary": "wing flutter tests", "clicked": True},
        {"query": "swept wing flutter", "title": "buckling", "summary": "shell buckling", "clicked": False},
        {"query": "swept wing flutter", "title": "flutter", "summary": "wing flutter tests", "clicked": False},
        {"query": "heat transfer", "title": "", "summary": "", "clicked": True},
        {"query": "heat transfer", "title": "heat", "summary": "laminar heat transfer", "clicked": 1},
    ]
    col = read_clicklog(_log(tmp_path, recs))
    assert len(col.queries) == 2 and len(col.docs) == 3
    assert col.qrels["q1"] == {"d1": 1, "d2": 0}  # a click wins over a later non-click
    assert col.report["records with an empty document (skipped)"] == 1


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ("{not json", r"clicks.jsonl:1: not valid JSON"),
        ('["a list"]', r"clicks.jsonl:1: expected a JSON object"),
        ({"query": "q", "title": "t", "summary": "s"}, r"clicks.jsonl:1: missing key\(s\) \['clicked'\]"),
        ({"query": "q", "title": 3, "summary": "s", "clicked": True}, r"'title' must be a string"),
        ({"query": " ", "title": "t", "summary": "s", "clicked": True}, r"empty query"),
    ],
)
def test_clicklog_bad_records(tmp_path, record, message):
    with pytest.raises(DataError, match=message):
        read_clicklog(_log(tmp_path, [record]))


def test_clicklog_missing_file(tmp_path):
    with pytest.raises(DataError, match="click log not found"):
        read_clicklog(tmp_path / "none.jsonl")


# --------------------------------------------------------------------------- ir_datasets (faked)


def _fake_ir_datasets(monkeypatch):
    ns = types.SimpleNamespace
    docs = [ns(doc_id="p1", text="the wing"), ns(doc_id="p2", text="the shell"), ns(doc_id="p3", text="heat")]
    queries = [ns(query_id="1", text="wing"), ns(query_id="2", text="shell"), ns(query_id="3", text="no qrels")]
    qrels = [ns(query_id="1", doc_id="p1", relevance=1), ns(query_id="2", doc_id="p2", relevance=2),
             ns(query_id="2", doc_id="p9", relevance=1)]
    dataset = ns(has_docs=lambda: True, has_queries=lambda: True, has_qrels=lambda: True,
                 docs_iter=lambda: iter(docs), queries_iter=lambda: iter(queries), qrels_iter=lambda: iter(qrels))
    loaded = []
    module = types.ModuleType("ir_datasets")
    module.load = lambda ident: loaded.append(ident) or dataset
    monkeypatch.setitem(sys.modules, "ir_datasets", module)
    return loaded


def test_ir_datasets_reader_with_a_fake(monkeypatch):
    loaded = _fake_ir_datasets(monkeypatch)
    col = read_ir_datasets("msmarco-passage/train/judged")
    assert loaded == ["msmarco-passage/train/judged"]
    assert set(col.queries) == {"1", "2"}
    assert col.qrels == {"1": {"p1": 1}, "2": {"p2": 2}}
    assert col.report["queries without judgments (dropped)"] == 1
    assert col.report["judgments of documents missing from the corpus (dropped)"] == 1


def test_ir_datasets_max_queries_is_seeded(monkeypatch):
    _fake_ir_datasets(monkeypatch)
    a = read_ir_datasets("x", max_queries=1, seed=3)
    b = read_ir_datasets("x", max_queries=1, seed=3)
    assert list(a.queries) == list(b.queries) and len(a.queries) == 1


# --------------------------------------------------------------------------- TREC-style files and DocStore


def _trec(tmp_path, docs=None, queries="q1\tflutter of wings\nq2\tshock waves\nq3\tunjudged\n", qrels="q1 0 a 2\nq2 0 b 1\nq2 0 c 0\n",
          qname="queries.tsv"):
    docs = docs if docs is not None else [{"doc_id": "a", "title": "wing flutter", "text": "flutter of a  swept wing"},
                                          {"doc_id": "b", "title": "", "text": "shock waves"}, {"doc_id": "c", "text": "a cone"}]
    (tmp_path / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs) if isinstance(docs, list) else docs)
    (tmp_path / qname).write_text(queries)
    (tmp_path / "qrels.txt").write_text(qrels)
    return tmp_path / "docs.jsonl", tmp_path / qname, tmp_path / "qrels.txt"


def test_read_trec_reads_docs_queries_and_qrels(tmp_path):
    col = read_trec(*_trec(tmp_path))
    assert isinstance(col.docs, DocStore) and len(col.docs) == 3
    assert col.docs["a"] == Doc("a", "wing flutter", "flutter of a swept wing")
    assert col.docs["c"].title == "" and "z" not in col.docs
    assert col.queries == {"q1": "flutter of wings", "q2": "shock waves"}
    assert col.qrels == {"q1": {"a": 2}, "q2": {"b": 1, "c": 0}}
    assert col.report["queries without judgments (dropped)"] == 1
    assert [d.doc_id for d in col.docs.values()] == ["a", "b", "c"] == list(col.docs)


def test_read_trec_reads_jsonl_queries_and_numeric_ids(tmp_path):
    docs = [{"doc_id": 7, "text": "seven"}, {"doc_id": 8, "text": "eight"}]
    col = read_trec(*_trec(tmp_path, docs, '{"query_id": 1, "text": "seven"}\n', "1 0 7 1\n", qname="queries.jsonl"))
    assert col.docs["7"].body == "seven" and col.queries == {"1": "seven"} and col.qrels == {"1": {"7": 1}}


@pytest.mark.parametrize("case, match", [
    ({"qrels": "q1 0 zz 1\n"}, r"qrels.txt:1: document 'zz' is not in the documents file"),
    ({"qrels": "q1 0 a 1\nq9 0 a 1\n"}, r"qrels.txt:2: query 'q9' is not in the queries file"),
    ({"qrels": "q1 0 a 1\nq1 0 a 2\n"}, r"qrels.txt:2: query 'q1' judges document 'a' twice"),
    ({"qrels": "q1 a 1\n"}, r"qrels.txt:1: expected 'query_id iteration doc_id gain'"),
    ({"queries": "q1\tx\nq1\ty\n"}, r"queries.tsv:2: duplicate query id 'q1'"),
    ({"queries": "q1 no tab\n"}, r"queries.tsv:1: expected 'query_id<TAB>text'"),
    ({"docs": [{"doc_id": "a", "text": "x"}, {"doc_id": "a", "text": "y"}]}, r"docs.jsonl:2: duplicate doc_id 'a' \(first at line 1\)"),
    ({"docs": [{"doc_id": "a", "text": "x"}, {"doc_id": "b", "title": " ", "text": ""}]}, r"docs.jsonl:2: document 'b' is empty"),
    ({"docs": [{"doc_id": "a"}]}, r"docs.jsonl: records lack the key 'text'"),
    ({"docs": '{"doc_id": "a", "text": "x"}\nnot json\n'}, r"docs.jsonl:2: not a JSON object per line"),
    ({"docs": '{"doc_id": "a", "text": "x"}\n\n{"doc_id": "b", "text": ""}\n'}, r"docs.jsonl:3: document 'b' is empty"),
    ({"docs": '{"doc_id": 1, "text": "x"}\n{"doc_id": "x2", "text": "y"}\n'}, r"docs.jsonl: records disagree in a field's type"),
])
def test_read_trec_names_file_line_and_problem(tmp_path, case, match):
    with pytest.raises(DataError, match=match):
        read_trec(*_trec(tmp_path, **case))


def test_read_trec_missing_file(tmp_path):
    docs, queries, qrels = _trec(tmp_path)
    with pytest.raises(DataError, match="documents file not found"):
        read_trec(tmp_path / "nope.jsonl", queries, qrels)
    with pytest.raises(DataError, match="missing data file"):
        read_trec(docs, tmp_path / "nope.tsv", qrels)


def test_docstore_looks_up_ids_by_binary_search():
    table = pa.table({"doc_id": ["z", "b", "m"], "title": ["", "t", ""], "body": ["zz", "bb", "mm"]})
    store = DocStore(table)
    assert store["m"] == Doc("m", "", "mm") and store.position("z") == 0 and store.position("q") is None
    assert list(store) == ["z", "b", "m"] and len(store) == 3
    with pytest.raises(KeyError):
        store["q"]
