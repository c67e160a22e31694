import logging

import pandas as pd
import transformers

from distilrank import notebook
from distilrank.config import load_params, profile_path


def test_setup_returns_the_session_and_quiets_transformers(tmp_path, monkeypatch):
    monkeypatch.setenv("DISTILRANK_OUTPUTS", str(tmp_path))
    cfg = load_params(profile_path("smoke"))
    transformers.utils.logging.set_verbosity_warning()
    with pd.option_context("display.max_colwidth", 50):
        out, device, precision, clock = notebook.setup(cfg, colwidth=77)
        assert pd.get_option("display.max_colwidth") == 77
    assert out == tmp_path / "smoke" and out.is_dir() and (out / "hardware.json").is_file()
    assert device == "cpu" and precision in {"fp32", "bf16"} and clock.elapsed() >= 0
    assert transformers.utils.logging.get_verbosity() == logging.ERROR  # no load reports in executed notebooks
    assert not transformers.utils.logging.is_progress_bar_enabled()
    transformers.utils.logging.enable_progress_bar()
