import numpy as np
import pandas as pd
import pytest

from distilrank import backbones, dense


@pytest.fixture(scope="module")
def encoder():
    return dense.load_encoder(backbones.model_path(backbones.MINILM))


def test_dense_scores_are_cosines_of_query_and_document(encoder):
    df = pd.DataFrame({"query_id": ["1", "1", "2"], "doc_id": ["a", "b", "a"],
                       "query": ["flutter of swept wings", "flutter of swept wings", "heat transfer in boundary layers"],
                       "title": ["wing flutter", "heat transfer", "wing flutter"],
                       "summary": ["flutter of a swept wing at high speed", "laminar boundary layer heating", "flutter of a swept wing at high speed"]})
    scores = dense.score_frame(encoder, df)
    q = dense.embed(encoder, ["flutter of swept wings"])
    d = dense.embed(encoder, ["wing flutter flutter of a swept wing at high speed"])
    assert scores[0] == pytest.approx(float(q[0] @ d[0]), abs=1e-5)
    assert scores[0] > scores[1]  # the flutter document answers the flutter query better
    assert np.all(np.abs(scores) <= 1 + 1e-5)
    assert dense.score_frame(encoder, df.iloc[:0]).shape == (0,)


def test_score_frames_embeds_the_union_once_and_matches_score_frame(encoder, monkeypatch):
    a = pd.DataFrame({"query_id": ["1", "1"], "doc_id": ["x", "y"], "query": ["wing flutter"] * 2,
                      "title": ["flutter", "heat"], "summary": ["of wings", "in flow"]})
    b = a.assign(query_id="2", query="heat flow")
    expected = {"a": dense.score_frame(encoder, a), "b": dense.score_frame(encoder, b)}
    texts = []
    real = dense.embed
    monkeypatch.setattr(dense, "embed", lambda m, t, bs=64: texts.extend(t) or real(m, t, bs))
    got = dense.score_frames(encoder, {"a": a, "b": b, "empty": a.iloc[:0]})
    assert sorted(texts) == sorted(["flutter of wings", "heat in flow", "wing flutter", "heat flow"])  # each text once
    for name in ("a", "b"):
        np.testing.assert_allclose(got[name], expected[name], atol=1e-5)
    assert got["empty"].shape == (0,)


def test_score_frames_can_keep_the_document_embeddings_for_a_later_stage(encoder, tmp_path):
    df = pd.DataFrame({"query_id": ["1", "1"], "doc_id": ["a", "b"], "query": ["wing flutter", "wing flutter"],
                       "title": ["wing flutter", "heat transfer"], "summary": ["flutter of a swept wing", "laminar heating"]})
    path = tmp_path / "dense" / "documents.arrow"
    scores = dense.score_frames(encoder, {"test": df}, save_docs_to=path)["test"]
    kept = dense.load_doc_embeddings(path)
    assert set(kept) == {"wing flutter flutter of a swept wing", "heat transfer laminar heating"}
    q = dense.embed(encoder, ["wing flutter"])[0]
    assert np.allclose([kept["wing flutter flutter of a swept wing"] @ q, kept["heat transfer laminar heating"] @ q], scores, atol=1e-6)
    with pytest.raises(FileNotFoundError, match="notebook 03"):
        dense.load_doc_embeddings(tmp_path / "nothing.arrow")
