import pytest

from distilrank import artifacts
from distilrank.bm25 import BM25Index
from distilrank.stages import data_prep


@pytest.fixture
def index(tiny_collection):
    return BM25Index(list(tiny_collection.docs.values()))


def test_split_is_seeded_disjoint_and_sized():
    ids = [str(i) for i in range(1, 101)]
    a = data_prep.split_queries(ids, n_test=30, n_dev=10, seed=7)
    assert a == data_prep.split_queries(list(reversed(ids)), n_test=30, n_dev=10, seed=7)
    assert a != data_prep.split_queries(ids, n_test=30, n_dev=10, seed=8)
    assert [len(a[s]) for s in ("train", "dev", "test")] == [60, 10, 30]
    assert set(a["train"]) | set(a["dev"]) | set(a["test"]) == set(ids)
    assert not set(a["train"]) & set(a["test"])


def test_split_refuses_to_leave_no_training_queries():
    with pytest.raises(ValueError, match="leaves no training queries"):
        data_prep.split_queries(["1", "2", "3"], n_test=2, n_dev=1, seed=0)


def test_cpt_examples_keep_clicked_nonempty_docs(tiny_collection):
    rows = data_prep.cpt_examples(tiny_collection, ["1", "2"], min_gain=2)
    assert [(r["query_id"], r["doc_id"]) for r in rows] == [("1", "d1"), ("2", "d2"), ("2", "d4")]
    assert rows[0]["title"] == "wing flutter" and rows[0]["gain"] == 4


def test_labelled_groups_hold_nothing_outside_the_first_stage_top_k(tiny_collection, index):
    lists = data_prep.eval_candidates(tiny_collection, index, ["1", "2", "3"], depth=2)
    groups = data_prep.first_stage_groups(lists)
    top = {(r["query_id"], r["doc_id"]) for r in lists}
    assert groups and {(r["query_id"], r["doc_id"]) for r in groups} <= top
    assert all(r["source"] == "bm25" for r in groups)
    # every kept query has a relevant document in its list; a list of gains 0 is left out whole
    kept = {r["query_id"] for r in groups}
    assert kept == {q for q in {r["query_id"] for r in lists} if any(r["gain"] > 0 for r in lists if r["query_id"] == q)}
    # d5 is judged relevant for query 1 but BM25 leaves it out of the top 2: it is not added
    assert ("1", "d5") not in {(r["query_id"], r["doc_id"]) for r in groups}
    with pytest.raises(ValueError, match="not from the first stage"):
        data_prep.first_stage_groups(data_prep.eval_candidates(tiny_collection, index, ["1"], depth=1, add_judged=True))


def test_eval_candidates_are_the_first_stage_top_k_only(tiny_collection, index):
    rows = data_prep.eval_candidates(tiny_collection, index, ["1"], depth=1)
    # d5 is judged relevant but BM25 does not retrieve it: it must not be added to an eval list
    assert [r["doc_id"] for r in rows] == ["d1"]
    assert [r["source"] for r in rows] == ["bm25"]


def test_training_candidates_may_add_judged_docs(tiny_collection, index):
    rows = data_prep.eval_candidates(tiny_collection, index, ["1"], depth=1, add_judged=True)
    assert [r["doc_id"] for r in rows] == ["d1", "d5"]
    assert [r["source"] for r in rows] == ["bm25", "judged"]
    assert rows[0]["bm25_rank"] == 1 and rows[0]["bm25_score"] > rows[1]["bm25_score"]


def test_qrels_rows_keep_every_judgment(tiny_collection):
    rows = data_prep.qrels_rows(tiny_collection, {"test": ["1"], "train": ["3"]})
    assert {(r["query_id"], r["doc_id"], r["split"]) for r in rows} == {("1", "d1", "test"), ("1", "d5", "test"), ("3", "d3", "train")}


def test_recall_at(tiny_collection, index):
    ranks = data_prep.judged_ranks(tiny_collection, index, ["1", "3"])
    rec = data_prep.recall_at(ranks, [1, 10]).set_index("k").recall
    # q1: d1 at rank 1, d5 not retrieved -> 0.5 at any depth; q3: d3 at rank 1 -> 1.0
    assert rec[1] == pytest.approx(0.75) and rec[10] == pytest.approx(0.75)


