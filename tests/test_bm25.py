import numpy as np
import pytest

from distilrank.bm25 import BM25Index


def test_bm25_ranks_the_matching_document_first(tiny_collection):
    index = BM25Index(list(tiny_collection.docs.values()))
    top = index.top_k(index.scores("buckling of cylindrical shells"), k=3)
    assert top[0][0] == "d5" and len(top) == 1  # only d5 shares a term


def test_stemming_matches_inflections(tiny_collection):
    index = BM25Index(list(tiny_collection.docs.values()), stemmer="english")
    assert index.top_k(index.scores("shocks"), 1)[0][0] == "d3"
    plain = BM25Index(list(tiny_collection.docs.values()), stemmer=None)
    assert plain.top_k(plain.scores("shocks"), 1) == []


def test_a_query_of_stop_words_scores_zero(tiny_collection):
    index = BM25Index(list(tiny_collection.docs.values()))
    assert not np.any(index.scores("of the a"))
    assert index.top_k(index.scores(""), 5) == []


def test_no_documents_is_an_error():
    with pytest.raises(ValueError, match="at least one document"):
        BM25Index([])
