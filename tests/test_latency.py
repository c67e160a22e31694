"""Notebook 06's loops (`distilrank.stages.latency`): the systems, their tables and rows, the optimised students."""

import numpy as np
import pandas as pd
import pytest
import torch

from distilrank.timing import summarise_times

# Notebook 06's loops: the systems, their tables and rows, the optimised students.

def _tiny_bert(vocab_size: int = 100, layers: int = 1):
    from transformers import AutoModelForSequenceClassification, BertConfig

    torch.manual_seed(0)
    return AutoModelForSequenceClassification.from_config(BertConfig(vocab_size=vocab_size, hidden_size=16, num_hidden_layers=layers,
                                                                     num_attention_heads=2, intermediate_size=32, num_labels=1)).eval()


def _lat(**kw):
    from distilrank.config import LatencyParams

    return LatencyParams(**{"batch_size": 3, "seq_len": 8, "warmup": 0, "repeats": 2, "llm_repeats": 1, "batch_sizes": [1, 3],
                            "sweep_repeats": 1, "price_per_hour": 1.0, "tolerance_ndcg5": 0.0, "tolerance_pnr": 0.0, **kw})


def _timing(ms: float):
    return summarise_times(np.array([ms]), batch_size=48, seq_len=64, warmup=0, price_per_hour=3.6)


def test_time_systems_builds_each_once_times_it_and_sweeps(capsys):
    from distilrank.backbones import n_parameters
    from distilrank.stages.latency import System, time_systems

    built = []

    def build(layers):
        def make():
            built.append(layers)
            return _tiny_bert(layers=layers)
        return make

    systems = {"one": System(build(1), 100, True, 0, 2), "two": System(build(2), 100, False, 1, 3)}
    got = time_systems(systems, _lat(), seed=0, device="cpu")
    assert built == [1, 2] and list(got.timings) == ["one", "two"]
    assert [got.timings[n].repeats for n in ("one", "two")] == [2, 3] and got.timings["two"].warmup == 1
    assert got.params == {"one": n_parameters(_tiny_bert(layers=1)), "two": n_parameters(_tiny_bert(layers=2))}
    assert got.sweep.columns.tolist() == ["system", "batch size", "median ms"] and len(got.sweep) == 4
    at_batch = got.sweep.set_index(["system", "batch size"])["median ms"]
    assert at_batch[("one", 3)] == got.timings["one"].median_ms  # the profile's batch size reuses the main timing
    assert "one:" in capsys.readouterr().out


def test_latency_table_rows_and_ratios():
    from distilrank.stages.latency import latency_rows, latency_table, ratio_table

    timings = {n: _timing(ms) for n, ms in {"teacher": 2.0, "llm": 80.0, "bert-12": 16.0, "bert-6": 8.0, "s": 4.0}.items()}
    params = dict.fromkeys(timings, 2_000_000)
    table = latency_table(timings, params)
    assert table.loc["bert-12", "ratio to bert-6"] == 2.0 and table.loc["s", "parameters (M)"] == 2.0
    assert table.loc["llm", "weights"] == "random" and table.loc["teacher", "weights"] == "trained"
    assert table.loc["llm", "paper ratio"] == 10.0 and np.isnan(table.loc["s", "paper A10 ms"])
    rows = latency_rows(timings, 48)
    assert len(rows) == 15 and {r["metric"] for r in rows} == {"latency_ms@48", "pairs_per_s@48", "usd_per_million_pairs@48"}
    assert next(r["value"] for r in rows if r["system"] == "llm" and r["metric"] == "latency_ms@48") == 80.0
    ratio = ratio_table(timings, "s", "llm-0.5b")
    assert ratio.index[0] == "llm (llm-0.5b)" and ratio["ratio to bert-6 here"].tolist() == [10.0, 0.25, 2.0, 1.0, 0.5]


def test_plot_latency_vs_batch_draws_both_panels_on_log_scales():
    import matplotlib

    matplotlib.use("Agg")
    from distilrank.stages.latency import plot_latency_vs_batch

    sweep = pd.DataFrame({"system": ["a", "a", "b", "b"], "batch size": [1, 4, 1, 4], "median ms": [1.0, 2.0, 3.0, 9.0]})
    fig = plot_latency_vs_batch(sweep, 16)
    assert len(fig.axes) == 2 and all(ax.get_yscale() == "log" for ax in fig.axes)
    assert "16 tokens" in fig.axes[0].get_title()
    assert fig.axes[0].get_legend() is None and fig.axes[1].get_legend().get_bbox_to_anchor().x0 > fig.axes[1].get_window_extent().x1 - 1


