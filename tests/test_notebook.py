import logging

import pandas as pd
import transformers

from distilrank import notebook
from distilrank.config import load_params, profile_path


def test_setup_returns_the_session_and_quiets_transformers(tmp_path, monkeypatch):
    monkeypatch.setenv("DISTILRANK_OUTPUTS", str(tmp_path))
    monkeypatch.setenv("DISTILRANK_PRECISION", "fp32")  # whatever `auto` would pick on this machine
    cfg = load_params(profile_path("smoke"))
    transformers.utils.logging.set_verbosity_warning()
    with pd.option_context("display.max_colwidth", 50):
        out, device, precision, clock = notebook.setup(cfg, colwidth=77)
        assert pd.get_option("display.max_colwidth") == 77
    assert out == tmp_path / "smoke" and out.is_dir() and (out / "hardware.json").is_file()
    assert device == "cpu" and precision == "fp32" and clock.elapsed() < 60  # a clock started by setup, not at some earlier time
    assert transformers.utils.logging.get_verbosity() == logging.ERROR  # no load reports in executed notebooks
    assert not transformers.utils.logging.is_progress_bar_enabled()
    transformers.utils.logging.enable_progress_bar()


def test_setup_takes_the_precision_the_environment_forces(tmp_path, monkeypatch, capsys):
    import json

    import pytest

    monkeypatch.setenv("DISTILRANK_OUTPUTS", str(tmp_path))
    cfg = load_params(profile_path("smoke"))
    assert cfg.precision == "auto"
    monkeypatch.setenv("DISTILRANK_PRECISION", "bf16")  # bf16 on any CPU (emulated where it is not native)
    with pd.option_context("display.max_colwidth", 50):
        _, device, precision, _ = notebook.setup(cfg)
    assert (device, precision) == ("cpu", "bf16")
    recorded = json.loads((tmp_path / "smoke" / "hardware.json").read_text())["precision"]
    assert recorded["requested"] == "bf16" and recorded["used"] == "bf16" and recorded["source"] == "DISTILRANK_PRECISION"
    assert "DISTILRANK_PRECISION" in recorded["summary"] and "DISTILRANK_PRECISION" in capsys.readouterr().out
    monkeypatch.setenv("DISTILRANK_PRECISION", "fp8")
    with pytest.raises(ValueError, match="DISTILRANK_PRECISION='fp8'"):
        notebook.setup(cfg)
    transformers.utils.logging.enable_progress_bar()


def test_show_formats_each_column_as_one_quantity():
    import numpy as np

    table = pd.DataFrame({"queries": [125, 25], "steps": [390.0, np.nan], "ndcg@5": [0.5134, 1.0],
                          "p": [1.7e-20, 0.3505], "significant": [True, False],
                          "mixed": np.array([22713601.0, 570.23071], dtype=object), "interval": ["0.1 [0, 1]", None]},
                         index=pd.Index([1.0, 2.0], name="k"))
    shown = notebook.show(table)
    assert shown.to_dict(orient="list") == {
        "queries": ["125", "25"], "steps": ["390", ""], "ndcg@5": ["0.513", "1.000"], "p": ["1.7e-20", "0.350"],
        "significant": ["yes", "no"], "mixed": ["22713601", "570.231"], "interval": ["0.1 [0, 1]", ""]}
    assert list(shown.index) == ["1", "2"] and shown.index.name == "k"
    assert table["steps"].isna().iloc[1] and table.index.dtype == float  # the input is left alone


def test_show_takes_series_multiindex_and_named_p_columns():
    import numpy as np

    s = pd.Series({"n_test": 75, "n_train": None, "lr": 5e-05}, name="setting", dtype=object)
    assert notebook.show(s)["setting"].tolist() == ["75", "", "5.00e-05"]
    cols = pd.MultiIndex.from_tuples([("ndcg@5", "Δ"), ("ndcg@5", "adjusted")])
    frame = pd.DataFrame([[0.12345, 0.0000123]], columns=cols, index=pd.MultiIndex.from_tuples([("test", "bm25")]))
    shown = notebook.show(frame, p=[("ndcg@5", "adjusted")])
    assert shown.iloc[0].tolist() == ["0.123", "1.2e-05"] and list(shown.columns) == list(cols)
    assert notebook.show(pd.DataFrame({"x": [np.inf, 2.5]}))["x"].tolist() == ["inf", "2.500"]