def test_save_and_load_prepared(tmp_path, tiny_collection, index):
    tables = {"test_candidates": data_prep.eval_candidates(tiny_collection, index, ["1", "2"], depth=3)}
    artifacts.save_prepared(tables, tmp_path / "prepared")
    dd = artifacts.load_prepared(tmp_path / "prepared")
    assert dd["test_candidates"].to_list() == tables["test_candidates"]
    summary = data_prep.prepared_summary(dd)  # a table instead of the DatasetDict repr
    assert summary.loc["test_candidates", "rows"] == len(tables["test_candidates"]) == 4 and summary.loc["test_candidates", "columns"].startswith("query_id, doc_id")
    with pytest.raises(ValueError, match="empty tables"):
        artifacts.save_prepared({"x": []}, tmp_path / "other")
    with pytest.raises(FileNotFoundError, match="run notebook 01"):
        artifacts.load_prepared(tmp_path / "absent")


def test_cpt_examples_say_when_no_gain_reaches_the_threshold(tiny_collection):
    clicks = type(tiny_collection)("clicks", tiny_collection.docs, tiny_collection.queries,
                                   {q: {d: min(g, 1) for d, g in j.items()} for q, j in tiny_collection.qrels.items()})
    with pytest.raises(ValueError, match=r"no judgment reaches prep.cpt_min_gain = 2 \(the largest gain in the collection is 1"):
        data_prep.cpt_examples(clicks, ["1", "2"], min_gain=2)
    assert len(data_prep.cpt_examples(clicks, ["1", "2"], min_gain=1)) == 4


def test_judged_docs_outside_the_retrieved_depth_keep_their_exact_bm25_score(tiny_collection, index):
    rows = data_prep.eval_candidates(tiny_collection, index, ["2"], depth=1, add_judged=True)
    full = index.scores(tiny_collection.queries["2"])
    for r in rows:
        assert r["bm25_score"] == pytest.approx(float(full[index.position(r["doc_id"])]), abs=1e-6)
        assert (r["bm25_rank"] >= 1) == (r["bm25_score"] > 0)  # ranked within RANK_DEPTH when BM25 scores it at all


def test_an_arrow_corpus_is_saved_without_python_rows(tmp_path):
    import pyarrow as pa

    from distilrank.data import Collection, DocStore

    store = DocStore(pa.table({"doc_id": ["a", "b"], "title": ["t", ""], "body": ["x y", "z"]}))
    table = data_prep.corpus_rows(Collection("c", store, {"q": "x"}, {"q": {"a": 1}}))
    assert isinstance(table, pa.Table) and table.column_names == ["doc_id", "title", "summary"]
    artifacts.save_prepared({"corpus": table}, tmp_path / "p")
    assert artifacts.load_prepared(tmp_path / "p")["corpus"].to_list() == [{"doc_id": "a", "title": "t", "summary": "x y"},
                                                                     {"doc_id": "b", "title": "", "summary": "z"}]


def test_pseudo_query_candidates_carry_their_titles(tiny_collection, index):
    rows = data_prep.pseudo_query_groups(tiny_collection, index, n_queries=2, depth=2, seed=0)
    assert rows == data_prep.pseudo_query_groups(tiny_collection, index, n_queries=2, depth=2, seed=0)  # seeded
    groups = {}
    for r in rows:
        groups.setdefault(r["query_id"], []).append(r)
    assert len(groups) == 2 and all(len(g) <= 3 for g in groups.values())
    for qid, g in groups.items():
        source = tiny_collection.docs[qid.removeprefix("t")]
        assert g[0]["doc_id"] == source.doc_id and g[0]["gain"] == 1 and g[0]["source"] == "title_source"
        assert all(r["query"] == source.title and r["gain"] == 0 and r["source"] == "bm25" for r in g[1:])
        # every candidate is shown as a test pair shows a document: its own title and summary
        for r in g:
            doc = tiny_collection.docs[r["doc_id"]]
            assert (r["title"], r["summary"]) == (doc.title, doc.body), r["doc_id"]
    assert "d6" not in {q.removeprefix("t") for q in groups}  # no title: never a pseudo-query
    assert data_prep.pseudo_query_groups(tiny_collection, index, 0, 2, 0) == []
