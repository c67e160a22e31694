import numpy as np
import pytest

from distilrank.bm25 import BM25Index
from distilrank.data import Doc


def test_bm25_ranks_the_matching_document_first(tiny_collection):
    index = BM25Index(list(tiny_collection.docs.values()))
    top = index.search("buckling of cylindrical shells", k=3)
    assert top[0][0] == "d5" and len(top) == 1  # only d5 shares a term


def test_stemming_matches_inflections(tiny_collection):
    index = BM25Index(list(tiny_collection.docs.values()), stemmer="english")
    assert index.search("shocks", 1)[0][0] == "d3"
    plain = BM25Index(list(tiny_collection.docs.values()), stemmer=None)
    assert plain.search("shocks", 1) == []


def test_a_query_of_stop_words_scores_zero(tiny_collection):
    index = BM25Index(list(tiny_collection.docs.values()))
    assert not np.any(index.scores("of the a"))
    assert index.search("", 5) == []


def test_no_documents_is_an_error():
    with pytest.raises(ValueError, match="at least one document"):
        BM25Index([])


def test_search_is_the_top_k_of_the_full_scores_with_ties_in_index_order():
    # d2..d5 tie exactly (the same text); the cut at k=3 must keep the earliest in index order
    docs = [Doc("d1", "", "cone cone flow")] + [Doc(f"d{i}", "", "cone flow past a body") for i in range(2, 6)] + [Doc("d6", "", "wing")]
    index = BM25Index(docs)
    full = index.scores("cone")
    top = index.search("cone", 3)
    assert [d for d, _ in top] == ["d1", "d2", "d3"]
    assert [s for _, s in top] == pytest.approx([float(full[0]), float(full[1]), float(full[2])])
    assert len(index.search("cone", 100)) == 5  # d6 scores 0: never retrieved


def test_ties_deeper_than_the_margin_are_still_cut_in_index_order():
    docs = [Doc(f"d{i}", "", "alpha" if i % 2 else "beta gamma") for i in range(200)]
    index = BM25Index(docs)
    assert [d for d, _ in index.search("alpha", 10)] == [f"d{i}" for i in range(1, 20, 2)]


def test_chunked_indexing_gives_the_same_scores(tiny_collection):
    docs = list(tiny_collection.docs.values())
    one, chunked = BM25Index(docs), BM25Index(docs, chunk_size=2)
    for q in tiny_collection.queries.values():
        assert np.allclose(one.scores(q), chunked.scores(q))


def test_score_docs_reads_exact_scores_from_posting_lists(tiny_collection):
    index = BM25Index(list(tiny_collection.docs.values()))
    ids = ["d6", "d4", "d2", "d1"]
    for q in [*tiny_collection.queries.values(), "boundary boundary layer", "nothing matches"]:
        full = index.scores(q)
        assert np.array_equal(index.score_docs(q, ids), full[[index.position(d) for d in ids]])