def test_compare_variants_reads_speed_up_quality_change_and_tolerance():
    from distilrank.stages.latency import Variant, compare_variants

    test = pd.DataFrame({"query_id": ["q1"] * 3 + ["q2"] * 3, "doc_id": ["a", "b", "c", "d", "e", "f"], "gain": [2, 0, 0, 0, 1, 0]})
    qrels = test[test.gain > 0]
    eager = np.array([3.0, 2.0, 1.0, 1.0, 3.0, 3.5])  # q2 has one discordant pair: a finite PNR
    variants = {"s": Variant("cpu", _timing(10.0), eager), "s-fast": Variant("cpu", _timing(5.0), eager + 1.0),
                "s-bad": Variant("cpu", _timing(20.0), -eager)}
    got = compare_variants(variants, eager, test, qrels, "s", _lat(batch_size=48))
    t = got.table
    assert t.index.tolist() == ["s", "s-fast", "s-bad"] and t.loc["s-fast", "speed-up vs eager fp32"] == 2.0
    assert t.loc["s-fast", "Δ ndcg@5"] == 0.0 and t.loc["s-fast", "max |score - eager|"] == 1.0 and t.loc["s-fast", "within tolerance"]
    assert t.loc["s-bad", "Δ ndcg@5"] < 0 and not t.loc["s-bad", "within tolerance"] and t.loc["s-bad", "score r with eager"] == pytest.approx(-1)
    assert t.loc["s-fast", "rank tau with eager"] == pytest.approx(1) and t.loc["s-bad", "rank tau with eager"] == pytest.approx(-1)
    # every variant's latency and quality, and the eager student's quality under its own name (the front page's Δ base)
    assert {(r["system"], r["metric"]) for r in got.rows} == ({(n, m) for n in ("s-fast", "s-bad") for m in ("latency_ms@48", "ndcg@5", "pnr", "within_tolerance")}
                                                              | {("s-cpu-fp32", "ndcg@5"), ("s-cpu-fp32", "pnr")})
    assert next(r["value"] for r in got.rows if r["system"] == "s-cpu-fp32" and r["metric"] == "ndcg@5") == t.loc["s", "test ndcg@5"]
    assert {r["system"]: r["value"] for r in got.rows if r["metric"] == "within_tolerance"} == {"s-fast": 1.0, "s-bad": 0.0}
    assert all(r["n_queries"] == 2 for r in got.rows if r["metric"] not in ("latency_ms@48", "within_tolerance"))


def test_student_variants_export_time_and_score_the_saved_student(tmp_path):
    from types import SimpleNamespace

    from transformers import AutoTokenizer

    from distilrank.backbones import model_path
    from distilrank.rankers import save_ranker, score_candidates
    from distilrank.stages.latency import student_variants

    tok = AutoTokenizer.from_pretrained(model_path("minilm-l6"))
    model = _tiny_bert(vocab_size=tok.vocab_size)
    save_ranker(model, tok, tmp_path / "students" / "s", max_len=32)
    test = pd.DataFrame({"query": ["wing flutter", "shock waves"], "title": ["flutter of wings", "oblique shock"], "summary": ["", "a cone"]})
    eager = score_candidates(model, tok, test, 32, 2, "cpu")
    cfg = SimpleNamespace(latency=_lat(), distill=SimpleNamespace(max_len=32, batch_size=2), seed=0)
    got = student_variants(cfg, tmp_path, "s", test, "bf16", "cpu")  # a bf16 run (forced here where bf16 is emulated)
    assert list(got) == ["s", "s-onnx", "s-onnx-int8", "s-cpu-bf16"] and all(v.device == "cpu" and v.timing.repeats == 2 for v in got.values())
    assert (tmp_path / "students" / "s-onnx-int8" / "model.onnx").is_file()
    # the eager student is scored in fp32 from the saved student whatever the run's precision; the bf16 variant in bf16
    np.testing.assert_allclose(got["s"].scores, eager, atol=1e-6)
    np.testing.assert_allclose(got["s-cpu-bf16"].scores, score_candidates(model, tok, test, 32, 2, "cpu", precision="bf16"), atol=1e-6)
    np.testing.assert_allclose(got["s-onnx"].scores, eager, atol=1e-4)
